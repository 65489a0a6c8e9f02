package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/coord/api"
)

// throttler is a stub coordinator that answers every claim with 429 or
// 503 and a Retry-After, and records when each claim came.
type throttler struct {
	mu     sync.Mutex
	claims []time.Time
	news   chan struct{} // a claim arrived
}

func (s *throttler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/fleet/claim" {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	s.mu.Lock()
	s.claims = append(s.claims, time.Now())
	n := len(s.claims)
	s.mu.Unlock()
	select {
	case s.news <- struct{}{}:
	default:
	}
	// Alternate the two overload answers; both ask for one second.
	code, errCode := http.StatusTooManyRequests, "throttled"
	if n%2 == 0 {
		code, errCode = http.StatusServiceUnavailable, "unavailable"
	}
	w.Header().Set("Retry-After", "1")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"error":%q,"message":"slow down"}`+"\n", errCode)
}

func (s *throttler) times() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.claims...)
}

// TestFactoryHonoursRetryAfter: a real factory daemon, idle-polling every
// 50 ms, against a coordinator that answers 429 and 503 with Retry-After:
// 1, waits at least that second before each next claim instead of
// polling at its own pace.
func TestFactoryHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	stub := &throttler{news: make(chan struct{}, 1)}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: stub, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })

	url := "http://" + l.Addr().String() + "/api"
	d := startDemo(t, []string{"factory", "--id", "mac-1", "--api", url,
		"--work", t.TempDir(), "--poll", "0.05"})
	const want = 4 // three gaps, over both answers
	deadline := time.After(30 * time.Second)
	for len(stub.times()) < want {
		select {
		case <-stub.news:
		case <-d.done:
			t.Fatalf("factory exited (%d): %s", d.code, d.stderrText())
		case <-deadline:
			t.Fatalf("only %d claims in 30s", len(stub.times()))
		}
	}
	stopProc(t, d, "factory")

	ts := stub.times()
	for i := 1; i < len(ts); i++ {
		// Whole seconds, as the header says; the backoff adds jitter above.
		if gap := ts[i].Sub(ts[i-1]); gap < 990*time.Millisecond {
			t.Errorf("claim %d came %v after the one refused with Retry-After: 1", i+1, gap)
		}
	}
}

// TestFleetRunsOneDaemonPerProduct: `fleet --products a,b` against a
// coordinator started on its own runs daemons <host>-a and <host>-b, each
// completing only its product's jobs, and SIGTERM stops them all (exit 0,
// no process left).
func TestFleetRunsOneDaemonPerProduct(t *testing.T) {
	t.Parallel()
	coordProc, url, _ := startCoordinator(t, "--token", "sekrit", "--lease", "1.5s",
		"--reap-interval", "100ms")
	work := t.TempDir()
	fleet := startDemo(t, []string{"fleet", "--api", url, "--products", "a,b",
		"--host", "box", "--work", work, "--job-sleep", "0.2", "--poll", "0.1"},
		"AQ_FLEET_TOKEN=sekrit")

	cl, err := api.NewClient(url, "sekrit")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range 2 {
		for _, p := range []string{"a", "b"} {
			req := coord.SubmitRequest{ID: fmt.Sprintf("j%d-%s", i, p), Product: p}
			if _, _, err := cl.Submit(ctx, req); err != nil {
				t.Fatal(err)
			}
		}
	}
	jobs := awaitAllDone(t, ctx, cl, 4)
	for _, j := range jobs {
		if want := "box-" + j.Product; j.Holder != want {
			t.Errorf("job %s of product %s was done by %q, want %s", j.ID, j.Product,
				j.Holder, want)
		}
	}

	stopProc(t, fleet, "fleet")
	stderr := fleet.stderrText()
	for _, id := range []string{"box-a", "box-b"} {
		if !strings.Contains(stderr, "fleet: started "+id) {
			t.Errorf("fleet did not say it started %s:\n%s", id, stderr)
		}
	}
	fleet.checkNoneLeft(true)
	stopProc(t, coordProc, "coordinator")
}

// awaitAllDone waits until n jobs are done and returns them, waking on the
// coordinator's own events long poll rather than on a guessed sleep.
func awaitAllDone(t *testing.T, ctx context.Context, cl *api.Client, n int) []coord.Job {
	t.Helper()
	var after uint64
	for {
		jobs, err := cl.List(ctx, coord.ListFilter{Stage: coord.StageDone})
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		if len(jobs) == n {
			return jobs
		}
		evs, err := cl.Events(ctx, after, 1000, 5*time.Second)
		if err != nil {
			t.Fatalf("only %d of %d jobs done: %v", len(jobs), n, err)
		}
		if len(evs) > 0 {
			after = evs[len(evs)-1].Seq
		}
	}
}
