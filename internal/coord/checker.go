package coord

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// ViolationKind names which guarantee an event history broke.
type ViolationKind string

// The kinds of violation the Checker reports.
const (
	// VDoubleGrant: one (job, epoch) was CLAIMed twice, so two grants share
	// a fencing token and the epoch check can no longer tell them apart.
	VDoubleGrant ViolationKind = "double-grant"
	// VTwoHolders: a CLAIM while another factory still held the job.
	VTwoHolders ViolationKind = "two-holders"
	// VShipCount: a job's done was accepted twice or more, or (at Finish,
	// when shipping is required) never.
	VShipCount ViolationKind = "ship-count"
	// VStaleAccepted: a RENEW, PATCH or RELEASE was accepted from a factory
	// that is not the holder at the held epoch: a report that should have
	// been fenced.
	VStaleAccepted ViolationKind = "stale-accepted"
	// VExpiredAccepted: a RENEW, PATCH or RELEASE from the holder was
	// accepted at or after the end of its lease, by the coordinator's own
	// clock: the lease was dead, and the job should have been reclaimed.
	VExpiredAccepted ViolationKind = "expired-accepted"
	// VEarlyReclaim: a RECLAIM before the holder's lease ended, by the
	// coordinator's own clock: a live worker lost its job and will be
	// fenced though it broke no rule.
	VEarlyReclaim ViolationKind = "early-reclaim"
	// VEpochRegress: an epoch that does not grow: a RECLAIM or RELEASE not
	// to epoch+1, or a CLAIM below the job's epoch.
	VEpochRegress ViolationKind = "epoch-regress"
	// VBadTransition: any other move the job model forbids: a claim of a job
	// that is not queued, a change after a final stage, a reclaim of a job
	// nobody holds, a wrongful fence of the rightful holder, an event for an
	// unknown job, a sequence number that does not grow, or a line whose
	// recorded state disagrees with what its history gives.
	VBadTransition ViolationKind = "bad-transition"
)

// Violation is one broken guarantee, tied to the event that revealed it.
type Violation struct {
	Kind    ViolationKind
	Job     string
	Seq     uint64 // the revealing event; 0 for what only the end shows
	Factory string // the event's actor, when it has one
	Detail  string // what happened, starting after the job id
}

// String returns the violation as one readable line, for example
// "double-grant: job j-2 epoch 1 granted to mac-1 (seq 5) and ubuntu-1 (seq 7)".
func (v Violation) String() string {
	return fmt.Sprintf("%s: job %s %s", v.Kind, v.Job, v.Detail)
}

// CheckStats is what a history shows beyond its violations: counts of
// every event type and, per job, the evidence a RESULTS table reports.
type CheckStats struct {
	Events   int
	Submits  int
	Claims   int
	Renews   int
	Patches  int
	Releases int
	Reclaims int
	Fences   int
	Ships    int // accepted PATCH:done events, rightful or not
	Jobs     []JobStats
}

// Job returns the stats of job id, and whether the history submitted it.
func (s CheckStats) Job(id string) (JobStats, bool) {
	for _, j := range s.Jobs {
		if j.Job == id {
			return j, true
		}
	}
	return JobStats{}, false
}

// JobStats is one job's story as the Checker's own model tells it.
type JobStats struct {
	Job       string
	Product   string
	SubmitSeq uint64
	Stage     Stage  // where the history leaves the job
	Holder    string // while held: the factory last granted it
	Epoch     uint64 // the current epoch; once final, the final one
	// Winner is the factory whose done was accepted while it rightfully
	// held the job; when only stale dones were accepted, the first of them.
	Winner      string
	WinnerEpoch uint64
	Claims      []ClaimRecord
	Handbacks   []HandbackRecord // every RELEASE and RECLAIM, in order
	Fences      []FenceRecord
	Ships       []ShipRecord
	Violations  int
}

// ReclaimedFrom lists, in order, the factories the reaper took the job from.
func (s JobStats) ReclaimedFrom() []string {
	var out []string
	for _, h := range s.Handbacks {
		if h.Type == EvReclaim {
			out = append(out, h.From)
		}
	}
	return out
}

// ClaimRecord is one CLAIM: who was granted the job at which epoch.
type ClaimRecord struct {
	Seq     uint64
	Factory string
	Epoch   uint64
}

// HandbackRecord is one RELEASE or RECLAIM: the job went back to the queue,
// taken from From (as the checker's model knew the holder), ending Epoch.
type HandbackRecord struct {
	Seq      uint64
	Type     EventType
	From     string
	Epoch    uint64 // the ended epoch
	NewEpoch uint64 // the epoch the job was queued at
}

// FenceRecord is one FENCE: Factory's call Op at stale Epoch was refused
// while the job was at Current.
type FenceRecord struct {
	Seq     uint64
	Factory string
	Epoch   uint64
	Current uint64
	Op      string
	Reason  FenceReason
}

// ShipRecord is one accepted PATCH:done. Rightful is false when the
// reporter did not hold the job at that epoch: a ship that fencing failed
// to stop.
type ShipRecord struct {
	Seq      uint64
	Factory  string
	Epoch    uint64
	Rightful bool
}

// Checker judges an event history on its own terms. It keeps its own model
// of every job (queued, held by F at epoch E, or final), moved only by the
// type, actor and epoch of each event; a line's After is compared with the
// model but never taken as proof that a move was allowed. That is what lets
// it catch a coordinator whose reducer faithfully records a wrong decision.
//
// When an event is illegal the model still follows decisions that were the
// coordinator's own (a CLAIM, a RECLAIM, a RELEASE's new epoch), because
// later grants are judged against what it actually granted. A report it
// should have fenced moves nothing, because the rightful holder is still at
// work; only its ship is counted, since a factory ships on an accepted done
// wherever the done came from. So a zombie's accepted done is stale-accepted
// and, once the rightful holder ships too, ship-count.
//
// After a job's first violation its lines are no longer compared with the
// model: they echo the fault already reported, and would bury it in noise.
//
// A Checker is incremental (Observe one event at a time, as a follower
// delivers them) and not safe for concurrent use.
type Checker struct {
	jobs    map[string]*jobModel
	order   []*jobModel
	lastSeq uint64
	any     bool
	stats   CheckStats
}

type phase int

const (
	phaseQueued phase = iota
	phaseHeld
	phaseFinal
)

// jobModel is the checker's belief about one job. holders is normally one
// factory; a double grant at one epoch makes it two, and both are treated
// as holders until the job leaves their hands.
type jobModel struct {
	st      JobStats
	phase   phase
	holders []string
	grants  map[uint64]ClaimRecord // the first grant of each epoch
	// leaseEnd is when the holder's lease runs out, as the coordinator
	// last stated it (CLAIM, RENEW); zero when nobody holds the job.
	leaseEnd time.Time
	dirty    bool
}

// NewChecker returns a Checker that has seen nothing.
func NewChecker() *Checker {
	return &Checker{jobs: map[string]*jobModel{}}
}

// Check judges a whole history: Observe on each event, then Finish.
func Check(events []Event, requireShipped bool) []Violation {
	c := NewChecker()
	var out []Violation
	for _, e := range events {
		out = append(out, c.Observe(e)...)
	}
	return append(out, c.Finish(requireShipped)...)
}

// Observe judges one event against the history seen so far and returns the
// violations it reveals (usually none).
func (c *Checker) Observe(e Event) []Violation {
	c.count(e)
	var out []Violation
	if c.any && e.Seq <= c.lastSeq {
		out = append(out, violation(VBadTransition, e, "has seq %d after seq %d", e.Seq, c.lastSeq))
	}
	c.any, c.lastSeq = true, max(c.lastSeq, e.Seq)

	j := c.jobs[e.Job]
	var vs []Violation
	switch {
	case e.Type == EvSubmit:
		j, vs = c.submit(j, e)
	case j == nil:
		vs = []Violation{violation(VBadTransition, e, "got %s (seq %d) but was never submitted",
			e.Label(), e.Seq)}
	case e.Type == EvClaim:
		vs = j.claim(e)
	case e.Type == EvRenew || e.Type == EvPatch || e.Type == EvRelease:
		vs = j.report(e)
	case e.Type == EvReclaim:
		vs = j.reclaim(e)
	case e.Type == EvFence:
		vs = j.fence(e)
	default:
		vs = []Violation{violation(VBadTransition, e, "has unknown event type %q", e.Type)}
	}
	if j != nil && len(vs) > 0 {
		j.dirty = true
		j.st.Violations += len(vs)
	}
	return append(out, vs...)
}

// Finish ends the history. With requireShipped every submitted job whose
// done was never accepted is a ship-count violation; jobs shipped twice or
// more were already reported by Observe, the moment the second ship landed.
func (c *Checker) Finish(requireShipped bool) []Violation {
	if !requireShipped {
		return nil
	}
	var out []Violation
	for _, j := range c.order {
		if len(j.st.Ships) == 0 {
			out = append(out, Violation{Kind: VShipCount, Job: j.st.Job,
				Detail: fmt.Sprintf("never shipped (left %s at epoch %d)", j.st.Stage, j.st.Epoch)})
		}
	}
	return out
}

// Stats returns the counts and per-job evidence so far. The result is a
// copy: later events do not change it.
func (c *Checker) Stats() CheckStats {
	s := c.stats
	s.Jobs = make([]JobStats, len(c.order))
	for i, j := range c.order {
		js := j.st
		js.Claims = slices.Clone(js.Claims)
		js.Handbacks = slices.Clone(js.Handbacks)
		js.Fences = slices.Clone(js.Fences)
		js.Ships = slices.Clone(js.Ships)
		s.Jobs[i] = js
	}
	return s
}

func (c *Checker) count(e Event) {
	c.stats.Events++
	switch e.Type {
	case EvSubmit:
		c.stats.Submits++
	case EvClaim:
		c.stats.Claims++
	case EvRenew:
		c.stats.Renews++
	case EvPatch:
		c.stats.Patches++
		if e.After.Stage == StageDone {
			c.stats.Ships++
		}
	case EvRelease:
		c.stats.Releases++
	case EvReclaim:
		c.stats.Reclaims++
	case EvFence:
		c.stats.Fences++
	}
}

// submit starts a job's model: queued at epoch 1. A second SUBMIT of a
// known job is refused by the model, which keeps the first: a reducer
// folding it would reset the job, losing its history.
func (c *Checker) submit(j *jobModel, e Event) (*jobModel, []Violation) {
	if j != nil {
		return j, []Violation{violation(VBadTransition, e, "submitted again (seq %d; first at seq %d)",
			e.Seq, j.st.SubmitSeq)}
	}
	j = &jobModel{
		st: JobStats{Job: e.Job, Product: e.Product, SubmitSeq: e.Seq,
			Stage: StageQueued, Epoch: 1},
		grants: map[uint64]ClaimRecord{},
	}
	c.jobs[e.Job] = j
	c.order = append(c.order, j)
	return j, j.expect(e, JobState{Stage: StageQueued, Epoch: 1}, true)
}

// claim judges a CLAIM: legal only on a queued job at the job's own epoch,
// and only once per epoch, since the epoch is what fences every other grant.
func (j *jobModel) claim(e Event) []Violation {
	var vs []Violation
	if e.Factory == "" {
		vs = append(vs, violation(VBadTransition, e, "claimed by nobody (seq %d)", e.Seq))
	}
	if g, ok := j.grants[e.Epoch]; ok {
		vs = append(vs, violation(VDoubleGrant, e, "epoch %d granted to %s (seq %d) and %s (seq %d)",
			e.Epoch, g.Factory, g.Seq, e.Factory, e.Seq))
	} else {
		j.grants[e.Epoch] = ClaimRecord{Seq: e.Seq, Factory: e.Factory, Epoch: e.Epoch}
	}
	vs = append(vs, j.claimable(e)...)

	j.grantTo(e)
	if len(vs) == 0 {
		vs = j.expect(e, JobState{Stage: StageClaimed, Holder: e.Factory, Epoch: e.Epoch}, true)
	}
	return vs
}

// claimable returns what is wrong with claiming the job in its present
// state; a double grant is judged apart, by claim.
func (j *jobModel) claimable(e Event) []Violation {
	switch {
	case j.phase == phaseHeld:
		if other := j.otherHolder(e.Factory); other != "" {
			return []Violation{violation(VTwoHolders, e,
				"claimed by %s at epoch %d (seq %d) while %s still held epoch %d",
				e.Factory, e.Epoch, e.Seq, other, j.st.Epoch)}
		}
		if e.Epoch != j.st.Epoch {
			return []Violation{violation(VBadTransition, e,
				"claimed again by its holder %s at epoch %d (seq %d) while it held epoch %d",
				e.Factory, e.Epoch, e.Seq, j.st.Epoch)}
		}
	case j.phase == phaseFinal:
		return []Violation{violation(VBadTransition, e, "claimed by %s (seq %d) after it was %s",
			e.Factory, e.Seq, j.st.Stage)}
	case e.Epoch < j.st.Epoch:
		return []Violation{violation(VEpochRegress, e,
			"claimed by %s at epoch %d (seq %d), below its epoch %d",
			e.Factory, e.Epoch, e.Seq, j.st.Epoch)}
	case e.Epoch > j.st.Epoch:
		return []Violation{violation(VBadTransition, e,
			"claimed by %s at epoch %d (seq %d), but it was queued at epoch %d",
			e.Factory, e.Epoch, e.Seq, j.st.Epoch)}
	}
	return nil
}

// grantTo moves the model to what the coordinator granted. A second grant
// at the same epoch adds a holder instead of replacing one: both factories
// were told they hold the job, and both will act on it.
func (j *jobModel) grantTo(e Event) {
	switch {
	case j.phase != phaseHeld || e.Epoch != j.st.Epoch:
		j.holders = []string{e.Factory}
	case !slices.Contains(j.holders, e.Factory):
		j.holders = append(j.holders, e.Factory)
	}
	j.phase = phaseHeld
	j.leaseEnd = e.After.ExpiresAt
	j.st.Stage, j.st.Holder, j.st.Epoch = StageClaimed, e.Factory, e.Epoch
	j.st.Claims = append(j.st.Claims, ClaimRecord{Seq: e.Seq, Factory: e.Factory, Epoch: e.Epoch})
}

// report judges a RENEW, PATCH or RELEASE. The holder-and-epoch check
// comes first, as the coordinator's own must: a report that fails it should
// have been fenced, and it moves nothing here.
func (j *jobModel) report(e Event) []Violation {
	if j.phase == phaseFinal {
		v := violation(VBadTransition, e, "%s from %s at epoch %d (seq %d) accepted after it was %s",
			e.Label(), dash(e.Factory), e.Epoch, e.Seq, j.st.Stage)
		return j.ship(e, false, []Violation{v})
	}
	if j.phase != phaseHeld || !slices.Contains(j.holders, e.Factory) || e.Epoch != j.st.Epoch {
		v := violation(VStaleAccepted, e, "%s from %s at epoch %d (seq %d) accepted, but %s",
			e.Label(), dash(e.Factory), e.Epoch, e.Seq, j.whoHolds())
		return j.ship(e, false, []Violation{v})
	}

	if !j.leaseEnd.IsZero() && !e.Time.Before(j.leaseEnd) {
		v := violation(VExpiredAccepted, e, "%s from %s at epoch %d (seq %d) accepted at %s, "+
			"after its lease ended at %s", e.Label(), e.Factory, e.Epoch, e.Seq,
			e.Time.Format(time.StampMilli), j.leaseEnd.Format(time.StampMilli))
		j.leaseEnd = time.Time{} // one report per dead lease is enough
		return j.ship(e, true, []Violation{v})
	}

	switch e.Type {
	case EvRenew:
		j.leaseEnd = e.After.ExpiresAt
		return j.expect(e, JobState{Stage: j.st.Stage, Holder: e.Factory, Epoch: e.Epoch}, true)
	case EvRelease:
		return j.handback(e, true)
	}
	return j.patch(e)
}

// patch applies a rightful holder's PATCH. Queued and claimed are not
// patch targets: the way back to the queue is a RELEASE, which bumps the
// epoch; a patch back to queued would not.
func (j *jobModel) patch(e Event) []Violation {
	st := e.After.Stage
	if !st.Working() && !st.Terminal() {
		return []Violation{violation(VBadTransition, e, "patched to %s by %s (seq %d)",
			st, e.Factory, e.Seq)}
	}
	j.st.Stage = st
	if st.Terminal() {
		j.phase, j.holders, j.st.Holder = phaseFinal, nil, ""
	}

	// A terminal patch ends the lease; whether the line still names the
	// finisher as holder is the coordinator's choice, so it is not judged.
	want := JobState{Stage: st, Holder: e.Factory, Epoch: e.Epoch}
	return j.ship(e, true, j.expect(e, want, !st.Terminal()))
}

// ship counts an accepted done, rightful or not, and reports the second
// and every later one of a job.
func (j *jobModel) ship(e Event, rightful bool, vs []Violation) []Violation {
	if e.Type != EvPatch || e.After.Stage != StageDone {
		return vs
	}
	j.st.Ships = append(j.st.Ships, ShipRecord{Seq: e.Seq, Factory: e.Factory, Epoch: e.Epoch,
		Rightful: rightful})
	if j.st.Winner == "" || rightful && !j.rightfulWinner() {
		j.st.Winner, j.st.WinnerEpoch = e.Factory, e.Epoch
	}
	if n := len(j.st.Ships); n >= 2 {
		vs = append(vs, violation(VShipCount, e, "done accepted %d times: %s", n, shipList(j.st.Ships)))
	}
	return vs
}

func (j *jobModel) rightfulWinner() bool {
	for _, s := range j.st.Ships {
		if s.Rightful && s.Factory == j.st.Winner && s.Epoch == j.st.WinnerEpoch {
			return true
		}
	}
	return false
}

// reclaim judges the reaper's RECLAIM: only a held job can be reclaimed,
// only at the epoch it is held at, and only once its lease has ended.
func (j *jobModel) reclaim(e Event) []Violation {
	var vs []Violation
	switch {
	case j.phase == phaseFinal:
		vs = append(vs, violation(VBadTransition, e, "reclaimed (seq %d) after it was %s",
			e.Seq, j.st.Stage))
	case j.phase != phaseHeld:
		vs = append(vs, violation(VBadTransition, e, "reclaimed at epoch %d (seq %d), but %s",
			e.Epoch, e.Seq, j.whoHolds()))
	case e.Epoch != j.st.Epoch:
		vs = append(vs, violation(VBadTransition, e, "reclaimed at epoch %d (seq %d), but %s",
			e.Epoch, e.Seq, j.whoHolds()))
	}
	// A job already found wrong may have a model that strayed from the
	// coordinator's own leases; its reclaims would only echo that fault.
	legal := len(vs) == 0
	if legal && !j.dirty && !j.leaseEnd.IsZero() && e.Time.Before(j.leaseEnd) {
		vs = append(vs, violation(VEarlyReclaim, e, "reclaimed from %s at epoch %d (seq %d) at %s, "+
			"before its lease ended at %s", dash(j.st.Holder), e.Epoch, e.Seq,
			e.Time.Format(time.StampMilli), j.leaseEnd.Format(time.StampMilli)))
	}
	return append(vs, j.handback(e, legal)...)
}

// handback puts the job back to the queue at the event's new epoch, which
// must be the ended one plus 1: every holder a job ever has gets an epoch
// of its own, so no stale report can pass for a current one. judge is false
// when the event was already found illegal; the model then only follows.
func (j *jobModel) handback(e Event, judge bool) []Violation {
	var vs []Violation
	if want := j.st.Epoch + 1; judge && e.After.Epoch != want {
		vs = append(vs, violation(VEpochRegress, e, "%s (seq %d) queued epoch %d as epoch %d, want %d",
			e.Type, e.Seq, j.st.Epoch, e.After.Epoch, want))
	}
	j.st.Handbacks = append(j.st.Handbacks, HandbackRecord{Seq: e.Seq, Type: e.Type,
		From: strings.Join(j.holders, "+"), Epoch: j.st.Epoch, NewEpoch: e.After.Epoch})
	j.phase, j.holders = phaseQueued, nil
	j.st.Stage, j.st.Holder, j.st.Epoch = StageQueued, "", e.After.Epoch

	if judge && len(vs) == 0 {
		vs = j.expect(e, JobState{Stage: StageQueued, Epoch: e.After.Epoch}, true)
	}
	return vs
}

// fence records a FENCE. It changes nothing, but a fence of the one
// rightful holder at its own epoch is wrong: it would make a live worker
// quarantine good work, and the job could then never ship.
func (j *jobModel) fence(e Event) []Violation {
	j.st.Fences = append(j.st.Fences, FenceRecord{Seq: e.Seq, Factory: e.Factory,
		Epoch: e.Epoch, Current: j.st.Epoch, Op: e.Op, Reason: e.Reason})
	if j.phase == phaseHeld && len(j.holders) == 1 && j.holders[0] == e.Factory &&
		e.Epoch == j.st.Epoch {
		return []Violation{violation(VBadTransition, e,
			"wrongly fenced: %s by %s at epoch %d (seq %d) refused (%s) while it held the job",
			dash(e.Op), e.Factory, e.Epoch, e.Seq, dash(string(e.Reason)))}
	}
	sole := j.phase == phaseQueued || j.phase == phaseHeld && len(j.holders) == 1
	return j.expect(e, JobState{Stage: j.st.Stage, Holder: j.st.Holder, Epoch: j.st.Epoch}, sole)
}

// expect compares the state a line records with the state the model
// gives. A mismatch matters even on a legal move: the reducer would fold
// the line's state, so recovery and the dashboard would both go wrong.
func (j *jobModel) expect(e Event, want JobState, withHolder bool) []Violation {
	got := e.After
	same := got.Stage == want.Stage && got.Epoch == want.Epoch &&
		(!withHolder || got.Holder == want.Holder)
	if same || j.dirty {
		return nil
	}
	return []Violation{violation(VBadTransition, e, "%s (seq %d) records %s, but its history gives %s",
		e.Label(), e.Seq, stateText(got, withHolder), stateText(want, withHolder))}
}

func (j *jobModel) otherHolder(f string) string {
	for _, h := range j.holders {
		if h != f {
			return h
		}
	}
	return ""
}

func (j *jobModel) whoHolds() string {
	switch j.phase {
	case phaseQueued:
		return fmt.Sprintf("it was queued at epoch %d", j.st.Epoch)
	case phaseHeld:
		return fmt.Sprintf("%s held epoch %d", strings.Join(j.holders, " and "), j.st.Epoch)
	}
	return fmt.Sprintf("it was %s", j.st.Stage)
}

func stateText(s JobState, withHolder bool) string {
	if withHolder {
		return fmt.Sprintf("stage=%s holder=%s epoch=%d", s.Stage, dash(s.Holder), s.Epoch)
	}
	return fmt.Sprintf("stage=%s epoch=%d", s.Stage, s.Epoch)
}

func shipList(ships []ShipRecord) string {
	parts := make([]string, len(ships))
	for i, s := range ships {
		parts[i] = fmt.Sprintf("%s at epoch %d (seq %d)", dash(s.Factory), s.Epoch, s.Seq)
	}
	return strings.Join(parts, ", ")
}

func violation(k ViolationKind, e Event, format string, args ...any) Violation {
	return Violation{Kind: k, Job: e.Job, Seq: e.Seq, Factory: e.Factory,
		Detail: fmt.Sprintf(format, args...)}
}
