package orchestrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/coord/api"
	"github.com/twofactory/twofactory/internal/factory"
)

// ErrCouldNotRun marks a scenario that could not be carried out (a child
// that would not start, a wait that timed out, a cancelled run): exit 3,
// as opposed to a guarantee that failed (exit 1).
var ErrCouldNotRun = errors.New("could not run the scenario")

// run is one execution of the scenario.
type run struct {
	cfg   Config
	out   *emitter
	procs *procSet
	dir   string
	svc   coord.Service
	w     *watch

	jobs      []string
	factories [2]*child
	victimJob string // the job the victim held when it was killed
	victimEp  uint64
	zombiePid int
	// reclaimMissed: the reaper did not reclaim the victim's job in time.
	reclaimMissed bool
	// noStream: the live server has no event stream; waits and the judge
	// read job states instead of events.
	noStream bool
	zombie   zombieOutcome
	parallel parallelSeen
}

type parallelSeen struct {
	at   time.Time
	jobs [2]string
}

type zombieOutcome struct {
	exited bool
	status string
	code   int // its exit code, when it exited (not killed by a signal)
}

// Run carries out the scenario of cfg, reporting each step on progress,
// which it closes when it returns. It returns the Results once the
// guarantees were judged (Results.Pass says whether they held), or an error
// wrapping ErrCouldNotRun when the scenario could not be carried out. Every
// process it started is stopped before it returns, on every path.
func Run(ctx context.Context, cfg Config, progress chan<- Progress) (*Results, error) {
	out := newEmitter(progress)
	defer out.close()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, out: out, procs: newProcSet()}
	res, err := r.execute(ctx)
	r.cleanup()
	if err != nil {
		out.emit(Progress{Step: StepError, Text: "ERROR: " + err.Error()})
		if !errors.Is(err, ErrCouldNotRun) {
			err = fmt.Errorf("%w: %w", ErrCouldNotRun, err)
		}
		return nil, err
	}
	return res, nil
}

func (r *run) execute(ctx context.Context) (*Results, error) {
	if err := r.prepare(); err != nil {
		return nil, err
	}
	if err := r.startCoordinator(ctx); err != nil {
		return nil, err
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	r.w = newWatch(r.svc)
	if r.noStream {
		r.w = newPollWatch(r.svc, r.cfg.Poll, coord.ListFilter{Product: r.cfg.Product})
	}
	go r.w.run(watchCtx)

	steps := []func(context.Context) error{
		r.submit, r.startFactories, r.awaitParallel, r.killVictim, r.awaitReclaim,
		r.releaseZombie, r.awaitDrain,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	res := r.judge()
	r.out.emit(Progress{Step: StepJudge, Text: verdictLine(res), Results: res})
	return res, nil
}

func (r *run) prepare() error {
	dir := r.cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "twofactory-run-")
		if err != nil {
			return fmt.Errorf("%w: create run directory: %w", ErrCouldNotRun, err)
		}
		dir = d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: create run directory: %w", ErrCouldNotRun, err)
	}
	r.dir = dir
	for _, sub := range []string{"shipped", "quarantine"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return fmt.Errorf("%w: %w", ErrCouldNotRun, err)
		}
	}
	if err := becomeSubreaper(); err != nil {
		r.out.emit(Progress{Step: StepWarn, Text: "warning: " + err.Error() +
			"; an orphaned executor may outlive the run"})
	}
	lease := r.cfg.Lease
	leaseText := lease.String()
	if r.cfg.Mode == ModeReal {
		leaseText, lease = "the server's", 0 // learnt from its first CLAIM
	}
	text := fmt.Sprintf("mode=%s factories=%s,%s (victim %s) jobs=%d job-sleep=%v lease=%s "+
		"renew=%v dir=%s", r.cfg.Mode, r.cfg.Factories[0], r.cfg.Factories[1],
		r.cfg.Factories[0], r.cfg.Jobs, r.cfg.JobSleep, leaseText, r.cfg.Renew, dir)
	if r.cfg.Bug != coord.BugNone {
		text += " inject-bug=" + string(r.cfg.Bug)
	}
	r.out.emit(Progress{Step: StepConfig, Text: text, Dir: dir, Lease: lease,
		Factories: r.cfg.Factories[:]})
	return nil
}

// startCoordinator starts our coordinator (stub mode) or checks the live one
// (real mode), and sets r.svc.
func (r *run) startCoordinator(ctx context.Context) error {
	if r.cfg.Mode == ModeReal {
		return r.connectReal(ctx)
	}
	coordDir := filepath.Join(r.dir, "coord")
	argv := []string{r.cfg.Binary, "coordinator", "--dir", coordDir,
		"--listen", "127.0.0.1:0", "--lease", r.cfg.Lease.String(),
		"--reap-interval", (r.cfg.Lease / 10).String()}
	if r.cfg.Bug != coord.BugNone {
		argv = append(argv, "--inject-bug", string(r.cfg.Bug))
	}
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, addr, err := r.procs.startWithLine(sctx, "coordinator", argv,
		filepath.Join(r.dir, "coordinator.log"), listeningPrefix)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCouldNotRun, err)
	}
	base := "http://" + addr + "/api"
	cl, err := api.NewClient(base, "")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCouldNotRun, err)
	}
	if err := cl.Health(sctx); err != nil {
		return fmt.Errorf("%w: coordinator health: %w", ErrCouldNotRun, err)
	}
	r.svc, r.cfg.API = cl, base
	r.out.emit(Progress{Step: StepCoordinator, Pid: c.pid(), Lease: r.cfg.Lease,
		EventsLog: filepath.Join(coordDir, "events.log"),
		Text: fmt.Sprintf("coordinator pid %d listening on %s (lease %v, its own reaper)",
			c.pid(), base, r.cfg.Lease)})
	return nil
}

// listeningPrefix is how `twofactory-tui coordinator` announces its address
// on stderr.
const listeningPrefix = "coordinator listening on "

func (r *run) submit(ctx context.Context) error {
	prefix := "job"
	if r.cfg.Mode == ModeReal {
		prefix = fmt.Sprintf("tf-%d", time.Now().Unix())
	}
	for i := 1; i <= r.cfg.Jobs; i++ {
		id := fmt.Sprintf("%s-%d", prefix, i)
		if _, err := r.submitOne(ctx, id); err != nil {
			return fmt.Errorf("%w: submit %s: %w", ErrCouldNotRun, id, err)
		}
		r.jobs = append(r.jobs, id)
		r.out.emit(Progress{Step: StepSubmit, Job: id, Epoch: 1,
			Text: fmt.Sprintf("submitted %s (queued, epoch 1)", id)})
	}
	return nil
}

func (r *run) startFactories(ctx context.Context) error {
	for i, id := range r.cfg.Factories {
		work := filepath.Join(r.dir, "work-"+id)
		argv := []string{r.cfg.Binary, "factory", "--id", id, "--api", r.cfg.API,
			"--work", work, "--shipped", filepath.Join(r.dir, "shipped"),
			"--quarantine", filepath.Join(r.dir, "quarantine"),
			"--log", filepath.Join(r.dir, "log-"+id+".txt"),
			"--job-sleep", r.cfg.JobSleep.String(), "--poll", r.cfg.Poll.String(),
			"--renew", r.cfg.Renew.String()}
		if r.cfg.Product != "" {
			argv = append(argv, "--product", r.cfg.Product)
		}
		c, err := r.procs.startEnv(id, argv, filepath.Join(r.dir, "factory-"+id+".stderr"),
			tokenEnv(r.cfg.Token))
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCouldNotRun, err)
		}
		r.factories[i] = c
		role := "survivor"
		if i == 0 {
			role = "victim"
		}
		r.out.emit(Progress{Step: StepFactory, Factory: id, Pid: c.pid(),
			Text: fmt.Sprintf("started factory %s pid %d (%s)", id, c.pid(), role)})
	}
	return nil
}

func tokenEnv(token string) []string {
	if token == "" {
		return nil
	}
	return []string{"AQ_FLEET_TOKEN=" + token}
}

// awaitParallel waits until both factories hold a job whose executor is
// running: the moment to kill the victim, mid-job with a live lease.
func (r *run) awaitParallel(ctx context.Context) error {
	v, s := r.cfg.Factories[0], r.cfg.Factories[1]
	drained := false
	err := r.w.until(ctx, r.cfg.Timeout, "both factories to run a job at once",
		func(vw view) bool {
			jv, js := running(vw.State, v), running(vw.State, s)
			if jv == nil || js == nil {
				// Once every job is final nothing can overlap any more: say
				// why now rather than wait out the timeout.
				drained = r.allFinal(vw.State)
				return drained
			}
			r.parallel = parallelSeen{at: time.Now(), jobs: [2]string{jv.ID, js.ID}}
			r.victimJob, r.victimEp = jv.ID, jv.Epoch
			return true
		})
	if err != nil {
		return r.stuck(err)
	}
	if drained {
		return fmt.Errorf("%w: every job finished before both factories ran one at once; the "+
			"jobs are too short to kill a factory mid-job (raise DEMO_JOB_SLEEP above %v)",
			ErrCouldNotRun, r.cfg.JobSleep)
	}
	r.out.emit(Progress{Step: StepParallel, Factory: v, Job: r.victimJob, Epoch: r.victimEp,
		Text: fmt.Sprintf("PARALLELISM observed: %s running %s@%d while %s runs %s",
			v, r.parallel.jobs[0], r.victimEp, s, r.parallel.jobs[1])})
	return r.checkServerLease()
}

// allFinal reports whether every job of the run is in a final stage.
func (r *run) allFinal(st *coord.State) bool {
	for _, id := range r.jobs {
		if j := st.Jobs[id]; j == nil || !j.Stage.Terminal() {
			return false
		}
	}
	return true
}

// running returns the job f holds in a working stage (its executor has
// reported in), or nil.
func running(st *coord.State, f string) *coord.Job {
	for _, j := range st.Order {
		if j.Holder == f && j.Stage.Working() {
			return j
		}
	}
	return nil
}

// stuck explains a wait that did not end, with what the factories said.
func (r *run) stuck(err error) error {
	for i, c := range r.factories {
		if i == 0 && r.zombiePid != 0 {
			continue // the victim: we killed it, its exit explains nothing
		}
		if c != nil && c.exited() {
			return fmt.Errorf("%w: factory %s exited early (%v); see %s: %w", ErrCouldNotRun,
				r.cfg.Factories[i], c.err,
				filepath.Join(r.dir, "factory-"+r.cfg.Factories[i]+".stderr"), err)
		}
	}
	return fmt.Errorf("%w: %w", ErrCouldNotRun, err)
}

// killVictim freezes the victim's executor and SIGKILLs the daemon. The
// executor is stopped first so that it cannot finish its job in the instant
// between the two signals; the result is the same as the design's order
// (kill, then stop the orphan) without the race.
func (r *run) killVictim(ctx context.Context) error {
	v := r.cfg.Factories[0]
	pid, err := readPid(filepath.Join(r.dir, "work-"+v, "executor.pid"))
	if err != nil {
		return fmt.Errorf("%w: find %s's executor: %w", ErrCouldNotRun, v, err)
	}
	r.zombiePid = pid
	r.procs.adopt(pid)
	if err := syscall.Kill(-pid, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("%w: SIGSTOP executor %d: %w", ErrCouldNotRun, pid, err)
	}
	daemon := r.factories[0]
	if err := syscall.Kill(daemon.pid(), syscall.SIGKILL); err != nil {
		return fmt.Errorf("%w: SIGKILL %s: %w", ErrCouldNotRun, v, err)
	}
	<-daemon.done // the executor is re-parented to us from here on
	r.out.emit(Progress{Step: StepKill, Factory: v, Job: r.victimJob, Epoch: r.victimEp,
		Pid: daemon.pid(), Text: fmt.Sprintf("killed factory %s (pid %d, SIGKILL) mid-job "+
			"on %s@%d, its executor frozen just before: its heartbeats stop", v, daemon.pid(),
			r.victimJob, r.victimEp)})
	r.out.emit(Progress{Step: StepFreeze, Factory: v, Job: r.victimJob, Epoch: r.victimEp,
		Pid: pid, Text: fmt.Sprintf("its orphaned executor pid %d stays frozen (SIGSTOP): "+
			"the zombie still believes it holds %s@%d", pid, r.victimJob, r.victimEp)})
	return r.checkStillHeld()
}

// checkStillHeld fails clearly when the victim finished its job before the
// kill landed: then no reclaim or fence can be shown.
func (r *run) checkStillHeld() error {
	done := false
	_ = r.w.until(context.Background(), 0, "", func(vw view) bool {
		j := vw.State.Jobs[r.victimJob]
		// The finisher stays the holder of a final job: only the victim's
		// own done at its own epoch means it beat the kill.
		done = j != nil && j.Stage.Terminal() && j.Epoch == r.victimEp &&
			j.Holder == r.cfg.Factories[0]
		return true
	})
	if done {
		return fmt.Errorf("%w: factory %s finished %s before it could be killed; the jobs are "+
			"too short to kill a factory mid-job (raise DEMO_JOB_SLEEP above %v)",
			ErrCouldNotRun, r.cfg.Factories[0], r.victimJob, r.cfg.JobSleep)
	}
	return nil
}

func readPid(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0, fmt.Errorf("%s is empty", path)
	}
	pid, err := strconv.Atoi(strings.TrimPrefix(f[0], "pid="))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("%s does not hold a pid", path)
	}
	return pid, nil
}

// reapWait bounds the wait for the reaper: in real mode the configured
// DEMO_REAP_WAIT, in stub mode a few leases of our own coordinator.
func (r *run) reapWait() time.Duration {
	if r.cfg.Mode == ModeReal {
		return r.cfg.ReapWait
	}
	return min(max(4*r.cfg.Lease, 5*time.Second), r.cfg.Timeout)
}

// awaitReclaim waits for the coordinator's own reaper to put the victim's
// job back with its epoch bumped, and for the survivor to claim it at the
// new epoch. A wait that runs out is reported and left for the judge: a
// coordinator that never reclaims fails guarantee (b), it does not stop the
// run.
func (r *run) awaitReclaim(ctx context.Context) error {
	job, ep, s := r.victimJob, r.victimEp, r.cfg.Factories[1]
	err := r.w.until(ctx, r.reapWait(), "the reaper to reclaim "+job, func(vw view) bool {
		// A job that ends at the victim's epoch was finished by the victim
		// (its done was in flight at the kill): there is nothing to reclaim.
		j := vw.State.Jobs[job]
		if j != nil && j.Stage.Terminal() && j.Epoch == ep && j.Holder == r.cfg.Factories[0] {
			return true
		}
		if r.noStream {
			// Without events the reclaim shows as the job at a newer epoch.
			return j != nil && j.Epoch > ep
		}
		return findEvent(vw.Events, func(e coord.Event) bool {
			return e.Type == coord.EvReclaim && e.Job == job && e.Epoch == ep
		}) != nil
	})
	if err := r.checkStillHeld(); err != nil {
		return err
	}
	if err != nil {
		r.reclaimMissed = true
		return r.soft(ctx, err)
	}
	r.out.emit(Progress{Step: StepReclaim, Job: job, Epoch: ep + 1, Factory: r.cfg.Factories[0],
		Text: fmt.Sprintf("reaper reclaimed %s from %s: lease expired, epoch %d -> %d, "+
			"back to queued", job, r.cfg.Factories[0], ep, ep+1)})

	var by string
	var at uint64
	err = r.w.until(ctx, r.cfg.Timeout, s+" to claim "+job, func(vw view) bool {
		by, at = r.claimAfter(vw, job, ep)
		return by != ""
	})
	if err != nil {
		return r.soft(ctx, err)
	}
	r.out.emit(Progress{Step: StepReclaimed, Job: job, Epoch: at, Factory: by,
		Text: fmt.Sprintf("%s claimed %s at epoch %d", by, job, at)})
	return nil
}

// claimAfter returns who claimed job at an epoch above ep, and at which:
// by the CLAIM event, or without a stream by the holder the job state shows
// (the coordinator keeps the holder through done). "" when none yet.
func (r *run) claimAfter(vw view, job string, ep uint64) (string, uint64) {
	if r.noStream {
		if j := vw.State.Jobs[job]; j != nil && j.Epoch > ep && j.Holder != "" {
			return j.Holder, j.Epoch
		}
		return "", 0
	}
	for _, e := range slices.Backward(vw.Events) {
		if e.Type == coord.EvClaim && e.Job == job && e.Epoch > ep {
			return e.Factory, e.Epoch
		}
	}
	return "", 0
}

// soft turns a timed-out wait into a warning; cancellation and a failed
// event stream still end the run.
func (r *run) soft(ctx context.Context, err error) error {
	if ctx.Err() != nil || !errors.Is(err, errWaitTimeout) {
		return fmt.Errorf("%w: %w", ErrCouldNotRun, err)
	}
	r.out.emit(Progress{Step: StepWarn, Text: "warning: " + err.Error() + "; judging what happened"})
	return nil
}

// releaseZombie lets the frozen executor go on. Its next report carries the
// epoch it was granted, which the reclaim made stale: the coordinator must
// refuse it (409) and the executor must quarantine its result.
func (r *run) releaseZombie(ctx context.Context) error {
	job, ep, v := r.victimJob, r.victimEp, r.cfg.Factories[0]
	if err := syscall.Kill(-r.zombiePid, syscall.SIGCONT); err != nil {
		return fmt.Errorf("%w: SIGCONT executor %d: %w", ErrCouldNotRun, r.zombiePid, err)
	}
	r.out.emit(Progress{Step: StepThaw, Factory: v, Job: job, Epoch: ep, Pid: r.zombiePid,
		Text: fmt.Sprintf("released the zombie executor pid %d (SIGCONT): it reports %s "+
			"with its stale epoch %d", r.zombiePid, job, ep)})

	wctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	ws, err := waitPid(wctx, r.zombiePid)
	if err != nil {
		return r.soft(ctx, fmt.Errorf("waiting for the zombie executor: %w", errWaitTimeout))
	}
	r.zombie = zombieOutcome{exited: true, status: exitText(ws), code: -1}
	if ws.Exited() {
		r.zombie.code = ws.ExitStatus()
	}
	if r.noStream {
		r.reportZombieFromFiles()
		return nil
	}
	isFence := func(e coord.Event) bool {
		return e.Type == coord.EvFence && e.Job == job && e.Epoch == ep && e.Factory == v
	}
	// A report of the zombie's accepted after the reclaim: what a coordinator
	// that does not fence lets through.
	reclaimSeq := uint64(1<<63 - 1)
	if rc := r.lastEvent(func(e coord.Event) bool {
		return e.Type == coord.EvReclaim && e.Job == job && e.Epoch == ep
	}); rc != nil {
		reclaimSeq = rc.Seq
	}
	isAccepted := func(e coord.Event) bool {
		return e.Type == coord.EvPatch && e.Job == job && e.Epoch == ep && e.Factory == v &&
			e.Seq > reclaimSeq
	}
	// The executor exits after its answer, and the coordinator logs before it
	// answers, so the event is already written: this wait is for the stream.
	_ = r.w.until(ctx, 5*time.Second, "the zombie's report", func(vw view) bool {
		return findEvent(vw.Events, isFence) != nil || findEvent(vw.Events, isAccepted) != nil
	})
	if fe := r.lastEvent(isFence); fe != nil {
		r.out.emit(Progress{Step: StepFence, Factory: v, Job: job, Epoch: ep,
			Text: fmt.Sprintf("zombie report for %s@epoch=%d was FENCED (HTTP 409): %s refused, "+
				"job is at epoch %d (%s)", job, ep, fe.Op, fe.After.Epoch, fe.Reason)})
	} else if acc := r.lastEvent(isAccepted); acc != nil {
		r.out.emit(Progress{Step: StepWarn, Factory: v, Job: job, Epoch: ep,
			Text: fmt.Sprintf("VIOLATION: zombie report %s for %s@epoch=%d was ACCEPTED "+
				"after the reclaim", acc.Label(), job, ep)})
	}
	q := filepath.Join(r.dir, "quarantine", fmt.Sprintf("%s@epoch=%d", job, ep))
	if _, err := os.Stat(q); err == nil {
		r.out.emit(Progress{Step: StepQuarantine, Factory: v, Job: job, Epoch: ep,
			Text: fmt.Sprintf("zombie quarantined its result in %s (%s); it never ships",
				relTo(r.dir, q), r.zombie.status)})
	}
	return nil
}

// reportZombieFromFiles says how the zombie ended without events: its exit
// code, the factory log's fence line and its quarantine entry.
func (r *run) reportZombieFromFiles() {
	job, ep, v := r.victimJob, r.victimEp, r.cfg.Factories[0]
	f := r.zombieFiles()
	switch {
	case f.fenced():
		r.out.emit(Progress{Step: StepFence, Factory: v, Job: job, Epoch: ep,
			Text: fmt.Sprintf("zombie report for %s@epoch=%d was FENCED: its executor exited "+
				"%q (code %d)%s", job, ep, factory.Fenced, r.zombie.code, f.logNote())})
	default:
		r.out.emit(Progress{Step: StepWarn, Factory: v, Job: job, Epoch: ep,
			Text: fmt.Sprintf("the zombie executor for %s@epoch=%d ended with %s, not as "+
				"fenced", job, ep, r.zombie.status)})
	}
	if f.quarantined {
		r.out.emit(Progress{Step: StepQuarantine, Factory: v, Job: job, Epoch: ep,
			Text: fmt.Sprintf("zombie quarantined its result in %s (%s); it never ships",
				"quarantine/"+quarantineName(job, ep), r.zombie.status)})
	}
}

func exitText(ws interface {
	Exited() bool
	ExitStatus() int
	Signaled() bool
}) string {
	if ws.Exited() {
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	}
	return "killed by a signal"
}

// awaitDrain waits until every submitted job is final.
func (r *run) awaitDrain(ctx context.Context) error {
	d := r.cfg.Timeout
	if r.cfg.Mode == ModeReal {
		d = r.cfg.DrainWait
	}
	start := time.Now()
	err := r.w.until(ctx, d, "the survivor to drain every job", func(vw view) bool {
		for _, id := range r.jobs {
			if id == r.victimJob && r.reclaimMissed {
				// Never reclaimed, the victim's job stays with the dead
				// victim: nobody can finish it, and the judge says why.
				continue
			}
			if j := vw.State.Jobs[id]; j == nil || !j.Stage.Terminal() {
				return false
			}
		}
		return true
	})
	if err != nil {
		return r.stuck(err)
	}
	r.out.emit(Progress{Step: StepDrain, Text: fmt.Sprintf("all %d jobs final (drain took %.1fs)",
		len(r.jobs), time.Since(start).Seconds())})
	var done []string
	for _, id := range r.jobs {
		if j := r.w.stateJob(id); j.Stage == coord.StageDone {
			done = append(done, id)
		}
	}
	err = awaitFiles(ctx, filepath.Join(r.dir, "shipped"), done, 10*time.Second)
	if err != nil {
		return r.soft(ctx, err)
	}
	return nil
}

func findEvent(evs []coord.Event, match func(coord.Event) bool) *coord.Event {
	for i := range evs {
		if match(evs[i]) {
			return &evs[i]
		}
	}
	return nil
}

func (r *run) lastEvent(match func(coord.Event) bool) *coord.Event {
	evs := r.w.snapshot()
	for i := len(evs) - 1; i >= 0; i-- {
		if match(evs[i]) {
			return &evs[i]
		}
	}
	return nil
}

func relTo(base, p string) string {
	if rel, err := filepath.Rel(base, p); err == nil {
		return rel
	}
	return p
}

// cleanup stops every process of the run and removes its directory unless
// asked to keep it.
func (r *run) cleanup() {
	r.procs.stopAll(3 * time.Second)
	if r.dir == "" {
		return
	}
	if r.cfg.Keep || r.cfg.Dir != "" {
		r.out.emit(Progress{Step: StepCleanup, Dir: r.dir,
			Text: "stopped every process; run directory kept: " + r.dir})
		return
	}
	if err := os.RemoveAll(r.dir); err != nil {
		r.out.emit(Progress{Step: StepWarn, Text: "warning: remove run directory: " + err.Error()})
	}
	r.out.emit(Progress{Step: StepCleanup, Text: "stopped every process; removed the run " +
		"directory (--keep keeps it)"})
}
