package factory

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// retryAfterer is what an error carrying a server's Retry-After looks like
// (the API client's status error has this method). Declaring it here keeps
// the factory free of the HTTP package: any Service whose errors have the
// method is honoured.
type retryAfterer interface {
	RetryAfter() time.Duration
}

// retryAfter returns the wait the coordinator asked for, if err says one.
func retryAfter(err error) (time.Duration, bool) {
	var ra retryAfterer
	if errors.As(err, &ra) {
		if d := ra.RetryAfter(); d > 0 {
			return d, true
		}
	}
	return 0, false
}

// transient reports whether a failed call may succeed if simply tried
// again. The coordinator's own refusals (fenced, not found, bad request,
// conflict, unauthorized) will not change by themselves; overload (503,
// 429) and anything that is not a coordinator answer at all (a refused
// connection, a timeout, a cut-off reply) may.
func transient(err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, coord.ErrUnavailable), errors.Is(err, coord.ErrThrottled):
		return true
	case errors.Is(err, coord.ErrFenced), errors.Is(err, coord.ErrNotFound),
		errors.Is(err, coord.ErrBadRequest), errors.Is(err, coord.ErrConflict),
		errors.Is(err, coord.ErrUnauthorized), errors.Is(err, context.Canceled):
		return false
	}
	return true
}

// backoff yields capped exponential waits with jitter. Each wait is drawn
// from [d/2, d] for d = min(max, base*2^n): never zero, so a fleet that was
// throttled together spreads out instead of returning in lockstep, and
// never more than max, so a factory notices a recovered coordinator soon.
// A Retry-After from the server is a floor, with up to 10% added for the
// same spreading reason.
type backoff struct {
	base, max time.Duration
	n         int
	jitter    func() float64 // in [0, 1); math/rand/v2 unless a test sets it
}

func newBackoff(base, max time.Duration) *backoff {
	return &backoff{base: base, max: max, jitter: rand.Float64}
}

// next returns the wait before the next attempt after err.
func (b *backoff) next(err error) time.Duration {
	d := b.base
	for i := 0; i < b.n && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	b.n++
	wait := d/2 + time.Duration(b.jitter()*float64(d/2))
	if ra, ok := retryAfter(err); ok {
		wait = max(wait, ra+time.Duration(b.jitter()*float64(ra/10)))
	}
	return wait
}

// reset starts the sequence again after a success.
func (b *backoff) reset() { b.n = 0 }

// sleepCtx waits d or until ctx is done, reporting whether the full wait
// passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
