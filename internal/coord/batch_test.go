package coord

import (
	"errors"
	"testing"
)

// PatchAll judges each report on its own, as Patch would: the good ones
// land, a stale one is fenced (with its FENCE event), a bad one is refused,
// and the checker accepts the history.
func TestPatchAllJudgesEachReport(t *testing.T) {
	c := open(t, t.TempDir(), newClock(), BugNone)
	mustSubmit(t, c, "j1", "j2", "j3")
	gs, err := c.Claim(ctx, ClaimRequest{Factory: "mac-1", Max: 3})
	if err != nil || len(gs) != 3 {
		t.Fatalf("claim: %v %v", gs, err)
	}

	rs := []Report{
		{Job: "j1", Factory: "mac-1", Epoch: 1, Stage: StageDone},
		{Job: "j2", Factory: "mac-1", Epoch: 5, Stage: StageDone},
		{Job: "j3", Factory: "mac-1", Epoch: 1, Stage: StageRunning},
		{Job: "j3", Factory: "mac-1", Epoch: 1, Stage: StageQueued},
		{Job: "j9", Factory: "mac-1", Epoch: 1, Stage: StageDone},
		{Job: "j3", Factory: "mac-1", Epoch: 1, Stage: StageDone},
	}
	res := c.PatchAll(ctx, rs)
	wantErr := []error{nil, ErrFenced, nil, ErrBadRequest, ErrNotFound, nil}
	wantStage := []Stage{StageDone, "", StageRunning, "", "", StageDone}
	for i, r := range res {
		if !errors.Is(r.Err, wantErr[i]) || (wantErr[i] == nil && r.Err != nil) {
			t.Errorf("report %d (%+v): err %v, want %v", i, rs[i], r.Err, wantErr[i])
		}
		if r.Job.Stage != wantStage[i] {
			t.Errorf("report %d: job stage %q, want %q",
				i, r.Job.Stage, wantStage[i])
		}
	}
	want := "SUBMIT SUBMIT SUBMIT CLAIM CLAIM CLAIM PATCH:done FENCE PATCH:running PATCH:done"
	if got := labels(events(t, c)); got != want {
		t.Fatalf("events = %s\nwant %s", got, want)
	}
	if v := Check(events(t, c), true); len(v) != 1 || v[0].Kind != VShipCount {
		t.Fatalf("checker: %v, want only j2 unshipped", v)
	}
}
