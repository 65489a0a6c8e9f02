package api

import (
	"errors"
	"net/http"
	"testing"

	"github.com/twofactory/twofactory/internal/coord"
)

// POST /fleet/reports against the real coordinator: each report gets the
// answer a single patch would have had (the job, a fence with its detail,
// a bad request), and the good ones land.
func TestReportsBatchAgainstRealCoordinator(t *testing.T) {
	f := newRealFleet(t)
	c := f.client
	submitJobs(t, c)
	gs, err := c.Claim(t.Context(), coord.ClaimRequest{Factory: "mac-1", Max: 2})
	if err != nil || len(gs) != 2 {
		t.Fatalf("claim: %v %v", gs, err)
	}

	rs := []coord.Report{
		{Job: gs[0].Job.ID, Factory: "mac-1", Epoch: 1, Stage: coord.StageDone},
		{Job: gs[1].Job.ID, Factory: "mac-1", Epoch: 9, Stage: coord.StageDone},
		{Job: gs[1].Job.ID, Factory: "mac-1", Epoch: 1, Stage: "shipped"},
		{Job: "../x", Factory: "mac-1", Epoch: 1, Stage: coord.StageDone},
	}
	res, err := c.PatchAll(t.Context(), rs)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[0].Job.Stage != coord.StageDone {
		t.Errorf("good report: %+v", res[0])
	}
	var fe *coord.FenceError
	var se *StatusError
	if !errors.As(res[1].Err, &fe) || fe.Epoch != 9 || fe.Current != 1 ||
		!errors.As(res[1].Err, &se) || se.Code != http.StatusConflict {
		t.Errorf("stale report: %v, want a 409 fence of epoch 9 (current 1)", res[1].Err)
	}
	for _, i := range []int{2, 3} {
		if !errors.Is(res[i].Err, coord.ErrBadRequest) {
			t.Errorf("report %d: %v, want a bad request", i, res[i].Err)
		}
	}
	if j, _ := c.Get(t.Context(), gs[1].Job.ID); j.Stage != coord.StageClaimed {
		t.Errorf("refused reports changed %s: %+v", j.ID, j)
	}
}

// A batch with no reports, or more than the limit, is a 400 as a whole.
func TestReportsBatchBounds(t *testing.T) {
	f := newRealFleet(t)
	for _, n := range []int{0, maxReports + 1} {
		rs := make([]coord.Report, n)
		for i := range rs {
			rs[i] = coord.Report{Job: "j1", Factory: "mac-1", Epoch: 1, Stage: coord.StageDone}
		}
		if _, err := f.client.PatchAll(t.Context(), rs); !errors.Is(err, coord.ErrBadRequest) {
			t.Errorf("%d reports: %v, want a bad request", n, err)
		}
	}
}
