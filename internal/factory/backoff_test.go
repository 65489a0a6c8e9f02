package factory

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

func TestBackoffGrowsCapsAndJitters(t *testing.T) {
	const base, limit = 100 * time.Millisecond, time.Second
	tests := []struct {
		jitter float64
		want   []time.Duration
	}{
		// Lowest draw: half of each step.
		{0, []time.Duration{50, 100, 200, 400, 500, 500}},
		// Highest draw: the whole step, capped at the limit.
		{0.999999, []time.Duration{100, 200, 400, 800, 1000, 1000}},
	}
	for _, tt := range tests {
		b := newBackoff(base, limit)
		b.jitter = func() float64 { return tt.jitter }
		for i, w := range tt.want {
			got := b.next(errors.New("x"))
			want := w * time.Millisecond
			if got < want-time.Millisecond || got > want {
				t.Errorf("jitter %v, attempt %d: %v, want ~%v", tt.jitter, i, got, want)
			}
		}
		b.reset()
		if got := b.next(nil); got > base {
			t.Errorf("after reset: %v, want at most %v", got, base)
		}
	}
}

func TestBackoffHonoursRetryAfter(t *testing.T) {
	b := newBackoff(10*time.Millisecond, 50*time.Millisecond)
	b.jitter = func() float64 { return 0.5 }
	err := fmt.Errorf("claim: %w", &throttle{kind: coord.ErrThrottled, after: 3 * time.Second})
	got := b.next(err)
	if got < 3*time.Second || got > 3300*time.Millisecond {
		t.Fatalf("wait %v, want Retry-After 3s plus at most 10%%", got)
	}
}

func TestTransient(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{coord.ErrUnavailable, true},
		{fmt.Errorf("renew: %w", coord.ErrThrottled), true},
		{errors.New("dial tcp 127.0.0.1:1: connection refused"), true},
		{context.DeadlineExceeded, true}, // one slow answer is not a refusal
		{&coord.FenceError{Reason: coord.ReasonStaleEpoch}, false},
		{coord.ErrNotFound, false},
		{coord.ErrBadRequest, false},
		{coord.ErrUnauthorized, false},
		{coord.ErrConflict, false},
		{context.Canceled, false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := transient(tt.err); got != tt.want {
			t.Errorf("transient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
