// Command twofactory-tui proves a job fleet's guarantees end to end with
// real processes, and is also the fleet's coordinator and factory daemon.
//
//	twofactory-tui [flags]              the demo scenario (dashboard, or --headless)
//	twofactory-tui coordinator [flags]  serve the coordinator API on a data directory
//	twofactory-tui factory [flags]      run a factory daemon against a coordinator
//	twofactory-tui observe [flags]      watch a running fleet
//	twofactory-tui bench [flags]        measure the coordinator's claim -> done rate
//
// Exit codes are decided here alone: 0 all passed, 1 a guarantee failed,
// 2 bad usage or configuration, 3 could not run, 130 interrupted.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/twofactory/twofactory/internal/factory"
	"github.com/twofactory/twofactory/internal/orchestrate"
)

// Exit codes.
const (
	exitOK          = 0
	exitFail        = 1
	exitUsage       = 2
	exitCouldNotRun = 3
	exitInterrupted = 130
)

// errFailed marks a run whose guarantees did not hold: exit 1.
var errFailed = errors.New("a guarantee failed")

// errInterrupted marks a run stopped by a signal: exit 130.
var errInterrupted = errors.New("interrupted")

// stdio is the program's outside world, so tests can run it in-process.
type stdio struct {
	in       io.Reader
	out, err io.Writer
	env      func(string) (string, bool)
}

func main() {
	io := stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr, env: os.LookupEnv}
	os.Exit(run(os.Args[1:], io))
}

// run dispatches to a subcommand and turns its error into one line on
// stderr and an exit code.
func run(args []string, io stdio) int {
	cmd, rest := "demo", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, rest = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "demo":
		err = runDemo(rest, io)
	case "coordinator":
		err = runCoordinator(rest, io)
	case "factory":
		err = runFactory(rest, io)
	case factory.ExecCommand:
		// The executor child of a factory daemon; its exit code is the
		// outcome the daemon reads, so it bypasses the mapping below.
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		return factory.ExecMain(ctx, rest, dialAPI, io.err)
	case "bench":
		err = runBench(rest, io)
	case "observe":
		err = runObserve(rest, io)
	case "fleet":
		err = runFleet(rest, io)
	case "help":
		fmt.Fprint(io.out, topUsage)
		return exitOK
	default:
		err = usageError("unknown command %q (want demo, coordinator, factory, observe, "+
			"fleet or bench; see help)", cmd)
	}
	return report(err, io.err)
}

// report prints err as one line and returns its exit code.
func report(err error, stderr io.Writer) int {
	code := exitCode(err)
	if err != nil && !errors.Is(err, pflag.ErrHelp) && code != exitFail {
		fmt.Fprintf(stderr, "twofactory-tui: %v\n", err)
	}
	return code
}

// exitCode is the one table from error kinds to exit codes.
func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, pflag.ErrHelp):
		return exitOK
	case errors.Is(err, errInterrupted):
		return exitInterrupted
	case errors.Is(err, errUsage), errors.Is(err, orchestrate.ErrConfig),
		errors.Is(err, factory.ErrConfig):
		return exitUsage
	case errors.Is(err, errFailed):
		return exitFail
	default:
		return exitCouldNotRun
	}
}

const topUsage = `twofactory-tui proves a job fleet's guarantees with real processes.

Usage:
  twofactory-tui [flags]              run the demo scenario (see --help)
  twofactory-tui coordinator [flags]  serve the coordinator on a data directory
  twofactory-tui factory [flags]      run a factory daemon
  twofactory-tui observe [flags]      watch a running fleet
  twofactory-tui fleet [flags]        run one factory daemon per product
  twofactory-tui bench [flags]        measure claim -> done throughput

Each command takes --help.
Exit codes: 0 pass, 1 a guarantee failed, 2 bad usage, 3 could not run,
130 interrupted.
`
