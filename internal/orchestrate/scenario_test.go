package orchestrate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// stepRun is a run whose watch has already seen evs, for testing one step
// of the scenario without processes. Its timeout is long, so a step that
// waited it out instead of deciding from the events would show in the test
// time and in the error it returns.
func stepRun(t *testing.T, evs []coord.Event) *run {
	t.Helper()
	w := newWatch(nil)
	if err := w.add(evs); err != nil {
		t.Fatalf("fold the history: %v", err)
	}
	out := newEmitter(nil)
	t.Cleanup(out.close)
	return &run{
		cfg: Config{Mode: ModeStub, Factories: [2]string{victim, survivor},
			Timeout: time.Minute, Lease: testLease, JobSleep: time.Millisecond},
		out: out, w: w, jobs: []string{"job-1", "job-2", "job-3"},
	}
}

// TestAwaitParallelJobsTooShort: when every job is final before the two
// factories ever ran one at once, the step says the jobs are too short at
// once, rather than timing out.
func TestAwaitParallelJobsTooShort(t *testing.T) {
	h := newHist().submit("job-1").submit("job-2").submit("job-3")
	for _, id := range []string{"job-1", "job-2", "job-3"} {
		h.claim(id, survivor, 1).patch(id, survivor, 1, coord.StageRunning)
		h.finish(id, survivor, 1)
	}
	err := stepRun(t, h.evs).awaitParallel(context.Background())
	if !errors.Is(err, ErrCouldNotRun) || !strings.Contains(err.Error(), "too short") {
		t.Fatalf("awaitParallel = %v, want could-not-run saying the jobs are too short", err)
	}
}

// TestAwaitReclaimVictimFinished: a victim whose done landed just as it was
// killed leaves nothing to reclaim; the step says so (could not run) at
// once instead of waiting for a reaper that has nothing to do, and the run
// is not judged as a fencing failure.
func TestAwaitReclaimVictimFinished(t *testing.T) {
	h := newHist().submit("job-1").submit("job-2").submit("job-3")
	h.claim("job-1", victim, 1).claim("job-2", survivor, 1)
	h.patch("job-1", victim, 1, coord.StageRunning).patch("job-2", survivor, 1, coord.StageRunning)
	h.finish("job-1", victim, 1)
	r := stepRun(t, h.evs)
	r.victimJob, r.victimEp = "job-1", 1
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := r.awaitReclaim(ctx)
	if !errors.Is(err, ErrCouldNotRun) || !strings.Contains(err.Error(), "before it could be killed") {
		t.Fatalf("awaitReclaim = %v, want could-not-run saying the victim finished first", err)
	}
}
