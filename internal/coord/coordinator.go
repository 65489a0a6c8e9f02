package coord

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Bug names a deliberate fault the coordinator can be started with, to
// prove that the scenario and the checker catch it. Never use one outside a
// test or a demonstration.
type Bug string

// The injectable bugs.
const (
	// BugNone is a correct coordinator.
	BugNone Bug = ""
	// BugNoFence accepts renews, patches and releases whatever their epoch
	// and holder: a stale holder's report lands.
	BugNoFence Bug = "no-fence"
	// BugDoubleClaim grants a freshly claimed job a second time, at the same
	// epoch, to the next claimer from another factory.
	BugDoubleClaim Bug = "double-claim"
	// BugNoReap never reclaims an expired lease: no reaper loop, and a late
	// call on an expired lease is not turned into a reclaim.
	BugNoReap Bug = "no-reap"
)

// ParseBug returns the bug named s ("" is none).
func ParseBug(s string) (Bug, error) {
	switch b := Bug(s); b {
	case BugNone, BugNoFence, BugDoubleClaim, BugNoReap:
		return b, nil
	}
	return "", fmt.Errorf("unknown --inject-bug %q (want no-fence, double-claim or no-reap)", s)
}

// Options configure a Coordinator. Zero values take the defaults.
type Options struct {
	Lease              time.Duration // lease length; default 90s
	ReapInterval       time.Duration // how often the reaper looks; default 1s
	CheckpointInterval time.Duration // how often dirty jobs are checkpointed; default 2s
	Product            string        // product of submits that name none
	MaxPayload         int           // bytes; default 16 KiB
	Clock              Clock         // default SystemClock
	Logger             *slog.Logger  // default: discard
	Bug                Bug
	// NoBackground leaves the reaper and checkpointer unstarted, so that a
	// test drives Reap and Checkpoint by hand with a fake clock.
	NoBackground bool
}

func (o *Options) fill() {
	if o.Lease <= 0 {
		o.Lease = 90 * time.Second
	}
	if o.ReapInterval <= 0 {
		o.ReapInterval = time.Second
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = 2 * time.Second
	}
	if o.MaxPayload <= 0 {
		o.MaxPayload = 16 << 10
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Coordinator is the in-process coordinator: the durable, fenced job store
// with its reaper. It implements Service. Every decision is taken under one
// mutex against the reducer's State, written to events.log as one event, and
// answered only once that event is on disk.
type Coordinator struct {
	dir  string
	opt  Options
	log  *slog.Logger
	lock *dirLock
	wal  *wal

	mu        sync.Mutex
	state     *State
	last      *commitBatch        // batch holding the newest event
	dirty     map[string]struct{} // jobs changed since the last checkpoint
	recent    []Event             // ring of the newest events, for Events
	recentPos int
	dup       *Job   // BugDoubleClaim: the job to grant once more, while held
	dupEpoch  uint64 // at this epoch
	dupDone   bool   // the bug grants one job twice, once: enough to be caught
	// now is the clock read once at the start of each locked operation, so
	// that its decision and its event's time are the same instant.
	now    time.Time
	closed bool

	recovery Recovery
	stop     chan struct{}
	bg       sync.WaitGroup
	ckptMu   sync.Mutex // one checkpoint at a time
	closeErr error
	closeOne sync.Once
}

// recentCap is how many recent events the coordinator keeps in memory for
// the events endpoint; older ones are read back from events.log.
const recentCap = 1 << 16

// Open takes the data directory dir (created if missing), recovers the
// state from its checkpoints and events.log, and starts the reaper and the
// checkpointer. A directory already owned by a live process is ErrLocked.
func Open(dir string, opt Options) (*Coordinator, error) {
	opt.fill()
	if err := os.MkdirAll(filepath.Join(dir, "jobs"), 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	lock, err := lockDir(dir, opt.Clock.Now())
	if err != nil {
		return nil, err
	}
	c := &Coordinator{
		dir: dir, opt: opt, log: opt.Logger, lock: lock,
		dirty: map[string]struct{}{}, stop: make(chan struct{}),
	}
	f, state, rec, err := recoverDir(dir, c.log)
	if err != nil {
		lock.unlock()
		return nil, err
	}
	c.state, c.recovery = state, rec
	c.markReplayedDirty()
	c.wal = openWAL(f, rec.LogBytes, state.LastSeq)
	c.log.Info("recovered", "dir", dir, "jobs", len(state.Jobs), "seq", state.LastSeq,
		"from_checkpoint", rec.FromCheckpoint, "replayed", rec.Replayed,
		"torn_bytes", rec.TornBytes, "took", rec.Took)
	if !opt.NoBackground {
		c.bg.Add(2)
		go c.reapLoop()
		go c.checkpointLoop()
	}
	return c, nil
}

// markReplayedDirty marks for the next checkpoint every job that recovery
// rebuilt from log lines rather than from its job file. The next
// checkpoint moves the replay mark past those lines; a job whose file was
// not written by then would be missing from the next recovery (a crash
// before the first checkpoint, a restart, one checkpoint, a second crash:
// the jobs of the first run were gone).
func (c *Coordinator) markReplayedDirty() {
	for id, j := range c.state.Jobs {
		if !c.recovery.FromCheckpoint || j.Seq > c.recovery.CheckpointSeq {
			c.dirty[id] = struct{}{}
		}
	}
}

// Recovery describes what Open found and did.
type Recovery struct {
	FromCheckpoint bool          // replay started from a checkpoint, not line 1
	CheckpointSeq  uint64        // the checkpoint's sequence number
	Replayed       int           // log lines folded after the checkpoint
	TornBytes      int64         // bytes of a torn last line cut off
	LogBytes       int64         // events.log size after recovery
	Took           time.Duration // wall time of the recovery
}

// Recovery reports how the last Open recovered.
func (c *Coordinator) Recovery() Recovery { return c.recovery }

// Dir is the data directory.
func (c *Coordinator) Dir() string { return c.dir }

// Lease is the lease length granted by claims.
func (c *Coordinator) Lease() time.Duration { return c.opt.Lease }

// Close stops the background loops, writes a last checkpoint, flushes and
// closes events.log and releases the directory. It is idempotent; calls in
// flight finish first.
func (c *Coordinator) Close() error {
	c.closeOne.Do(func() {
		close(c.stop)
		c.bg.Wait()
		errCkpt := c.Checkpoint()
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		errWAL := c.wal.close()
		errLock := c.lock.unlock()
		c.closeErr = errors.Join(errCkpt, errWAL, errLock)
	})
	return c.closeErr
}

func (c *Coordinator) reapLoop() {
	defer c.bg.Done()
	if c.opt.Bug == BugNoReap {
		return
	}
	t := time.NewTicker(c.opt.ReapInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			if _, err := c.Reap(context.Background()); err != nil {
				c.log.Error("reap", "err", err)
			}
		}
	}
}

func (c *Coordinator) checkpointLoop() {
	defer c.bg.Done()
	t := time.NewTicker(c.opt.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			if err := c.Checkpoint(); err != nil {
				c.log.Error("checkpoint", "err", err)
			}
		}
	}
}
