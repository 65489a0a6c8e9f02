package api

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// realFleet is the real coordinator on a temp dir, behind a Server on
// loopback, with a client and the coordinator's fake clock.
type realFleet struct {
	coord  *coord.Coordinator
	clock  *coord.FakeClock
	server *Server
	client *Client
	polls  chan struct{} // a value each time an events poll reaches the coordinator
}

// pollSignal is the real coordinator with a signal on each events poll, so
// a test can wait until a poll is in flight instead of guessing.
type pollSignal struct {
	coord.Service
	polls chan struct{}
}

func (p pollSignal) Events(ctx context.Context, after uint64, limit int,
	wait time.Duration) ([]coord.Event, error) {
	select {
	case p.polls <- struct{}{}:
	default:
	}
	return p.Service.Events(ctx, after, limit, wait)
}

func newRealFleet(t *testing.T) *realFleet {
	t.Helper()
	clock := coord.NewFakeClock(t0)
	c, err := coord.Open(t.TempDir(), coord.Options{Lease: time.Minute, Clock: clock,
		NoBackground: true})
	if err != nil {
		t.Fatal(err)
	}
	f := &realFleet{coord: c, clock: clock, polls: make(chan struct{}, 16)}
	f.server = NewServer(pollSignal{c, f.polls}, ServerOptions{Token: "tok",
		LongPollMax: time.Hour})
	addr, err := f.server.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if f.client, err = NewClient("http://"+addr.String()+"/api", "tok"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.client.Close()
		if err := f.server.Stop(context.Background()); err != nil {
			t.Error(err)
		}
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return f
}

// The reclaim-and-fence story of design section 4, over HTTP against the
// real coordinator: the zombie's late report is a 409 that says how stale
// it is, and the event stream read back through the client rebuilds the
// state the coordinator answers with.
func TestRealCoordinatorReclaimAndFence(t *testing.T) {
	f := newRealFleet(t)
	ctx := context.Background()
	c := f.client

	submitJobs(t, c)
	grants, err := c.Claim(ctx, coord.ClaimRequest{Factory: "mac-1"})
	if err != nil || len(grants) != 1 || grants[0].Job.ID != "j1" || grants[0].Lease.Epoch != 1 {
		t.Fatalf("mac-1 claim = %+v, %v", grants, err)
	}
	if grants[0].Lease.TTL != time.Minute {
		t.Errorf("lease TTL = %v, want 1m", grants[0].Lease.TTL)
	}
	zombie := coord.Report{Job: "j1", Factory: "mac-1", Epoch: 1}
	if _, err := c.Renew(ctx, zombie); err != nil {
		t.Fatal(err)
	}
	zombie.Stage = coord.StageRunning
	if _, err := c.Patch(ctx, zombie); err != nil {
		t.Fatal(err)
	}

	f.clock.Advance(2 * time.Minute) // mac-1 died: its lease runs out
	if n, err := f.coord.Reap(ctx); err != nil || n != 1 {
		t.Fatalf("reap = %d, %v; want 1", n, err)
	}
	grants, err = c.Claim(ctx, coord.ClaimRequest{Factory: "ubuntu-1", Max: 5})
	if err != nil || len(grants) != 2 || grants[0].Job.ID != "j1" || grants[0].Lease.Epoch != 2 {
		t.Fatalf("ubuntu-1 batch claim = %+v, %v", grants, err)
	}

	zombie.Stage = coord.StageDone
	_, err = c.Patch(ctx, zombie)
	var fe *coord.FenceError
	if !errors.As(err, &fe) || fe.Current != 2 || fe.Holder != "ubuntu-1" ||
		fe.Reason != coord.ReasonStaleEpoch {
		t.Fatalf("zombie patch = %v (%+v), want a fence at current epoch 2", err, fe)
	}
	checkStatusError(t, err, "patch", 409, coord.ErrFenced)

	finishSurvivor(t, c)
	checkEventsRebuildState(t, c)
}

func submitJobs(t *testing.T, c *Client) {
	t.Helper()
	ctx := context.Background()
	for _, id := range []string{"j1", "j2"} {
		if _, created, err := c.Submit(ctx, coord.SubmitRequest{ID: id}); err != nil || !created {
			t.Fatalf("submit %s: created=%v err=%v", id, created, err)
		}
	}
	if _, created, err := c.Submit(ctx, coord.SubmitRequest{ID: "j1"}); err != nil || created {
		t.Errorf("same submit again: created=%v err=%v, want 200", created, err)
	}
	_, _, err := c.Submit(ctx, coord.SubmitRequest{ID: "j1", Payload: "other"})
	checkStatusError(t, err, "submit", 409, coord.ErrConflict)
	if errors.Is(err, coord.ErrFenced) {
		t.Error("a submit conflict reads as a fence")
	}
}

func finishSurvivor(t *testing.T, c *Client) {
	t.Helper()
	ctx := context.Background()
	for _, st := range []coord.Stage{coord.StageRunning, coord.StageDone} {
		r := coord.Report{Job: "j1", Factory: "ubuntu-1", Epoch: 2, Stage: st}
		if _, err := c.Patch(ctx, r); err != nil {
			t.Fatalf("survivor patch %s: %v", st, err)
		}
	}
	j2, err := c.Release(ctx, coord.Report{Job: "j2", Factory: "ubuntu-1", Epoch: 1})
	if err != nil || j2.Stage != coord.StageQueued || j2.Epoch != 2 {
		t.Fatalf("release j2 = %+v, %v", j2, err)
	}
	if _, err := c.Renew(ctx, coord.Report{Job: "j1", Factory: "ubuntu-1", Epoch: 2}); !errors.Is(
		err, coord.ErrFenced) {
		t.Errorf("renew of a done job = %v, want fenced", err)
	}
	if _, err := c.Get(ctx, "nope"); !errors.Is(err, coord.ErrNotFound) {
		t.Errorf("get of a missing job = %v, want ErrNotFound", err)
	}
	done, err := c.List(ctx, coord.ListFilter{Stage: coord.StageDone})
	if err != nil || len(done) != 1 || done[0].ID != "j1" {
		t.Errorf("list done = %+v, %v", done, err)
	}
}

// checkEventsRebuildState folds the events read over HTTP with the
// project's one reducer and compares the result with the jobs the
// coordinator reports.
func checkEventsRebuildState(t *testing.T, c *Client) {
	t.Helper()
	ctx := context.Background()
	evs, err := c.Events(ctx, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	st := coord.NewState()
	zombieFenced := false
	for _, e := range evs {
		if err := st.Apply(e); err != nil {
			t.Fatalf("apply %s: %v", coord.FormatLine(e), err)
		}
		if e.Type == coord.EvFence && e.Factory == "mac-1" && e.Epoch == 1 {
			zombieFenced = true
		}
	}
	if !zombieFenced {
		t.Error("no FENCE event for mac-1's patch at epoch 1")
	}
	jobs, err := c.List(ctx, coord.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		got := st.Jobs[j.ID]
		if got == nil || got.JobState != j.JobState {
			t.Errorf("job %s: events rebuild %+v, coordinator says %+v", j.ID, got, j.JobState)
		}
	}
}

// A long poll on the real coordinator wakes on the next event, and Stop
// ends a waiting one at once.
func TestRealCoordinatorLongPoll(t *testing.T) {
	f := newRealFleet(t)
	ctx := context.Background()
	if _, _, err := f.client.Submit(ctx, coord.SubmitRequest{ID: "j1"}); err != nil {
		t.Fatal(err)
	}

	done := pollAsync(f.client, 1, time.Hour)
	recv(t, f.polls, "the poll to reach the coordinator")
	if _, _, err := f.client.Submit(ctx, coord.SubmitRequest{ID: "j2"}); err != nil {
		t.Fatal(err)
	}
	res := recv(t, done, "the poll to wake")
	if res.err != nil || len(res.evs) != 1 || res.evs[0].Job != "j2" {
		t.Fatalf("poll = %+v, %v; want j2's SUBMIT", res.evs, res.err)
	}

	done = pollAsync(f.client, 2, time.Hour)
	recv(t, f.polls, "the second poll to reach the coordinator")
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := f.server.Stop(stopCtx); err != nil {
		t.Fatalf("Stop with a poll waiting: %v", err)
	}
	if res := recv(t, done, "the drained poll"); res.err != nil || len(res.evs) != 0 {
		t.Errorf("drained poll = %+v, %v; want empty", res.evs, res.err)
	}
}

// A coordinator that closes under a waiting poll answers 503, which the
// client reads back as ErrUnavailable.
func TestRealCoordinatorClosing(t *testing.T) {
	f := newRealFleet(t)
	done := pollAsync(f.client, 0, time.Hour)
	recv(t, f.polls, "the poll to reach the coordinator")
	if err := f.coord.Close(); err != nil {
		t.Fatal(err)
	}
	res := recv(t, done, "the poll to end")
	checkStatusError(t, res.err, "events", 503, coord.ErrUnavailable)
}
