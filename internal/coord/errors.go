package coord

import (
	"errors"
	"fmt"
)

// The coordinator's error kinds. Every error an operation returns wraps one
// of these, and the HTTP layer maps each to one status code (and its client
// maps the code back) in a single table each way: see internal/coord/api.
var (
	// ErrFenced: the caller's epoch or holder is stale, or the job is not
	// held. Nothing changed. HTTP 409.
	ErrFenced = errors.New("fenced")
	// ErrNotFound: no job has that id. HTTP 404.
	ErrNotFound = errors.New("not found")
	// ErrBadRequest: the request itself is malformed. HTTP 400.
	ErrBadRequest = errors.New("bad request")
	// ErrConflict: a submit reused an id with a different body. HTTP 409,
	// told apart from a fence by the error code in the JSON body.
	ErrConflict = errors.New("conflict")
	// ErrUnauthorized: the bearer token is missing or wrong. HTTP 401.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrUnavailable: the coordinator cannot serve now (shutting down, or its
	// log failed and it stopped accepting writes). HTTP 503.
	ErrUnavailable = errors.New("unavailable")
	// ErrThrottled: the coordinator asks the caller to back off. HTTP 429.
	ErrThrottled = errors.New("throttled")
)

// FenceReason says why a call was fenced.
type FenceReason string

// The reasons a renew, patch or release is fenced.
const (
	// ReasonStaleEpoch: the caller's epoch is not the job's epoch.
	ReasonStaleEpoch FenceReason = "stale-epoch"
	// ReasonWrongHolder: the epoch matches but another factory holds the job.
	ReasonWrongHolder FenceReason = "wrong-holder"
	// ReasonNotHeld: the job is queued or final; nobody holds it.
	ReasonNotHeld FenceReason = "not-held"
	// ReasonExpired: the caller's lease ran out before the call arrived; the
	// coordinator reclaimed the job first, then refused the call.
	ReasonExpired FenceReason = "lease-expired"
)

// FenceError is the detail of a fenced call. It matches ErrFenced with
// errors.Is and carries the job's current epoch and holder, which the API
// returns with the 409 so the caller learns how stale it is.
type FenceError struct {
	Job      string      `json:"job"`
	Factory  string      `json:"factory"`
	Epoch    uint64      `json:"epoch"`
	Current  uint64      `json:"currentEpoch"`
	Holder   string      `json:"holder,omitempty"`
	Reason   FenceReason `json:"reason"`
	Op       string      `json:"op"`
	EventSeq uint64      `json:"seq,omitempty"`
}

func (e *FenceError) Error() string {
	return fmt.Sprintf("fenced: %s of job %s by %s at epoch %d refused (%s; job is at epoch %d)",
		e.Op, e.Job, e.Factory, e.Epoch, e.Reason, e.Current)
}

// Is makes errors.Is(err, ErrFenced) true for a *FenceError.
func (e *FenceError) Is(target error) bool { return target == ErrFenced }
