// Package bench measures the coordinator's burn-down rate: how many jobs a
// second go from queued through claim to an accepted done, over loopback
// HTTP with fsync on, as a function of concurrent clients, claim batch size
// and queue depth. `twofactory-tui bench` and the Go benchmarks both run it.
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
	if err := queue(ctx, c, o.Jobs); err != nil {
		return res, err
	}
	res.Submit = time.Since(start)

	srv := api.NewServer(c, api.ServerOptions{})
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	defer srv.Stop(context.Background())
	base := "http://" + addr.String() + "/api"

	start = time.Now()
	calls, err := burn(ctx, base, o)
	res.BurnDown, res.Calls = time.Since(start), calls
	res.JobsPerSec = float64(o.Jobs) / res.BurnDown.Seconds()
	return res, err
}

// queue submits n jobs from 16 goroutines, so that their log writes share
// fsyncs the way concurrent clients' do.
func queue(ctx context.Context, c *coord.Coordinator, n int) error {
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
				id := fmt.Sprintf("b%07d", i)
				if _, _, err := c.Submit(ctx, coord.SubmitRequest{ID: id}); err != nil {
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

// burn runs the clients until the queue is empty and every job is done.
func burn(ctx context.Context, base string, o Options) (int64, error) {
	var calls atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, o.Clients)
	for i := range o.Clients {
		cl, err := api.NewClient(base, "")
		if err != nil {
			return 0, err
		}
		wg.Go(func() {
			defer cl.Close()
			if err := client(ctx, cl, fmt.Sprintf("bench-%d", i), o.Batch, &calls); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	return calls.Load(), <-errs
}

func client(ctx context.Context, cl *api.Client, id string, batch int, calls *atomic.Int64) error {
	for {
		gs, err := cl.Claim(ctx, coord.ClaimRequest{Factory: id, Max: batch})
		calls.Add(1)
		if err != nil {
			return fmt.Errorf("bench: claim: %w", err)
		}
		if len(gs) == 0 {
			return nil
		}
		for _, g := range gs {
			r := coord.Report{Job: g.Job.ID, Factory: id, Epoch: g.Lease.Epoch,
				Stage: coord.StageDone}
			calls.Add(1)
			if _, err := cl.Patch(ctx, r); err != nil {
				return fmt.Errorf("bench: done %s: %w", g.Job.ID, err)
			}
		}
	}
}
