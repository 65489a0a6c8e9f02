package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// StatusError is a non-2xx answer of the API as the client returns it. Kind
// is the coordinator error kind the status stands for (coord.ErrNotFound, a
// *coord.FenceError for a fence, ...), or nil for a status the client has
// no kind for (a 500). Unwrap returns Kind, so errors.Is(err,
// coord.ErrFenced) and errors.As(err, &fence) work through it.
type StatusError struct {
	// Code is the HTTP status.
	Code int
	// RetryAfter is the server's Retry-After, 0 when it sent none. A caller
	// that backs off on 429 or 503 should wait at least this long.
	RetryAfter time.Duration
	// Msg is the server's one-line message.
	Msg string
	// Kind is the error kind the status maps to; see wireToKinds.
	Kind error
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("HTTP %d", e.Code)
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// Unwrap returns the error kind, which may be nil.
func (e *StatusError) Unwrap() error { return e.Kind }

// retryHint sits on top of a failed call's error when the server sent a
// Retry-After. Its RetryAfter method lets a caller that does not import
// this package (a factory) find the hint with errors.As on a small
// interface of its own; StatusError cannot carry the method itself, as its
// RetryAfter is a field.
type retryHint struct {
	err   error
	after time.Duration
}

func (h *retryHint) Error() string { return h.err.Error() }

func (h *retryHint) Unwrap() error { return h.err }

// RetryAfter returns how long the server asked the caller to wait.
func (h *retryHint) RetryAfter() time.Duration { return h.after }

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date
// (judged against now). Missing, malformed or past values are 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 32); err == nil {
		return time.Duration(max(secs, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
