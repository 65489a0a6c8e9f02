package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/coord/api"
	"github.com/twofactory/twofactory/internal/observe"
	"github.com/twofactory/twofactory/internal/view"
)

// observeOptions are the observe command's settings after parsing.
type observeOptions struct {
	dir, apiURL, token string
	headless, check    bool
	once, noColor      bool
	poll               *time.Duration
}

func observeFlags(fs *envFlags) *observeOptions {
	o := &observeOptions{}
	fs.StringVar(&o.dir, "dir", "", "a coordinator's data directory: follow DIR/events.log")
	fs.StringVar(&o.apiURL, "api", "", "or a coordinator's API: long-poll its events, "+
		"e.g. http://127.0.0.1:4003/api")
	fs.StringVar(&o.token, "token", "", "bearer token for --api")
	fs.BoolVar(&o.headless, "headless", false, "print one decoded line per event on stdout "+
		"instead of the dashboard (implied when stdout is not a terminal)")
	fs.BoolVar(&o.check, "check", false, "run the invariant checker on every event; "+
		"the first violation is printed and the exit code is 1")
	fs.BoolVar(&o.once, "once", false, "headless: read the history as it is now and exit "+
		"(0, or 1 with --check on a violation) instead of following it")
	o.poll = secondsFlag(fs.FlagSet, "poll", 0, "--dir: stat-poll backup of fsnotify "+
		"(0: the follower's 500ms)")
	fs.BoolVar(&o.noColor, "no-color", false, "no colour (also NO_COLOR)")
	fs.bindEnv("api", "AQ_FLEET_API")
	fs.bindEnv("token", "AQ_FLEET_TOKEN")
	return o
}

func runObserve(args []string, io stdio) error {
	fs := newEnvFlags("twofactory-tui observe", io.env)
	o := observeFlags(fs)
	fs.SetOutput(io.err)
	fs.Usage = func() { fmt.Fprint(io.out, observeUsage+fs.FlagUsagesWrapped(100)) }
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := o.validate(fs); err != nil {
		return err
	}
	if _, set := io.env("NO_COLOR"); set {
		o.noColor = true
	}
	headless := o.headless || o.once || !(isTerminal(io.out) && isTerminal(io.in))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	src, err := o.source(ctx, io)
	if err != nil {
		return err
	}
	if headless {
		err = observeHeadless(ctx, src, o, io)
	} else {
		err = observe.Dashboard(ctx, src, o.check, io.out, view.Options{Color: !o.noColor,
			AltScreen: true, Title: "observe " + src.Name()})
	}
	return observeResult(err, io)
}

func (o *observeOptions) validate(fs *envFlags) error {
	switch {
	case fs.NArg() > 0:
		return usageError("unexpected argument %q", fs.Arg(0))
	case (o.dir == "") == (o.apiURL == ""):
		return usageError("observe needs exactly one of --dir or --api")
	}
	return nil
}

// source opens what is observed. For the API it asks once up front, so
// that a wrong token or address is one clear line rather than a
// dashboard that stays empty.
func (o *observeOptions) source(ctx context.Context, io stdio) (observe.Source, error) {
	log := slog.New(slog.NewTextHandler(io.err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if o.dir != "" {
		path := filepath.Join(o.dir, "events.log")
		if o.once {
			return observe.OnceFileSource(path), nil
		}
		return observe.FileSource(path, *o.poll, log), nil
	}
	cl, err := api.NewClient(o.apiURL, o.token)
	if err != nil {
		return nil, usageError("--api: %v", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cl.Events(pctx, 0, 1, 0); err != nil {
		if errors.Is(err, coord.ErrUnauthorized) {
			return nil, fmt.Errorf("%s refused the token (HTTP 401): check --token or "+
				"AQ_FLEET_TOKEN", o.apiURL)
		}
		return nil, fmt.Errorf("cannot read the events of %s: %w", o.apiURL, err)
	}
	return observe.APISource(o.apiURL, cl, o.once, log), nil
}

func observeHeadless(ctx context.Context, src observe.Source, o *observeOptions,
	io stdio) error {
	sum, err := observe.Headless(ctx, src, o.check, io.out, io.err)
	if o.once && err == nil {
		verdict := "not checked"
		if o.check {
			verdict = "no violation"
		}
		fmt.Fprintf(io.err, "observe: %d events in %v (first after %v), %d undecodable, %s\n",
			sum.Events, sum.Took.Round(time.Millisecond), sum.First.Round(time.Millisecond),
			sum.Skipped, verdict)
	}
	return err
}

// observeResult prints a violation as its one line and maps it to exit 1.
func observeResult(err error, io stdio) error {
	if errors.Is(err, observe.ErrViolation) {
		fmt.Fprintf(io.err, "twofactory-tui observe: %v\n", err)
		return fmt.Errorf("%w: %w", errFailed, err)
	}
	return err
}

const observeUsage = `Usage: twofactory-tui observe (--dir DIR | --api URL [--token T]) [flags]

Watches a running fleet without driving it: the dashboard of every factory,
job, lease and epoch its coordinator's events show, with each RECLAIM and
FENCE highlighted. --dir follows DIR/events.log (it may not exist yet, and
may be truncated, replaced or rotated); --api long-polls GET /fleet/events.
It never writes to the coordinator or its directory.

--headless prints one decoded line per event instead, for pipes. --check
judges every event with the invariant checker: the first violation is
printed on one line and the exit code is 1. Exit 0 when stopped by
SIGTERM/Ctrl-C (or, with --once, at the end of the history), 2 bad usage,
3 could not read the events.

Flags:
`
