package view

import "github.com/twofactory/twofactory/internal/coord"

// factoryStatus is what a factory's panel says it is doing.
type factoryStatus string

// The statuses a panel shows. The zombie ones describe the victim after
// its daemon was killed: its orphaned executor first frozen (SIGSTOP), then
// let go, refused with a 409 when it reports at its stale epoch.
const (
	statusRunning      factoryStatus = "running"
	statusIdle         factoryStatus = "idle"
	statusKilled       factoryStatus = "killed"
	statusZombieFrozen factoryStatus = "zombie frozen"
	statusZombieFenced factoryStatus = "zombie fenced"
)

// factoryMarks is what the scenario's progress says happened to a factory;
// events cannot tell a killed daemon from a quiet one.
type factoryMarks struct {
	killed bool
	frozen bool // its orphaned executor is SIGSTOPped
	thawed bool
	fenced bool // the scenario saw its late report refused
}

// factoryView is one panel's content, derived from the fleet and the marks.
type factoryView struct {
	id      string
	status  factoryStatus
	jobs    []*coord.Job // the jobs it holds, in submission order
	shipped int
}

// statusOf combines the scenario's marks with what the events show: a
// factory that was fenced in the events counts as fenced even when the
// scenario did not say so (observe mode, API mode).
func statusOf(mk factoryMarks, holding, fencedInEvents bool) factoryStatus {
	if mk.killed {
		switch {
		case mk.fenced || fencedInEvents:
			return statusZombieFenced
		case mk.frozen && !mk.thawed:
			return statusZombieFrozen
		default:
			return statusKilled
		}
	}
	if holding {
		return statusRunning
	}
	return statusIdle
}

// factoryViews returns a panel per known factory, in display order.
func factoryViews(f *fleet, marks map[string]factoryMarks) []factoryView {
	out := make([]factoryView, 0, len(f.factories))
	for _, id := range f.factories {
		jobs := f.heldBy(id)
		out = append(out, factoryView{
			id:      id,
			status:  statusOf(marks[id], len(jobs) > 0, f.fencedBy[id]),
			jobs:    jobs,
			shipped: f.shipped[id],
		})
	}
	return out
}
