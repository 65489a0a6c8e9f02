package api

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/twofactory/twofactory/internal/coord"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// t0 is the fake's time: whole nanoseconds in UTC, as events.log keeps them.
var t0 = time.Date(2025, 3, 4, 5, 6, 7, 891011121, time.UTC)

// eventsCall is what the fake's Events was asked.
type eventsCall struct {
	after uint64
	limit int
	wait  time.Duration
}

// fakeService is a coord.Service with canned answers. It records every
// call it gets (so a test can prove that bad input never reached it),
// answers fail when that is set, can hold a call at its entry until the
// test lets it go, and serves a real long poll over events the test pushes.
type fakeService struct {
	mu      sync.Mutex
	calls   []string
	args    []any
	fail    error
	created bool
	grants  []coord.Grant
	events  []coord.Event
	grew    chan struct{} // closed and replaced by push

	// waiting gets a value each time Events starts to wait.
	waiting chan struct{}
	// hold, for an op name, makes that op signal entered and then wait
	// until the channel is closed.
	hold    map[string]chan struct{}
	entered chan string
}

func newFake() *fakeService {
	return &fakeService{
		created: true,
		grew:    make(chan struct{}),
		waiting: make(chan struct{}, 64),
		hold:    map[string]chan struct{}{},
		entered: make(chan string, 64),
	}
}

var fakeJob = coord.Job{
	ID: "job-1", Product: "p1", Payload: "hello",
	JobState:  coord.JobState{Stage: coord.StageRunning, Holder: "mac-1", Epoch: 3, ExpiresAt: t0},
	SubmitSeq: 1, Seq: 9,
}

var fakeLease = coord.Lease{JobID: "job-1", Factory: "mac-1", Epoch: 3, ExpiresAt: t0,
	TTL: 1500 * time.Millisecond}

// enter records a call and returns the fake's failure, after any hold.
func (f *fakeService) enter(op string, arg any) error {
	f.mu.Lock()
	f.calls = append(f.calls, op)
	f.args = append(f.args, arg)
	hold, fail := f.hold[op], f.fail
	f.mu.Unlock()
	if hold != nil {
		f.entered <- op
		<-hold
	}
	return fail
}

func (f *fakeService) setFail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = err
}

func (f *fakeService) setHold(op string) chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan struct{})
	f.hold[op] = ch
	return ch
}

func (f *fakeService) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeService) lastArg() any {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.args) == 0 {
		return nil
	}
	return f.args[len(f.args)-1]
}

// push appends events and wakes every waiting poll.
func (f *fakeService) push(evs ...coord.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, evs...)
	close(f.grew)
	f.grew = make(chan struct{})
}

func (f *fakeService) Submit(_ context.Context, r coord.SubmitRequest) (coord.Job, bool, error) {
	if err := f.enter("submit", r); err != nil {
		return coord.Job{}, false, err
	}
	j := fakeJob
	j.ID, j.Product, j.Payload = r.ID, r.Product, r.Payload
	f.mu.Lock()
	defer f.mu.Unlock()
	return j, f.created, nil
}

func (f *fakeService) Claim(_ context.Context, r coord.ClaimRequest) ([]coord.Grant, error) {
	if err := f.enter("claim", r); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.grants[:min(len(f.grants), max(1, r.Max))], nil
}

func (f *fakeService) Renew(_ context.Context, r coord.Report) (coord.Lease, error) {
	if err := f.enter("renew", r); err != nil {
		return coord.Lease{}, err
	}
	return fakeLease, nil
}

func (f *fakeService) Patch(_ context.Context, r coord.Report) (coord.Job, error) {
	if err := f.enter("patch", r); err != nil {
		return coord.Job{}, err
	}
	j := fakeJob
	j.ID, j.Stage = r.Job, r.Stage
	return j, nil
}

func (f *fakeService) Release(_ context.Context, r coord.Report) (coord.Job, error) {
	if err := f.enter("release", r); err != nil {
		return coord.Job{}, err
	}
	j := fakeJob
	j.ID, j.Stage, j.Holder, j.Epoch = r.Job, coord.StageQueued, "", r.Epoch+1
	return j, nil
}

func (f *fakeService) Get(_ context.Context, id string) (coord.Job, error) {
	if err := f.enter("get", id); err != nil {
		return coord.Job{}, err
	}
	j := fakeJob
	j.ID = id
	return j, nil
}

func (f *fakeService) List(_ context.Context, lf coord.ListFilter) ([]coord.Job, error) {
	if err := f.enter("list", lf); err != nil {
		return nil, err
	}
	a, b := fakeJob, fakeJob
	b.ID = "job-2"
	return []coord.Job{a, b}, nil
}

// Events is a real long poll over the pushed events.
func (f *fakeService) Events(ctx context.Context, after uint64, limit int,
	wait time.Duration) ([]coord.Event, error) {
	if err := f.enter("events", eventsCall{after, limit, wait}); err != nil {
		return nil, err
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		f.mu.Lock()
		var out []coord.Event
		for _, e := range f.events {
			if e.Seq > after && len(out) < limit {
				out = append(out, e)
			}
		}
		grew := f.grew
		f.mu.Unlock()
		if len(out) > 0 || wait == 0 {
			return out, nil
		}

		select {
		case f.waiting <- struct{}{}:
		default: // nobody is counting waits
		}
		select {
		case <-grew:
		case <-timer.C:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// fixture is a handler over a fake, on an httptest server on loopback,
// with a client of it.
type fixture struct {
	fake   *fakeService
	srv    *httptest.Server
	client *Client
}

func newFixture(t *testing.T, opt ServerOptions, token string) *fixture {
	t.Helper()
	fake := newFake()
	srv := httptest.NewServer(NewHandler(fake, opt))
	c, err := NewClient(srv.URL+"/api", token)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		srv.Close()
	})
	return &fixture{fake: fake, srv: srv, client: c}
}

// recv waits for a value from ch, failing the test after a deadline far
// longer than any healthy wait, so a hang fails instead of blocking.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// event returns a valid event with sequence number seq.
func event(seq uint64, typ coord.EventType) coord.Event {
	return coord.Event{
		Seq: seq, Time: t0.Add(time.Duration(seq) * time.Millisecond), Type: typ,
		Job: "job-1", Factory: "mac-1", Epoch: 2,
		After: coord.JobState{Stage: coord.StageClaimed, Holder: "mac-1", Epoch: 2,
			ExpiresAt: t0.Add(time.Minute)},
	}
}
