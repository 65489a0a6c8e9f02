package view

import (
	"errors"
	"fmt"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/orchestrate"
)

// fleet is the dashboard's picture of the fleet, built from decoded events
// alone. Job state is the one reducer's (coord.State); beside it fleet keeps
// what the reducer has no reason to remember but the screen shows: whom a
// job was reclaimed from, which stale epochs were fenced, how many jobs each
// factory shipped, and the live evidence for the three guarantees.
//
// It is owned by the model and touched only from Update.
type fleet struct {
	state     *coord.State
	factories []string // display order: configured ids first, then as seen
	known     map[string]bool
	notes     map[string]*jobNotes
	shipped   map[string]int
	fencedBy  map[string]bool // factories that had a call fenced
	holding   map[string]int  // held jobs per holder, kept as events come
	ev        evidence
	skipped   int    // events at or below the last applied seq (resends)
	rejected  int    // events the reducer refused
	lastErr   string // why the last one was refused
}

// jobNotes is what the table shows about a job beyond its state.
type jobNotes struct {
	reclaimedFrom []string          // "mac-1@e1", one per RECLAIM
	fenced        []string          // "e1 mac-1", one per FENCE
	grants        map[uint64]string // epoch -> factory it was granted to
	dones         int
	// leaseFrom is when the current lease was set (the coordinator's time
	// on the event that set ExpiresAt), so a bar can show its full length
	// even when the lease length was never announced.
	leaseFrom time.Time
}

// evidence is what the events have shown so far about the guarantees.
type evidence struct {
	parallel   string // how two factories were seen holding jobs at once
	reclaims   []string
	fences     []string
	violations []violation
	claims     int
	ships      int
}

// violation is a broken invariant seen live, filed under its guarantee.
type violation struct {
	g    orchestrate.Guarantee
	text string
}

// newFleet returns an empty fleet that lists ids first, in that order.
func newFleet(ids []string) *fleet {
	f := &fleet{
		state:    coord.NewState(),
		known:    map[string]bool{},
		notes:    map[string]*jobNotes{},
		shipped:  map[string]int{},
		fencedBy: map[string]bool{},
		holding:  map[string]int{},
	}
	for _, id := range ids {
		f.addFactory(id)
	}
	return f
}

// addFactory lists id as a factory unless it is empty or already listed.
func (f *fleet) addFactory(id string) {
	if id == "" || f.known[id] {
		return
	}
	f.known[id] = true
	f.factories = append(f.factories, id)
}

// apply folds e into the state and, when the reducer took it, updates the
// notes and the evidence. It reports whether e was applied.
func (f *fleet) apply(e coord.Event) bool {
	var prev coord.JobState
	if j := f.state.Jobs[e.Job]; j != nil {
		prev = j.JobState
	}
	if err := f.state.Apply(e); err != nil {
		if errors.Is(err, coord.ErrOutOfOrder) {
			f.skipped++
			return false
		}
		f.rejected++
		f.lastErr = err.Error()
		return false
	}
	f.note(e, prev)
	return true
}

// note records what e says beyond the job's new state; prev is the job's
// state before e.
func (f *fleet) note(e coord.Event, prev coord.JobState) {
	f.addFactory(e.Factory)
	f.addFactory(e.After.Holder)
	n := f.notesFor(e.Job)
	if !e.After.ExpiresAt.IsZero() && !e.After.ExpiresAt.Equal(prev.ExpiresAt) {
		n.leaseFrom = e.Time
	}

	switch e.Type {
	case coord.EvClaim:
		f.noteClaim(e, n)
	case coord.EvPatch, coord.EvRenew, coord.EvRelease:
		f.noteReport(e, prev, n)
	case coord.EvReclaim:
		from := dashIfEmpty(prev.Holder)
		n.reclaimedFrom = append(n.reclaimedFrom, fmt.Sprintf("%s@e%d", from, e.Epoch))
		f.ev.reclaims = append(f.ev.reclaims,
			fmt.Sprintf("%s from %s e%d->e%d", e.Job, from, e.Epoch, e.After.Epoch))
	case coord.EvFence:
		f.fencedBy[e.Factory] = true
		n.fenced = append(n.fenced, fmt.Sprintf("e%d %s", e.Epoch, dashIfEmpty(e.Factory)))
		f.ev.fences = append(f.ev.fences,
			fmt.Sprintf("%s e%d %s on %s: 409", dashIfEmpty(e.Factory), e.Epoch, e.Op, e.Job))
	}

	f.countHolders(prev, e)
}

// noteClaim checks that the epoch granted was never granted to anyone else:
// a job version held by two factories is the double-assign of guarantee (a).
func (f *fleet) noteClaim(e coord.Event, n *jobNotes) {
	f.ev.claims++
	if who, ok := n.grants[e.Epoch]; ok && who != e.Factory {
		f.violate(orchestrate.GuaranteeNoDoubleAssign,
			fmt.Sprintf("%s epoch %d granted to %s and to %s", e.Job, e.Epoch, who, e.Factory))
	}
	n.grants[e.Epoch] = e.Factory
}

// noteReport checks that an accepted renew, patch or release came from the
// holder at its epoch (else fencing failed: guarantee (b)), and counts ships.
func (f *fleet) noteReport(e coord.Event, prev coord.JobState, n *jobNotes) {
	if prev.Holder != e.Factory || prev.Epoch != e.Epoch {
		f.violate(orchestrate.GuaranteeFencing,
			fmt.Sprintf("%s %s from %s at epoch %d accepted (holder %s, epoch %d)",
				e.Job, e.Label(), dashIfEmpty(e.Factory), e.Epoch,
				dashIfEmpty(prev.Holder), prev.Epoch))
	}
	if e.Type != coord.EvPatch || e.After.Stage != coord.StageDone {
		return
	}
	n.dones++
	f.shipped[e.Factory]++
	f.ev.ships++
	if n.dones > 1 {
		f.violate(orchestrate.GuaranteeNoDoubleAssign,
			fmt.Sprintf("%s reported done %d times", e.Job, n.dones))
	}
}

// countHolders keeps the number of jobs each factory holds, from the job's
// state before and after e, and records the first moment two factories held
// jobs at once. It costs O(1) an event, so a long log folds in linear time.
func (f *fleet) countHolders(prev coord.JobState, e coord.Event) {
	if prev.Stage.Held() && prev.Holder != "" {
		if f.holding[prev.Holder]--; f.holding[prev.Holder] <= 0 {
			delete(f.holding, prev.Holder)
		}
	}
	if e.After.Stage.Held() && e.After.Holder != "" {
		f.holding[e.After.Holder]++
	}
	if f.ev.parallel != "" || len(f.holding) < 2 {
		return
	}
	var holders []string
	for _, id := range f.factories { // display order, so the text is stable
		if f.holding[id] > 0 {
			holders = append(holders, id)
		}
	}
	f.ev.parallel = fmt.Sprintf("%s and %s held jobs at once (event #%d)",
		holders[0], holders[1], e.Seq)
}

// violate records a live violation.
func (f *fleet) violate(g orchestrate.Guarantee, text string) {
	f.ev.violations = append(f.ev.violations, violation{g: g, text: text})
}

// notesFor returns the notes of job id, creating them.
func (f *fleet) notesFor(id string) *jobNotes {
	n := f.notes[id]
	if n == nil {
		n = &jobNotes{grants: map[uint64]string{}}
		f.notes[id] = n
	}
	return n
}

// heldBy returns the jobs factory id holds, in submission order.
func (f *fleet) heldBy(id string) []*coord.Job {
	var out []*coord.Job
	for _, j := range f.state.Order {
		if j.Stage.Held() && j.Holder == id {
			out = append(out, j)
		}
	}
	return out
}

// liveLeases reports whether any held job's lease runs past now: the only
// time the countdown bars move and ticks are worth their CPU.
func (f *fleet) liveLeases(now time.Time) bool {
	for _, j := range f.state.Order {
		if j.Stage.Held() && j.ExpiresAt.After(now) {
			return true
		}
	}
	return false
}

// dashIfEmpty shows an absent id as "-", as events.log does.
func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
