// Package follow tails a growing file of lines, such as a coordinator's
// events.log, and delivers its complete lines in batches. It is how the
// dashboard and the observe mode read a live data directory without ever
// touching it: the file is only opened for reading, never written, locked
// or renamed.
//
// Changes are noticed by fsnotify on the file's directory (so a file that
// does not exist yet, or is replaced, is seen the moment it appears), backed
// up by a slow stat poll for file systems where notification is missing or
// lossy (network mounts, some container volumes).
//
// What it can and cannot see. A file replaced by rename, or rotated away
// and made anew, is told from the old one by its inode; the old one is read
// to its end first, through the descriptor already open. Lines a writer
// still appends to a rotated-away file after the new one has been taken up
// are not read: a rotating writer should finish the old file before it
// creates the new one. A truncation is seen by the size, and a truncation
// followed by growth past the read point by the last 64 bytes before that
// point no longer matching; a rewrite that reproduces those 64 bytes
// exactly would go unseen, which for events.log (every line carries its
// own sequence number and checksum) does not happen.
package follow

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Options tunes a Follower. The zero value is ready to use.
type Options struct {
	Poll   time.Duration // stat-poll backup interval; 0 means 500ms
	Logger *slog.Logger  // nil: discard
}

// Batch is a run of complete lines, in file order.
type Batch struct {
	Lines [][]byte // complete lines, without the trailing newline
	// Reset: the file was replaced, truncated or rotated: Lines (and what
	// follows) come from the start of a new file. A Reset batch may hold no
	// lines (the new file is still empty); it is sent at once all the same,
	// so a reader can drop what it folded from the old file.
	Reset bool
}

// Stats counts what a Follower did. PollFinds shows how much the poll
// backup mattered: a steady rise means fsnotify does not work on this file
// system and changes arrive up to one poll interval late.
type Stats struct {
	Lines     uint64 // complete lines delivered
	Bytes     uint64 // bytes of those lines, newlines included
	Batches   uint64 // batches delivered, Reset ones included
	Resets    uint64 // truncations, replacements and rotations seen
	PollFinds uint64 // poll ticks that found news no fsnotify event had announced
	Skipped   uint64 // lines longer than the line limit, dropped unread
	Torn      uint64 // unfinished last lines abandoned or found rewritten
}

const (
	defaultPoll = 500 * time.Millisecond
	// chunkSize is how much is read at a time, and so about the most a
	// batch holds: memory follows the batch, not the file.
	chunkSize = 64 << 10
	// maxLine bounds an unfinished line held while waiting for its end. An
	// events.log line is at most a few hundred kilobytes (the coordinator
	// caps payloads at 16 KiB, and quoting at most multiplies by ten).
	maxLine = 1 << 20
	// anchorSize is how much of the last complete line is kept to notice a
	// file rewritten in place past the point already read.
	anchorSize = 64
)

// Follower tails one file. Create it with New, then Start it, read
// Batches until it is closed, and Stop it. Batches must be read: the
// follower waits for its reader rather than drop lines (the file keeps
// them, so waiting costs nothing but delay), and Stop ends the wait.
type Follower struct {
	path, dir string
	poll      time.Duration
	log       *slog.Logger

	out  chan Batch
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex // guards started, stopped and stats
	started  bool
	stopped  bool
	stats    Stats
	stopOnce sync.Once

	// Owned by the goroutine that run starts.
	t           tail
	byPoll      bool // this catch-up was started by the poll, not by fsnotify
	pollCounted bool // and its news is already counted in PollFinds
	openWarned  bool // the open error is logged already

	// Test hooks and limits; production leaves them at their defaults.
	idle     func(off int64) // called each time the follower has caught up
	noNotify bool            // poll only, as on a file system without inotify
}

// New returns a Follower of the file at path. Nothing happens until Start.
func New(path string, opt Options) *Follower {
	if opt.Poll <= 0 {
		opt.Poll = defaultPoll
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	return &Follower{
		path: path, dir: filepath.Dir(path), poll: opt.Poll,
		log:  opt.Logger.With("follow", path),
		out:  make(chan Batch),
		stop: make(chan struct{}),
		done: make(chan struct{}),
		t:    tail{chunk: chunkSize, maxLine: maxLine},
	}
}

// Batches returns the channel of batches. It is closed after Stop.
func (f *Follower) Batches() <-chan Batch { return f.out }

// Start begins following in a goroutine and returns at once. The file, and
// even its directory, may not exist yet. It fails only when called twice or
// after Stop; when fsnotify cannot be set up it logs why and polls instead.
func (f *Follower) Start() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.started || f.stopped {
		return fmt.Errorf("follow %s: Start after Start or Stop", f.path)
	}
	f.started = true

	var w *fsnotify.Watcher
	if !f.noNotify {
		var err error
		if w, err = fsnotify.NewWatcher(); err != nil {
			f.log.Warn("fsnotify unavailable; polling only", "poll", f.poll, "err", err)
			w = nil
		}
	}
	go f.run(w)
	return nil
}

// Stop ends following, waits for the goroutine to finish, closes the file
// and the Batches channel. It may be called any number of times, from any
// goroutine, before or after Start.
func (f *Follower) Stop() {
	f.stopOnce.Do(func() {
		f.mu.Lock()
		started := f.started
		f.stopped = true
		f.mu.Unlock()
		close(f.stop)
		if !started {
			close(f.out)
			close(f.done)
		}
	})
	<-f.done
}

// Stats returns the counts so far.
func (f *Follower) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// run is the follower's goroutine: catch up with the file, then sleep until
// fsnotify or the poll says something may have changed, until Stop.
func (f *Follower) run(w *fsnotify.Watcher) {
	defer close(f.done)
	defer close(f.out)
	defer f.t.close()
	// The watch goes in before the first look at the file, so that a file
	// created between the two is announced rather than missed.
	n := newNotifier(w, f.dir, f.log)
	defer n.stop()
	tick := time.NewTicker(f.poll)
	defer tick.Stop()

	polled := false
	for {
		f.byPoll, f.pollCounted = polled, false
		news, ok := f.catchUp()
		if !ok {
			return
		}
		if news {
			f.count(f.notePoll)
		}
		if f.idle != nil {
			f.idle(f.t.off)
		}

		polled = false
		select {
		case <-f.stop:
			return
		case ev, ok := <-n.events():
			n.saw(ev, ok)
		case err, ok := <-n.errors():
			n.failed(err, ok)
		case <-tick.C:
			n.rewatch()
			polled = true
		}
	}
}

// catchUp brings the reader to the end of the file at path, following a
// truncation, replacement or rotation on the way. news reports whether it
// found anything; ok is false when Stop interrupted it.
func (f *Follower) catchUp() (news, ok bool) {
	if f.t.file == nil {
		if !f.open() {
			return false, true
		}
		news = true
	}
	if f.t.rewritten() {
		f.resetTo(nil, "file truncated or rewritten in place")
		news = true
	}
	n, ok := f.drain()
	news = news || n > 0
	if !ok {
		return news, false
	}

	next, err := f.t.successor(f.path)
	if err != nil {
		f.log.Warn("cannot compare the file with its path", "err", err)
	}
	if next == nil {
		return news, true
	}
	// A new file is at the path. Whatever the old one got before the
	// switch still counts: drain it once more (a writer may have appended
	// after the first drain), then start the new one from its beginning.
	if _, ok := f.drain(); !ok {
		next.Close()
		return true, false
	}
	f.resetTo(next, "file replaced or rotated")
	_, ok = f.drain()
	return true, ok
}

// open opens the file at path for the first time. A later file at the
// path is a successor and comes in through resetTo instead.
func (f *Follower) open() bool {
	file, err := os.Open(f.path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) && !f.openWarned {
			f.openWarned = true // once: it is retried on every poll
			f.log.Warn("cannot open; will retry", "err", err)
		}
		return false
	}
	f.openWarned = false
	f.t.reopen(file)
	f.log.Debug("opened")
	return true
}

// resetTo abandons what was read so far and restarts from the beginning of
// next, or of the same file when next is nil. The next batch says Reset.
func (f *Follower) resetTo(next *os.File, why string) {
	torn := f.t.pendingBytes() > 0
	if next != nil {
		f.t.reopen(next)
	} else if err := f.t.rewind(); err != nil {
		f.log.Warn("cannot rewind; reopening", "err", err)
		f.t.close()
	}
	f.t.reset = true
	f.log.Info(why+"; reading it from the start", "abandoned_partial_line", torn)
	f.count(func(s *Stats) {
		s.Resets++
		if torn {
			s.Torn++
		}
	})
}

// drain reads the current file to its end, sending a batch per chunk that
// completes at least one line (and a Reset batch even when none does).
func (f *Follower) drain() (int64, bool) {
	var total int64
	for f.t.file != nil {
		select {
		case <-f.stop:
			return total, false
		default:
		}
		lines, n, err := f.t.read()
		total += int64(n)
		if len(lines) > 0 || f.t.reset {
			if !f.send(Batch{Lines: lines, Reset: f.t.reset}) {
				return total, false
			}
			f.t.reset = false
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				f.log.Warn("read failed; will retry", "err", err)
			}
			break
		}
	}
	f.count(f.noteTail)
	return total, true
}

// send hands b to the reader. It is counted before it is handed over, so
// that a reader who has it already sees it in Stats; a send that Stop
// interrupts is taken back out.
func (f *Follower) send(b Batch) bool {
	var bytes uint64
	for _, l := range b.Lines {
		bytes += uint64(len(l)) + 1
	}
	lines := uint64(len(b.Lines))
	f.count(func(s *Stats) {
		s.Batches, s.Lines, s.Bytes = s.Batches+1, s.Lines+lines, s.Bytes+bytes
		f.noteTail(s)
		f.notePoll(s)
	})

	select {
	case f.out <- b:
		return true
	case <-f.stop:
		f.count(func(s *Stats) {
			s.Batches, s.Lines, s.Bytes = s.Batches-1, s.Lines-lines, s.Bytes-bytes
		})
		return false
	}
}

// noteTail copies the reader's own counts into s.
func (f *Follower) noteTail(s *Stats) {
	s.Skipped = f.t.skipped
	s.Torn += f.t.takeTorn()
}

// notePoll counts a catch-up started by the poll that found news, once.
// fsnotify would have started it first had it seen the change.
func (f *Follower) notePoll(s *Stats) {
	if f.byPoll && !f.pollCounted {
		s.PollFinds++
		f.pollCounted = true
	}
}

func (f *Follower) count(update func(*Stats)) {
	f.mu.Lock()
	update(&f.stats)
	f.mu.Unlock()
}
