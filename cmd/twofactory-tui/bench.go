package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"

	"github.com/twofactory/twofactory/internal/bench"
	"github.com/twofactory/twofactory/internal/coord"
)

// benchFlags are the bench command's settings after parsing.
type benchFlags struct {
	jobs, batch    int
	clients        []int
	dir            string
	api, token     string
	prefix, grants string
}

func runBench(args []string, io stdio) error {
	fs := newEnvFlags("twofactory-tui bench", io.env)
	var b benchFlags
	fs.IntVar(&b.jobs, "jobs", 10000, "jobs queued before the clock starts")
	fs.IntSliceVar(&b.clients, "clients", []int{1, 4, 16},
		"concurrent HTTP clients; a list runs each (with --api: one value, default 4)")
	fs.IntVar(&b.batch, "batch", 1, "jobs per claim call")
	fs.StringVar(&b.dir, "dir", "", "data directory (default: a temp dir, removed after)")
	fs.StringVar(&b.api, "api", "", "drain a running coordinator at this base URL instead "+
		"(http://127.0.0.1:PORT/api): claim and complete until nothing is queued")
	fs.StringVar(&b.token, "token", "", "bearer token for --api")
	fs.StringVar(&b.prefix, "prefix", "bench", "factory id prefix of the --api claimers")
	fs.StringVar(&b.grants, "grants", "", "with --api: write one line per grant "+
		"(factory job epoch) to this file")
	fs.bindEnv("api", "AQ_FLEET_API")
	fs.bindEnv("token", "AQ_FLEET_TOKEN")
	fs.SetOutput(io.err)
	fs.Usage = func() {
		fmt.Fprint(io.out, "Usage: twofactory-tui bench [--jobs N] [--clients 1,4,16] "+
			"[--batch N]\n       twofactory-tui bench --api URL [--clients N] [--batch N]\n\n"+
			"Queues N jobs in a fresh coordinator (fsync on), serves it on a loopback port,\n"+
			"and times the clients claiming and completing them all over HTTP.\n"+
			"With --api, drains a running coordinator instead.\n\n"+
			"Flags:\n"+fs.FlagUsagesWrapped(100))
	}
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := b.check(fs); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if b.api != "" {
		return drain(ctx, b, io)
	}
	return burnDowns(ctx, b, io)
}

// burnDowns runs one fresh-coordinator burn-down per --clients value.
func burnDowns(ctx context.Context, b benchFlags, io stdio) error {
	if b.dir != "" && len(b.clients) > 1 {
		return usageError("--dir takes a single --clients value")
	}
	for _, n := range b.clients {
		res, err := bench.Run(ctx, bench.Options{Jobs: b.jobs, Clients: n, Batch: b.batch,
			Dir: b.dir})
		if err != nil {
			return err
		}
		fmt.Fprintln(io.out, res)
	}
	return nil
}

// drain claims and completes everything queued at b.api, optionally
// writing each acknowledged grant to b.grants so that a test can compare
// what every process was told.
func drain(ctx context.Context, b benchFlags, io stdio) error {
	if len(b.clients) != 1 {
		return usageError("--api takes a single --clients value")
	}
	o := bench.DrainOptions{Base: b.api, Token: b.token, Clients: b.clients[0],
		Batch: b.batch, Prefix: b.prefix}
	var flush func() error
	if b.grants != "" {
		f, err := os.Create(b.grants)
		if err != nil {
			return fmt.Errorf("bench: --grants: %w", err)
		}
		defer f.Close()
		w := bufio.NewWriter(f)
		var mu sync.Mutex
		o.OnGrant = func(factory string, g coord.Grant) {
			mu.Lock()
			fmt.Fprintf(w, "%s %s %d\n", factory, g.Job.ID, g.Lease.Epoch)
			mu.Unlock()
		}
		flush = w.Flush
	}
	res, err := bench.Drain(ctx, o)
	if flush != nil {
		if ferr := flush(); ferr != nil && err == nil {
			err = fmt.Errorf("bench: --grants: %w", ferr)
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(io.out, "drained %d jobs with %d clients (batch %d): %.0f jobs/s, %d calls in "+
		"%.2fs\n", res.Jobs, o.Clients, o.Batch, float64(res.Jobs)/res.Took.Seconds(),
		res.Calls, res.Took.Seconds())
	return nil
}

// check refuses what the benchmark cannot run with, as bad usage; with
// --api and no --clients it drains with 4 clients rather than refuse the
// default list.
func (b *benchFlags) check(fs *envFlags) error {
	if fs.NArg() > 0 {
		return usageError("unexpected argument %q", fs.Arg(0))
	}
	if b.api != "" && !fs.Changed("clients") {
		b.clients = []int{4}
	}
	if b.jobs <= 0 || b.batch <= 0 {
		return usageError("--jobs and --batch must be above zero")
	}
	for _, n := range b.clients {
		if n <= 0 {
			return usageError("--clients %d: every value must be above zero", n)
		}
	}
	return nil
}
