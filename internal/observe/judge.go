package observe

import (
	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/view"
)

// Judge runs the invariant checker over batches as they arrive. It also
// drops events it has already seen (an API source may resend a few), since
// the checker rightly takes a sequence number that does not grow as a
// fault. A Reset starts the history over: new checker, nothing seen.
//
// A Judge is not safe for concurrent use.
type Judge struct {
	check   bool
	checker *coord.Checker
	last    uint64
	events  int
	failed  *coord.Violation
}

// NewJudge returns a Judge; with check false it only drops repeats.
func NewJudge(check bool) *Judge {
	return &Judge{check: check, checker: coord.NewChecker()}
}

// Apply takes one batch and returns its events that are new, in order, and
// the first violation they reveal, if this batch is the one that reveals
// the history's first. Later violations are not reported: the first one is
// the verdict, and what follows it mostly echoes it.
func (j *Judge) Apply(m view.EventsMsg) ([]coord.Event, *coord.Violation) {
	if m.Reset {
		j.checker, j.last, j.failed, j.events = coord.NewChecker(), 0, nil, 0
	}
	fresh := j.unseen(m.Events)
	var found *coord.Violation
	for _, e := range fresh {
		j.last = e.Seq
		j.events++
		if !j.check || j.failed != nil {
			continue
		}
		if vs := j.checker.Observe(e); len(vs) > 0 {
			v := vs[0]
			j.failed, found = &v, &v
		}
	}
	return fresh, found
}

// unseen returns the events of evs above the last one seen, in order. The
// usual batch is all new and is returned as it is: events are large, and a
// copy of every batch was most of what folding a big log allocated.
func (j *Judge) unseen(evs []coord.Event) []coord.Event {
	last, fresh := j.last, true
	for _, e := range evs {
		if e.Seq <= last {
			fresh = false
			break
		}
		last = e.Seq
	}
	if fresh {
		return evs
	}
	var out []coord.Event
	last = j.last
	for _, e := range evs {
		if e.Seq > last {
			out = append(out, e)
			last = e.Seq
		}
	}
	return out
}

// Events counts the events applied since the last Reset.
func (j *Judge) Events() int { return j.events }

// Failed returns the first violation since the last Reset, or nil.
func (j *Judge) Failed() *coord.Violation { return j.failed }
