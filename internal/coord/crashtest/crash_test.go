package crashtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/coord/api"
)

// acks records what the coordinator acknowledged to the clients: what a
// restarted coordinator must still know, however it was stopped.
type acks struct {
	mu        sync.Mutex
	submitted map[string]bool
	claims    map[string]claimAck // the newest acknowledged claim of each job
	done      map[string]claimAck // acknowledged done reports
	n         atomic.Int64        // acknowledged operations so far
	answered  []*api.StatusError  // calls the server answered with an error status
}

// claimAck is one acknowledged grant or done: who, at which epoch.
type claimAck struct {
	factory string
	epoch   uint64
}

func newAcks() *acks {
	return &acks{submitted: map[string]bool{}, claims: map[string]claimAck{},
		done: map[string]claimAck{}}
}

// failed notes a call's error and returns false, which ends the client. A
// connection error is what a dead or stopping server gives; an error status
// is kept for the test to judge.
func (a *acks) failed(err error) bool {
	var se *api.StatusError
	if errors.As(err, &se) {
		a.mu.Lock()
		a.answered = append(a.answered, se)
		a.mu.Unlock()
	}
	return false
}

func (a *acks) record(f func()) {
	a.mu.Lock()
	f()
	a.mu.Unlock()
	a.n.Add(1)
}

// hammer runs clients submit -> claim -> done loops against p until one of
// their calls fails (the coordinator died or stopped) or ctx ends. A call
// that fails is not acknowledged, so it may or may not have happened.
func hammer(ctx context.Context, p *coordProc, a *acks, round, clients int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for w := range clients {
		cl := p.client()
		factory := fmt.Sprintf("r%d-f%d", round, w)
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				id := fmt.Sprintf("r%d-w%d-%d", round, w, i)
				if !cycle(ctx, cl, a, factory, id, 1+i%3) {
					return
				}
			}
		})
	}
	return &wg
}

// cycle submits one job, claims up to max jobs (its own or others'), and
// reports done for all but the last grant, which it leaves held: the
// recovered state then has claimed jobs as well as done ones. It returns
// false at the first failed call.
func cycle(ctx context.Context, cl *api.Client, a *acks, factory, id string, max int) bool {
	if _, _, err := cl.Submit(ctx, coord.SubmitRequest{ID: id}); err != nil {
		return a.failed(err)
	}
	a.record(func() { a.submitted[id] = true })
	gs, err := cl.Claim(ctx, coord.ClaimRequest{Factory: factory, Max: max})
	if err != nil {
		return a.failed(err)
	}
	a.record(func() {
		for _, g := range gs {
			a.claims[g.Job.ID] = claimAck{factory, g.Lease.Epoch}
		}
	})
	for i, g := range gs {
		if i == len(gs)-1 && len(gs) > 1 {
			break
		}
		r := coord.Report{Job: g.Job.ID, Factory: factory, Epoch: g.Lease.Epoch,
			Stage: coord.StageDone}
		if _, err := cl.Patch(ctx, r); err != nil {
			return a.failed(err)
		}
		a.record(func() { a.done[g.Job.ID] = claimAck{factory, g.Lease.Epoch} })
	}
	return true
}

// verify compares the recovered state with every acknowledgement.
func (a *acks) verify(t *testing.T, jobs []coord.Job) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	byID := map[string]coord.Job{}
	for _, j := range jobs {
		byID[j.ID] = j
	}
	for id := range a.submitted {
		if _, ok := byID[id]; !ok {
			t.Errorf("acknowledged submit of %s lost", id)
		}
	}
	for id, d := range a.done {
		j := byID[id]
		if j.Stage != coord.StageDone || j.Holder != d.factory || j.Epoch != d.epoch {
			t.Errorf("acknowledged done of %s by %s@%d lost: recovered %s by %q@%d",
				id, d.factory, d.epoch, j.Stage, j.Holder, j.Epoch)
		}
	}
	for id, c := range a.claims {
		j := byID[id]
		held := j.Epoch == c.epoch && j.Holder == c.factory &&
			(j.Stage.Held() || j.Stage.Terminal())
		if !held && j.Epoch <= c.epoch {
			t.Errorf("acknowledged claim of %s by %s@%d lost: recovered %s by %q@%d",
				id, c.factory, c.epoch, j.Stage, j.Holder, j.Epoch)
		}
	}
}

// SIGKILL the coordinator while clients hammer it, at a different moment
// each round (after a few, a few hundred, more than a thousand
// acknowledged operations, with checkpoints running every 20ms so some
// kills land during one), and once with a torn half line appended as a
// crash mid-write leaves it. After every restart on the same directory each
// acknowledged operation of every round must be in GET /fleet/jobs, and
// the checker must pass over the whole events.log at the end.
func TestSIGKILLKeepsEveryAcknowledgedOperation(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--lease", "2", "--reap-interval", "0.05", "--checkpoint-interval", "0.02"}
	a := newAcks()
	killAfter := []int64{20, 400, 1500}
	for round, after := range killAfter {
		p := startCoord(t, dir, args...)
		if round > 0 {
			a.verify(t, list(t, p))
		}
		if round == 2 && !strings.Contains(p.stderr.String(), "torn line") {
			t.Errorf("torn last line not reported on restart:\n%s", p.stderr)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		target := a.n.Load() + after
		wg := hammer(ctx, p, a, round, 6)
		waitFor(t, func() bool { return a.n.Load() >= target }, "acknowledged operations")
		p.signal(syscall.SIGKILL)
		p.wait(10 * time.Second)
		wg.Wait()
		cancel()
		t.Logf("round %d: killed after %d acknowledged operations", round, a.n.Load())
		if round == 1 {
			appendTorn(t, dir)
		}
	}

	for _, se := range a.answered {
		if se.Code >= 500 {
			t.Errorf("a client was answered %v", se)
		}
	}
	p := startCoord(t, dir, args...)
	a.verify(t, list(t, p))
	p.signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Fatalf("coordinator exit %d:\n%s", code, p.stderr)
	}
	evs := checkLog(t, dir, false)
	t.Logf("%d events, %d submits, %d dones acknowledged", len(evs), len(a.submitted),
		len(a.done))
}

// appendTorn appends the first half of a plausible event line, with no
// newline: what a crash in the middle of a write leaves.
func appendTorn(t *testing.T, dir string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "events.log"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("seq=999999999 time=2026-01-01T00:00:00Z type=CLA"); err != nil {
		t.Fatal(err)
	}
}

func list(t *testing.T, p *coordProc) []coord.Job {
	t.Helper()
	jobs, err := p.client().List(deadlineCtx(t, 30*time.Second), coord.ListFilter{})
	if err != nil {
		t.Fatalf("list after restart: %v", err)
	}
	return jobs
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
