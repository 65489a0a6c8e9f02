package coord

import (
	"cmp"
	"container/heap"
	"errors"
	"fmt"
	"slices"
	"time"
)

// State is the fleet's job state as folded from events. It is the one way
// events.log is read: the coordinator recovers with it and decides with it,
// the checker judges with it, and the dashboard draws from it.
//
// State keeps two indexes so that neither a claim nor the reaper scans every
// job: a queue of queued jobs ordered by submission (one overall, one per
// product) and a heap of live leases ordered by expiry. Entries go stale when
// a job moves on; they are dropped lazily when they reach the top, so every
// operation is O(log n) amortised.
//
// State is not safe for concurrent use; its owner serialises access.
type State struct {
	Jobs    map[string]*Job
	Order   []*Job // every job, in submission order
	LastSeq uint64

	queue    jobQueue
	products map[string]*jobQueue
	leases   leaseHeap
}

// NewState returns an empty State.
func NewState() *State {
	return &State{Jobs: map[string]*Job{}, products: map[string]*jobQueue{}}
}

// ErrOutOfOrder is returned by Apply for an event whose sequence number does
// not follow the last one applied.
var ErrOutOfOrder = errors.New("event out of order")

// Apply folds one event into the state. The event's After is taken as the
// job's new state as it stands: judging whether the transition was allowed
// is the checker's job, not the reducer's, so that a bad history can be
// folded and then shown to be bad.
func (s *State) Apply(e Event) error {
	if e.Seq <= s.LastSeq {
		return fmt.Errorf("%w: seq %d after %d", ErrOutOfOrder, e.Seq, s.LastSeq)
	}
	j := s.Jobs[e.Job]
	switch {
	case e.Type == EvSubmit && j == nil:
		j = &Job{ID: e.Job, Product: e.Product, Payload: e.Payload, SubmitSeq: e.Seq}
		s.Jobs[e.Job] = j
		s.Order = append(s.Order, j)
	case j == nil:
		return fmt.Errorf("%w: %s event %d for unknown job %q", ErrNotFound, e.Label(), e.Seq, e.Job)
	}
	s.LastSeq = e.Seq
	s.set(j, e.After, e.Seq)
	return nil
}

// Restore puts a job read from a checkpoint into the state, as if the events
// up to j.Seq had been applied. Jobs must be restored before any Apply.
func (s *State) Restore(j Job) {
	cp := j
	// set indexes what changed from the job's previous state; a restored
	// job has none, so it starts from the zero state and its lease (or its
	// place in the queue) is indexed like a new one.
	cp.JobState = JobState{}
	s.Jobs[j.ID] = &cp
	s.Order = append(s.Order, &cp)
	s.set(&cp, j.JobState, j.Seq)
}

// SortOrder puts Order back in submission order after Restore calls.
func (s *State) SortOrder() {
	sortJobs(s.Order)
}

func (s *State) set(j *Job, st JobState, seq uint64) {
	prev := j.JobState
	j.JobState = st
	j.Seq = seq
	if st.Stage == StageQueued {
		ent := queueEntry{j: j, epoch: st.Epoch}
		heap.Push(&s.queue, ent)
		if j.Product != "" {
			q := s.products[j.Product]
			if q == nil {
				q = &jobQueue{}
				s.products[j.Product] = q
			}
			heap.Push(q, ent)
		}
	}
	// A patch keeps the lease as it was: index a lease only when it is new
	// or moved, so that one lease has one live entry.
	leaseMoved := prev.Epoch != st.Epoch || !prev.ExpiresAt.Equal(st.ExpiresAt) ||
		!prev.Stage.Held()
	if st.Stage.Held() && !st.ExpiresAt.IsZero() && leaseMoved {
		heap.Push(&s.leases, leaseEntry{j: j, epoch: st.Epoch, expires: st.ExpiresAt})
	}
}

// NextQueued returns the oldest queued job (of product, when product is not
// empty), or nil when there is none.
func (s *State) NextQueued(product string) *Job {
	q := &s.queue
	if product != "" {
		q = s.products[product]
		if q == nil {
			return nil
		}
	}
	for q.Len() > 0 {
		top := (*q)[0]
		if top.j.Stage == StageQueued && top.j.Epoch == top.epoch {
			return top.j
		}
		heap.Pop(q)
	}
	return nil
}

// Expired returns, oldest first, up to max held jobs whose lease expired at
// or before now. It does not change them: the caller reclaims each with an
// event, which is what moves it out of the lease index.
func (s *State) Expired(now time.Time, max int) []*Job {
	var out []*Job
	seen := map[*Job]bool{} // a lease moved and moved back has two live entries
	for s.leases.Len() > 0 && len(out) < max {
		top := s.leases[0]
		j := top.j
		live := j.Stage.Held() && j.Epoch == top.epoch && j.ExpiresAt.Equal(top.expires)
		if !live || seen[j] {
			heap.Pop(&s.leases)
			continue
		}
		if top.expires.After(now) {
			break
		}
		// Still live and expired: leave it for the caller's RECLAIM, but look
		// past it so that max jobs can be returned in one call.
		heap.Pop(&s.leases)
		seen[j] = true
		out = append(out, j)
	}
	// Put back what we popped but the caller has not yet reclaimed; they are
	// re-pushed by set() when the RECLAIM is applied or stay live otherwise.
	for _, j := range out {
		heap.Push(&s.leases, leaseEntry{j: j, epoch: j.Epoch, expires: j.ExpiresAt})
	}
	return out
}

// Counts returns how many jobs are in each stage.
func (s *State) Counts() map[Stage]int {
	m := map[Stage]int{}
	for _, j := range s.Jobs {
		m[j.Stage]++
	}
	return m
}

type queueEntry struct {
	j     *Job
	epoch uint64
}

type jobQueue []queueEntry

func (q jobQueue) Len() int           { return len(q) }
func (q jobQueue) Less(a, b int) bool { return q[a].j.SubmitSeq < q[b].j.SubmitSeq }
func (q jobQueue) Swap(a, b int)      { q[a], q[b] = q[b], q[a] }
func (q *jobQueue) Push(x any)        { *q = append(*q, x.(queueEntry)) }
func (q *jobQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	old[len(old)-1] = queueEntry{}
	*q = old[:len(old)-1]
	return x
}

type leaseEntry struct {
	j       *Job
	epoch   uint64
	expires time.Time
}

type leaseHeap []leaseEntry

func (h leaseHeap) Len() int           { return len(h) }
func (h leaseHeap) Less(a, b int) bool { return h[a].expires.Before(h[b].expires) }
func (h leaseHeap) Swap(a, b int)      { h[a], h[b] = h[b], h[a] }
func (h *leaseHeap) Push(x any)        { *h = append(*h, x.(leaseEntry)) }
func (h *leaseHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = leaseEntry{}
	*h = old[:len(old)-1]
	return x
}

func sortJobs(js []*Job) {
	slices.SortFunc(js, func(a, b *Job) int { return cmp.Compare(a.SubmitSeq, b.SubmitSeq) })
}
