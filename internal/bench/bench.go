// Package bench measures the coordinator's burn-down rate: how many jobs a
// second go from queued through claim to an accepted done, over loopback
// HTTP with fsync on, as a function of concurrent clients, claim batch size
// and queue depth. `twofactory-tui bench` and the Go benchmarks both run it,
// and Drain is also the claimer that the multi-process tests start as real
// processes against one coordinator.
package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/coord/api"
)

// Options configure one burn-down.
type Options struct {
	Jobs    int    // jobs queued before the clock starts
	Clients int    // concurrent HTTP clients, each a factory
	Batch   int    // jobs per claim call (1 = one claim per job)
	Dir     string // data directory; "" means a temp dir, removed after
}

// Result is what one burn-down measured.
type Result struct {
	Options
	Submit     time.Duration // queueing the jobs (in-process, concurrent)
	BurnDown   time.Duration // first claim to last done
	JobsPerSec float64       // Jobs / BurnDown
	Calls      int64         // HTTP calls made during the burn-down
}

// String is the one-line figure the bench command prints: jobs/s first, so
// that runs can be compared by eye or with awk.
func (r Result) String() string {
	return fmt.Sprintf("jobs=%d clients=%d batch=%d: %.0f jobs/s (burn-down %.2fs, %d calls, "+
		"%.0f calls/s; queueing took %.2fs)", r.Jobs, r.Clients, r.Batch, r.JobsPerSec,
		r.BurnDown.Seconds(), r.Calls, float64(r.Calls)/r.BurnDown.Seconds(), r.Submit.Seconds())
}

// Run queues o.Jobs jobs in a fresh coordinator, serves it on a loopback
// port, and times o.Clients HTTP clients claiming and completing them all.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Jobs <= 0 || o.Clients <= 0 || o.Batch <= 0 {
		return Result{}, errors.New("bench: --jobs, --clients and --batch must be above zero")
	}
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "twofactory-bench-")
		if err != nil {
			return Result{}, fmt.Errorf("bench: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	c, err := coord.Open(dir, coord.Options{Lease: 10 * time.Minute})
	if err != nil {
		return Result{}, fmt.Errorf("bench: %w", err)
	}
	defer c.Close()
	res := Result{Options: o}

	start := time.Now()
	if err := Queue(ctx, c, "b", o.Jobs); err != nil {
		return res, err
	}
	res.Submit = time.Since(start)

	srv := api.NewServer(c, api.ServerOptions{})
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	defer srv.Stop(context.Background())

	d, err := Drain(ctx, DrainOptions{Base: "http://" + addr.String() + "/api",
		Clients: o.Clients, Batch: o.Batch, Prefix: "bench"})
	res.BurnDown, res.Calls = d.Took, d.Calls
	res.JobsPerSec = float64(o.Jobs) / res.BurnDown.Seconds()
	if err == nil && d.Jobs != int64(o.Jobs) {
		err = fmt.Errorf("bench: %d jobs queued but %d completed", o.Jobs, d.Jobs)
	}
	return res, err
}

// Queue submits n jobs named <prefix><7 digits> from 16 goroutines, so that
// their log writes share fsyncs the way concurrent clients' do.
func Queue(ctx context.Context, svc coord.Service, prefix string, n int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				id := fmt.Sprintf("%s%07d", prefix, i)
				if _, _, err := svc.Submit(ctx, coord.SubmitRequest{ID: id}); err != nil {
					errs <- fmt.Errorf("bench: submit %s: %w", id, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// DrainOptions configure Drain: a set of claimers against a running API.
type DrainOptions struct {
	Base    string // the API's base URL, e.g. http://127.0.0.1:4003/api
	Token   string // bearer token, if the coordinator wants one
	Clients int    // concurrent claimers, factories <Prefix>-0 ... <Prefix>-(N-1)
	Batch   int    // jobs per claim call
	Prefix  string // factory id prefix; distinct per process in multi-process runs
	// OnGrant, when set, is called (from any client's goroutine) for every
	// grant the coordinator acknowledged, before its done is sent.
	OnGrant func(factory string, g coord.Grant)
}

// DrainResult is what Drain did.
type DrainResult struct {
	Jobs  int64         // jobs claimed and completed
	Calls int64         // HTTP calls made
	Took  time.Duration // first claim to last done
}

// Drain runs o.Clients claimers that claim and complete jobs until the
// coordinator has nothing queued, and reports how many they completed.
func Drain(ctx context.Context, o DrainOptions) (DrainResult, error) {
	if o.Clients <= 0 || o.Batch <= 0 {
		return DrainResult{}, errors.New("bench: --clients and --batch must be above zero")
	}
	if o.Prefix == "" {
		o.Prefix = "bench"
	}
	clients := make([]*api.Client, o.Clients)
	for i := range clients {
		cl, err := api.NewClient(o.Base, o.Token)
		if err != nil {
			return DrainResult{}, fmt.Errorf("bench: %w", err)
		}
		clients[i] = cl
	}

	var res DrainResult
	var calls, jobs atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, o.Clients)
	start := time.Now()
	for i, cl := range clients {
		w := worker{cl: cl, id: fmt.Sprintf("%s-%d", o.Prefix, i), batch: o.Batch,
			onGrant: o.OnGrant, calls: &calls, jobs: &jobs}
		wg.Go(func() {
			defer cl.Close()
			if err := w.run(ctx); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	res.Took, res.Calls, res.Jobs = time.Since(start), calls.Load(), jobs.Load()
	close(errs)
	return res, <-errs
}

// worker is one claimer: a factory id with its own HTTP client.
type worker struct {
	cl      *api.Client
	id      string
	batch   int
	onGrant func(string, coord.Grant)
	calls   *atomic.Int64
	jobs    *atomic.Int64
}

func (w worker) run(ctx context.Context) error {
	for {
		gs, err := w.cl.Claim(ctx, coord.ClaimRequest{Factory: w.id, Max: w.batch})
		w.calls.Add(1)
		if err != nil {
			return fmt.Errorf("bench: claim by %s: %w", w.id, err)
		}
		if len(gs) == 0 {
			return nil
		}
		if w.onGrant != nil {
			for _, g := range gs {
				w.onGrant(w.id, g)
			}
		}
		if err := w.finish(ctx, gs); err != nil {
			return err
		}
	}
}

// finish reports done for every grant of one claim. A batch goes in one
// POST /fleet/reports, decided under one hold of the coordinator's lock and
// made durable by one fsync; one job is a plain PATCH.
func (w worker) finish(ctx context.Context, gs []coord.Grant) error {
	if len(gs) == 1 {
		return w.done(ctx, gs[0])
	}
	rs := make([]coord.Report, len(gs))
	for i, g := range gs {
		rs[i] = coord.Report{Job: g.Job.ID, Factory: w.id, Epoch: g.Lease.Epoch,
			Stage: coord.StageDone}
	}
	w.calls.Add(1)
	res, err := w.cl.PatchAll(ctx, rs)
	if err != nil {
		return fmt.Errorf("bench: done for %d jobs by %s: %w", len(rs), w.id, err)
	}
	for i, r := range res {
		if r.Err != nil {
			return fmt.Errorf("bench: done %s by %s: %w", rs[i].Job, w.id, r.Err)
		}
	}
	w.jobs.Add(int64(len(rs)))
	return nil
}

func (w worker) done(ctx context.Context, g coord.Grant) error {
	r := coord.Report{Job: g.Job.ID, Factory: w.id, Epoch: g.Lease.Epoch,
		Stage: coord.StageDone}
	w.calls.Add(1)
	if _, err := w.cl.Patch(ctx, r); err != nil {
		return fmt.Errorf("bench: done %s by %s: %w", g.Job.ID, w.id, err)
	}
	w.jobs.Add(1)
	return nil
}
