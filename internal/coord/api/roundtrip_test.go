package api

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// Every call goes through Client -> HTTP -> handler -> fake and back: the
// fake must see exactly the request made, and the caller exactly the
// fake's answer.
func TestRoundTripSubmit(t *testing.T) {
	fx := newFixture(t, ServerOptions{}, "")
	ctx := context.Background()
	req := coord.SubmitRequest{ID: "job-7", Product: "p1", Payload: "line one\nline \"two\""}

	for _, created := range []bool{true, false} {
		fx.fake.mu.Lock()
		fx.fake.created = created
		fx.fake.mu.Unlock()

		job, gotCreated, err := fx.client.Submit(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if gotCreated != created {
			t.Errorf("created = %v, want %v (201 vs 200)", gotCreated, created)
		}
		if job.ID != req.ID || job.Payload != req.Payload || !job.ExpiresAt.Equal(t0) {
			t.Errorf("job = %+v", job)
		}
		if got := fx.fake.lastArg(); got != req {
			t.Errorf("service got %+v, want %+v", got, req)
		}
	}
}

func TestRoundTripClaim(t *testing.T) {
	fx := newFixture(t, ServerOptions{}, "")
	ctx := context.Background()
	g1 := coord.Grant{Job: fakeJob, Lease: fakeLease}
	g2 := g1
	g2.Job.ID, g2.Lease.JobID = "job-2", "job-2"

	tests := []struct {
		name   string
		grants []coord.Grant
		max    int
		want   int
	}{
		{"none queued is 204 and empty", nil, 0, 0},
		{"single form", []coord.Grant{g1, g2}, 0, 1},
		{"max 1 is the single form", []coord.Grant{g1, g2}, 1, 1},
		{"batch form", []coord.Grant{g1, g2}, 5, 2},
		{"batch with none queued", nil, 5, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx.fake.mu.Lock()
			fx.fake.grants = tc.grants
			fx.fake.mu.Unlock()
			req := coord.ClaimRequest{Factory: "mac-1", Product: "p1", Max: tc.max}

			got, err := fx.client.Claim(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || len(got) != tc.want {
				t.Fatalf("got %d grants (%v), want %d", len(got), got, tc.want)
			}
			if tc.want > 0 && !reflect.DeepEqual(got, tc.grants[:tc.want]) {
				t.Errorf("grants = %+v, want %+v", got, tc.grants[:tc.want])
			}
			if a := fx.fake.lastArg(); a != req {
				t.Errorf("service got %+v, want %+v", a, req)
			}
		})
	}
}

func TestRoundTripReports(t *testing.T) {
	fx := newFixture(t, ServerOptions{}, "")
	ctx := context.Background()
	rep := coord.Report{Job: "job-1", Factory: "mac-1", Epoch: 3}

	lease, err := fx.client.Renew(ctx, rep)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(lease, fakeLease) {
		t.Errorf("lease = %+v, want %+v (TTL must survive the wire)", lease, fakeLease)
	}
	if got := fx.fake.lastArg(); got != rep {
		t.Errorf("renew: service got %+v, want %+v", got, rep)
	}

	patch := rep
	patch.Stage = coord.StageDone
	job, err := fx.client.Patch(ctx, patch)
	if err != nil {
		t.Fatal(err)
	}
	if job.Stage != coord.StageDone || job.ID != "job-1" {
		t.Errorf("patch answer = %+v", job)
	}
	if got := fx.fake.lastArg(); got != patch {
		t.Errorf("patch: service got %+v, want %+v", got, patch)
	}

	job, err = fx.client.Release(ctx, rep)
	if err != nil {
		t.Fatal(err)
	}
	if job.Stage != coord.StageQueued || job.Epoch != 4 {
		t.Errorf("release answer = %+v", job)
	}
	if got := fx.fake.lastArg(); got != rep {
		t.Errorf("release: service got %+v, want %+v", got, rep)
	}
}

// A renew or release that carries a stage by mistake still works: the
// client sends only what those calls take.
func TestClientDropsStageOfRenew(t *testing.T) {
	fx := newFixture(t, ServerOptions{}, "")
	rep := coord.Report{Job: "job-1", Factory: "mac-1", Epoch: 3, Stage: coord.StageRunning}
	if _, err := fx.client.Renew(context.Background(), rep); err != nil {
		t.Fatal(err)
	}
	rep.Stage = ""
	if got := fx.fake.lastArg(); got != rep {
		t.Errorf("service got %+v, want %+v", got, rep)
	}
}

func TestRoundTripGetList(t *testing.T) {
	fx := newFixture(t, ServerOptions{}, "")
	ctx := context.Background()

	job, err := fx.client.Get(ctx, "job-9")
	if err != nil {
		t.Fatal(err)
	}
	want := fakeJob
	want.ID = "job-9"
	if !reflect.DeepEqual(job, want) {
		t.Errorf("get = %+v, want %+v", job, want)
	}

	filters := []coord.ListFilter{
		{},
		{Product: "p1", Stage: coord.StageVerifying, Holder: "ubuntu-1"},
	}
	for _, f := range filters {
		jobs, err := fx.client.List(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) != 2 || jobs[1].ID != "job-2" {
			t.Errorf("list = %+v", jobs)
		}
		if got := fx.fake.lastArg(); got != f {
			t.Errorf("service got filter %+v, want %+v", got, f)
		}
	}
}

func TestRoundTripEvents(t *testing.T) {
	fx := newFixture(t, ServerOptions{}, "")
	ctx := context.Background()
	fence := event(3, coord.EvFence)
	fence.Op, fence.Reason, fence.Epoch = "patch:done", coord.ReasonStaleEpoch, 1
	submit := event(1, coord.EvSubmit)
	submit.Payload, submit.Product = "needs \"quoting\"\n", "p1"
	sent := []coord.Event{submit, event(2, coord.EvClaim), fence}
	fx.fake.push(sent...)

	got, err := fx.client.Events(ctx, 0, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sent) {
		t.Errorf("events = %+v\nwant %+v", got, sent)
	}

	got, err = fx.client.Events(ctx, 1, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Seq != 2 {
		t.Errorf("after=1 limit=1: got %+v", got)
	}
	if a := fx.fake.lastArg(); a != (eventsCall{1, 1, 0}) {
		t.Errorf("service got %+v", a)
	}
}

func TestHealth(t *testing.T) {
	fx := newFixture(t, ServerOptions{}, "")
	if err := fx.client.Health(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := fx.fake.callCount(); n != 0 {
		t.Errorf("health called the service %d times", n)
	}
}

// The events route reads after, limit and wait, with the documented
// defaults and caps.
func TestEventsQueryParsing(t *testing.T) {
	fx := newFixture(t, ServerOptions{LongPollMax: 2 * time.Second}, "")
	fx.fake.push(event(100, coord.EvRenew)) // so that no poll has to wait
	tests := []struct {
		query string
		want  eventsCall
	}{
		{"", eventsCall{0, defaultEventLimit, 0}},
		{"after=7&limit=3&wait=1.5s", eventsCall{7, 3, 1500 * time.Millisecond}},
		{"wait=0.25", eventsCall{0, defaultEventLimit, 250 * time.Millisecond}},
		{"wait=1h", eventsCall{0, defaultEventLimit, 2 * time.Second}},
		{"limit=999999", eventsCall{0, maxEventLimit, 0}},
		{"after=18446744073709551615", eventsCall{1<<64 - 1, defaultEventLimit, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			resp, body := rawDo(t, fx, "GET", "/api/fleet/events?"+tc.query, "", nil)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if got := fx.fake.lastArg(); got != tc.want {
				t.Errorf("service got %+v, want %+v", got, tc.want)
			}
		})
	}
}
