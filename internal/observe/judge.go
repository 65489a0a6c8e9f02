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
	fresh := m.Events[:0:0]
	var found *coord.Violation
	for _, e := range m.Events {
		if e.Seq <= j.last {
			continue
		}
		j.last = e.Seq
		j.events++
		fresh = append(fresh, e)
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

// Events counts the events applied since the last Reset.
func (j *Judge) Events() int { return j.events }

// Failed returns the first violation since the last Reset, or nil.
func (j *Judge) Failed() *coord.Violation { return j.failed }
