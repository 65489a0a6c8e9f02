package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/coord/api"
)

func runCoordinator(args []string, io stdio) error {
	fs := newEnvFlags("twofactory-tui coordinator", io.env)
	dir := fs.String("dir", "", "data directory: events.log, jobs/, lock (required)")
	listen := fs.String("listen", "127.0.0.1:4003", "address to serve the API on; port 0 picks one")
	token := fs.String("token", "", "require Authorization: Bearer <token> on every call")
	lease := secondsFlag(fs.FlagSet, "lease", 90*time.Second, "lease length granted by claims")
	reap := secondsFlag(fs.FlagSet, "reap-interval", time.Second, "how often the reaper looks")
	ckpt := secondsFlag(fs.FlagSet, "checkpoint-interval", 2*time.Second,
		"how often changed jobs are checkpointed to jobs/<id>.job")
	addrFile := fs.String("addr-file", "", "write the bound address to this file")
	product := fs.String("product", "", "product of submits that name none")
	bug := fs.String("inject-bug", "", "TEST ONLY: no-fence, double-claim or no-reap (docs/api.md)")
	fs.bindEnv("token", "AQ_FLEET_TOKEN")
	fs.bindEnv("lease", "AQ_FLEET_LEASE_SECONDS")
	fs.bindEnv("product", "AQ_PRODUCT_ID")
	fs.SetOutput(io.err)
	fs.Usage = func() {
		fmt.Fprint(io.out, "Usage: twofactory-tui coordinator --dir DIR [flags]\n\n"+
			"Serves the fleet coordinator API (docs/api.md) on a data directory.\n"+
			"SIGTERM or Ctrl-C: stop accepting, finish calls in flight, flush, exit 0.\n\n"+
			"Flags:\n"+fs.FlagUsagesWrapped(100))
	}
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("unexpected argument %q", fs.Arg(0))
	}
	b, err := coord.ParseBug(*bug)
	switch {
	case err != nil:
		return usageError("%v", err)
	case *dir == "":
		return usageError("coordinator needs --dir")
	case *lease <= 0 || *reap <= 0 || *ckpt <= 0:
		return usageError("--lease, --reap-interval and --checkpoint-interval must be above zero")
	}
	// A malformed address is bad usage, found before the data directory is
	// made; one that is well formed but cannot be bound is found by Start.
	if _, err := net.ResolveTCPAddr("tcp", *listen); err != nil {
		return usageError("--listen %q: %v", *listen, err)
	}

	// Catch the signals before the address is announced: a script that
	// reads it and at once sends SIGTERM must get the clean stop, not the
	// default action's sudden death.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sig)

	log := slog.New(slog.NewTextHandler(io.err, nil))
	c, err := coord.Open(*dir, coord.Options{Lease: *lease, ReapInterval: *reap,
		CheckpointInterval: *ckpt, Product: *product, Logger: log, Bug: b})
	if err != nil {
		return fmt.Errorf("open %s: %w", *dir, err)
	}
	if b != coord.BugNone {
		log.Warn("INJECTED BUG: this coordinator is deliberately broken", "bug", b)
	}
	srv := api.NewServer(c, api.ServerOptions{Token: *token, Logger: log})
	addr, err := srv.Start(*listen)
	if err != nil {
		c.Close()
		return err // already names the address
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(addr.String()+"\n"), 0o644); err != nil {
			srv.Stop(context.Background())
			c.Close()
			return fmt.Errorf("write --addr-file: %w", err)
		}
	}
	fmt.Fprintf(io.err, "coordinator listening on %s\n", addr)

	s := <-sig
	log.Info("stopping", "signal", s.String())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	serr := srv.Stop(ctx)
	cerr := c.Close()
	if serr != nil || cerr != nil {
		return fmt.Errorf("stop: %v %v", serr, cerr)
	}
	return nil
}
