package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// badRequest returns an error of kind coord.ErrBadRequest.
func badRequest(format string, args ...any) error {
	return wrapKind(coord.ErrBadRequest, format, args...)
}

// wrapKind returns an error of the given kind with a message.
func wrapKind(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", kind, fmt.Sprintf(format, args...))
}

// decode reads r's body as exactly one JSON value into dst: no unknown
// fields, nothing after it, at most MaxBody bytes. Nothing is decided
// before the whole body has been read and checked, so a bad body can never
// cause a partial write.
func (h *handler) decode(w http.ResponseWriter, r *http.Request, dst any) error {
	body := http.MaxBytesReader(w, r.Body, h.opt.MaxBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()

	if err := dec.Decode(dst); err != nil {
		if errors.Is(err, io.EOF) {
			return badRequest("empty body: want a JSON object")
		}
		return h.bodyError(err)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return h.bodyError(err)
		}
		return badRequest("body: trailing data after the JSON object")
	}
	return nil
}

// bodyError names a body decoding failure: 413 for an oversize body, else
// 400 with the decoder's reason.
func (h *handler) bodyError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return fmt.Errorf("%w: %w: body is over %d bytes", coord.ErrBadRequest, errTooLarge,
			tooBig.Limit)
	}
	return badRequest("body: %v", err)
}

// checkSubmit checks a submit before the service sees it.
func checkSubmit(r coord.SubmitRequest) error {
	if err := coord.CheckID("job id", r.ID); err != nil {
		return err
	}
	return checkOptionalID("product", r.Product)
}

// checkClaim checks a claim before the service sees it.
func checkClaim(r coord.ClaimRequest) error {
	if err := coord.CheckID("factoryId", r.Factory); err != nil {
		return err
	}
	if err := checkOptionalID("product", r.Product); err != nil {
		return err
	}
	if r.Max < 0 || r.Max > maxClaimBatch {
		return badRequest("max %d is not in 0..%d", r.Max, maxClaimBatch)
	}
	return nil
}

// checkReport checks a renew, patch or release (op) before the service sees
// it. Epoch 0 is never granted, so a zero epoch is a caller that forgot it.
// Only a patch names a stage, and only one a holder may move a job to.
func checkReport(r coord.Report, op string) error {
	if err := coord.CheckID("factoryId", r.Factory); err != nil {
		return err
	}
	if r.Epoch == 0 {
		return badRequest("epoch is missing or 0; send the epoch of the grant")
	}
	if op != "patch" {
		if r.Stage != "" {
			return badRequest("%s takes no stage (only a patch does)", op)
		}
		return nil
	}
	if r.Stage == "" {
		return badRequest("patch needs a stage")
	}
	st, err := coord.ParseStage(string(r.Stage))
	if err != nil {
		return err
	}
	if !st.Working() && !st.Terminal() {
		return badRequest("a patch cannot move a job to %s", st)
	}
	return nil
}

func checkOptionalID(what, s string) error {
	if s == "" {
		return nil
	}
	return coord.CheckID(what, s)
}

// parseQuery parses a raw query, refusing keys outside allowed and keys
// given twice: a typo such as ?stgae= must not silently list everything.
func parseQuery(raw string, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, badRequest("query: %v", err)
	}
	for k, vs := range q {
		if !slices.Contains(allowed, k) {
			return nil, badRequest("unknown query parameter %q (want %s)", k,
				strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return nil, badRequest("query parameter %q given %d times", k, len(vs))
		}
	}
	return q, nil
}

// parseListQuery reads ?product=&stage=&holder= into a filter.
func parseListQuery(raw string) (coord.ListFilter, error) {
	var f coord.ListFilter
	q, err := parseQuery(raw, "product", "stage", "holder")
	if err != nil {
		return f, err
	}
	if err := checkOptionalID("product", q.Get("product")); err != nil {
		return f, err
	}
	if err := checkOptionalID("holder", q.Get("holder")); err != nil {
		return f, err
	}
	f.Product, f.Holder = q.Get("product"), q.Get("holder")
	if s := q.Get("stage"); s != "" {
		if f.Stage, err = coord.ParseStage(s); err != nil {
			return f, err
		}
	}
	return f, nil
}

// eventsQuery is a parsed ?after=&limit=&wait=.
type eventsQuery struct {
	after uint64
	limit int
	wait  time.Duration
}

// parseEventsQuery reads an events poll. A missing limit takes the default
// and a larger one is clamped (the answer may always hold fewer events than
// asked for); a wait above waitMax is cut to it.
func parseEventsQuery(raw string, waitMax time.Duration) (eventsQuery, error) {
	out := eventsQuery{limit: defaultEventLimit}
	q, err := parseQuery(raw, "after", "limit", "wait")
	if err != nil {
		return out, err
	}
	if s := q.Get("after"); s != "" {
		if out.after, err = strconv.ParseUint(s, 10, 64); err != nil {
			return out, badRequest("after=%q is not a sequence number", s)
		}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return out, badRequest("limit=%q is not a positive count", s)
		}
		out.limit = min(n, maxEventLimit)
	}
	if s := q.Get("wait"); s != "" {
		if out.wait, err = parseWait(s); err != nil {
			return out, err
		}
		out.wait = min(out.wait, waitMax)
	}
	return out, nil
}

// parseWait reads a duration in Go syntax ("1.5s", "250ms") or in bare
// seconds ("2", "0.5"), as everywhere else in the project.
func parseWait(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		secs, ferr := strconv.ParseFloat(s, 64)
		// The bound keeps the conversion below from overflowing.
		if ferr != nil || secs != secs || secs > 1e6 {
			return 0, badRequest("wait=%q is not a duration (\"1.5s\" or seconds)", s)
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d < 0 {
		return 0, badRequest("wait=%q is negative", s)
	}
	return d, nil
}
