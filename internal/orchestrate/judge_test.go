package orchestrate

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// The judge is what turns a run into a verdict, so its tests feed it
// hand-made coordinator histories: the scenario's normal one, and one per
// way a coordinator (or a run) can go wrong. Each must fail exactly the
// guarantee it breaks.

const (
	victim    = "mac-1"
	survivor  = "ubuntu-1"
	testLease = 1500 * time.Millisecond
)

// hist builds a history: events with consecutive sequence numbers, 100 ms apart,
// each carrying the job state after it as the coordinator writes it.
type hist struct {
	t0   time.Time
	skip time.Duration // how far reclaims have moved the clock on
	evs  []coord.Event
}

func newHist() *hist {
	return &hist{t0: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (h *hist) now() time.Time {
	return h.t0.Add(time.Duration(len(h.evs))*100*time.Millisecond + h.skip)
}

func (h *hist) add(e coord.Event) *hist {
	e.Seq = uint64(len(h.evs) + 1)
	e.Time = h.now()
	h.evs = append(h.evs, e)
	return h
}

func (h *hist) submit(job string) *hist {
	return h.add(coord.Event{Type: coord.EvSubmit, Job: job, Payload: "payload of " + job,
		After: coord.JobState{Stage: coord.StageQueued, Epoch: 1}})
}

func (h *hist) held(stage coord.Stage, f string, ep uint64) coord.JobState {
	return coord.JobState{Stage: stage, Holder: f, Epoch: ep, ExpiresAt: h.now().Add(testLease)}
}

func (h *hist) claim(job, f string, ep uint64) *hist {
	return h.add(coord.Event{Type: coord.EvClaim, Job: job, Factory: f, Epoch: ep,
		After: h.held(coord.StageClaimed, f, ep)})
}

func (h *hist) patch(job, f string, ep uint64, st coord.Stage) *hist {
	after := h.held(st, f, ep)
	if st.Terminal() {
		after.ExpiresAt = time.Time{}
	}
	return h.add(coord.Event{Type: coord.EvPatch, Job: job,
		Factory: f, Epoch: ep, After: after})
}

// finish runs job through running, verifying and done.
func (h *hist) finish(job, f string, ep uint64) *hist {
	for _, st := range []coord.Stage{coord.StageVerifying, coord.StageDone} {
		h.patch(job, f, ep, st)
	}
	return h
}

func (h *hist) renew(job, f string, ep uint64, st coord.Stage) *hist {
	return h.add(coord.Event{Type: coord.EvRenew, Job: job, Factory: f, Epoch: ep,
		After: h.held(st, f, ep)})
}

// reclaim hands the job back once its lease has ended: the reaper acts on
// nothing sooner, so the clock moves on to the lease's end first.
func (h *hist) reclaim(job, from string, ep uint64) *hist {
	for _, e := range slices.Backward(h.evs) {
		if e.Job == job && (e.Type == coord.EvClaim || e.Type == coord.EvRenew) {
			if end := e.After.ExpiresAt.Sub(h.now()); end > 0 {
				h.skip += end
			}
			break
		}
	}
	return h.add(coord.Event{Type: coord.EvReclaim, Job: job, Factory: from, Epoch: ep,
		After: coord.JobState{Stage: coord.StageQueued, Epoch: ep + 1}})
}

func (h *hist) fence(job, f string, stale, cur uint64, holder string) *hist {
	return h.add(coord.Event{Type: coord.EvFence, Job: job, Factory: f, Epoch: stale,
		Op: "patch:verifying", Reason: coord.ReasonStaleEpoch,
		After: h.held(coord.StageClaimed, holder, cur)})
}

// variant names how a history departs from the good run's.
type variant struct {
	skipReclaim   bool
	skipFence     bool
	staleAccepted bool
	doubleGrant   bool
	noOverlap     bool
}

// scenario is the history of a good run (the victim killed on job-1, the
// reaper's reclaim, the survivor's claim at epoch 2, the zombie fenced, the
// survivor draining), changed as v says.
func scenario(v variant) []coord.Event {
	h := newHist().submit("job-1").submit("job-2").submit("job-3")
	h.claim("job-1", victim, 1).patch("job-1", victim, 1, coord.StageRunning)
	if v.noOverlap {
		// The victim's lease ends before the survivor ever holds one.
		h.reclaim("job-1", victim, 1)
	}
	h.claim("job-2", survivor, 1)
	if v.doubleGrant {
		h.claim("job-2", victim, 1)
	}
	h.patch("job-2", survivor, 1, coord.StageRunning)
	if v.skipReclaim {
		// The reaper never runs: the victim's job stays held, nobody fences.
		return h.finish("job-2", survivor, 1).evs
	}
	if !v.noOverlap {
		// The survivor's heartbeat keeps its lease alive past the victim's.
		h.renew("job-2", survivor, 1, coord.StageRunning)
		h.reclaim("job-1", victim, 1)
	}
	h.finish("job-2", survivor, 1)
	h.claim("job-1", survivor, 2)
	switch {
	case v.staleAccepted:
		// A coordinator that does not fence takes the zombie's report; the
		// job stays the survivor's.
		h.add(coord.Event{Type: coord.EvPatch, Job: "job-1", Factory: victim, Epoch: 1,
			After: h.held(coord.StageClaimed, survivor, 2)})
	case !v.skipFence:
		h.fence("job-1", victim, 1, 2, survivor)
	}
	h.patch("job-1", survivor, 2, coord.StageRunning).finish("job-1", survivor, 2)
	h.claim("job-3", survivor, 1).patch("job-3", survivor, 1, coord.StageRunning)
	return h.finish("job-3", survivor, 1).evs
}

// judgeRun is a run as the judge sees it after the scenario: its jobs, the
// victim's job and epoch, the events and a run directory with shipped/ and
// quarantine/ as named.
func judgeRun(t *testing.T, evs []coord.Event, shipped, quarantined []string) *run {
	t.Helper()
	dir := t.TempDir()
	mk := func(sub, name string) {
		p := filepath.Join(dir, sub, name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range shipped {
		mk("shipped", n)
	}
	for _, n := range quarantined {
		mk("quarantine", n)
	}
	w := newWatch(nil)
	w.events = evs
	return &run{
		cfg:  Config{Mode: ModeStub, Factories: [2]string{victim, survivor}},
		dir:  dir,
		w:    w,
		jobs: []string{"job-1", "job-2", "job-3"}, victimJob: "job-1", victimEp: 1,
	}
}

var (
	allShipped  = []string{"job-1", "job-2", "job-3"}
	zombieQuar  = []string{"job-1@epoch=1"}
	guaranteeOf = map[Guarantee]int{
		GuaranteeNoDoubleAssign: 0, GuaranteeFencing: 1, GuaranteeParallelism: 2,
	}
)

// verdicts returns each guarantee's PASS/FAIL, keyed by guarantee.
func verdicts(t *testing.T, res *Results) map[Guarantee]GuaranteeResult {
	t.Helper()
	if len(res.Guarantees) != 3 {
		t.Fatalf("want 3 guarantees, got %+v", res.Guarantees)
	}
	out := map[Guarantee]GuaranteeResult{}
	for i, g := range res.Guarantees {
		for name, at := range guaranteeOf {
			if g.Name == name && at != i {
				t.Errorf("guarantee %q at row %d, want row %d", name, i, at)
			}
		}
		out[g.Name] = g
	}
	return out
}

func TestJudgeGoodHistoryPasses(t *testing.T) {
	r := judgeRun(t, scenario(variant{}), allShipped, zombieQuar)
	res := r.judge()
	if !res.Pass || len(res.Violations) > 0 {
		t.Fatalf("good history: pass=%v violations=%v guarantees=%+v", res.Pass,
			res.Violations, res.Guarantees)
	}
	for name, g := range verdicts(t, res) {
		if !g.Pass || g.Evidence == "" {
			t.Errorf("%s: pass=%v evidence=%q", name, g.Pass, g.Evidence)
		}
	}
	want := JobResult{ID: "job-1", Stage: "done", Winner: survivor, Epoch: 2,
		ReclaimedFrom: victim, FencedEpoch: 1, Ships: 1}
	if res.Jobs[0] != want {
		t.Errorf("job-1 row = %+v, want %+v", res.Jobs[0], want)
	}
	if row := res.Jobs[2]; row.Winner != survivor || row.Ships != 1 || row.ReclaimedFrom != "" {
		t.Errorf("job-3 row = %+v", row)
	}
}

// TestJudgeCatchesEachFault: every broken history fails its own guarantee,
// with evidence that names the fault, and only that one.
func TestJudgeCatchesEachFault(t *testing.T) {
	cases := []struct {
		name        string
		v           variant
		shipped     []string
		quarantined []string
		fails       Guarantee
		evidence    string
		violations  bool
		// others: the other guarantees' verdicts are checked too (a history
		// that never reclaims also never ships the victim's job, so (a)
		// fails with it and only (b) is asked about).
		others bool
	}{
		{name: "no reclaim", v: variant{skipReclaim: true}, shipped: []string{"job-2"},
			fails: GuaranteeFencing, evidence: "no RECLAIM of job-1 from mac-1", violations: true},
		{name: "no fence", others: true, v: variant{skipFence: true}, shipped: allShipped,
			quarantined: zombieQuar, fails: GuaranteeFencing,
			evidence: "no 409 for the zombie's report at epoch 1"},
		{name: "stale accepted", others: true, v: variant{staleAccepted: true}, shipped: allShipped,
			quarantined: zombieQuar, fails: GuaranteeFencing,
			evidence: "1 stale report(s) ACCEPTED", violations: true},
		{name: "no quarantine", others: true, v: variant{}, shipped: allShipped, fails: GuaranteeFencing,
			evidence: "no quarantine/job-1@epoch=1"},
		{name: "double grant", others: true, v: variant{doubleGrant: true}, shipped: allShipped,
			quarantined: zombieQuar, fails: GuaranteeNoDoubleAssign,
			evidence: "job-2@1 granted 2 times", violations: true},
		{name: "shipped twice", others: true, v: variant{}, quarantined: zombieQuar,
			shipped: append([]string{"job-1@epoch=1"}, allShipped...),
			fails:   GuaranteeNoDoubleAssign, evidence: "shipped/ holds 2 results of job-1"},
		{name: "no overlap", others: true, v: variant{noOverlap: true}, shipped: allShipped,
			quarantined: zombieQuar, fails: GuaranteeParallelism,
			evidence: "never held jobs at the same time"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := judgeRun(t, scenario(c.v), c.shipped, c.quarantined).judge()
			if res.Pass {
				t.Fatalf("verdict PASS for a broken history: %+v", res.Guarantees)
			}
			for name, g := range verdicts(t, res) {
				if want := name != c.fails; g.Pass != want && (c.others || !want) {
					t.Errorf("%s: pass=%v, want %v (evidence %q)", name, g.Pass, want,
						g.Evidence)
				}
				if name == c.fails && !strings.Contains(g.Evidence, c.evidence) {
					t.Errorf("%s evidence %q does not say %q", name, g.Evidence, c.evidence)
				}
			}
			if got := len(res.Violations) > 0; got != c.violations {
				t.Errorf("violations %v, want some: %v", res.Violations, c.violations)
			}
		})
	}
}

func TestJobRowAndHoldSpans(t *testing.T) {
	evs := scenario(variant{})
	c := coord.NewChecker()
	for _, e := range evs {
		c.Observe(e)
	}
	final := map[string]coord.JobState{}
	for _, e := range evs {
		final[e.Job] = e.After
	}
	row := jobRow(c.Stats(), final, "job-1")
	if row.ReclaimedFrom != victim || row.FencedEpoch != 1 || row.Winner != survivor ||
		row.Epoch != 2 || row.Ships != 1 {
		t.Fatalf("job-1 row = %+v", row)
	}
	held := holdSpans(evs)
	if n := len(held[victim]); n != 1 {
		t.Fatalf("victim held %d spans, want 1 (claim to reclaim): %v", n, held[victim])
	}
	if n := len(held[survivor]); n != 3 {
		t.Fatalf("survivor held %d spans, want 3: %v", n, held[survivor])
	}
	if overlapOf(held[victim], held[survivor]) <= 0 {
		t.Fatal("no overlap in the good history")
	}
}

func TestOverlapOf(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	a := []span{{at(0), at(2)}, {at(5), at(6)}}
	b := []span{{at(1), at(5.5)}}
	if got, want := overlapOf(a, b), 1500*time.Millisecond; got != want {
		t.Errorf("overlap = %v, want %v", got, want)
	}
	touching := []span{{at(2), at(5)}}
	if got := overlapOf(a, touching); got != 0 {
		t.Errorf("spans that only touch overlap %v, want 0", got)
	}
}
