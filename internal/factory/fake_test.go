package factory

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

	"github.com/twofactory/twofactory/internal/coord"
)

// fakeCoord is an in-memory coord.Service with the contract's fencing
// rules and hooks to inject failures. It records every call so tests can
// assert on what the factory sent.
type fakeCoord struct {
	mu    sync.Mutex
	ttl   time.Duration
	jobs  map[string]*coord.Job
	order []string

	claims   []time.Time
	renews   []renewRec
	patches  []patchRec
	releases []coord.Report

	// Hooks, called without the lock held. A non-nil error from a before
	// hook refuses the call with that error and changes nothing; an after
	// hook runs once the call was applied and may replace its answer with an
	// error (a lost reply).
	beforeClaim func(n int) error
	beforeRenew func(n int, r coord.Report) error
	beforePatch func(r coord.Report) error
	afterPatch  func(r coord.Report) error
}

type renewRec struct {
	at  time.Time
	r   coord.Report
	err error
}

type patchRec struct {
	r   coord.Report
	err error
}

func newFake(ttl time.Duration, ids ...string) *fakeCoord {
	f := &fakeCoord{ttl: ttl, jobs: map[string]*coord.Job{}}
	for _, id := range ids {
		f.add(id, "payload of "+id)
	}
	return f
}

func (f *fakeCoord) add(id, payload string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jobs[id] = &coord.Job{ID: id, Payload: payload,
		JobState: coord.JobState{Stage: coord.StageQueued, Epoch: 1}}
	f.order = append(f.order, id)
}

// reassign simulates the reaper reclaiming the job and another factory
// claiming it at once: epoch + 1, held by holder.
func (f *fakeCoord) reassign(id, holder string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.jobs[id]
	j.Epoch++
	j.Stage, j.Holder = coord.StageClaimed, holder
	j.ExpiresAt = time.Now().Add(f.ttl)
}

// claimFor claims the oldest queued job for factory, as a daemon would.
func (f *fakeCoord) claimFor(t *testing.T, factory string) {
	t.Helper()
	if _, err := f.Claim(context.Background(), coord.ClaimRequest{Factory: factory}); err != nil {
		t.Fatal(err)
	}
}

func (f *fakeCoord) job(id string) coord.Job {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.jobs[id]
}

func (f *fakeCoord) Submit(ctx context.Context, r coord.SubmitRequest) (coord.Job, bool, error) {
	f.add(r.ID, r.Payload)
	return f.job(r.ID), true, nil
}

func (f *fakeCoord) Claim(ctx context.Context, r coord.ClaimRequest) ([]coord.Grant, error) {
	f.mu.Lock()
	f.claims = append(f.claims, time.Now())
	n := len(f.claims)
	f.mu.Unlock()
	if f.beforeClaim != nil {
		if err := f.beforeClaim(n); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range f.order {
		j := f.jobs[id]
		if j.Stage != coord.StageQueued {
			continue
		}
		j.Stage, j.Holder = coord.StageClaimed, r.Factory
		j.ExpiresAt = time.Now().Add(f.ttl)
		return []coord.Grant{{Job: *j, Lease: f.leaseOf(j)}}, nil
	}
	return nil, nil
}

func (f *fakeCoord) leaseOf(j *coord.Job) coord.Lease {
	return coord.Lease{JobID: j.ID, Factory: j.Holder, Epoch: j.Epoch,
		ExpiresAt: j.ExpiresAt, TTL: f.ttl}
}

// admit applies the contract's check: epoch first, then held, then holder.
func (f *fakeCoord) admit(r coord.Report, op string) (*coord.Job, error) {
	j := f.jobs[r.Job]
	if j == nil {
		return nil, fmt.Errorf("%w: job %s", coord.ErrNotFound, r.Job)
	}
	reason := coord.FenceReason("")
	switch {
	case r.Epoch != j.Epoch:
		reason = coord.ReasonStaleEpoch
	case !j.Stage.Held():
		reason = coord.ReasonNotHeld
	case j.Holder != r.Factory:
		reason = coord.ReasonWrongHolder
	}
	if reason != "" {
		return nil, &coord.FenceError{Job: j.ID, Factory: r.Factory, Epoch: r.Epoch,
			Current: j.Epoch, Holder: j.Holder, Reason: reason, Op: op}
	}
	return j, nil
}

func (f *fakeCoord) Renew(ctx context.Context, r coord.Report) (coord.Lease, error) {
	f.mu.Lock()
	n := len(f.renews) + 1
	f.mu.Unlock()
	var err error
	if f.beforeRenew != nil {
		err = f.beforeRenew(n, r)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var l coord.Lease
	if err == nil {
		var j *coord.Job
		if j, err = f.admit(r, "renew"); err == nil {
			j.ExpiresAt = time.Now().Add(f.ttl)
			l = f.leaseOf(j)
		}
	}
	f.renews = append(f.renews, renewRec{at: time.Now(), r: r, err: err})
	return l, err
}

func (f *fakeCoord) Patch(ctx context.Context, r coord.Report) (coord.Job, error) {
	if f.beforePatch != nil {
		if err := f.beforePatch(r); err != nil {
			f.mu.Lock()
			f.patches = append(f.patches, patchRec{r: r, err: err})
			f.mu.Unlock()
			return coord.Job{}, err
		}
	}
	j, err := f.patch(r)
	if err == nil && f.afterPatch != nil {
		err = f.afterPatch(r)
	}
	return j, err
}

func (f *fakeCoord) patch(r coord.Report) (coord.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if j := f.jobs[r.Job]; j != nil && j.Stage.Terminal() && j.Stage == r.Stage &&
		j.Holder == r.Factory && j.Epoch == r.Epoch {
		f.patches = append(f.patches, patchRec{r: r})
		return *j, nil // a repeat of an accepted final report
	}
	j, err := f.admit(r, "patch:"+string(r.Stage))
	f.patches = append(f.patches, patchRec{r: r, err: err})
	if err != nil {
		return coord.Job{}, err
	}
	j.Stage = r.Stage
	if r.Stage.Terminal() {
		j.ExpiresAt = time.Time{}
	}
	return *j, nil
}

func (f *fakeCoord) Release(ctx context.Context, r coord.Report) (coord.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.admit(r, "release")
	if err != nil {
		return coord.Job{}, err
	}
	f.releases = append(f.releases, r)
	j.Stage, j.Holder, j.ExpiresAt = coord.StageQueued, "", time.Time{}
	j.Epoch++
	return *j, nil
}

func (f *fakeCoord) Get(ctx context.Context, id string) (coord.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.jobs[id]
	if j == nil {
		return coord.Job{}, coord.ErrNotFound
	}
	return *j, nil
}

func (f *fakeCoord) List(ctx context.Context, lf coord.ListFilter) ([]coord.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []coord.Job
	for _, id := range f.order {
		out = append(out, *f.jobs[id])
	}
	return out, nil
}

func (f *fakeCoord) Events(ctx context.Context, after uint64, limit int,
	wait time.Duration) ([]coord.Event, error) {
	return nil, errors.New("fake: no events")
}

// okRenews returns the times of the accepted renews.
func (f *fakeCoord) okRenews() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []time.Time
	for _, r := range f.renews {
		if r.err == nil {
			out = append(out, r.at)
		}
	}
	return out
}

func (f *fakeCoord) failedRenews() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.renews {
		if r.err != nil {
			n++
		}
	}
	return n
}

// patched counts patches to stage at epoch; ok selects accepted or refused.
func (f *fakeCoord) patched(stage coord.Stage, epoch uint64, ok bool) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, p := range f.patches {
		if p.r.Stage == stage && p.r.Epoch == epoch && (p.err == nil) == ok {
			n++
		}
	}
	return n
}

func (f *fakeCoord) claimTimes() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.claims...)
}

func (f *fakeCoord) releasesOf() []coord.Report {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]coord.Report(nil), f.releases...)
}

// waitUntil polls cond until it holds, failing the test at the deadline. The
// deadline is generous because the machine is shared; a passing test never
// waits for it.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}

// logLines returns the lines of the job log that have event and contain
// every one of the fields (as "k=v").
func logLines(t *testing.T, path, event string, fields ...string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return nil // not written yet
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		parts := strings.Fields(l)
		if len(parts) < 2 || parts[1] != event {
			continue
		}
		ok := true
		for _, f := range fields {
			ok = ok && strings.Contains(" "+l+" ", " "+f+" ")
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// dumpOnFailure logs the files of a work dir when the test fails, which is
// where a multi-process test's story is.
func dumpOnFailure(t *testing.T, dir string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		matches, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
		matches = append(matches, filepath.Join(dir, ExecutorOutName))
		for _, m := range matches {
			if b, err := os.ReadFile(m); err == nil {
				t.Logf("--- %s\n%s", m, b)
			}
		}
	})
}
