package view

import (
	"slices"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/orchestrate"
)

// EventsMsg is a batch of decoded coordinator events, oldest first, as the
// dashboard consumes them. In API mode the caller sends these on the events
// channel of RunDashboard; in file mode an adapter makes them from the
// events.log follower's batches.
type EventsMsg struct {
	// Events are folded into the dashboard's state in order. Events whose
	// sequence number is not above the last one applied are skipped, so a
	// source may safely resend a few.
	Events []coord.Event
	// Reset says the source started over (a new events.log): the dashboard
	// drops its job state and rebuilds it from Events.
	Reset bool
	// Skipped counts lines the source could not decode (a torn last line, a
	// damaged one). They are shown as a count, never fatal.
	Skipped int
}

// merge returns a followed by b as one batch. A reset in b discards a, whose
// events belong to the file that was replaced. It never appends into a's
// backing array, which may belong to the sender.
func merge(a, b EventsMsg) EventsMsg {
	if b.Reset {
		return b
	}
	out := EventsMsg{Reset: a.Reset, Skipped: a.Skipped + b.Skipped}
	out.Events = slices.Concat(a.Events, b.Events)
	return out
}

// progressMsg carries one Progress value from the scenario.
type progressMsg struct{ p orchestrate.Progress }

// progressDoneMsg says the scenario closed its progress channel: it ended
// and every child process is stopped.
type progressDoneMsg struct{}

// sourceMsg is a batch read from the current event source; unlike a bare
// EventsMsg it re-arms the read of that same source, so there is never more
// than one reader per source and batches cannot overtake one another.
type sourceMsg struct {
	batch EventsMsg
	src   *eventSource
}

// sourceDoneMsg says an event source closed; err is set when it failed.
type sourceDoneMsg struct {
	src *eventSource
	err error
}

// followStartedMsg hands the model the event source that follows a log.
type followStartedMsg struct{ src *eventSource }

// followErrMsg says the events.log could not be followed. It is shown, not
// fatal: the scenario goes on and still reports its verdict.
type followErrMsg struct {
	path string
	err  error
}

// tickMsg is the model's only source of "now".
type tickMsg struct{ at time.Time }

// fatalMsg is a failure the dashboard cannot draw past (a panic in one of
// its commands); the model records it and quits.
type fatalMsg struct{ err error }

// ctxDoneMsg says RunDashboard's context ended: stop as if the user quit,
// and leave as soon as the scenario has stopped.
type ctxDoneMsg struct{}
