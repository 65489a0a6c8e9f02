package coord

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// history builds events from a small script, one event a line:
//
//	[@seq] TYPE job [factory epoch] [>newEpoch] [after=stage:holder:epoch] [op] [reason]
//
// A factory of "-" is none. Each line's After is what a coordinator that
// does as it is told would record (claims grant, patches set the stage,
// release and reclaim queue at epoch+1 or >newEpoch, fences and renews
// change nothing), so a script of a buggy run gets the lines that run would
// write. after= overrides that, for lines that misrecord the state.
func history(t testing.TB, script string) []Event {
	t.Helper()
	var evs []Event
	rec := map[string]JobState{}
	var seq uint64
	clock := lineTime
	for ln := range strings.Lines(strings.TrimSpace(script)) {
		f := strings.Fields(ln)
		seq++
		if strings.HasPrefix(f[0], "@") {
			seq = mustUint(t, f[0][1:])
			f = f[1:]
		}
		clock = clock.Add(time.Second)
		e := Event{Seq: seq, Time: clock, Job: f[1]}
		typ, stage, _ := strings.Cut(f[0], ":")
		e.Type = EventType(typ)
		if end := rec[e.Job].ExpiresAt; e.Type == EvReclaim && e.Time.Before(end) {
			// The reaper acts once the lease has ended: the clock moves on.
			clock, e.Time = end, end
		}
		rest := f[2:]
		if len(rest) >= 2 {
			e.Factory, e.Epoch = strings.TrimPrefix(rest[0], "-"), mustUint(t, rest[1])
			rest = rest[2:]
		}
		newEpoch, override := e.Epoch+1, (*JobState)(nil)
		for _, tok := range rest {
			switch {
			case strings.HasPrefix(tok, ">"):
				newEpoch = mustUint(t, tok[1:])
			case strings.HasPrefix(tok, "after="):
				p := strings.Split(strings.TrimPrefix(tok, "after="), ":")
				override = &JobState{Stage: Stage(p[0]), Holder: p[1], Epoch: mustUint(t, p[2])}
			case e.Op == "":
				e.Op = tok
			default:
				e.Reason = FenceReason(tok)
			}
		}
		e.After = recorded(rec[e.Job], e, Stage(stage), newEpoch)
		if override != nil {
			e.After = *override
		}
		rec[e.Job] = e.After
		evs = append(evs, e)
	}
	return evs
}

// recorded is the state an obedient coordinator writes for e, given the
// state prev it recorded last for the job.
func recorded(prev JobState, e Event, stage Stage, newEpoch uint64) JobState {
	lease := e.Time.Add(90 * time.Second)
	switch e.Type {
	case EvSubmit:
		return JobState{Stage: StageQueued, Epoch: 1}
	case EvClaim:
		return JobState{Stage: StageClaimed, Holder: e.Factory, Epoch: e.Epoch, ExpiresAt: lease}
	case EvRenew:
		prev.ExpiresAt = lease
		return prev
	case EvPatch:
		st := JobState{Stage: stage, Holder: e.Factory, Epoch: prev.Epoch, ExpiresAt: lease}
		if stage.Terminal() {
			st.ExpiresAt = time.Time{}
		}
		return st
	case EvRelease, EvReclaim:
		return JobState{Stage: StageQueued, Epoch: newEpoch}
	}
	return prev
}

func mustUint(t testing.TB, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("script: %q is not a number", s)
	}
	return n
}

func kinds(vs []Violation) []ViolationKind {
	out := make([]ViolationKind, len(vs))
	for i, v := range vs {
		out[i] = v.Kind
	}
	return out
}

func violationText(vs []Violation) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "\n\t%s", v)
	}
	return b.String()
}

const (
	claimedByMac      = "SUBMIT j1\nCLAIM j1 mac-1 1\n"
	reclaimedToUbuntu = claimedByMac + "PATCH:running j1 mac-1 1\nRECLAIM j1 mac-1 1\n" +
		"CLAIM j1 ubuntu-1 2\n"
)

func TestCheckerBadHistories(t *testing.T) {
	cases := []struct {
		name    string
		script  string
		shipped bool // require every job shipped
		want    []ViolationKind
	}{
		{"double-claim", claimedByMac + "CLAIM j1 ubuntu-1 1",
			false, []ViolationKind{VDoubleGrant, VTwoHolders}},
		{"double-claim, both ship", claimedByMac + `CLAIM j1 ubuntu-1 1
			PATCH:running j1 mac-1 1
			PATCH:running j1 ubuntu-1 1
			PATCH:done j1 ubuntu-1 1
			PATCH:done j1 mac-1 1`,
			true, []ViolationKind{VDoubleGrant, VTwoHolders, VBadTransition, VShipCount}},
		{"no-fence: zombie done accepted, then the new holder ships",
			reclaimedToUbuntu + "PATCH:done j1 mac-1 1\nPATCH:done j1 ubuntu-1 2",
			true, []ViolationKind{VStaleAccepted, VShipCount}},
		{"no-fence: zombie done accepted after the new holder shipped",
			reclaimedToUbuntu + "PATCH:done j1 ubuntu-1 2\nPATCH:done j1 mac-1 1",
			true, []ViolationKind{VBadTransition, VShipCount}},
		{"two holders at different epochs", claimedByMac + "CLAIM j1 ubuntu-1 2",
			false, []ViolationKind{VTwoHolders}},
		{"renew from a non-holder", claimedByMac + "RENEW j1 ubuntu-1 1",
			false, []ViolationKind{VStaleAccepted}},
		{"renew from the holder at a wrong epoch", claimedByMac + "RENEW j1 mac-1 2",
			false, []ViolationKind{VStaleAccepted}},
		{"renew after reclaim", claimedByMac + "RECLAIM j1 mac-1 1\nRENEW j1 mac-1 1",
			false, []ViolationKind{VStaleAccepted}},
		{"stale patch while another holds", reclaimedToUbuntu + "PATCH:verifying j1 mac-1 1",
			false, []ViolationKind{VStaleAccepted}},
		{"stale release", reclaimedToUbuntu + "RELEASE j1 mac-1 1",
			false, []ViolationKind{VStaleAccepted}},
		{"patch of a queued job", "SUBMIT j1\nPATCH:running j1 mac-1 1",
			false, []ViolationKind{VStaleAccepted}},
		{"reclaim without a bump", claimedByMac + "RECLAIM j1 mac-1 1 >1",
			false, []ViolationKind{VEpochRegress}},
		{"reclaim to a lower epoch", claimedByMac + "RECLAIM j1 mac-1 1 >0",
			false, []ViolationKind{VEpochRegress}},
		{"release skips an epoch", claimedByMac + "RELEASE j1 mac-1 1 >3",
			false, []ViolationKind{VEpochRegress}},
		{"claim below the job's epoch", claimedByMac + "RELEASE j1 mac-1 1\nCLAIM j1 ubuntu-1 1",
			false, []ViolationKind{VDoubleGrant, VEpochRegress}},
		{"claim above the job's epoch", "SUBMIT j1\nCLAIM j1 mac-1 2",
			false, []ViolationKind{VBadTransition}},
		{"claim by nobody", "SUBMIT j1\nCLAIM j1 - 1",
			false, []ViolationKind{VBadTransition}},
		{"claim of a done job", claimedByMac + "PATCH:done j1 mac-1 1\nCLAIM j1 ubuntu-1 2",
			true, []ViolationKind{VBadTransition}},
		{"change after failed", claimedByMac + "PATCH:failed j1 mac-1 1\nPATCH:running j1 mac-1 1",
			false, []ViolationKind{VBadTransition}},
		{"patch back to queued", claimedByMac + "PATCH:queued j1 mac-1 1",
			false, []ViolationKind{VBadTransition}},
		{"reclaim of a queued job", "SUBMIT j1\nRECLAIM j1 - 1",
			false, []ViolationKind{VBadTransition}},
		{"reclaim of a done job", claimedByMac + "PATCH:done j1 mac-1 1\nRECLAIM j1 mac-1 1",
			false, []ViolationKind{VBadTransition}},
		{"reclaim at a wrong epoch", claimedByMac + "RECLAIM j1 mac-1 2 >3",
			false, []ViolationKind{VBadTransition}},
		{"wrongful fence of the holder", claimedByMac + "FENCE j1 mac-1 1 renew stale-epoch",
			false, []ViolationKind{VBadTransition}},
		{"submitted twice", "SUBMIT j1\nSUBMIT j1",
			false, []ViolationKind{VBadTransition}},
		{"event for an unknown job", "CLAIM j9 mac-1 1",
			false, []ViolationKind{VBadTransition}},
		{"seq goes back", "SUBMIT j1\n@1 SUBMIT j2",
			false, []ViolationKind{VBadTransition}},
		{"claim line names another holder", "SUBMIT j1\nCLAIM j1 mac-1 1 after=claimed:ubuntu-1:1",
			false, []ViolationKind{VBadTransition}},
		{"submit line at epoch 2", "SUBMIT j1 after=queued::2",
			false, []ViolationKind{VBadTransition}},
		{"fence line changes the state", claimedByMac + "FENCE j1 ubuntu-1 1 renew " +
			"wrong-holder after=queued::2", false, []ViolationKind{VBadTransition}},
		{"never shipped", claimedByMac + "PATCH:running j1 mac-1 1",
			true, []ViolationKind{VShipCount}},
		{"failed is not shipped", claimedByMac + "PATCH:failed j1 mac-1 1",
			true, []ViolationKind{VShipCount}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Check(history(t, tc.script), tc.shipped)
			if !slices.Equal(kinds(got), tc.want) {
				t.Fatalf("violations %v, want %v:%s", kinds(got), tc.want, violationText(got))
			}
			for _, v := range got {
				if v.Job == "" || v.Detail == "" || !strings.HasPrefix(v.String(), string(v.Kind)) {
					t.Errorf("violation lacks its job, detail or kind: %#v", v)
				}
			}
		})
	}
}

// goodReclaims is the demo's story told twice over: two holders lose the
// job to the reaper and are fenced, the third ships it.
const goodReclaims = `SUBMIT j1
	CLAIM j1 mac-1 1
	PATCH:running j1 mac-1 1
	RECLAIM j1 mac-1 1
	FENCE j1 mac-1 1 renew stale-epoch
	CLAIM j1 ubuntu-1 2
	PATCH:running j1 ubuntu-1 2
	FENCE j1 mac-1 1 patch:done stale-epoch
	RECLAIM j1 ubuntu-1 2
	CLAIM j1 mac-2 3
	FENCE j1 ubuntu-1 2 patch:verifying stale-epoch
	PATCH:done j1 mac-2 3
	FENCE j1 ubuntu-1 2 patch:done not-held`

func TestCheckerGoodHistories(t *testing.T) {
	cases := []struct {
		name    string
		script  string
		shipped bool
	}{
		{"one job, every stage", claimedByMac + `RENEW j1 mac-1 1
			PATCH:running j1 mac-1 1
			RENEW j1 mac-1 1
			PATCH:verifying j1 mac-1 1
			PATCH:done j1 mac-1 1`, true},
		{"reclaim, fence, reclaim twice", goodReclaims, true},
		{"two factories in parallel, a release, a wrong-holder fence", `SUBMIT j1
			SUBMIT j2
			CLAIM j1 mac-1 1
			CLAIM j2 ubuntu-1 1
			PATCH:running j2 ubuntu-1 1
			PATCH:running j1 mac-1 1
			FENCE j2 mac-1 1 renew wrong-holder
			RELEASE j1 mac-1 1
			CLAIM j1 ubuntu-1 2
			PATCH:done j2 ubuntu-1 1
			PATCH:done j1 ubuntu-1 2`, true},
		{"fences of queued and final jobs", `SUBMIT j1
			FENCE j1 mac-1 1 renew not-held
			CLAIM j1 mac-1 1
			PATCH:done j1 mac-1 1
			FENCE j1 ubuntu-1 1 patch:done wrong-holder`, true},
		{"lease expired: reclaim, then the fence", claimedByMac + `RECLAIM j1 mac-1 1
			FENCE j1 mac-1 1 renew lease-expired
			CLAIM j1 ubuntu-1 2
			PATCH:done j1 ubuntu-1 2`, true},
		{"a failed job when shipping is not required", claimedByMac + "PATCH:failed j1 mac-1 1",
			false},
		{"gaps in seq", "@3 SUBMIT j1\n@9 CLAIM j1 mac-1 1\n@10 PATCH:done j1 mac-1 1", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Check(history(t, tc.script), tc.shipped); len(got) != 0 {
				t.Fatalf("good history judged bad:%s", violationText(got))
			}
		})
	}
}

func TestCheckerStats(t *testing.T) {
	c := NewChecker()
	for _, e := range history(t, goodReclaims) {
		if vs := c.Observe(e); len(vs) != 0 {
			t.Fatalf("seq %d: %s", e.Seq, violationText(vs))
		}
	}
	s := c.Stats()
	counts := [...]int{s.Events, s.Submits, s.Claims, s.Renews, s.Patches, s.Releases,
		s.Reclaims, s.Fences, s.Ships}
	if want := [...]int{13, 1, 3, 0, 3, 0, 2, 4, 1}; counts != want {
		t.Errorf("counts %v, want %v", counts, want)
	}

	j, ok := s.Job("j1")
	if !ok {
		t.Fatal("no stats for j1")
	}
	if j.Stage != StageDone || j.Epoch != 3 || j.Winner != "mac-2" || j.WinnerEpoch != 3 {
		t.Errorf("stage %s epoch %d winner %s@%d, want done 3 mac-2@3",
			j.Stage, j.Epoch, j.Winner, j.WinnerEpoch)
	}
	if got := j.ReclaimedFrom(); !slices.Equal(got, []string{"mac-1", "ubuntu-1"}) {
		t.Errorf("reclaimed from %v", got)
	}
	var fenced []string
	for _, f := range j.Fences {
		fenced = append(fenced, fmt.Sprintf("%s@%d/%d", f.Factory, f.Epoch, f.Current))
	}
	want := []string{"mac-1@1/2", "mac-1@1/2", "ubuntu-1@2/3", "ubuntu-1@2/3"}
	if !slices.Equal(fenced, want) {
		t.Errorf("fences %v, want %v", fenced, want)
	}
	if len(j.Ships) != 1 || !j.Ships[0].Rightful || len(j.Claims) != 3 || j.Violations != 0 {
		t.Errorf("ships %+v claims %+v violations %d", j.Ships, j.Claims, j.Violations)
	}
	if _, ok := s.Job("j2"); ok {
		t.Error("stats for a job never submitted")
	}

	// Stats is a snapshot: what the caller does with it, and what the
	// checker sees next, must not reach the other side.
	s.Jobs[0].Fences[0].Factory = "scribble"
	c.Observe(history(t, "@14 SUBMIT j2")[0])
	if again := c.Stats(); again.Jobs[0].Fences[0].Factory != "mac-1" || len(s.Jobs) != 1 {
		t.Error("Stats shares memory with the checker")
	}
}

func TestCheckerWinnerIsTheRightfulHolder(t *testing.T) {
	c := NewChecker()
	for _, e := range history(t, reclaimedToUbuntu+"PATCH:done j1 mac-1 1\nPATCH:done j1 ubuntu-1 2") {
		c.Observe(e)
	}
	j, _ := c.Stats().Job("j1")
	if j.Winner != "ubuntu-1" || len(j.Ships) != 2 || j.Ships[0].Rightful || !j.Ships[1].Rightful {
		t.Fatalf("winner %q ships %+v; want ubuntu-1 after a stale ship by mac-1", j.Winner, j.Ships)
	}
}

func TestViolationString(t *testing.T) {
	got := Check(history(t, "SUBMIT j-2\n@5 CLAIM j-2 mac-1 1\n@7 CLAIM j-2 ubuntu-1 1"), false)
	want := "double-grant: job j-2 epoch 1 granted to mac-1 (seq 5) and ubuntu-1 (seq 7)"
	if len(got) == 0 || got[0].String() != want {
		t.Fatalf("got %v, want first %q", got, want)
	}
	if got[0].Seq != 7 || got[0].Factory != "ubuntu-1" {
		t.Errorf("violation names seq %d factory %q, want the second claim", got[0].Seq, got[0].Factory)
	}
}

// TestCheckerAgreesWithReducer runs a simulated coordinator (built, like
// the real one, on State) against factories that act on stale beliefs as
// zombies do. Its histories are legal by construction: the checker must
// find nothing, its model must end where the reducer ends, and that must
// hold after a trip through the line format too.
func TestCheckerAgreesWithReducer(t *testing.T) {
	var seen [8]int // how often each interesting event came up, across seeds
	for seed := range uint64(40) {
		evs, st := simulateFleet(seed, 400, "")
		tally(&seen, evs)
		if vs := Check(evs, false); len(vs) != 0 {
			t.Fatalf("seed %d: legal history judged bad:%s", seed, violationText(vs))
		}
		if vs := Check(reparsed(t, evs), false); len(vs) != 0 {
			t.Fatalf("seed %d: after the line format:%s", seed, violationText(vs))
		}
		compareWithReducer(t, seed, evs, st)
	}
	for i, n := range seen {
		if n == 0 {
			t.Errorf("the simulation never produced event kind %d; the test is weaker than it looks", i)
		}
	}
}

// TestCheckerCatchesSimulatedBugs runs the same simulation with each of the
// coordinator's deliberate bugs and expects the checker to notice.
func TestCheckerCatchesSimulatedBugs(t *testing.T) {
	allowed := map[string][]ViolationKind{
		// Under no-fence a stale release moves the coordinator's epoch ahead
		// of the rightful story, so a later hand-back is also epoch-regress.
		// It also accepts calls on leases that have ended.
		"no-fence": {VStaleAccepted, VShipCount, VBadTransition, VTwoHolders, VEpochRegress,
			VExpiredAccepted},
		"double-claim": {VDoubleGrant, VTwoHolders, VStaleAccepted, VShipCount, VBadTransition},
	}
	for bug, ok := range allowed {
		found := map[ViolationKind]int{}
		for seed := range uint64(20) {
			evs, _ := simulateFleet(seed, 400, bug)
			for _, v := range Check(evs, false) {
				if !slices.Contains(ok, v.Kind) {
					t.Errorf("%s seed %d: unexpected %s", bug, seed, v)
				}
				found[v.Kind]++
			}
		}
		if bug == "no-fence" && found[VStaleAccepted] == 0 {
			t.Errorf("no-fence: no stale-accepted found in any run: %v", found)
		}
		if bug == "double-claim" && (found[VDoubleGrant] == 0 || found[VTwoHolders] == 0) {
			t.Errorf("double-claim: double grants not found: %v", found)
		}
	}
}

func tally(seen *[8]int, evs []Event) {
	for _, e := range evs {
		switch {
		case e.Type == EvFence && e.Reason == ReasonStaleEpoch:
			seen[0]++
		case e.Type == EvFence && e.Reason == ReasonWrongHolder:
			seen[1]++
		case e.Type == EvFence && e.Reason == ReasonNotHeld:
			seen[2]++
		case e.Type == EvReclaim:
			seen[3]++
		case e.Type == EvRelease:
			seen[4]++
		case e.Type == EvPatch && e.After.Stage == StageDone:
			seen[5]++
		case e.Type == EvPatch && e.After.Stage == StageFailed:
			seen[6]++
		case e.Type == EvRenew:
			seen[7]++
		}
	}
}

func reparsed(t *testing.T, evs []Event) []Event {
	out := make([]Event, len(evs))
	for i, e := range evs {
		var err error
		if out[i], err = ParseLine(AppendLine(nil, e)); err != nil {
			t.Fatalf("seq %d: %v", e.Seq, err)
		}
	}
	return out
}

func compareWithReducer(t *testing.T, seed uint64, evs []Event, st *State) {
	t.Helper()
	c := NewChecker()
	for _, e := range evs {
		c.Observe(e)
	}
	stats := c.Stats()
	if len(stats.Jobs) != len(st.Order) {
		t.Fatalf("seed %d: checker knows %d jobs, reducer %d", seed, len(stats.Jobs), len(st.Order))
	}
	for i, j := range st.Order {
		js := stats.Jobs[i]
		holderAgrees := !j.Stage.Held() || js.Holder == j.Holder
		if js.Job != j.ID || js.Stage != j.Stage || js.Epoch != j.Epoch || !holderAgrees {
			t.Errorf("seed %d: checker has %s %s@%d by %q, reducer %s %s@%d by %q", seed,
				js.Job, js.Stage, js.Epoch, js.Holder, j.ID, j.Stage, j.Epoch, j.Holder)
		}
		if len(js.Ships) > 1 {
			t.Errorf("seed %d: job %s shipped %d times", seed, j.ID, len(js.Ships))
		}
	}
}

// simulateFleet plays a coordinator deciding on State, as the real one
// does, with three factories that act on whatever they last believed,
// stale beliefs included, and a reaper that reclaims at random. bug is ""
// for a correct coordinator, or "no-fence" or "double-claim".
func simulateFleet(seed uint64, steps int, bug string) ([]Event, *State) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	sim := &fleetSim{st: NewState(), bug: bug, now: lineTime, beliefs: map[string][]grantBelief{}}
	factories := []string{"mac-1", "ubuntu-1", "mac-2"}
	for range steps {
		f := factories[r.IntN(len(factories))]
		switch k := r.IntN(10); {
		case k == 0 && len(sim.st.Order) < 8:
			sim.emit(Event{Type: EvSubmit, Job: fmt.Sprintf("j-%d", len(sim.st.Order)+1),
				After: JobState{Stage: StageQueued, Epoch: 1}})
		case k <= 2:
			sim.claim(f)
		case k <= 6:
			if bs := sim.beliefs[f]; len(bs) > 0 {
				sim.report(f, bs[r.IntN(len(bs))], simOps[r.IntN(len(simOps))])
			}
		case k == 7 && len(sim.st.Order) > 0:
			// An intruder: a report on a job f never claimed, at the job's
			// current epoch, which only the holder check can refuse.
			j := sim.st.Order[r.IntN(len(sim.st.Order))]
			sim.report(f, grantBelief{j.ID, j.Epoch}, simOps[r.IntN(len(simOps))])
		default:
			sim.reap(r)
		}
	}
	return sim.evs, sim.st
}

var simOps = []string{"renew", "renew", "patch:running", "patch:verifying", "patch:done",
	"patch:failed", "release"}

type grantBelief struct {
	job   string
	epoch uint64
}

type fleetSim struct {
	st      *State
	bug     string
	now     time.Time
	evs     []Event
	beliefs map[string][]grantBelief
	last    *Job // the job most recently claimed, for the double-claim bug
}

func (s *fleetSim) emit(e Event) {
	s.now = s.now.Add(time.Millisecond)
	e.Seq, e.Time = s.st.LastSeq+1, s.now
	if err := s.st.Apply(e); err != nil {
		panic(err)
	}
	s.evs = append(s.evs, e)
}

func (s *fleetSim) claim(f string) {
	j := s.st.NextQueued("")
	if s.bug == "double-claim" && s.last != nil && s.last.Stage == StageClaimed &&
		s.last.Holder != f {
		j, s.last = s.last, nil
	} else {
		s.last = j
	}
	if j == nil {
		return
	}
	s.emit(Event{Type: EvClaim, Job: j.ID, Factory: f, Epoch: j.Epoch, After: JobState{
		Stage: StageClaimed, Holder: f, Epoch: j.Epoch, ExpiresAt: s.now.Add(time.Minute)}})
	s.beliefs[f] = append(s.beliefs[f], grantBelief{j.ID, j.Epoch})
}

func (s *fleetSim) report(f string, b grantBelief, op string) {
	j := s.st.Jobs[b.job]
	reason := FenceReason("")
	switch {
	case s.bug == "no-fence":
	case b.epoch != j.Epoch:
		reason = ReasonStaleEpoch
	case !j.Stage.Held():
		reason = ReasonNotHeld
	case j.Holder != f:
		reason = ReasonWrongHolder
	case !s.now.Add(time.Millisecond).Before(j.ExpiresAt):
		// As the coordinator's admit does: a call on a lease that has run
		// out (by the time of its event) reclaims the job, then is refused.
		s.emit(Event{Type: EvReclaim, Job: j.ID, Factory: j.Holder, Epoch: j.Epoch,
			After: JobState{Stage: StageQueued, Epoch: j.Epoch + 1}})
		reason = ReasonExpired
	}
	e := Event{Job: j.ID, Factory: f, Epoch: b.epoch}
	switch {
	case reason != "":
		e.Type, e.Op, e.Reason, e.After = EvFence, op, reason, j.JobState
	case op == "renew":
		e.Type, e.After = EvRenew, j.JobState
		e.After.ExpiresAt = s.now.Add(time.Minute)
	case op == "release":
		e.Type, e.After = EvRelease, JobState{Stage: StageQueued, Epoch: j.Epoch + 1}
	default:
		st := Stage(strings.TrimPrefix(op, "patch:"))
		e.Type, e.After = EvPatch, JobState{Stage: st, Holder: f, Epoch: j.Epoch, ExpiresAt: j.ExpiresAt}
		if st.Terminal() {
			e.After.ExpiresAt = time.Time{}
		}
	}
	s.emit(e)
}

func (s *fleetSim) reap(r *rand.Rand) {
	var held []*Job
	for _, j := range s.st.Order {
		if j.Stage.Held() {
			held = append(held, j)
		}
	}
	if len(held) == 0 {
		return
	}
	// The reaper acts only on a lease that has ended: move the clock on to
	// the end of the one picked (emit adds the last millisecond), which may
	// end other leases too.
	j := held[r.IntN(len(held))]
	if end := j.ExpiresAt.Add(-time.Millisecond); s.now.Before(end) {
		s.now = end
	}
	s.emit(Event{Type: EvReclaim, Job: j.ID, Factory: j.Holder, Epoch: j.Epoch,
		After: JobState{Stage: StageQueued, Epoch: j.Epoch + 1}})
}
