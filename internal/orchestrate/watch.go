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
//
// Against a server with no event stream it reads job states instead
// (pollEvery set): each List answer becomes a fresh State, events stay
// empty, and the same waits re-check on every answer.
type watch struct {
	svc coord.Service

	pollEvery time.Duration
	filter    coord.ListFilter

	mu      sync.Mutex
	state   *coord.State
	events  []coord.Event
	changed chan struct{} // closed and replaced when events land or the stream fails
	err     error         // the stream's terminal error

	// The poll feed only: when state was read, and per job every distinct
	// (stage, holder, epoch) seen, oldest first, for the job-state judge.
	polledAt time.Time
	trails   map[string][]coord.JobState
}

func newWatch(svc coord.Service) *watch {
	return &watch{svc: svc, state: coord.NewState(), changed: make(chan struct{})}
}

// newPollWatch is a watch that reads job states with List every interval,
// for a server that serves no event stream.
func newPollWatch(svc coord.Service, every time.Duration, f coord.ListFilter) *watch {
	w := newWatch(svc)
	w.pollEvery, w.filter, w.trails = every, f, map[string][]coord.JobState{}
	return w
}

// run feeds the watch until ctx is done: from the event stream, or from job
// states when the watch polls.
func (w *watch) run(ctx context.Context) {
	if w.pollEvery > 0 {
		w.runPoll(ctx)
		return
	}
	w.runStream(ctx)
}

// runStream long-polls the event stream until ctx is done.
func (w *watch) runStream(ctx context.Context) {
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

// runPoll reads every job with List each pollEvery until ctx is done. A
// refused token ends the watch; so do five failures in a row, as for the
// stream.
func (w *watch) runPoll(ctx context.Context) {
	fails := 0
	for ctx.Err() == nil {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		at := time.Now()
		jobs, err := w.svc.List(lctx, w.filter)
		cancel()
		switch {
		case err == nil:
			fails = 0
			w.setJobs(jobs, at)
		case ctx.Err() != nil:
			return
		default:
			if fails++; fails >= 5 || errors.Is(err, coord.ErrUnauthorized) {
				w.fail(fmt.Errorf("job states (List): %w", err))
				return
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(w.pollEvery):
		}
	}
}

// setJobs replaces the state with one List answer, read at at, and wakes
// the waits.
func (w *watch) setJobs(jobs []coord.Job, at time.Time) {
	st := coord.NewState()
	for _, j := range jobs {
		st.Restore(j)
	}
	st.SortOrder()

	w.mu.Lock()
	defer w.mu.Unlock()
	for _, j := range jobs {
		seen := coord.JobState{Stage: j.Stage, Holder: j.Holder, Epoch: j.Epoch}
		if tr := w.trails[j.ID]; len(tr) == 0 || tr[len(tr)-1] != seen {
			w.trails[j.ID] = append(tr, seen)
		}
	}
	w.state, w.polledAt = st, at
	close(w.changed)
	w.changed = make(chan struct{})
}

// trail returns a copy of every distinct state the polls saw of one job.
func (w *watch) trail(id string) []coord.JobState {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]coord.JobState(nil), w.trails[id]...)
}

// leaseLeft is how long the lease of job id had left when it was last
// read: a lower bound on the server's lease (poll feed only).
func (w *watch) leaseLeft(id string) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	j := w.state.Jobs[id]
	if j == nil || j.ExpiresAt.IsZero() {
		return 0
	}
	return j.ExpiresAt.Sub(w.polledAt)
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
