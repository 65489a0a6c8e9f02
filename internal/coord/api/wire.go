// Package api is the coordinator's HTTP face: a handler and server that put
// any coord.Service on the wire (design section 4, docs/api.md), and a
// Client that is itself a coord.Service, so that a factory or the
// orchestrator runs the same code in process or across machines.
//
// Errors cross the wire through one table each way: kindsToWire turns an
// error kind into a status code and an error code on the server, and
// wireToKinds turns them back into the same kind in the client.
package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// Error codes of the JSON error body, {"error":"<code>", ...}. They tell
// apart answers that share a status (409 fenced and 409 conflict, 400 and
// the handler's own 413 and 405).
const (
	codeBadRequest   = "bad_request"
	codeTooLarge     = "too_large"
	codeMethod       = "method_not_allowed"
	codeUnauthorized = "unauthorized"
	codeNotFound     = "not_found"
	codeFenced       = "fenced"
	codeConflict     = "conflict"
	codeThrottled    = "throttled"
	codeUnavailable  = "unavailable"
	codeInternal     = "internal"
)

// The handler's own refusals of a request's form. They answer with the
// status HTTP has for them (413, 405); the client reads both back as
// coord.ErrBadRequest, the one kind Go callers see for any bad request.
var (
	errTooLarge = errors.New("body too large")
	errMethod   = errors.New("method not allowed")
)

// wireKind is one row of the server's table.
type wireKind struct {
	kind   error
	status int
	code   string
}

// kindsToWire is the server's one table from error kind to status and code.
// Rows are tried in order, so the narrower kinds come first; an error that
// matches no row is a 500 and is logged.
var kindsToWire = []wireKind{
	{errTooLarge, http.StatusRequestEntityTooLarge, codeTooLarge},
	{errMethod, http.StatusMethodNotAllowed, codeMethod},
	{coord.ErrBadRequest, http.StatusBadRequest, codeBadRequest},
	{coord.ErrUnauthorized, http.StatusUnauthorized, codeUnauthorized},
	{coord.ErrNotFound, http.StatusNotFound, codeNotFound},
	{coord.ErrFenced, http.StatusConflict, codeFenced},
	{coord.ErrConflict, http.StatusConflict, codeConflict},
	{coord.ErrThrottled, http.StatusTooManyRequests, codeThrottled},
	{coord.ErrUnavailable, http.StatusServiceUnavailable, codeUnavailable},
}

// toWire returns the status and error code for err.
func toWire(err error) (status int, code string) {
	for _, row := range kindsToWire {
		if errors.Is(err, row.kind) {
			return row.status, row.code
		}
	}
	return http.StatusInternalServerError, codeInternal
}

// wireRow is one row of the client's table. An empty code matches any code.
type wireRow struct {
	status int
	code   string
	kind   error
}

// wireToKinds is the client's one table from status (and error code) back to
// the error kind. Statuses our server never sends are read the way a
// careful caller would: 403 as 401, and a proxy's 502 or 504 as 503, since
// in each case the coordinator is out of reach for now. A 409 without a
// known code is left to the operation (see call.conflict): a fence for
// renew, patch and release, a conflict for submit.
var wireToKinds = []wireRow{
	{http.StatusBadRequest, "", coord.ErrBadRequest},
	{http.StatusRequestEntityTooLarge, "", coord.ErrBadRequest},
	{http.StatusMethodNotAllowed, "", coord.ErrBadRequest},
	{http.StatusUnauthorized, "", coord.ErrUnauthorized},
	{http.StatusForbidden, "", coord.ErrUnauthorized},
	{http.StatusNotFound, "", coord.ErrNotFound},
	{http.StatusConflict, codeFenced, coord.ErrFenced},
	{http.StatusConflict, codeConflict, coord.ErrConflict},
	{http.StatusTooManyRequests, "", coord.ErrThrottled},
	{http.StatusServiceUnavailable, "", coord.ErrUnavailable},
	{http.StatusBadGateway, "", coord.ErrUnavailable},
	{http.StatusGatewayTimeout, "", coord.ErrUnavailable},
}

// fromWire returns the kind for status and code. Any other 4xx but 409 is
// a bad request (the server refused this request as it stands, and sending
// it again will not help); a 409 with an unknown code, a 500 or any other
// status is nil.
func fromWire(status int, code string) error {
	for _, row := range wireToKinds {
		if row.status == status && (row.code == "" || row.code == code) {
			return row.kind
		}
	}
	if status >= 400 && status < 500 && status != http.StatusConflict {
		return coord.ErrBadRequest
	}
	return nil
}

// errorBody is every error answer: {"error":"<code>","message":"<one line>"},
// and for a fence the *coord.FenceError fields beside them (currentEpoch,
// holder, reason, ...), so a fenced caller learns how stale it is.
type errorBody struct {
	Code    string `json:"error"`
	Message string `json:"message"`
	*coord.FenceError
}

// retryAfterer is an error that says how long the caller should wait before
// trying again. A service error with this method sets the Retry-After
// header of its 429 or 503; the client's errors have it when the server
// sent one, so a caller can find it with errors.As on its own interface.
type retryAfterer interface {
	RetryAfter() time.Duration
}
