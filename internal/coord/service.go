package coord

import (
	"context"
	"time"
)

// Service is the coordinator contract of design section 4 as a Go
// interface. The in-process Coordinator implements it, and so does the HTTP
// client in internal/coord/api, with the same errors: a factory, the
// orchestrator or a test can run against either without knowing which.
type Service interface {
	// Submit adds a queued job at epoch 1. Submitting the same id with the
	// same body again returns the existing job and created=false; the same id
	// with another body is ErrConflict.
	Submit(ctx context.Context, r SubmitRequest) (job Job, created bool, err error)
	// Claim grants up to max(1, r.Max) of the oldest queued jobs (of
	// r.Product, when set) to r.Factory, each with a lease. No queued job is
	// an empty slice and a nil error.
	Claim(ctx context.Context, r ClaimRequest) ([]Grant, error)
	// Renew extends the caller's lease. Stale callers get a *FenceError.
	Renew(ctx context.Context, r Report) (Lease, error)
	// Patch moves a held job to r.Stage (a working stage, done or failed).
	// Stale callers get a *FenceError; an unknown stage is ErrBadRequest.
	Patch(ctx context.Context, r Report) (Job, error)
	// Release gives a held job back: queued, no holder, epoch + 1.
	Release(ctx context.Context, r Report) (Job, error)
	// Get returns one job, or ErrNotFound.
	Get(ctx context.Context, id string) (Job, error)
	// List returns the jobs matching f, in submission order.
	List(ctx context.Context, f ListFilter) ([]Job, error)
	// Events returns up to limit events with Seq > after, oldest first. When
	// there are none yet it waits up to wait for one (a long poll) and then
	// returns what it has, possibly nothing.
	Events(ctx context.Context, after uint64, limit int, wait time.Duration) ([]Event, error)
}

// SubmitRequest is the body of a submit.
type SubmitRequest struct {
	ID      string `json:"id"`
	Product string `json:"product,omitempty"`
	Payload string `json:"payload,omitempty"`
}

// ClaimRequest is the body of a claim. Max above 1 asks for a batch.
type ClaimRequest struct {
	Factory string `json:"factoryId"`
	Product string `json:"product,omitempty"`
	Max     int    `json:"max,omitempty"`
}

// Report names the caller of a renew, patch or release: the job, the
// factory that believes it holds it, and the epoch it was granted. Stage is
// the target of a patch and empty otherwise.
type Report struct {
	Job     string `json:"-"`
	Factory string `json:"factoryId"`
	Epoch   uint64 `json:"epoch"`
	Stage   Stage  `json:"stage,omitempty"`
}

// ListFilter selects jobs for List. Empty fields match everything.
type ListFilter struct {
	Product string
	Stage   Stage
	Holder  string
}
