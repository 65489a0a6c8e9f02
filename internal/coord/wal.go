package coord

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
)

// wal is events.log opened for appending, with group commit: every caller
// whose line is queued while an fsync is in flight shares the next fsync.
// One fsync per operation caps the coordinator near the disk's fsync rate;
// sharing it lets throughput grow with concurrency instead.
//
// Lines are queued (enqueue) under the coordinator's mutex, so the file's
// order is the sequence order; the committer goroutine writes and syncs them
// and closes the batch's done channel. A caller is answered only after its
// batch is done: an acknowledged event is on disk.
type wal struct {
	f *os.File

	mu      sync.Mutex
	pending []byte
	batch   *commitBatch // the batch now collecting lines
	size    int64        // bytes queued so far: the offset after the last queued line
	failed  error        // sticky: after a failed write or sync nothing more is accepted
	closed  bool

	kick chan struct{} // wakes the committer; buffered, one token
	quit chan struct{}
	done chan struct{} // closed when the committer has exited

	notifyMu sync.Mutex
	notify   chan struct{} // closed and replaced after every commit
	durable  uint64        // highest seq on disk (under notifyMu)
}

// commitBatch is the set of lines one fsync makes durable.
type commitBatch struct {
	done    chan struct{}
	err     error
	lastSeq uint64
}

// errWALClosed is returned by enqueue after close.
var errWALClosed = errors.New("events.log is closed")

func openWAL(f *os.File, size int64, durable uint64) *wal {
	w := &wal{
		f:       f,
		size:    size,
		batch:   &commitBatch{done: make(chan struct{})},
		kick:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		notify:  make(chan struct{}),
		durable: durable,
	}
	go w.run()
	return w
}

// enqueue queues one line (newline included) for seq and returns the batch
// that will make it durable.
func (w *wal) enqueue(line []byte, seq uint64) (*commitBatch, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed != nil {
		return nil, w.failed
	}
	if w.closed {
		return nil, errWALClosed
	}
	w.pending = append(w.pending, line...)
	w.size += int64(len(line))
	w.batch.lastSeq = seq
	b := w.batch
	select {
	case w.kick <- struct{}{}:
	default:
	}
	return b, nil
}

// offset returns the byte offset just after the last queued line.
func (w *wal) offset() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.size
}

func (w *wal) run() {
	defer close(w.done)
	for {
		select {
		case <-w.kick:
			w.commit()
		case <-w.quit:
			w.commit()
			return
		}
	}
}

// commit writes and syncs whatever is pending as one batch.
func (w *wal) commit() {
	w.mu.Lock()
	buf, b := w.pending, w.batch
	if len(buf) == 0 || w.failed != nil {
		// After a failure the lines still pending belong to the batch the
		// failure already answered: their callers were told they failed, so
		// they must never reach the file, and that batch must not be
		// answered twice.
		w.pending = nil
		w.mu.Unlock()
		return
	}
	w.pending = make([]byte, 0, cap(buf))
	w.batch = &commitBatch{done: make(chan struct{})}
	w.mu.Unlock()

	err := writeAndSync(w.f, buf)
	if err != nil {
		err = fmt.Errorf("%w: events.log write failed, refusing further writes: %w",
			ErrUnavailable, err)
		w.mu.Lock()
		w.failed = err
		// Lines queued behind the failed batch can never land: fail them too.
		next := w.batch
		w.mu.Unlock()
		next.err = err
		close(next.done)
	}
	// Advance durable before answering the batch's callers: one who was told
	// its event is on disk and then reads the events must find it there.
	if err == nil {
		w.notifyMu.Lock()
		w.durable = b.lastSeq
		close(w.notify)
		w.notify = make(chan struct{})
		w.notifyMu.Unlock()
	}
	b.err = err
	close(b.done)
}

func writeAndSync(f *os.File, buf []byte) error {
	if _, err := f.Write(buf); err != nil {
		return err
	}
	// fdatasync is enough: the file is append-only, and fdatasync also
	// flushes the size change that appending makes.
	return syscall.Fdatasync(int(f.Fd()))
}

// durableSeq returns the highest seq on disk and a channel closed when it
// next grows.
func (w *wal) durableSeq() (uint64, <-chan struct{}) {
	w.notifyMu.Lock()
	defer w.notifyMu.Unlock()
	return w.durable, w.notify
}

// close flushes what is pending, stops the committer and closes the file.
func (w *wal) close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.done
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	close(w.quit)
	<-w.done
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("close events.log: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}

// wait blocks until b is durable and returns its error.
func (b *commitBatch) wait() error {
	<-b.done
	return b.err
}
