package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// ServerOptions configure the handler and the server.
type ServerOptions struct {
	// Token is the bearer token every call but the health check must carry.
	// Empty means no authentication, for a coordinator on loopback.
	Token string
	// MaxBody caps a request body in bytes; 0 means 64 KiB. A larger body
	// is refused with 413 before the service sees any of it.
	MaxBody int64
	// Logger receives server errors (every 500) and, at debug level, one
	// line per request. Nil discards.
	Logger *slog.Logger
	// LongPollMax caps the ?wait= of an events long poll; 0 means 30s. The
	// server's write timeout is set above it, so a capped poll always gets
	// its answer out.
	LongPollMax time.Duration
}

// Defaults of ServerOptions.
const (
	defaultMaxBody     = 64 << 10
	defaultLongPollMax = 30 * time.Second
)

func (o ServerOptions) withDefaults() ServerOptions {
	if o.MaxBody <= 0 {
		o.MaxBody = defaultMaxBody
	}
	if o.LongPollMax <= 0 {
		o.LongPollMax = defaultLongPollMax
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// healthPattern is the one route that needs no token: a load balancer or a
// harness probing for the port must not need the secret.
const healthPattern = "GET /api/healthz"

// handler serves the routes of docs/api.md over one coord.Service.
type handler struct {
	svc       coord.Service
	opt       ServerOptions
	log       *slog.Logger
	mux       *http.ServeMux
	tokenHash [sha256.Size]byte
	// drain, when done, ends every long poll at once with what it has, so
	// that a stopping server is not held up by idle watchers. A bare
	// NewHandler never drains.
	drain context.Context
}

// NewHandler returns the HTTP handler of the coordinator API (base path
// /api) over svc. It checks every request itself (token, method, path, id,
// body shape, stage, epoch) before it calls svc, so that bad input is a 4xx
// and never reaches the service; the service still checks again.
func NewHandler(svc coord.Service, opt ServerOptions) http.Handler {
	return newHandler(svc, opt, context.Background())
}

func newHandler(svc coord.Service, opt ServerOptions, drain context.Context) *handler {
	opt = opt.withDefaults()
	h := &handler{svc: svc, opt: opt, log: opt.Logger, drain: drain}
	h.tokenHash = sha256.Sum256([]byte(opt.Token))

	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/fleet/jobs", h.submit)
	mux.HandleFunc("GET /api/fleet/jobs", h.list)
	mux.HandleFunc("GET /api/fleet/jobs/{id}", h.get)
	mux.HandleFunc("PATCH /api/fleet/jobs/{id}", h.patch)
	mux.HandleFunc("POST /api/fleet/jobs/{id}/renew", h.renew)
	mux.HandleFunc("POST /api/fleet/jobs/{id}/release", h.release)
	mux.HandleFunc("POST /api/fleet/claim", h.claim)
	mux.HandleFunc("POST /api/fleet/reports", h.reports)
	mux.HandleFunc("GET /api/fleet/events", h.events)
	mux.HandleFunc(healthPattern, h.health)
	h.mux = mux
	return h
}

// ServeHTTP checks the path, finds the route, checks the token and serves.
// The mux's own 301, 404 and 405 answers are plain text; they are replaced
// here by JSON errors so that every answer of the API has one shape.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	h.route(rec, r)
	h.log.Debug("api request", "method", r.Method, "path", r.URL.Path,
		"status", rec.status, "took", time.Since(start))
}

func (h *handler) route(w http.ResponseWriter, r *http.Request) {
	// An unclean path ("/jobs/../x", "%2e%2e%2fx" once decoded, "//") would
	// get a redirect from the mux that a client may follow with another
	// method; it is refused instead, before anything else.
	if p := r.URL.Path; p == "" || path.Clean(p) != p {
		h.fail(w, r, badRequest("path %q is not clean", r.URL.Path))
		return
	}

	route, pattern := h.mux.Handler(r)
	if pattern != healthPattern && !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="twofactory"`)
		h.fail(w, r, wrapKind(coord.ErrUnauthorized, "missing or wrong bearer token"))
		return
	}
	if pattern == "" {
		h.noRoute(w, r, route)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// authorized reports whether r carries the configured token. Both sides are
// hashed first so that the constant-time compare also hides the length.
func (h *handler) authorized(r *http.Request) bool {
	if h.opt.Token == "" {
		return true
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(got[:], h.tokenHash[:]) == 1
}

// noRoute answers a request the mux has no pattern for: it asks the mux's
// own fallback which status it would give (404, or 405 with Allow) and
// answers that status as a JSON error.
func (h *handler) noRoute(w http.ResponseWriter, r *http.Request, fallback http.Handler) {
	probe := &probeWriter{header: http.Header{}}
	fallback.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", probe.header.Get("Allow"))
		h.fail(w, r, wrapKind(errMethod, "%s is not allowed on %s", r.Method, r.URL.Path))
		return
	}
	h.fail(w, r, wrapKind(coord.ErrNotFound, "no route %s %s", r.Method, r.URL.Path))
}

// pollContext is the context of a long poll: r's, also ended when the
// server drains.
func (h *handler) pollContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(r.Context())
	unhook := context.AfterFunc(h.drain, cancel)
	return ctx, func() { unhook(); cancel() }
}
