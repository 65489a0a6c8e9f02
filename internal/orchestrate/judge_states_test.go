package orchestrate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/factory"
)

// The job-state judge (a server with no event stream) gets the same
// treatment as the event judge: a good run as the polls would see it
// passes, and each missing piece of evidence fails its own guarantee.

// stateVariant names how a polled run departs from the good one.
type stateVariant struct {
	noQuarantine bool
	exitFailed   bool // the zombie exited as failed, not fenced
	noFenceLine  bool // the victim's log lacks the 409
	zombieShip   bool // the victim's log says the zombie shipped
	doneTwice    bool // job-1 seen done at the victim's epoch, then at the survivor's
	noParallel   bool
	victimWins   bool // job-1 ends done by the victim
}

func st(stage coord.Stage, holder string, ep uint64) coord.JobState {
	return coord.JobState{Stage: stage, Holder: holder, Epoch: ep}
}

// stateTrails is what the polls saw of the good run: the victim running
// job-1 at epoch 1, the reclaim, the survivor finishing everything.
func stateTrails(v stateVariant) map[string][]coord.JobState {
	job1 := []coord.JobState{st(coord.StageQueued, "", 1), st(coord.StageRunning, victim, 1)}
	if v.doneTwice {
		job1 = append(job1, st(coord.StageDone, victim, 1))
	}
	job1 = append(job1, st(coord.StageQueued, "", 2), st(coord.StageRunning, survivor, 2))
	if v.victimWins {
		job1 = append(job1, st(coord.StageDone, victim, 2))
	} else {
		job1 = append(job1, st(coord.StageDone, survivor, 2))
	}
	finished := []coord.JobState{st(coord.StageQueued, "", 1),
		st(coord.StageRunning, survivor, 1), st(coord.StageDone, survivor, 1)}
	return map[string][]coord.JobState{"job-1": job1, "job-2": finished, "job-3": finished}
}

// stateRun is a finished no-stream run built from v: trails, the zombie's
// exit, the victim's factory log and the run directory's files.
func stateRun(t *testing.T, v stateVariant) *run {
	t.Helper()
	quar := zombieQuar
	if v.noQuarantine {
		quar = nil
	}
	r := judgeRun(t, nil, allShipped, quar)
	r.cfg.Mode, r.noStream = ModeReal, true
	r.w = newPollWatch(nil, time.Second, coord.ListFilter{})
	r.w.trails = stateTrails(v)

	code := factory.Fenced.ExitCode()
	if v.exitFailed {
		code = factory.Failed.ExitCode()
	}
	r.zombie = zombieOutcome{exited: true, status: "exit status N", code: code}
	if !v.noParallel {
		r.parallel = parallelSeen{at: time.Now(), jobs: [2]string{"job-1", "job-2"}}
	}
	writeVictimLog(t, r.dir, v)
	return r
}

func writeVictimLog(t *testing.T, dir string, v stateVariant) {
	t.Helper()
	lines := []string{
		"2026-01-02T03:04:05.000Z claim factory=mac-1 job=job-1 epoch=1",
		"2026-01-02T03:04:05.100Z stage factory=mac-1 job=job-1 epoch=1 stage=running",
	}
	if !v.noFenceLine {
		lines = append(lines, "2026-01-02T03:04:08.000Z fence factory=mac-1 job=job-1 epoch=1 "+
			"op=patch:verifying http=409 reason=stale-epoch current=2")
	}
	if v.zombieShip {
		lines = append(lines, "2026-01-02T03:04:08.100Z ship factory=mac-1 job=job-1 epoch=1")
	}
	data := []byte(strings.Join(lines, "\n") + "\n")
	if err := os.WriteFile(filepath.Join(dir, "log-"+victim+".txt"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestJudgeFromStatesGoodRunPasses(t *testing.T) {
	res := stateRun(t, stateVariant{}).judge()
	if !res.Pass || res.Note != NoStreamNote {
		t.Fatalf("good run: pass=%v note=%q guarantees=%+v", res.Pass, res.Note, res.Guarantees)
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
}

// TestJudgeFromStatesCatchesEachFault: each missing or contrary piece of
// evidence fails its guarantee, says why, and leaves the others passing.
func TestJudgeFromStatesCatchesEachFault(t *testing.T) {
	cases := []struct {
		name     string
		v        stateVariant
		fails    Guarantee
		evidence string
	}{
		{"no quarantine", stateVariant{noQuarantine: true}, GuaranteeFencing,
			"no quarantine/job-1@epoch=1"},
		{"zombie not fenced", stateVariant{exitFailed: true}, GuaranteeFencing,
			"did not exit as fenced"},
		{"no 409 in the log", stateVariant{noFenceLine: true}, GuaranteeFencing,
			"has no fence line (http=409)"},
		{"zombie shipped", stateVariant{zombieShip: true}, GuaranteeFencing,
			"says the zombie SHIPPED job-1@1"},
		{"victim wins", stateVariant{victimWins: true}, GuaranteeFencing,
			"not completed at a newer epoch by another factory"},
		{"done twice", stateVariant{doneTwice: true}, GuaranteeNoDoubleAssign,
			"job-1 seen done 2 times"},
		{"no parallel poll", stateVariant{noParallel: true}, GuaranteeParallelism,
			"no List answer showed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := stateRun(t, c.v).judge()
			if res.Pass {
				t.Fatalf("verdict PASS for a broken run: %+v", res.Guarantees)
			}
			for name, g := range verdicts(t, res) {
				if want := name != c.fails; g.Pass != want {
					t.Errorf("%s: pass=%v, want %v (evidence %q)", name, g.Pass, want,
						g.Evidence)
				}
				if name == c.fails && !strings.Contains(g.Evidence, c.evidence) {
					t.Errorf("%s evidence %q does not say %q", name, g.Evidence, c.evidence)
				}
			}
		})
	}
}

// TestPollWatchFeedsWaits: each List answer becomes the state a wait sees,
// and a trail keeps only the changes.
func TestPollWatchFeedsWaits(t *testing.T) {
	w := newPollWatch(nil, time.Second, coord.ListFilter{})
	job := func(stage coord.Stage, holder string, ep uint64) coord.Job {
		return coord.Job{ID: "job-1", JobState: st(stage, holder, ep), SubmitSeq: 1, Seq: ep}
	}
	w.setJobs([]coord.Job{job(coord.StageQueued, "", 1)}, time.Now())
	w.setJobs([]coord.Job{job(coord.StageQueued, "", 1)}, time.Now())
	go w.setJobs([]coord.Job{job(coord.StageRunning, victim, 1)}, time.Now())
	err := w.until(t.Context(), 10*time.Second, "job-1 running", func(v view) bool {
		j := v.State.Jobs["job-1"]
		return j != nil && j.Holder == victim && len(v.Events) == 0
	})
	if err != nil {
		t.Fatal(err)
	}
	if tr := w.trail("job-1"); len(tr) != 2 || tr[1] != st(coord.StageRunning, victim, 1) {
		t.Errorf("trail = %+v, want queued then running", tr)
	}
}
