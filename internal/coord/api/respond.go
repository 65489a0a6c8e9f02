package api

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/twofactory/twofactory/internal/coord"
)

// reply writes v as the JSON answer with status. The body is encoded in
// full before the first byte is written, so an encoding failure is a clean
// 500 and never half an answer.
func (h *handler) reply(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		h.fail(w, r, err) // no kind: a 500, logged
		return
	}
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n')) // a failed write means the caller left
}

// fail answers err as a JSON error, with the status and code of its kind
// (see kindsToWire). A 500 is logged with its cause and answered without
// it: internal detail is for the operator, not the caller.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		h.log.Debug("api: caller left", "method", r.Method, "path", r.URL.Path, "err", err)
		return // nobody is listening for the answer
	}
	status, code := toWire(err)
	body := errorBody{Code: code, Message: oneLine(err.Error())}
	if status == http.StatusInternalServerError {
		h.log.Error("api: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		body.Message = "internal error"
	}
	var fe *coord.FenceError
	if errors.As(err, &fe) {
		body.FenceError = fe
	}
	var ra retryAfterer
	if errors.As(err, &ra) && ra.RetryAfter() > 0 {
		secs := math.Ceil(ra.RetryAfter().Seconds()) // the header counts whole seconds
		w.Header().Set("Retry-After", strconv.FormatInt(int64(secs), 10))
	}

	b, merr := json.Marshal(body)
	if merr != nil {
		b = []byte(`{"error":"internal","message":"internal error"}`)
	}
	writeJSON(w, status, b)
}

// maxMessage bounds an error message on the wire.
const maxMessage = 500

// oneLine folds s into one line of at most maxMessage bytes.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxMessage {
		s = strings.ToValidUTF8(s[:maxMessage], "") + "..."
	}
	return s
}

// statusRecorder remembers the status written, for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the status and passes it on.
func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200 and passes the bytes on.
func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// probeWriter takes the mux's fallback answer (404 or 405 and its Allow
// header) without sending any of it.
type probeWriter struct {
	header http.Header
	status int
}

func (p *probeWriter) Header() http.Header { return p.header }

func (p *probeWriter) WriteHeader(code int) {
	if p.status == 0 {
		p.status = code
	}
}

func (p *probeWriter) Write(b []byte) (int, error) {
	p.WriteHeader(http.StatusOK)
	return len(b), nil
}
