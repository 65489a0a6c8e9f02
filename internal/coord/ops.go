package coord

import (
	"context"
	"fmt"
	"time"
)

// Submit adds a queued job at epoch 1. See Service.
func (c *Coordinator) Submit(ctx context.Context, r SubmitRequest) (Job, bool, error) {
	if r.Product == "" {
		r.Product = c.opt.Product
	}
	if err := c.checkSubmit(r); err != nil {
		return Job{}, false, err
	}
	c.mu.Lock()
	c.now = c.opt.Clock.Now()
	if err := c.usable(); err != nil {
		c.mu.Unlock()
		return Job{}, false, err
	}
	if j := c.state.Jobs[r.ID]; j != nil {
		cp, b := *j, c.last
		c.mu.Unlock()
		if j.Product != r.Product || j.Payload != r.Payload {
			return Job{}, false, fmt.Errorf("%w: job %s exists with another body", ErrConflict, r.ID)
		}
		return cp, false, waitBatch(b)
	}
	b, err := c.emit(Event{
		Type: EvSubmit, Job: r.ID, Product: r.Product, Payload: r.Payload,
		After: JobState{Stage: StageQueued, Epoch: 1},
	})
	cp := c.jobCopy(r.ID)
	c.mu.Unlock()
	if err != nil {
		return Job{}, false, err
	}
	return cp, true, b.wait()
}

func (c *Coordinator) checkSubmit(r SubmitRequest) error {
	if err := CheckID("job id", r.ID); err != nil {
		return err
	}
	if r.Product != "" {
		if err := CheckID("product", r.Product); err != nil {
			return err
		}
	}
	if len(r.Payload) > c.opt.MaxPayload {
		return fmt.Errorf("%w: payload is %d bytes, over the %d-byte limit",
			ErrBadRequest, len(r.Payload), c.opt.MaxPayload)
	}
	return nil
}

// Claim grants up to max(1, r.Max) of the oldest queued jobs. See Service.
func (c *Coordinator) Claim(ctx context.Context, r ClaimRequest) ([]Grant, error) {
	if err := CheckID("factoryId", r.Factory); err != nil {
		return nil, err
	}
	if r.Product != "" {
		if err := CheckID("product", r.Product); err != nil {
			return nil, err
		}
	}
	n := min(max(r.Max, 1), 1000)
	c.mu.Lock()
	c.now = c.opt.Clock.Now()
	if err := c.usable(); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	var grants []Grant
	var b *commitBatch
	for len(grants) < n {
		j := c.nextClaimable(r)
		if j == nil {
			break
		}
		// Only a queued job reaches here (or, under BugDoubleClaim, the one
		// job the bug hands out twice): the claim is a compare-and-set from
		// queued at epoch E to claimed by r.Factory at the same epoch E.
		expires := c.now.Add(c.opt.Lease)
		var err error
		b, err = c.emit(Event{
			Type: EvClaim, Job: j.ID, Factory: r.Factory, Epoch: j.Epoch,
			After: JobState{Stage: StageClaimed, Holder: r.Factory, Epoch: j.Epoch, ExpiresAt: expires},
		})
		if err != nil {
			c.mu.Unlock()
			return nil, err
		}
		grants = append(grants, Grant{Job: *j, Lease: c.leaseOf(j)})
	}
	c.mu.Unlock()
	return grants, waitBatch(b)
}

func (c *Coordinator) nextClaimable(r ClaimRequest) *Job {
	if c.opt.Bug == BugDoubleClaim && c.dup != nil {
		d := c.dup
		if d.Stage.Held() && d.Epoch == c.dupEpoch && d.Holder != r.Factory &&
			(r.Product == "" || r.Product == d.Product) {
			c.dup = nil
			return d
		}
	}
	j := c.state.NextQueued(r.Product)
	if c.opt.Bug == BugDoubleClaim && j != nil && !c.dupDone {
		c.dup, c.dupEpoch, c.dupDone = j, j.Epoch, true
	}
	return j
}

// Renew extends the caller's lease. See Service.
func (c *Coordinator) Renew(ctx context.Context, r Report) (Lease, error) {
	if err := checkReport(r); err != nil {
		return Lease{}, err
	}
	c.mu.Lock()
	c.now = c.opt.Clock.Now()
	j, b, err := c.admit(r, "renew")
	if err != nil {
		c.mu.Unlock()
		return Lease{}, c.fenced(b, err)
	}
	st := j.JobState
	st.ExpiresAt = c.now.Add(c.opt.Lease)
	b, err = c.emit(Event{Type: EvRenew, Job: j.ID, Factory: r.Factory, Epoch: r.Epoch, After: st})
	l := c.leaseOf(j)
	c.mu.Unlock()
	if err != nil {
		return Lease{}, err
	}
	return l, b.wait()
}

// Patch moves a held job to r.Stage. See Service.
func (c *Coordinator) Patch(ctx context.Context, r Report) (Job, error) {
	if err := checkPatch(r); err != nil {
		return Job{}, err
	}
	c.mu.Lock()
	c.now = c.opt.Clock.Now()
	j, b, err := c.patchLocked(r)
	c.mu.Unlock()
	if werr := waitBatch(b); werr != nil {
		return Job{}, werr
	}
	return j, err
}

func checkPatch(r Report) error {
	if err := checkReport(r); err != nil {
		return err
	}
	if !r.Stage.Working() && !r.Stage.Terminal() {
		return fmt.Errorf("%w: cannot patch to stage %q (want running, verifying, done "+
			"or failed)", ErrBadRequest, r.Stage)
	}
	return nil
}

// patchLocked decides one checked patch under c.mu. It returns the job (the
// zero Job on refusal), the batch the caller must wait for before it
// answers (a FENCE event's too; nil when nothing was logged), and the
// refusal.
func (c *Coordinator) patchLocked(r Report) (Job, *commitBatch, error) {
	if j := c.state.Jobs[r.Job]; j != nil && c.repeatOfFinal(j, r) {
		// The same holder repeating its accepted terminal report (its first
		// answer was lost): it already won, so tell it so again, unchanged.
		return *j, c.last, nil
	}
	j, b, err := c.admit(r, "patch:"+string(r.Stage))
	if err != nil {
		return Job{}, b, err
	}
	if stageIndex(r.Stage) < stageIndex(j.Stage) {
		return Job{}, nil, fmt.Errorf("%w: job %s is %s; it cannot go back to %s",
			ErrBadRequest, j.ID, j.Stage, r.Stage)
	}
	st := JobState{Stage: r.Stage, Holder: r.Factory, Epoch: j.Epoch, ExpiresAt: j.ExpiresAt}
	if r.Stage.Terminal() {
		st.ExpiresAt = time.Time{} // a final stage ends the lease
	}
	b, err = c.emit(Event{Type: EvPatch, Job: j.ID, Factory: r.Factory, Epoch: r.Epoch, After: st})
	if err != nil {
		return Job{}, nil, err
	}
	return *j, b, nil
}

func (c *Coordinator) repeatOfFinal(j *Job, r Report) bool {
	return j.Stage.Terminal() && j.Stage == r.Stage && j.Holder == r.Factory && j.Epoch == r.Epoch
}

// Release gives a held job back to the queue at epoch + 1. See Service.
func (c *Coordinator) Release(ctx context.Context, r Report) (Job, error) {
	if err := checkReport(r); err != nil {
		return Job{}, err
	}
	c.mu.Lock()
	c.now = c.opt.Clock.Now()
	j, b, err := c.admit(r, "release")
	if err != nil {
		c.mu.Unlock()
		return Job{}, c.fenced(b, err)
	}
	b, err = c.requeue(j, EvRelease, r.Factory)
	cp := *j
	c.mu.Unlock()
	if err != nil {
		return Job{}, err
	}
	return cp, b.wait()
}

// Reap reclaims every held job whose lease has expired by the coordinator's
// clock and returns how many it reclaimed.
func (c *Coordinator) Reap(ctx context.Context) (int, error) {
	c.mu.Lock()
	c.now = c.opt.Clock.Now()
	if err := c.usable(); err != nil {
		c.mu.Unlock()
		return 0, err
	}
	var b *commitBatch
	n := 0
	// Expired returns only jobs that are, under this same lock, still held
	// at the epoch and expiry their lease entry recorded: the reclaim is one
	// compare-and-set on (stage, epoch, expiry). A renew or a done that got
	// the lock first has changed one of the three, so the job is skipped and
	// a job that just completed stays completed.
	for _, j := range c.state.Expired(c.now, 10000) {
		if !j.Stage.Held() {
			continue // cannot happen: Expired returns each live lease once
		}
		var err error
		if b, err = c.requeue(j, EvReclaim, ""); err != nil {
			c.mu.Unlock()
			return n, err
		}
		n++
	}
	c.mu.Unlock()
	return n, waitBatch(b)
}

// requeue puts a held job back to queued with the epoch bumped: the old
// holder's epoch is dead from this event on, so any report it still sends
// fails the epoch check.
func (c *Coordinator) requeue(j *Job, t EventType, actor string) (*commitBatch, error) {
	if actor == "" {
		actor = j.Holder
	}
	return c.emit(Event{
		Type: t, Job: j.ID, Factory: actor, Epoch: j.Epoch,
		After: JobState{Stage: StageQueued, Epoch: j.Epoch + 1},
	})
}

// admit decides whether a renew, patch or release from r may act on its job.
// It must hold c.mu. On refusal it has already logged the FENCE event and
// returns the error with the batch to wait for.
//
// Why a stale holder can do no harm: every grant of a job gets an epoch
// that no earlier holder had (a claim takes the job's epoch, and every way
// back to the queue adds one), and every call that changes a held job must
// name the epoch it was granted. The check below compares that epoch with
// the job's before anything else, under the same lock that serialises all
// changes, so a holder whose job was reclaimed (or released, or finished)
// can never be mistaken for the current one however late its call arrives.
// Holder and lease checks come after it and only narrow what passes.
func (c *Coordinator) admit(r Report, op string) (*Job, *commitBatch, error) {
	if err := c.usable(); err != nil {
		return nil, nil, err
	}
	j := c.state.Jobs[r.Job]
	if j == nil {
		return nil, nil, fmt.Errorf("%w: job %s", ErrNotFound, r.Job)
	}
	if c.opt.Bug == BugNoFence {
		return j, nil, nil
	}
	reason := FenceReason("")
	switch {
	case r.Epoch != j.Epoch:
		reason = ReasonStaleEpoch
	case !j.Stage.Held():
		reason = ReasonNotHeld
	case j.Holder != r.Factory:
		reason = ReasonWrongHolder
	case !c.now.Before(j.ExpiresAt) && c.opt.Bug != BugNoReap:
		// The lease ran out before the call came in, and only the reaper has
		// not got to it yet. Reclaim it now, so that the refusal and the
		// reclaim are one story in the log whoever gets the lock first.
		if _, err := c.requeue(j, EvReclaim, ""); err != nil {
			return nil, nil, err
		}
		reason = ReasonExpired
	}
	if reason == "" {
		return j, nil, nil
	}
	b, err := c.fence(j, r, op, reason)
	return nil, b, err
}

// fence logs a FENCE event for a refused call and returns its error.
func (c *Coordinator) fence(j *Job, r Report, op string, reason FenceReason) (*commitBatch, error) {
	fe := &FenceError{
		Job: j.ID, Factory: r.Factory, Epoch: r.Epoch, Current: j.Epoch,
		Holder: j.Holder, Reason: reason, Op: op,
	}
	b, err := c.emit(Event{
		Type: EvFence, Job: j.ID, Factory: r.Factory, Epoch: r.Epoch,
		Op: op, Reason: reason, After: j.JobState,
	})
	if err != nil {
		return nil, err
	}
	fe.EventSeq = c.state.LastSeq
	return b, fe
}

// fenced waits for the FENCE event (if any) to be durable, then returns err.
func (c *Coordinator) fenced(b *commitBatch, err error) error {
	if werr := waitBatch(b); werr != nil {
		return werr
	}
	return err
}

func checkReport(r Report) error {
	if err := CheckID("job id", r.Job); err != nil {
		return err
	}
	if err := CheckID("factoryId", r.Factory); err != nil {
		return err
	}
	if r.Epoch == 0 {
		return fmt.Errorf("%w: epoch is required (epochs start at 1)", ErrBadRequest)
	}
	return nil
}

func stageIndex(s Stage) int {
	for i, st := range Stages {
		if st == s {
			return i
		}
	}
	return -1
}

// emit gives e the next sequence number and the time, queues its line and
// folds it into the state. It must hold c.mu. The caller answers only after
// the returned batch is durable.
func (c *Coordinator) emit(e Event) (*commitBatch, error) {
	e.Seq = c.state.LastSeq + 1
	e.Time = c.now
	b, err := c.wal.enqueue(AppendLine(nil, e), e.Seq)
	if err != nil {
		return nil, err
	}
	if err := c.state.Apply(e); err != nil {
		// Cannot happen: the seq is next and the job exists. Refuse all
		// further work rather than run on a state the log does not match.
		c.closed = true
		return nil, fmt.Errorf("%w: reducer refused own event: %v", ErrUnavailable, err)
	}
	c.last = b
	c.dirty[e.Job] = struct{}{}
	c.remember(e)
	return b, nil
}

func (c *Coordinator) remember(e Event) {
	if len(c.recent) < recentCap {
		c.recent = append(c.recent, e)
		return
	}
	c.recent[c.recentPos] = e
	c.recentPos = (c.recentPos + 1) % recentCap
}

func (c *Coordinator) usable() error {
	if c.closed {
		return fmt.Errorf("%w: coordinator is closed", ErrUnavailable)
	}
	return nil
}

func (c *Coordinator) leaseOf(j *Job) Lease {
	return Lease{JobID: j.ID, Factory: j.Holder, Epoch: j.Epoch, ExpiresAt: j.ExpiresAt,
		TTL: c.opt.Lease}
}

func (c *Coordinator) jobCopy(id string) Job {
	if j := c.state.Jobs[id]; j != nil {
		return *j
	}
	return Job{}
}

func waitBatch(b *commitBatch) error {
	if b == nil {
		return nil
	}
	return b.wait()
}
