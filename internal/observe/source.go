package observe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/coord/follow"
	"github.com/twofactory/twofactory/internal/view"
)

// Source is where observed events come from. Run sends batches, oldest
// first, on out until ctx ends (then it returns nil), the source is
// exhausted (a one-shot source), or it fails for good. It never closes out.
type Source interface {
	Run(ctx context.Context, out chan<- view.EventsMsg) error
	// Name says what is observed, for titles and messages.
	Name() string
}

// send hands m to out unless ctx ends first; it reports whether it did.
func send(ctx context.Context, out chan<- view.EventsMsg, m view.EventsMsg) bool {
	select {
	case out <- m:
		return true
	case <-ctx.Done():
		return false
	}
}

// fileSource follows an events.log with the follower, for as long as asked.
type fileSource struct {
	path string
	opt  follow.Options
}

// FileSource follows the events.log at path: the file may not exist yet,
// and may be truncated, replaced or rotated (each a Reset batch). poll is
// the stat-poll backup interval (0: the follower's default).
func FileSource(path string, poll time.Duration, log *slog.Logger) Source {
	return &fileSource{path: path, opt: follow.Options{Poll: poll, Logger: log}}
}

func (s *fileSource) Name() string { return s.path }

func (s *fileSource) Run(ctx context.Context, out chan<- view.EventsMsg) error {
	fl := follow.New(s.path, s.opt)
	if err := fl.Start(); err != nil {
		return fmt.Errorf("follow %s: %w", s.path, err)
	}
	defer fl.Stop()

	for {
		select {
		case <-ctx.Done():
			return nil
		case b, ok := <-fl.Batches():
			if !ok {
				return nil
			}
			events, errs := follow.Decode(b.Lines)
			m := view.EventsMsg{Events: events, Reset: b.Reset, Skipped: len(errs)}
			if !send(ctx, out, m) {
				return nil
			}
		}
	}
}

// onceFileSource reads an events.log as it is now, once, and ends.
type onceFileSource struct{ path string }

// OnceFileSource reads the events.log at path from start to end and stops:
// for checking a finished history, or measuring how fast a log folds. An
// unfinished last line (no newline yet) is counted as skipped, as a
// follower would hold it back.
func OnceFileSource(path string) Source { return &onceFileSource{path: path} }

func (s *onceFileSource) Name() string { return s.path }

// onceBatch is how many lines a one-shot read hands on at a time: large
// enough that the per-batch cost vanishes, small enough to stay bounded.
const onceBatch = 4096

// maxLine is the longest line read; longer ones cannot be events.
const maxLine = 1 << 20

func (s *onceFileSource) Run(ctx context.Context, out chan<- view.EventsMsg) error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("read the history: %w", err) // err names the path
	}
	defer f.Close()

	r := bufio.NewReaderSize(f, 256<<10)
	b := &onceBatcher{}
	for {
		line, rerr := r.ReadSlice('\n')
		b.add(line, rerr)
		if rerr != nil && !errors.Is(rerr, io.EOF) && !errors.Is(rerr, bufio.ErrBufferFull) {
			return fmt.Errorf("read %s: %w", s.path, rerr)
		}
		if errors.Is(rerr, io.EOF) || len(b.lines) == onceBatch {
			if !send(ctx, out, b.take()) || errors.Is(rerr, io.EOF) {
				return nil
			}
		}
	}
}

// onceBatcher gathers a one-shot read's lines into batches, copying them
// into one buffer per batch rather than one allocation per line.
type onceBatcher struct {
	arena   []byte
	lines   [][]byte
	long    []byte // the line being read when it outgrew the reader's buffer
	skipped int
}

// add takes what ReadSlice returned: a whole line, or part of a long one
// (ErrBufferFull), or an unfinished last line (EOF).
func (b *onceBatcher) add(part []byte, err error) {
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		if len(b.long) <= maxLine {
			b.long = append(b.long, part...)
		}
		return
	case b.long != nil:
		part = append(b.long, part...)
		b.long = nil
	}
	switch {
	case len(part) == 0:
	case len(part) > maxLine || part[len(part)-1] != '\n':
		b.skipped++ // too long to be an event, or torn: not finished yet
	default:
		start := len(b.arena)
		b.arena = append(b.arena, part[:len(part)-1]...)
		b.lines = append(b.lines, b.arena[start:len(b.arena):len(b.arena)])
	}
}

// take decodes the gathered lines into a batch and starts a new one.
func (b *onceBatcher) take() view.EventsMsg {
	events, errs := follow.Decode(b.lines)
	m := view.EventsMsg{Events: events, Skipped: b.skipped + len(errs)}
	b.arena, b.lines, b.skipped = make([]byte, 0, len(b.arena)), b.lines[:0], 0
	return m
}

// EventLister is the part of the coordinator API an API source needs;
// api.Client has it.
type EventLister interface {
	Events(ctx context.Context, after uint64, limit int, wait time.Duration) ([]coord.Event, error)
}

// apiSource long-polls a coordinator's events.
type apiSource struct {
	name string
	cl   EventLister
	once bool
	log  *slog.Logger
	// wait is the long poll's wait; retry the first pause after a failure;
	// idle the least time between two empty answers, so that a server that
	// does not hold a poll open is not asked in a tight loop.
	wait, retry, idle time.Duration
}

// APISource long-polls cl for events after the last one seen. With once it
// stops at the first empty answer (the history so far); otherwise it
// follows for good. Transport failures and overload are retried with a
// growing, capped pause (logged); a refused token or a missing route is
// final. A coordinator whose history restarted (a new data directory behind
// the same address) is noticed by its first event changing, and sent on as
// a Reset.
func APISource(name string, cl EventLister, once bool, log *slog.Logger) Source {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &apiSource{name: name, cl: cl, once: once, log: log,
		wait: 25 * time.Second, retry: 250 * time.Millisecond, idle: 200 * time.Millisecond}
}

func (s *apiSource) Name() string { return s.name }

// apiPage is how many events one poll asks for.
const apiPage = 5000

func (s *apiSource) Run(ctx context.Context, out chan<- view.EventsMsg) error {
	var after uint64
	var first *coord.Event // the history's first event, to tell a restart
	pause := s.retry
	reset := false
	for ctx.Err() == nil {
		wait := s.wait
		if s.once {
			wait = 0
		}
		asked := time.Now()
		evs, err := s.cl.Events(ctx, after, apiPage, wait)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if final(err) {
				return fmt.Errorf("events of %s: %w", s.name, err)
			}
			s.log.Warn("events poll failed; retrying", "api", s.name, "err", err, "in", pause)
			if !sleep(ctx, pause) {
				return nil
			}
			pause = min(2*pause, 5*time.Second)
			continue
		}
		pause = s.retry

		if len(evs) == 0 {
			if s.once {
				return nil
			}
			if after > 0 && s.restarted(ctx, first) {
				after, first, reset = 0, nil, true
			}
			if !sleep(ctx, s.idle-time.Since(asked)) {
				return nil
			}
			continue
		}
		if first == nil && evs[0].Seq == 1 {
			f := evs[0]
			first = &f
		}
		after = evs[len(evs)-1].Seq
		if !send(ctx, out, view.EventsMsg{Events: evs, Reset: reset}) {
			return nil
		}
		reset = false
	}
	return nil
}

// restarted reports whether the coordinator's history no longer starts
// with first: its log was replaced, so what was folded no longer holds.
// A poll that fails says nothing; the next one will tell.
func (s *apiSource) restarted(ctx context.Context, first *coord.Event) bool {
	evs, err := s.cl.Events(ctx, 0, 1, 0)
	if err != nil {
		return false
	}
	if len(evs) == 0 {
		return true // the history we saw is gone
	}
	return first != nil && (evs[0].Time != first.Time || evs[0].Job != first.Job)
}

// final reports whether a failed poll will fail the same way if retried.
func final(err error) bool {
	return errors.Is(err, coord.ErrUnauthorized) || errors.Is(err, coord.ErrNotFound) ||
		errors.Is(err, coord.ErrBadRequest)
}

// sleep waits d unless ctx ends first; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
