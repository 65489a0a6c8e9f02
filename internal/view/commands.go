package view

import (
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/twofactory/twofactory/internal/orchestrate"
)

// coalesceMax bounds how many queued batches one read merges, so that a
// source that never pauses still lets the screen redraw between reads.
const coalesceMax = 256

// guard runs f as a command and turns a panic in it into a fatalMsg: the
// model then quits cleanly (restoring the terminal) and RunDashboard
// returns the error, instead of bubbletea killing the program.
func guard(what string, f func() tea.Msg) tea.Cmd {
	return func() (msg tea.Msg) {
		defer func() {
			if r := recover(); r != nil {
				msg = fatalMsg{err: panicError(what, r)}
			}
		}()
		return f()
	}
}

// readProgress waits for the scenario's next Progress. It is armed again
// only by the handler of the message it returns, so there is one reader.
func (m *model) readProgress() tea.Cmd {
	feed, opt := m.deps.feed, m.opt
	return guard("progress reader", func() tea.Msg {
		p, ok := feed.next()
		if !ok {
			return progressDoneMsg{}
		}
		opt.testPanicAt(testPanicCommand, p.Step == orchestrate.StepKill)
		return progressMsg{p: p}
	})
}

// readSource waits for src's next batch and merges whatever else is already
// queued behind it into the same message.
func readSource(src *eventSource) tea.Cmd {
	return guard("event reader", func() tea.Msg {
		first, ok := <-src.c
		if !ok {
			return sourceDoneMsg{src: src, err: sourceErr(src)}
		}
		batch := first
		for range coalesceMax {
			select {
			case more, ok := <-src.c:
				if !ok {
					// The next read sees the close again and reports it.
					return sourceMsg{batch: batch, src: src}
				}
				batch = merge(batch, more)
			default:
				return sourceMsg{batch: batch, src: src}
			}
		}
		return sourceMsg{batch: batch, src: src}
	})
}

// sourceErr is why src closed, if it says.
func sourceErr(src *eventSource) error {
	if src.err == nil {
		return nil
	}
	return src.err()
}

// followLog starts following the events.log at path.
func (m *model) followLog(path string) tea.Cmd {
	m.following = path
	open := m.deps.follow
	if open == nil {
		return nil
	}
	return guard("follower start", func() tea.Msg {
		src, err := open(path)
		if err != nil {
			return followErrMsg{path: path, err: err}
		}
		return followStartedMsg{src: src}
	})
}

// cancelScenario asks the scenario to stop; it answers by closing its
// progress channel once its children are stopped.
func (m *model) cancelScenario() tea.Cmd {
	cancel := m.deps.cancel
	return guard("cancel", func() tea.Msg {
		cancel()
		return nil
	})
}

// startTick starts a tick when one is wanted and none is in flight. Only
// the arrival of a tick clears ticking, so however many other messages
// come, there is never more than one tick chain.
func (m *model) startTick() tea.Cmd {
	if m.ticking || m.quitting || !m.wantsTicks() {
		return nil
	}
	m.ticking = true
	return m.deps.tick(tickEvery)
}

// wantsTicks reports whether anything on screen moves with time: a lease
// counting down, or the elapsed time of a running scenario. When neither,
// the dashboard sleeps until a message comes (near-zero CPU when idle).
func (m *model) wantsTicks() bool {
	if m.deps.tick == nil {
		return false
	}
	return !m.scenarioDone || m.fleet.liveLeases(m.now)
}

// realTick is the production tick: one message after d.
func realTick(d time.Duration) tea.Cmd {
	return tea.Tick(d, func(t time.Time) tea.Msg { return tickMsg{at: t} })
}
