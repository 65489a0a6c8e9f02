package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/coord/api"
	"github.com/twofactory/twofactory/internal/orchestrate"
	"github.com/twofactory/twofactory/internal/view"
)

// demoOptions are the demo's own flags beyond the scenario's Config.
type demoOptions struct {
	headless bool
	jsonPath string
	noColor  bool
}

// demoFlags defines the demo's flags on fs, each with its environment
// fallback, and returns a function that resolves them after parsing.
func demoFlags(fs *envFlags) func() (orchestrate.Config, demoOptions, error) {
	var o demoOptions
	mode := fs.String("mode", "", "stub (start our own coordinator) or real (use --api); "+
		"default stub, or real when AQ_FLEET_API and AQ_FLEET_TOKEN are set")
	fs.BoolVar(&o.headless, "headless", false,
		"plain step-by-step trace instead of the dashboard (implied when stdout is not a terminal)")
	fs.StringVar(&o.jsonPath, "json", "", "also write RESULTS as JSON to this file (- for stdout)")
	jobs := fs.Int("jobs", 3, "jobs to submit")
	sleep := secondsFlag(fs.FlagSet, "job-sleep", 2*time.Second, "engine work per job")
	timeout := secondsFlag(fs.FlagSet, "timeout", 60*time.Second,
		"bound on each wait, and on the survivor's drain")
	poll := secondsFlag(fs.FlagSet, "poll", 200*time.Millisecond,
		"factories' wait between claims when nothing is queued")
	f1 := fs.String("factory-1", "mac-1", "id of factory 1, the victim")
	f2 := fs.String("factory-2", "ubuntu-1", "id of factory 2, the survivor")
	keep := boolishFlag(fs.FlagSet, "keep", "keep the run directory and print its path")
	dir := fs.String("dir", "", "run directory (kept); default a new temp directory")
	lease := secondsFlag(fs.FlagSet, "lease", 1500*time.Millisecond,
		"stub mode: lease our coordinator grants")
	renew := secondsFlag(fs.FlagSet, "renew", 500*time.Millisecond,
		"factories' heartbeat ceiling (stub default 0.5s; real mode: AQ_FLEET_LEASE_RENEW_SEC, "+
			"default 30s)")
	bug := fs.String("inject-bug", "", "stub mode, for tests: start the coordinator with a "+
		"deliberate bug, no-fence, double-claim or no-reap; the verdict must be FAIL")
	apiURL := fs.String("api", "", "real mode: coordinator base URL, e.g. http://127.0.0.1:4003/api")
	token := fs.String("token", "", "real mode: bearer token")
	product := fs.String("product", "", "product the jobs belong to")
	submit := fs.String("submit-path", "/fleet/jobs", "real mode: submit route under --api")
	reapWait := secondsFlag(fs.FlagSet, "reap-wait", 20*time.Second,
		"real mode: wait for the server's reaper")
	drainWait := secondsFlag(fs.FlagSet, "drain-wait", 30*time.Second,
		"real mode: wait for the drain")
	fs.BoolVar(&o.noColor, "no-color", false, "no colour (also NO_COLOR)")
	for flag, env := range map[string]string{
		"mode": "DEMO_MODE", "job-sleep": "DEMO_JOB_SLEEP", "timeout": "DEMO_TIMEOUT",
		"poll": "DEMO_POLL", "factory-1": "DEMO_FACTORY_1", "factory-2": "DEMO_FACTORY_2",
		"keep": "DEMO_KEEP", "reap-wait": "DEMO_REAP_WAIT", "drain-wait": "DEMO_DRAIN_WAIT",
		"submit-path": "DEMO_SUBMIT_PATH", "api": "AQ_FLEET_API", "token": "AQ_FLEET_TOKEN",
		"product": "AQ_PRODUCT_ID", "jobs": "DEMO_JOBS", "lease": "DEMO_LEASE",
		"renew": "DEMO_RENEW",
	} {
		fs.bindEnv(flag, env)
	}

	return func() (orchestrate.Config, demoOptions, error) {
		m := *mode
		if m == "" {
			m = orchestrate.ModeStub
			if *apiURL != "" && *token != "" {
				m = orchestrate.ModeReal
			}
		}
		b, err := coord.ParseBug(*bug)
		if err != nil {
			return orchestrate.Config{}, o, usageError("%v", err)
		}
		if b != coord.BugNone && m != orchestrate.ModeStub {
			return orchestrate.Config{}, o, usageError("--inject-bug needs stub mode")
		}
		r := *renew
		if m == orchestrate.ModeReal && !fs.given("renew") {
			r = 30 * time.Second
			if v, ok := fs.lookup("AQ_FLEET_LEASE_RENEW_SEC"); ok && v != "" {
				if r, err = parseSeconds(v); err != nil {
					return orchestrate.Config{}, o, usageError("AQ_FLEET_LEASE_RENEW_SEC=%q: %v",
						v, err)
				}
			}
		}
		bin, err := os.Executable()
		if err != nil {
			return orchestrate.Config{}, o, fmt.Errorf("find own binary: %w", err)
		}
		cfg := orchestrate.Config{
			Mode: m, Binary: bin, Jobs: *jobs, JobSleep: *sleep, Timeout: *timeout, Poll: *poll,
			Factories: [2]string{*f1, *f2}, Lease: *lease, Renew: r, Keep: *keep, Dir: *dir,
			API: *apiURL, Token: *token, Product: *product, SubmitPath: *submit,
			ReapWait: *reapWait, DrainWait: *drainWait, Bug: b,
		}
		return cfg, o, cfg.Validate()
	}
}

func runDemo(args []string, io stdio) error {
	fs := newEnvFlags("twofactory-tui", io.env)
	resolve := demoFlags(fs)
	fs.SetOutput(io.err)
	fs.Usage = func() { fmt.Fprint(io.out, demoUsage+fs.FlagUsagesWrapped(100)) }
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("unexpected argument %q", fs.Arg(0))
	}
	cfg, o, err := resolve()
	if err != nil {
		return err
	}
	if _, set := io.env("NO_COLOR"); set {
		o.noColor = true
	}
	tty := isTerminal(io.out) && isTerminal(io.in)
	headless := o.headless || !tty

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	progress := make(chan orchestrate.Progress)
	type outcome struct {
		res *orchestrate.Results
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := orchestrate.Run(ctx, cfg, progress)
		done <- outcome{res, err}
	}()
	var viewErr error
	if headless {
		view.RunHeadless(progress, io.out)
	} else {
		_, viewErr = view.RunDashboard(ctx, progress, nil, cancel, io.out,
			view.Options{Color: !o.noColor, AltScreen: true, Title: "twofactory demo",
				Mode: cfg.Mode, TestPanic: testPanic(io)})
		cancel()
		for range progress { // the dashboard may quit first; let the scenario finish
		}
	}
	out := <-done
	if viewErr != nil && !errors.Is(viewErr, view.ErrInterrupted) {
		return viewErr // the dashboard failed (a panic): that, not the stop it caused
	}
	return demoResult(ctx, out.res, errors.Join(out.err, viewErr), o, io)
}

// demoResult writes the JSON results when asked and maps the outcome to
// the error main turns into an exit code.
func demoResult(ctx context.Context, res *orchestrate.Results, err error, o demoOptions,
	io stdio) error {
	if res != nil && o.jsonPath != "" {
		if werr := writeJSON(o.jsonPath, res, io); werr != nil {
			return werr
		}
	}
	switch {
	case ctx.Err() != nil && res == nil, errors.Is(err, view.ErrInterrupted):
		return fmt.Errorf("%w: the demo was stopped before it finished", errInterrupted)
	case err != nil:
		return err
	case res == nil:
		return fmt.Errorf("%w: the scenario ended without a verdict", orchestrate.ErrCouldNotRun)
	case !res.Pass:
		return errFailed
	}
	return nil
}

// testPanic is the dashboard's test-only panic point, from
// TWOFACTORY_TEST_PANIC (update, view, command or watcher): end-to-end tests
// use it to check that a panic leaves the terminal usable (case C9).
func testPanic(io stdio) string {
	v, _ := io.env("TWOFACTORY_TEST_PANIC")
	return v
}

func writeJSON(path string, res *orchestrate.Results, io stdio) error {
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	data = append(data, '\n')
	if path == "-" {
		_, err = io.out.Write(data)
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write --json: %w", err)
	}
	return nil
}

func isTerminal(v any) bool {
	f, ok := v.(interface{ Fd() uintptr })
	return ok && isatty.IsTerminal(f.Fd())
}

// dialAPI is how factories and executors reach the coordinator.
func dialAPI(apiURL, token string) (coord.Service, error) {
	return api.NewClient(apiURL, token)
}

const demoUsage = `Usage: twofactory-tui [flags]

Runs the two-factory scenario: starts a coordinator and two factory processes,
submits jobs, kills factory 1 mid-job, and shows the reaper reclaim its job,
factory 2 complete it, and the killed factory's late report refused with HTTP
409. Prints RESULTS and exits 0 when all three guarantees hold, 1 when one
fails, 2 on bad usage, 3 when the scenario could not run, 130 when interrupted.

A flag beats its environment variable, which beats the default. Durations
take seconds (2, 0.2) or Go syntax (1.5s, 200ms).

Other commands: coordinator, factory, observe, fleet, bench (each takes
--help; "twofactory-tui help" lists them).

Flags:
`
