package coord

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var ctx = context.Background()

// open starts a coordinator on dir with a fake clock and no background
// loops, so that the test decides when time passes and when the reaper runs.
func open(t *testing.T, dir string, clk *FakeClock, bug Bug) *Coordinator {
	t.Helper()
	c, err := Open(dir, Options{Lease: 10 * time.Second, Clock: clk, NoBackground: true, Bug: bug})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newClock() *FakeClock { return NewFakeClock(time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)) }

func mustSubmit(t *testing.T, c *Coordinator, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if _, created, err := c.Submit(ctx, SubmitRequest{ID: id}); err != nil || !created {
			t.Fatalf("submit %s: created=%v err=%v", id, created, err)
		}
	}
}

func mustClaim(t *testing.T, c *Coordinator, factory string) Grant {
	t.Helper()
	g, err := c.Claim(ctx, ClaimRequest{Factory: factory})
	if err != nil || len(g) != 1 {
		t.Fatalf("claim by %s: %v %v", factory, g, err)
	}
	return g[0]
}

func events(t *testing.T, c *Coordinator) []Event {
	t.Helper()
	evs, err := c.Events(ctx, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func labels(evs []Event) string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Label())
	}
	return strings.Join(s, " ")
}

func TestLifecycleAndFencing(t *testing.T) {
	clk := newClock()
	c := open(t, t.TempDir(), clk, BugNone)
	mustSubmit(t, c, "j1", "j2")

	g := mustClaim(t, c, "mac-1")
	if g.Job.ID != "j1" || g.Lease.Epoch != 1 || g.Lease.TTL != 10*time.Second {
		t.Fatalf("first claim = %+v, want j1 at epoch 1 with a 10s lease", g)
	}
	rep := Report{Job: "j1", Factory: "mac-1", Epoch: 1}
	if _, err := c.Renew(ctx, rep); err != nil {
		t.Fatalf("renew by holder: %v", err)
	}

	cases := []struct {
		name   string
		r      Report
		reason FenceReason
	}{
		{"stale epoch", Report{Job: "j1", Factory: "mac-1", Epoch: 7, Stage: StageRunning},
			ReasonStaleEpoch},
		{"wrong holder", Report{Job: "j1", Factory: "ubuntu-1", Epoch: 1, Stage: StageRunning},
			ReasonWrongHolder},
		{"not held", Report{Job: "j2", Factory: "mac-1", Epoch: 1, Stage: StageRunning},
			ReasonNotHeld},
	}
	for _, tc := range cases {
		_, err := c.Patch(ctx, tc.r)
		var fe *FenceError
		if !errors.As(err, &fe) || !errors.Is(err, ErrFenced) || fe.Reason != tc.reason {
			t.Errorf("%s: err = %v, want a fence for %s", tc.name, err, tc.reason)
		}
	}
	if j, _ := c.Get(ctx, "j1"); j.Stage != StageClaimed || j.Holder != "mac-1" {
		t.Fatalf("fenced calls changed the job: %+v", j)
	}

	rep.Stage = StageRunning
	if _, err := c.Patch(ctx, rep); err != nil {
		t.Fatal(err)
	}
	rep.Stage = StageDone
	if _, err := c.Patch(ctx, rep); err != nil {
		t.Fatal(err)
	}
	// A repeat of the accepted done (its answer lost) is answered again,
	// and logs nothing.
	before := len(events(t, c))
	if _, err := c.Patch(ctx, rep); err != nil {
		t.Fatalf("repeat of accepted done: %v", err)
	}
	if after := len(events(t, c)); after != before {
		t.Fatalf("repeat logged %d events", after-before)
	}
	want := "SUBMIT SUBMIT CLAIM RENEW FENCE FENCE FENCE PATCH:running PATCH:done"
	if got := labels(events(t, c)); got != want {
		t.Fatalf("events = %s\nwant %s", got, want)
	}
	if v := Check(events(t, c), false); len(v) != 0 {
		t.Fatalf("checker: %v", v)
	}
}

func TestBadRequests(t *testing.T) {
	c := open(t, t.TempDir(), newClock(), BugNone)
	mustSubmit(t, c, "j1")
	mustClaim(t, c, "f1")
	for name, err := range map[string]error{
		"escaping id": first(c.Submit(ctx, SubmitRequest{ID: "../x"})),
		"empty id":    first(c.Submit(ctx, SubmitRequest{ID: ""})),
		"huge payload": first(c.Submit(ctx, SubmitRequest{ID: "p",
			Payload: strings.Repeat("x", 17<<10)})),
		"unknown stage": second(c.Patch(ctx, Report{Job: "j1", Factory: "f1", Epoch: 1,
			Stage: "shipping"})),
		"patch to queued": second(c.Patch(ctx, Report{Job: "j1", Factory: "f1", Epoch: 1,
			Stage: StageQueued})),
		"zero epoch":  second(c.Renew(ctx, Report{Job: "j1", Factory: "f1"})),
		"bad factory": second(c.Renew(ctx, Report{Job: "j1", Factory: "a b", Epoch: 1})),
	} {
		if !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: err = %v, want ErrBadRequest", name, err)
		}
	}
	if _, err := c.Renew(ctx, Report{Job: "nope", Factory: "f1", Epoch: 1}); !errors.Is(err,
		ErrNotFound) {
		t.Errorf("unknown job: %v", err)
	}
	if _, _, err := c.Submit(ctx, SubmitRequest{ID: "j1", Payload: "other"}); !errors.Is(err,
		ErrConflict) {
		t.Errorf("same id, other body: %v", err)
	}
	if _, created, err := c.Submit(ctx, SubmitRequest{ID: "j1"}); err != nil || created {
		t.Errorf("same id, same body: created=%v err=%v", created, err)
	}
	if _, err := os.Stat(filepath.Join(c.Dir(), "..", "x.job")); err == nil {
		t.Errorf("an id escaped the data directory")
	}
}

func first[A, B any](a A, _ B, err error) error { return err }
func second[A any](_ A, err error) error        { return err }

func TestReapReclaimAndZombieFence(t *testing.T) {
	clk := newClock()
	c := open(t, t.TempDir(), clk, BugNone)
	mustSubmit(t, c, "j1")
	mustClaim(t, c, "mac-1")

	clk.Advance(9 * time.Second)
	if n, _ := c.Reap(ctx); n != 0 {
		t.Fatalf("reaped a live lease")
	}
	clk.Advance(time.Second)
	if n, _ := c.Reap(ctx); n != 1 {
		t.Fatalf("reaped %d, want 1", n)
	}
	if n, _ := c.Reap(ctx); n != 0 {
		t.Fatalf("second reap acted again: %d", n)
	}
	g := mustClaim(t, c, "ubuntu-1")
	if g.Lease.Epoch != 2 {
		t.Fatalf("reclaimed job granted at epoch %d, want 2", g.Lease.Epoch)
	}
	_, err := c.Patch(ctx, Report{Job: "j1", Factory: "mac-1", Epoch: 1, Stage: StageDone})
	var fe *FenceError
	if !errors.As(err, &fe) || fe.Current != 2 || fe.Holder != "ubuntu-1" {
		t.Fatalf("zombie done: %v, want fence naming epoch 2 and ubuntu-1", err)
	}
	if _, err := c.Patch(ctx, Report{Job: "j1", Factory: "ubuntu-1", Epoch: 2,
		Stage: StageDone}); err != nil {
		t.Fatal(err)
	}
	if v := Check(events(t, c), true); len(v) != 0 {
		t.Fatalf("checker: %v", v)
	}
}

// A renew that lands before the reaper keeps the job; a done that lands
// first keeps it done; a release at expiry and the reaper act once between
// them (C4).
func TestReaperRaces(t *testing.T) {
	for _, tc := range []struct {
		name     string
		first    func(c *Coordinator) error
		stage    Stage
		epoch    uint64
		reclaims int
	}{
		{"renew first", func(c *Coordinator) error {
			_, err := c.Renew(ctx, Report{Job: "j1", Factory: "f1", Epoch: 1})
			return err
		}, StageClaimed, 1, 0},
		{"done first", func(c *Coordinator) error {
			_, err := c.Patch(ctx, Report{Job: "j1", Factory: "f1", Epoch: 1, Stage: StageDone})
			return err
		}, StageDone, 1, 0},
		{"release at expiry", func(c *Coordinator) error {
			_, err := c.Release(ctx, Report{Job: "j1", Factory: "f1", Epoch: 1})
			return err
		}, StageQueued, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			c := open(t, t.TempDir(), clk, BugNone)
			mustSubmit(t, c, "j1")
			mustClaim(t, c, "f1")
			clk.Advance(9999 * time.Millisecond)
			if tc.reclaims == 1 {
				clk.Advance(time.Millisecond) // exactly at expiry
			}
			err := tc.first(c)
			if tc.reclaims == 0 && err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Second)
			if _, err := c.Reap(ctx); err != nil {
				t.Fatal(err)
			}
			j, _ := c.Get(ctx, "j1")
			if tc.stage == StageClaimed {
				// Renewed before expiry: still held at the same epoch.
				if j.Stage != StageClaimed || j.Epoch != 1 {
					t.Fatalf("job = %+v", j)
				}
				return
			}
			if j.Stage != tc.stage || j.Epoch != tc.epoch {
				t.Fatalf("job = %s@%d, want %s@%d", j.Stage, j.Epoch, tc.stage, tc.epoch)
			}
			n := strings.Count(labels(events(t, c)), "RECLAIM") +
				strings.Count(labels(events(t, c)), "RELEASE")
			if n != tc.reclaims {
				t.Fatalf("%d requeues, want %d: %s", n, tc.reclaims, labels(events(t, c)))
			}
		})
	}
}

func TestConcurrentClaimsGrantEachVersionOnce(t *testing.T) {
	c := open(t, t.TempDir(), newClock(), BugNone)
	const jobs, claimers = 200, 8
	for i := range jobs {
		mustSubmit(t, c, fmt.Sprintf("j%03d", i))
	}
	var mu sync.Mutex
	got := map[string]string{}
	var wg sync.WaitGroup
	for w := range claimers {
		wg.Go(func() {
			f := fmt.Sprintf("f%d", w)
			for {
				gs, err := c.Claim(ctx, ClaimRequest{Factory: f, Max: 3})
				if err != nil || len(gs) == 0 {
					return
				}
				mu.Lock()
				for _, g := range gs {
					if prev, dup := got[g.Job.ID]; dup {
						t.Errorf("job %s granted to %s and %s", g.Job.ID, prev, f)
					}
					got[g.Job.ID] = f
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(got) != jobs {
		t.Fatalf("%d jobs granted, want %d", len(got), jobs)
	}
	if v := Check(events(t, c), false); len(v) != 0 {
		t.Fatalf("checker: %v", v)
	}
}

func TestInjectedBugsAreCaught(t *testing.T) {
	for _, tc := range []struct {
		bug  Bug
		want ViolationKind
	}{{BugDoubleClaim, VDoubleGrant}, {BugNoFence, VStaleAccepted}} {
		t.Run(string(tc.bug), func(t *testing.T) {
			clk := newClock()
			c := open(t, t.TempDir(), clk, tc.bug)
			mustSubmit(t, c, "j1", "j2")
			a := mustClaim(t, c, "mac-1")
			b := mustClaim(t, c, "ubuntu-1")
			if tc.bug == BugDoubleClaim && a.Job.ID != b.Job.ID {
				t.Fatalf("double-claim bug granted %s and %s", a.Job.ID, b.Job.ID)
			}
			clk.Advance(11 * time.Second)
			c.Reap(ctx)
			c.Patch(ctx, Report{Job: a.Job.ID, Factory: "mac-1", Epoch: 1, Stage: StageDone})
			kinds := map[ViolationKind]bool{}
			for _, v := range Check(events(t, c), false) {
				kinds[v.Kind] = true
			}
			if !kinds[tc.want] {
				t.Fatalf("checker missed %s: found %v", tc.want, kinds)
			}
		})
	}
}

func TestSecondCoordinatorIsRefused(t *testing.T) {
	dir := t.TempDir()
	open(t, dir, newClock(), BugNone)
	_, err := Open(dir, Options{NoBackground: true})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) {
		t.Fatalf("second Open: %v, want ErrLocked naming pid %d", err, os.Getpid())
	}
}

func TestRecoveryFromLogAndCheckpoint(t *testing.T) {
	for _, ckpt := range []bool{false, true} {
		t.Run(fmt.Sprintf("checkpoint=%v", ckpt), func(t *testing.T) {
			dir, clk := t.TempDir(), newClock()
			c := open(t, dir, clk, BugNone)
			mustSubmit(t, c, "j1", "j2", "j3")
			mustClaim(t, c, "f1")
			if ckpt {
				if err := c.Checkpoint(); err != nil {
					t.Fatal(err)
				}
			}
			g := mustClaim(t, c, "f2")
			c.Patch(ctx, Report{Job: g.Job.ID, Factory: "f2", Epoch: 1, Stage: StageDone})
			want, _ := c.List(ctx, ListFilter{})
			// Simulate a crash: drop the lock and the file without Close.
			c.wal.close()
			c.lock.unlock()
			if !ckpt {
				os.Remove(filepath.Join(dir, "checkpoint"))
			}

			c2 := open(t, dir, clk, BugNone)
			if rec := c2.Recovery(); rec.FromCheckpoint != ckpt {
				t.Fatalf("recovery = %+v, want FromCheckpoint=%v", rec, ckpt)
			}
			got, _ := c2.List(ctx, ListFilter{})
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("recovered\n%v\nwant\n%v", got, want)
			}
			if g := mustClaim(t, c2, "f3"); g.Job.ID != "j3" {
				t.Fatalf("after recovery claimed %s, want j3", g.Job.ID)
			}
		})
	}
}

func TestTornTailIsCutAndCorruptionRefused(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, newClock(), BugNone)
	mustSubmit(t, c, "j1", "j2")
	c.Close()
	path := filepath.Join(dir, "events.log")
	os.Remove(filepath.Join(dir, "checkpoint"))
	good, _ := os.ReadFile(path)

	os.WriteFile(path, append(append([]byte{}, good...), "3 2026-12-04T10:00:0"...), 0o644)
	c2 := open(t, dir, newClock(), BugNone)
	if rec := c2.Recovery(); rec.TornBytes != 20 || len(c2.state.Jobs) != 2 {
		t.Fatalf("recovery = %+v with %d jobs", rec, len(c2.state.Jobs))
	}
	c2.Close()
	// c2 checkpointed the jobs it replayed; without the checkpoint the next
	// Open replays from line 1 and so meets the damage.
	os.Remove(filepath.Join(dir, "checkpoint"))

	bad := append([]byte{}, good...)
	bad[10] ^= 1 // damage the first line, keep the second
	os.WriteFile(path, bad, 0o644)
	if _, err := Open(dir, Options{NoBackground: true}); !errors.Is(err, ErrCorruptLog) {
		t.Fatalf("open on damaged log: %v, want ErrCorruptLog", err)
	}
}

func TestEventsLongPoll(t *testing.T) {
	c := open(t, t.TempDir(), newClock(), BugNone)
	got := make(chan []Event, 1)
	go func() {
		evs, _ := c.Events(ctx, 0, 10, time.Minute)
		got <- evs
	}()
	mustSubmit(t, c, "j1")
	select {
	case evs := <-got:
		if len(evs) != 1 || evs[0].Type != EvSubmit {
			t.Fatalf("long poll got %v", evs)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long poll did not return on a new event")
	}
}

// A patch between the claim and the expiry must not give the reaper a
// second copy of the lease to act on: one expiry, one RECLAIM, epoch + 1.
func TestPatchedLeaseIsReclaimedOnce(t *testing.T) {
	clk := newClock()
	c := open(t, t.TempDir(), clk, BugNone)
	mustSubmit(t, c, "j1")
	mustClaim(t, c, "f1")
	for _, st := range []Stage{StageRunning, StageVerifying} {
		if _, err := c.Patch(ctx, Report{Job: "j1", Factory: "f1", Epoch: 1, Stage: st}); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(11 * time.Second)
	if n, err := c.Reap(ctx); n != 1 || err != nil {
		t.Fatalf("reaped %d (%v), want 1", n, err)
	}
	if j, _ := c.Get(ctx, "j1"); j.Stage != StageQueued || j.Epoch != 2 {
		t.Fatalf("job = %s@%d, want queued@2", j.Stage, j.Epoch)
	}
	if v := Check(events(t, c), false); len(v) != 0 {
		t.Fatalf("checker: %v", v)
	}
}

// When recovery has to trust the log alone, a checkpoint of a job the log
// does not hold (the log was replaced) must not resurrect that job later.
func TestFullReplayDropsStaleJobFiles(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, newClock(), BugNone)
	mustSubmit(t, c, "old")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// Replace the log with one that never had "old", and lose the mark.
	os.Remove(filepath.Join(dir, "checkpoint"))
	line := AppendLine(nil, Event{Seq: 1, Time: newClock().Now(), Type: EvSubmit, Job: "new",
		After: JobState{Stage: StageQueued, Epoch: 1}})
	if err := os.WriteFile(filepath.Join(dir, "events.log"), line, 0o644); err != nil {
		t.Fatal(err)
	}
	c2 := open(t, dir, newClock(), BugNone)
	if err := c2.Close(); err != nil { // writes a checkpoint of what it holds
		t.Fatal(err)
	}
	c3 := open(t, dir, newClock(), BugNone)
	jobs, _ := c3.List(ctx, ListFilter{})
	if len(jobs) != 1 || jobs[0].ID != "new" {
		t.Fatalf("jobs after restart = %v, want only \"new\"", jobs)
	}
}

// A job held when the coordinator stopped must still be reclaimed by the
// restarted coordinator's reaper when its lease runs out, whether the
// restart replays from a checkpoint or from line 1: guarantee (b) holds
// across restarts.
func TestHeldLeaseIsReclaimedAfterRestart(t *testing.T) {
	for _, ckpt := range []bool{true, false} {
		t.Run(fmt.Sprintf("checkpoint=%v", ckpt), func(t *testing.T) {
			dir, clk := t.TempDir(), newClock()
			c := open(t, dir, clk, BugNone)
			mustSubmit(t, c, "j1")
			mustClaim(t, c, "f1")
			if _, err := c.Patch(ctx, Report{Job: "j1", Factory: "f1", Epoch: 1,
				Stage: StageRunning}); err != nil {
				t.Fatal(err)
			}
			if err := c.Close(); err != nil { // writes the checkpoint
				t.Fatal(err)
			}
			if !ckpt {
				os.Remove(filepath.Join(dir, "checkpoint"))
			}
			c2 := open(t, dir, clk, BugNone)
			if rec := c2.Recovery(); rec.FromCheckpoint != ckpt {
				t.Fatalf("recovery = %+v", rec)
			}
			clk.Advance(11 * time.Second)
			if n, err := c2.Reap(ctx); n != 1 || err != nil {
				t.Fatalf("reaped %d (%v) after restart, want 1", n, err)
			}
			if g := mustClaim(t, c2, "f2"); g.Lease.Epoch != 2 {
				t.Fatalf("reclaimed job granted at epoch %d, want 2", g.Lease.Epoch)
			}
		})
	}
}

// The double-claim bug must grant the job twice even when its first holder
// has already moved it on to running: the demo relies on it failing.
func TestDoubleClaimBugWhileRunning(t *testing.T) {
	c := open(t, t.TempDir(), newClock(), BugDoubleClaim)
	mustSubmit(t, c, "j1", "j2")
	a := mustClaim(t, c, "mac-1")
	if _, err := c.Patch(ctx, Report{Job: a.Job.ID, Factory: "mac-1", Epoch: 1,
		Stage: StageRunning}); err != nil {
		t.Fatal(err)
	}
	if b := mustClaim(t, c, "ubuntu-1"); b.Job.ID != a.Job.ID || b.Lease.Epoch != 1 {
		t.Fatalf("second claim got %s@%d, want %s@1 again", b.Job.ID, b.Lease.Epoch, a.Job.ID)
	}
}
