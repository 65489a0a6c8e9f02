package orchestrate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// watch follows the coordinator's event stream and folds it with the one
// reducer. Every wait of the scenario is a condition on this state,
// re-checked each time new events land: the scenario moves when the
// coordinator says something happened, never after a guessed sleep.
type watch struct {
	svc coord.Service

	mu      sync.Mutex
	state   *coord.State
	events  []coord.Event
	changed chan struct{} // closed and replaced when events land or the stream fails
	err     error         // the stream's terminal error
}

func newWatch(svc coord.Service) *watch {
	return &watch{svc: svc, state: coord.NewState(), changed: make(chan struct{})}
}

// run long-polls the event stream until ctx is done.
func (w *watch) run(ctx context.Context) {
	var after uint64
	fails := 0
	for ctx.Err() == nil {
		evs, err := w.svc.Events(ctx, after, 1000, time.Second)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// A stream that keeps failing ends the watch; a blip does not.
			if fails++; fails >= 5 || errors.Is(err, coord.ErrNotFound) ||
				errors.Is(err, coord.ErrUnauthorized) {
				w.fail(fmt.Errorf("event stream: %w", err))
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(fails) * 200 * time.Millisecond):
			}
			continue
		}
		fails = 0
		if len(evs) == 0 {
			continue
		}
		after = evs[len(evs)-1].Seq
		if err := w.add(evs); err != nil {
			w.fail(err)
			return
		}
	}
}

func (w *watch) add(evs []coord.Event) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range evs {
		if err := w.state.Apply(e); err != nil {
			return fmt.Errorf("event stream: %w", err)
		}
		w.events = append(w.events, e)
	}
	close(w.changed)
	w.changed = make(chan struct{})
	return nil
}

func (w *watch) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = err
	close(w.changed)
	w.changed = make(chan struct{})
}

// view is what a wait condition sees: the folded state and every event so
// far. It is only valid inside the condition.
type view struct {
	State  *coord.State
	Events []coord.Event
}

// errWaitTimeout is returned by until when its deadline passes first.
var errWaitTimeout = errors.New("timed out")

// until blocks until cond holds, the deadline d passes (errWaitTimeout), the
// stream fails, or ctx is done. what names the wait in the error.
func (w *watch) until(ctx context.Context, d time.Duration, what string,
	cond func(v view) bool) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		w.mu.Lock()
		ok := cond(view{w.state, w.events})
		ch, err := w.changed, w.err
		w.mu.Unlock()
		switch {
		case ok:
			return nil
		case err != nil:
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		select {
		case <-ch:
		case <-timer.C:
			return fmt.Errorf("waiting for %s: %w after %v", what, errWaitTimeout, d)
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		}
	}
}

// snapshot returns a copy of every event so far.
func (w *watch) snapshot() []coord.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]coord.Event(nil), w.events...)
}

// stateJob returns a copy of one job as the events show it.
func (w *watch) stateJob(id string) coord.Job {
	w.mu.Lock()
	defer w.mu.Unlock()
	if j := w.state.Jobs[id]; j != nil {
		return *j
	}
	return coord.Job{}
}
