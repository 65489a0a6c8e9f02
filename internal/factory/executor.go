package factory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// reportBudget bounds how long the executor keeps retrying one report
// through transient errors. It matters only for an executor whose daemon is
// gone (no one will SIGTERM it) while the coordinator is unreachable: it
// gives up, quarantines, and exits instead of waiting forever.
const reportBudget = 30 * time.Second

// callTimeout bounds one call to the coordinator, so that a server that
// accepts a connection and never answers cannot hang a factory; the retry
// loops around the calls decide what happens next.
const callTimeout = 15 * time.Second

// Dialer makes the executor's own coordinator client from the API URL and
// token it was started with; the command line passes the HTTP client's
// constructor, tests pass a fake.
type Dialer func(apiURL, token string) (coord.Service, error)

// ExecMain is the whole exec-job subcommand: it parses args (with or
// without the leading ExecCommand), dials the coordinator, runs the
// executor until done or until SIGTERM or SIGINT, writes any error to
// stderr, and returns the exit code for main to exit with: the outcome's
// code, or ExitUsage for bad arguments.
func ExecMain(ctx context.Context, args []string, dial Dialer, stderr io.Writer) int {
	c, err := ParseExecArgs(args)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitUsage
	}
	svc, err := dial(c.APIURL, c.Token)
	if err != nil {
		fmt.Fprintf(stderr, "%s: dial %s: %v\n", ExecCommand, c.APIURL, err)
		return Failed.ExitCode()
	}
	// SIGTERM is how the daemon stops a job whose lease it lost; catching it
	// is what lets the executor quarantine its output instead of vanishing.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	o, err := RunExecutor(ctx, c, svc)
	if err != nil {
		fmt.Fprintf(stderr, "%s: job %s epoch %d: %s: %v\n", ExecCommand, c.JobID, c.Epoch, o, err)
	}
	return o.ExitCode()
}

// RunExecutor runs one job at one epoch: it patches running, runs the
// engine into WorkDir/out/<job>@<epoch>/, patches verifying, patches done,
// and ships the output to ShippedDir/<job> only once done was accepted.
//
// A 409 on any patch means a newer epoch or holder owns the job: the output
// goes to QuarantineDir/<job>@epoch=<N>, a "fence" line is logged, and the
// outcome is Fenced. Cancelling ctx (the daemon's SIGTERM) before done also
// quarantines, with outcome Stopped. Once done has been sent, ctx no longer
// interrupts it: a done the coordinator applied but whose answer was
// abandoned would leave a job done and never shipped. A done whose answer is
// lost in the network is sent again; the coordinator accepts a repeat of the
// same holder and epoch.
//
// The error is nil for Shipped, Fenced and Stopped, the endings the fleet
// expects, and says what went wrong for Failed.
func RunExecutor(ctx context.Context, c ExecConfig, svc coord.Service) (Outcome, error) {
	if err := c.check(); err != nil {
		return Failed, fmt.Errorf("executor: %w", err)
	}
	if svc == nil {
		return Failed, errors.New("executor: no coordinator Service")
	}
	for _, d := range []string{c.outDir(), c.ShippedDir, c.QuarantineDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return Failed, fmt.Errorf("executor: %w", err)
		}
	}
	log, err := openJobLog(c.LogPath, c.Factory)
	if err != nil {
		return Failed, fmt.Errorf("executor: %w", err)
	}
	defer log.Close()
	ctl := openCtl()
	defer ctl.Close()
	x := &executor{c: c, svc: svc, log: log, ctl: ctl, engineOut: os.Stderr, budget: reportBudget}
	return x.run(ctx)
}

// executor is one RunExecutor call's state.
type executor struct {
	c         ExecConfig
	svc       coord.Service
	log       *jobLog
	ctl       *ctlClient // nil without a daemon
	engineOut io.Writer
	budget    time.Duration
	stage     coord.Stage // the last stage reported or being reported
}

func (x *executor) run(ctx context.Context) (Outcome, error) {
	if err := x.report(ctx, coord.StageRunning); err != nil {
		return x.refused(ctx, err)
	}

	if err := runEngine(ctx, x.c, x.c.outDir(), x.engineOut); err != nil {
		return x.engineFailed(ctx, err)
	}

	if err := x.report(ctx, coord.StageVerifying); err != nil {
		return x.refused(ctx, err)
	}
	if err := verify(x.c.outDir()); err != nil {
		return x.engineFailed(ctx, err)
	}
	if ctx.Err() != nil {
		return x.stopped()
	}

	// The point of no return: see RunExecutor on why done ignores ctx, and
	// ctl.go on why the daemon's heartbeat is quieted first.
	if err := x.ctl.askQuiet(); err != nil {
		x.logLine("no-daemon", "err", err.Error())
	}
	if err := x.report(context.WithoutCancel(ctx), coord.StageDone); err != nil {
		return x.refused(ctx, err)
	}
	return x.ship()
}

// report patches the job to stage, retrying transient errors with backoff
// for up to the report budget or until ctx is done.
func (x *executor) report(ctx context.Context, stage coord.Stage) error {
	x.stage = stage
	r := coord.Report{Job: x.c.JobID, Factory: x.c.Factory, Epoch: x.c.Epoch, Stage: stage}
	bo := newBackoff(100*time.Millisecond, 2*time.Second)
	giveUp := time.Now().Add(x.budget)
	for {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		_, err := x.svc.Patch(cctx, r)
		cancel()
		if err == nil {
			x.logLine("stage", "stage", string(stage))
			return nil
		}
		if !transient(err) || ctx.Err() != nil {
			return fmt.Errorf("patch %s: %w", stage, err)
		}
		wait := bo.next(err)
		x.logLine("patch-failed", "stage", string(stage), "retry", wait.String(),
			"err", err.Error())
		if time.Now().Add(wait).After(giveUp) {
			return fmt.Errorf("patch %s: still failing after %v: %w", stage, x.budget, err)
		}
		if !sleepCtx(ctx, wait) {
			return fmt.Errorf("patch %s: %w", stage, ctx.Err())
		}
	}
}

// refused ends the run after a report failed: quarantined as Fenced for a
// 409, as Stopped when ctx was cancelled, else as Failed.
func (x *executor) refused(ctx context.Context, err error) (Outcome, error) {
	if errors.Is(err, coord.ErrFenced) {
		x.logFence(err)
		return x.quarantine(Fenced, nil)
	}
	if ctx.Err() != nil {
		return x.stopped()
	}
	x.logLine("fail", "err", err.Error())
	return x.quarantine(Failed, err)
}

// engineFailed ends the run after the engine or its verification failed.
// A failure caused by ctx is a stop, not a job failure. Otherwise the job is
// reported failed, a final stage, so that the fleet does not retry work that
// failed on its own.
func (x *executor) engineFailed(ctx context.Context, err error) (Outcome, error) {
	if terminatedBySignal(err) {
		// Someone signalled our whole process group (a harness, an
		// operator): the engine may have died of it a moment before our own
		// handler cancelled ctx. Give that notice a moment to arrive rather
		// than report a stop as a job failure.
		sleepCtx(ctx, stopNoticeWait)
	}
	if ctx.Err() != nil {
		return x.stopped()
	}
	x.logLine("fail", "err", err.Error())
	if rerr := x.report(ctx, coord.StageFailed); rerr != nil {
		if errors.Is(rerr, coord.ErrFenced) {
			x.logFence(rerr)
			return x.quarantine(Fenced, nil)
		}
		err = errors.Join(err, rerr)
	}
	return x.quarantine(Failed, err)
}

func (x *executor) stopped() (Outcome, error) {
	x.logLine("stop", "reason", "signal")
	return x.quarantine(Stopped, nil)
}

// quarantine moves the output aside for outcome o and returns o with cause,
// or with the rename's error if the move failed.
func (x *executor) quarantine(o Outcome, cause error) (Outcome, error) {
	dst := x.c.quarantinePath()
	if err := os.Rename(x.c.outDir(), dst); err != nil {
		x.logLine("fail", "err", "quarantine: "+err.Error())
		return o, errors.Join(cause, fmt.Errorf("quarantine %s: %w", x.c.outDir(), err))
	}
	x.logLine("quarantine", "reason", o.String(), "dir", dst)
	return o, cause
}

// ship publishes the output; only called after done was accepted. A failed
// rename leaves the output in out/ (see the package doc's known gap).
func (x *executor) ship() (Outcome, error) {
	dst := x.c.shippedPath()
	if err := os.Rename(x.c.outDir(), dst); err != nil {
		x.logLine("fail", "err", "ship: "+err.Error())
		return Failed, fmt.Errorf("ship %s: done was accepted but: %w", x.c.JobID, err)
	}
	x.logLine("ship", "dir", dst)
	return Shipped, nil
}

// logFence writes the fence line, with what the coordinator said about the
// job's current owner when the error carries it.
func (x *executor) logFence(err error) {
	kv := []string{"op", "patch:" + string(x.stage), "http", "409"}
	var fe *coord.FenceError
	if errors.As(err, &fe) {
		kv = append(kv, "reason", string(fe.Reason), "current", strconv.FormatUint(fe.Current, 10))
	}
	x.logLine("fence", append(kv, "err", err.Error())...)
}

// logLine writes a job line; a log that cannot be written must not change
// the job's outcome, so its error goes to stderr only.
func (x *executor) logLine(event string, kv ...string) {
	if err := x.log.line(event, x.c.JobID, x.c.Epoch, kv...); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}

// stopNoticeWait bounds the wait for a stop notice after the engine died of
// a stop signal. The signal reached both processes at once, so the notice
// is normally a goroutine switch away; a second covers a loaded machine.
const stopNoticeWait = time.Second

// terminatedBySignal reports whether err is an engine killed by a signal
// that asks a process to stop (as opposed to one that reports a crash).
func terminatedBySignal(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return false
	}
	switch ws.Signal() {
	case syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGKILL:
		return true
	}
	return false
}

// verify is the verifying stage's check: the engine's output directory is
// still there to ship. Engines that need more proof check it themselves and
// exit non-zero.
func verify(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("verify: %s is not a directory", dir)
	}
	return nil
}
