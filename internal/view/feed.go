package view

import (
	"sync/atomic"

	"github.com/twofactory/twofactory/internal/orchestrate"
)

// progressFeed reads the scenario's progress channel for the dashboard and
// remembers, outside the model, the last Results seen and whether the
// channel closed. Several goroutines may read it: the model's commands
// while the program runs, and RunDashboard's drain after it exits early.
// Whichever of them receives the judged Progress, the verdict is kept.
type progressFeed struct {
	ch      <-chan orchestrate.Progress
	results atomic.Pointer[orchestrate.Results]
	closed  atomic.Bool
}

// newFeed wraps ch; a nil ch is a scenario that is already over (observe
// mode without a checker).
func newFeed(ch <-chan orchestrate.Progress) *progressFeed {
	f := &progressFeed{ch: ch}
	if ch == nil {
		f.closed.Store(true)
	}
	return f
}

// next blocks for the next Progress; ok is false once the channel closed.
func (f *progressFeed) next() (p orchestrate.Progress, ok bool) {
	if f.closed.Load() {
		return p, false
	}
	p, ok = <-f.ch
	if !ok {
		f.closed.Store(true)
		return p, false
	}
	if p.Results != nil {
		f.results.Store(p.Results)
	}
	return p, true
}

// drain reads until the channel closes: the scenario has then stopped every
// child process.
func (f *progressFeed) drain() {
	for {
		if _, ok := f.next(); !ok {
			return
		}
	}
}

// done reports whether the channel has closed.
func (f *progressFeed) done() bool { return f.closed.Load() }

// verdict returns the last Results seen, or nil if the scenario never
// judged.
func (f *progressFeed) verdict() *orchestrate.Results { return f.results.Load() }
