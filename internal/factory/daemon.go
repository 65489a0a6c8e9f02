package factory

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// PidFileName is the file in WorkDir holding the running executor's pid
// (which is also its process group id), present while a job runs. A daemon
// killed mid-job leaves it behind, which is how a harness finds the orphan.
const PidFileName = "executor.pid"

// ExecutorOutName is the file in WorkDir that collects the executors' own
// stdout and stderr (engine output included).
const ExecutorOutName = "executor.out"

// maxClaimBackoff caps the wait between failing claims, so that a factory
// notices a recovered coordinator within seconds.
const maxClaimBackoff = 10 * time.Second

// releaseTimeout bounds a release: it is a courtesy that saves the fleet a
// lease's wait, and the reaper does the same job if it never arrives.
const releaseTimeout = 5 * time.Second

// Run is the factory daemon. It claims one job at a time (of cfg.Product,
// when set), runs it in an executor child while a heartbeat renews its
// lease, waits for it, and loops until stopped.
//
// Cancelling ctx is a graceful stop: the job in progress finishes, then Run
// returns nil. Closing cfg.Hard stops at once: the executor gets SIGTERM
// (SIGKILL after a grace period) and quarantines its output, the job is
// released back to the queue, and Run returns nil. Run returns an error only
// for a configuration it cannot work with (wrapping ErrConfig) or a work
// directory it cannot set up.
func Run(ctx context.Context, cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	d, err := newDaemon(cfg)
	if err != nil {
		return err
	}
	defer d.close()
	return d.run(ctx)
}

// daemon is one Run call's state.
type daemon struct {
	cfg Config
	log *jobLog
	out *os.File // the executors' stdout and stderr
	// hard ends on cfg.Hard; soft on that or on Run's context.
	hard, soft  context.Context
	warnedRenew bool
}

func newDaemon(cfg Config) (*daemon, error) {
	dirs := []string{filepath.Join(cfg.WorkDir, "out"), cfg.ShippedDir, cfg.QuarantineDir}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("factory %s: %w", cfg.ID, err)
		}
	}
	if err := sameDevice(dirs); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	log, err := openJobLog(cfg.LogPath, cfg.ID)
	if err != nil {
		return nil, fmt.Errorf("factory %s: %w", cfg.ID, err)
	}
	outPath := filepath.Join(cfg.WorkDir, ExecutorOutName)
	out, err := os.OpenFile(outPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		log.Close()
		return nil, fmt.Errorf("factory %s: executor output: %w", cfg.ID, err)
	}
	d := &daemon{cfg: cfg, log: log, out: out}
	d.warnStalePid()
	return d, nil
}

func (d *daemon) close() {
	d.out.Close()
	d.log.Close()
}

func (d *daemon) run(ctx context.Context) error {
	hard, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHard()
	if d.cfg.Hard != nil {
		go func() {
			select {
			case <-d.cfg.Hard:
				cancelHard()
			case <-hard.Done():
			}
		}()
	}
	soft, cancelSoft := context.WithCancel(ctx)
	defer cancelSoft()
	defer context.AfterFunc(hard, cancelSoft)()
	d.hard, d.soft = hard, soft

	d.cfg.Logger.Info("factory started", "id", d.cfg.ID, "work", d.cfg.WorkDir,
		"product", d.cfg.Product)
	bo := newBackoff(d.cfg.Poll, max(maxClaimBackoff, d.cfg.Poll))
	for soft.Err() == nil {
		if err := d.step(bo); err != nil {
			d.cfg.Logger.Error("factory stopping", "err", err)
			return err
		}
	}
	d.cfg.Logger.Info("factory stopped", "id", d.cfg.ID, "hard", hard.Err() != nil)
	return nil
}

// step is one turn of the loop: a claim, then a job or a wait. It returns
// an error only for what no retry can mend: a token the coordinator refuses,
// or a claim it calls malformed (this factory's id or product).
func (d *daemon) step(bo *backoff) error {
	g, sent, ok, err := d.claim()
	switch {
	case err != nil && d.hard.Err() != nil:
		// The claim was cut off by the hard stop; the loop ends.
	case errors.Is(err, coord.ErrUnauthorized):
		return fmt.Errorf("the coordinator refused the token: %w", err)
	case errors.Is(err, coord.ErrBadRequest):
		return fmt.Errorf("the coordinator refused this factory's claim: %w", err)
	case err != nil:
		wait := bo.next(err)
		d.cfg.Logger.Warn("claim failed", "err", err, "retry", wait)
		sleepCtx(d.soft, wait)
	case !ok:
		bo.reset()
		sleepCtx(d.soft, d.cfg.Poll)
	case d.soft.Err() != nil:
		// Stopped while the claim was in flight: give the job straight back
		// rather than make the fleet wait out its lease.
		d.release(g, "stopping")
	default:
		bo.reset()
		d.work(g, sent)
	}
	return nil
}

// claim asks for one job. It runs under the hard context only: a graceful
// stop must not abandon a claim the coordinator may already have granted.
func (d *daemon) claim() (g coord.Grant, sent time.Time, ok bool, err error) {
	sent = time.Now()
	req := coord.ClaimRequest{Factory: d.cfg.ID, Product: d.cfg.Product, Max: 1}
	ctx, cancel := context.WithTimeout(d.hard, callTimeout)
	defer cancel()
	gs, err := d.cfg.Service.Claim(ctx, req)
	if err != nil {
		return g, sent, false, fmt.Errorf("claim: %w", err)
	}
	if len(gs) == 0 {
		return g, sent, false, nil
	}
	for _, extra := range gs[1:] {
		// A server that ignores Max: keep one job, hand the others back.
		d.release(extra, "over-max")
	}
	return gs[0], sent, true, nil
}

// work runs one granted job to its end.
func (d *daemon) work(g coord.Grant, sent time.Time) {
	ttl := d.leaseTTL(g, sent)
	if ttl <= 0 {
		d.cfg.Logger.Error("grant has no usable lease; releasing", "job", g.Job.ID)
		d.release(g, "no-lease")
		return
	}
	d.jobLine("claim", g, "ttl", ttl.String(), "renew", d.cfg.heartbeatEvery(ttl).String())
	d.cfg.Logger.Info("claimed", "job", g.Job.ID, "epoch", g.Lease.Epoch, "ttl", ttl)

	xc := d.cfg.execConfig(g)
	ch, conn, err := d.launch(xc)
	if err != nil {
		d.jobLine("fail", g, "err", err.Error())
		d.cfg.Logger.Error("launch failed; releasing", "job", g.Job.ID, "err", err)
		d.release(g, "launch-failed")
		return
	}
	hb := &heartbeat{
		svc: d.cfg.Service, log: d.log, every: d.cfg.heartbeatEvery, ttl: ttl,
		report:    coord.Report{Job: g.Job.ID, Factory: d.cfg.ID, Epoch: g.Lease.Epoch},
		confirmed: sent, quiet: make(chan chan struct{}), now: time.Now,
	}
	hardStopped, reachedDone := d.supervise(ch, conn, hb)
	ch.sweep()
	d.removePid(ch.pid)

	code, o, label := ch.status()
	d.jobLine("exit", g, "code", strconv.Itoa(code), "outcome", label,
		"pid", strconv.Itoa(ch.pid))
	d.cfg.Logger.Info("job ended", "job", g.Job.ID, "epoch", g.Lease.Epoch, "outcome", label)
	// Give the job back after a hard stop unless the executor ended the job
	// itself (shipped, failed), lost it (fenced), or had already sent its
	// done: a release then would only be refused, and log a false fence.
	if hardStopped && (o == Stopped || o == 0) && !reachedDone {
		d.release(g, "hard-stop")
	}
}

// leaseTTL is the lease length to work with. A grant should state its TTL;
// for a server that only sends expiresAt, the time left by our clock is the
// fallback, which trusts the two clocks to agree and is logged as such.
func (d *daemon) leaseTTL(g coord.Grant, sent time.Time) time.Duration {
	ttl := g.Lease.TTL
	if ttl <= 0 && !g.Lease.ExpiresAt.IsZero() {
		ttl = g.Lease.ExpiresAt.Sub(sent)
		d.cfg.Logger.Warn("grant states no TTL; using expiresAt by the local clock",
			"job", g.Job.ID, "ttl", ttl)
	}
	if d.cfg.Renew >= ttl && ttl > 0 && !d.warnedRenew {
		d.warnedRenew = true
		d.cfg.Logger.Warn("renew interval is not under the lease; renewing every TTL/3",
			"renew", d.cfg.Renew, "lease", ttl)
	}
	return ttl
}

// launch starts the executor for xc with its control channel, records its
// pid, and logs the launch.
func (d *daemon) launch(xc ExecConfig) (*child, net.Conn, error) {
	conn, childEnd, err := ctlPair()
	if err != nil {
		return nil, nil, err
	}
	env := append(execEnv(xc), ctlChildEnv())
	ch, err := startChild(d.cfg.ExecArgv(xc), env, d.out, childEnd)
	childEnd.Close() // the child has its copy; ours would hide its exit
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	if err := d.writePid(ch.pid); err != nil {
		d.cfg.Logger.Warn("pid file not written", "err", err)
	}
	d.log.line("launch", xc.JobID, xc.Epoch, "pid", strconv.Itoa(ch.pid))
	return ch, conn, nil
}

// supervise runs the heartbeat and the control channel while the executor
// runs, stops the executor if the lease is lost or a hard stop comes, and
// returns once the executor has exited and both helpers have ended. It
// reports whether a hard stop ended the job, and whether the executor had
// asked for quiet, which it does just before it sends done.
func (d *daemon) supervise(ch *child, conn net.Conn,
	hb *heartbeat) (hardStopped, reachedDone bool) {
	hbCtx, cancel := context.WithCancel(d.hard)
	var end beatEnd
	hbDone := make(chan struct{})
	go func() {
		end = hb.run(hbCtx)
		close(hbDone)
	}()
	ctlDone := make(chan struct{})
	go func() {
		serveCtl(conn, func() {
			reachedDone = true // read only after ctlDone is closed
			quietHeartbeat(hb, hbDone)
		})
		close(ctlDone)
	}()

	hardStopped = d.await(ch, hbDone, &end)

	cancel()
	<-hbDone
	conn.Close()
	<-ctlDone
	return hardStopped, reachedDone
}

// await waits for the executor to exit, stopping it first if the
// heartbeat loses the lease or a hard stop comes.
func (d *daemon) await(ch *child, hbDone <-chan struct{}, end *beatEnd) (hardStopped bool) {
	for {
		select {
		case <-ch.exited:
			return false
		case <-hbDone:
			hbDone = nil // *end is set; a quiet or final beat just waits for the exit
			if *end == beatLost {
				d.cfg.Logger.Warn("lease lost; stopping the executor", "pid", ch.pid)
				ch.stop(d.cfg.stopGrace)
				return false
			}
		case <-d.hard.Done():
			d.cfg.Logger.Warn("hard stop; stopping the executor", "pid", ch.pid)
			ch.stop(d.cfg.stopGrace)
			return true
		}
	}
}

// quietHeartbeat asks the heartbeat to stop renewing and waits until it
// has, or until it ended by itself.
func quietHeartbeat(hb *heartbeat, hbDone <-chan struct{}) {
	ack := make(chan struct{})
	select {
	case hb.quiet <- ack:
		<-ack
	case <-hbDone:
	}
}

// release gives g back to the queue, best effort.
func (d *daemon) release(g coord.Grant, reason string) {
	ctx, cancel := context.WithTimeout(d.hard, releaseTimeout)
	defer cancel()
	r := coord.Report{Job: g.Job.ID, Factory: d.cfg.ID, Epoch: g.Lease.Epoch}
	if _, err := d.cfg.Service.Release(ctx, r); err != nil {
		d.jobLine("release-failed", g, "reason", reason, "err", err.Error())
		return
	}
	d.jobLine("release", g, "reason", reason)
}

func (d *daemon) jobLine(event string, g coord.Grant, kv ...string) {
	if err := d.log.line(event, g.Job.ID, g.Lease.Epoch, kv...); err != nil {
		d.cfg.Logger.Error("job log", "err", err)
	}
}

func (d *daemon) pidPath() string { return filepath.Join(d.cfg.WorkDir, PidFileName) }

// writePid writes the pid file atomically, so that a harness reading it
// never sees a half-written number.
func (d *daemon) writePid(pid int) error {
	tmp := d.pidPath() + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	if err := os.Rename(tmp, d.pidPath()); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	return nil
}

// removePid removes the pid file once its executor has been waited for, so
// that nobody later signals a pid the system may have reused.
func (d *daemon) removePid(pid int) {
	b, err := os.ReadFile(d.pidPath())
	if err == nil && string(b) == strconv.Itoa(pid)+"\n" {
		os.Remove(d.pidPath())
	}
}

// warnStalePid reports a pid file left by a daemon that died mid-job. Its
// executor may still be running as an orphan; it is not ours to stop (its
// late report will be fenced), but an operator should know.
func (d *daemon) warnStalePid() {
	if b, err := os.ReadFile(d.pidPath()); err == nil {
		d.cfg.Logger.Warn("stale executor pid file: an orphaned executor may be running",
			"file", d.pidPath(), "pid", string(b[:max(len(b)-1, 0)]))
	}
}

// sameDevice checks that the output directories share one file system, as
// the atomic rename from out/ to shipped/ or quarantine/ needs.
func sameDevice(dirs []string) error {
	var first uint64
	for i, dir := range dirs {
		fi, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("output dirs: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil // no device numbers here; the rename will tell
		}
		dev := uint64(st.Dev)
		if i == 0 {
			first = dev
		} else if dev != first {
			return errors.New("output dirs: " + dir + " is not on the file system of " +
				dirs[0] + "; shipping must be an atomic rename")
		}
	}
	return nil
}
