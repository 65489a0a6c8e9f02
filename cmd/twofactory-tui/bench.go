package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/twofactory/twofactory/internal/bench"
)

func runBench(args []string, io stdio) error {
	fs := newEnvFlags("twofactory-tui bench", io.env)
	jobs := fs.Int("jobs", 10000, "jobs queued before the clock starts")
	clients := fs.IntSlice("clients", []int{1, 4, 16}, "concurrent HTTP clients; a list runs each")
	batch := fs.Int("batch", 1, "jobs per claim call")
	dir := fs.String("dir", "", "data directory (default: a temp dir, removed after)")
	fs.SetOutput(io.err)
	fs.Usage = func() {
		fmt.Fprint(io.err, "Usage: twofactory-tui bench [--jobs N] [--clients 1,4,16] "+
			"[--batch N]\n\nQueues N jobs in a fresh coordinator (fsync on), serves it on a "+
			"loopback port,\nand times the clients claiming and completing them all over HTTP.\n\n"+
			"Flags:\n"+fs.FlagUsagesWrapped(100))
	}
	if err := fs.parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	for _, n := range *clients {
		if *dir != "" && len(*clients) > 1 {
			return usageError("--dir takes a single --clients value")
		}
		res, err := bench.Run(ctx, bench.Options{Jobs: *jobs, Clients: n, Batch: *batch, Dir: *dir})
		if err != nil {
			return err
		}
		fmt.Fprintln(io.out, res)
	}
	return nil
}
