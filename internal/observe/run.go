package observe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/orchestrate"
	"github.com/twofactory/twofactory/internal/view"
)

// ErrViolation is wrapped by the error of a checked run whose history broke
// an invariant; the error's text is the first violation, on one line.
var ErrViolation = errors.New("invariant violated")

// Summary is what a headless run saw, for the caller to report.
type Summary struct {
	Events  int           // events printed (repeats dropped), since the last reset
	Resets  int           // times the history started over
	Skipped int           // lines that could not be decoded
	First   time.Duration // from the start to the first line printed; 0 if none
	Took    time.Duration // from the start to the end
}

// violationError makes the error of a checked run that found v.
func violationError(v *coord.Violation) error {
	return fmt.Errorf("%w: %s", ErrViolation, v.String())
}

// startSource runs src in a goroutine on a channel it closes when src
// returns; wait returns src's error after that.
func startSource(ctx context.Context, src Source) (<-chan view.EventsMsg, func() error) {
	ch := make(chan view.EventsMsg, 1)
	var err error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(ch)
		err = src.Run(ctx, ch)
	}()
	return ch, func() error { wg.Wait(); return err }
}

// Headless prints one Line per event on out, until ctx ends or src does.
// Notes (a reset, undecodable lines) go to notes, never among the events.
// With check, the first violation ends the run with an ErrViolation.
func Headless(ctx context.Context, src Source, check bool, out, notes io.Writer) (Summary,
	error) {
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches, wait := startSource(ctx, src)

	sum, verr := printAll(batches, NewJudge(check), out, notes, start)
	cancel()
	serr := wait()
	sum.Took = time.Since(start)
	if verr != nil {
		return sum, verr
	}
	return sum, serr
}

// printAll is Headless's loop: judge, print, flush once a batch.
func printAll(batches <-chan view.EventsMsg, j *Judge, out, notes io.Writer,
	start time.Time) (Summary, error) {
	var sum Summary
	w := bufio.NewWriterSize(out, 64<<10)
	defer w.Flush()
	for m := range batches {
		if m.Reset {
			sum.Resets++
			fmt.Fprintln(notes, "observe: the history started over (events.log truncated, "+
				"replaced or rotated); folding it anew")
		}
		if m.Skipped > 0 {
			sum.Skipped += m.Skipped
			fmt.Fprintf(notes, "observe: %d line(s) could not be decoded (skipped)\n", m.Skipped)
		}
		fresh, v := j.Apply(m)
		for _, e := range fresh {
			_, _ = w.WriteString(Line(e))
			_ = w.WriteByte('\n')
		}
		if len(fresh) > 0 && sum.First == 0 {
			sum.First = time.Since(start)
		}
		sum.Events = j.Events()
		// A pipe reader sees each batch at once; a burst costs one write.
		if err := w.Flush(); err != nil {
			return sum, fmt.Errorf("write events: %w", err)
		}
		if v != nil {
			return sum, violationError(v)
		}
	}
	return sum, nil
}

// maxPending bounds the events held for a dashboard that is busy drawing;
// past it the source waits, so start-up on a huge log stays bounded.
const maxPending = 50000

// Dashboard runs the terminal dashboard on src's events until the user
// quits or ctx ends. With check, the checker judges every event before the
// dashboard sees it; the first violation is shown on the dashboard at once
// (the checker then stops, observing goes on) and is the returned
// ErrViolation when the user leaves.
func Dashboard(ctx context.Context, src Source, check bool, out io.Writer,
	opt view.Options) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches, wait := startSource(ctx, src)

	events := make(chan view.EventsMsg)
	var progress chan orchestrate.Progress
	if check {
		progress = make(chan orchestrate.Progress)
	}
	f := &forwarder{judge: NewJudge(check), events: events, progress: progress}
	done := make(chan struct{})
	go func() { defer close(done); f.run(ctx, batches) }()

	opt.Observe = true
	_, derr := view.RunDashboard(ctx, progress, events, cancel, out, opt)
	cancel()
	<-done
	serr := wait()

	if v := f.violation(); v != nil {
		return violationError(v)
	}
	return errors.Join(derr, serr)
}

// forwarder judges batches and hands them to the dashboard, merging what
// arrives while the dashboard is busy into one batch.
type forwarder struct {
	judge    *Judge
	events   chan<- view.EventsMsg
	progress chan orchestrate.Progress // nil without a checker

	mu    sync.Mutex
	found *coord.Violation
}

func (f *forwarder) violation() *coord.Violation {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.found
}

func (f *forwarder) run(ctx context.Context, batches <-chan view.EventsMsg) {
	defer close(f.events)
	defer f.stopChecker()

	var pending view.EventsMsg
	have := false
	for {
		in, out := batches, chan<- view.EventsMsg(nil)
		if have {
			out = f.events
		}
		if len(pending.Events) >= maxPending {
			in = nil
		}
		select {
		case m, ok := <-in:
			if !ok {
				if have {
					f.give(ctx, pending)
				}
				return
			}
			pending, have = merge(pending, have, f.take(ctx, m)), true
		case out <- pending:
			pending, have = view.EventsMsg{}, false
		case <-ctx.Done():
			return
		}
	}
}

// take judges m and, on the first violation, tells the dashboard.
func (f *forwarder) take(ctx context.Context, m view.EventsMsg) view.EventsMsg {
	fresh, v := f.judge.Apply(m)
	if v != nil && f.progress != nil && f.violation() == nil {
		f.mu.Lock()
		f.found = v
		f.mu.Unlock()
		p := orchestrate.Progress{Time: time.Now(), Step: orchestrate.StepError,
			Text: "VIOLATION " + v.String(), Job: v.Job, Factory: v.Factory}
		select {
		case f.progress <- p:
		case <-ctx.Done():
		}
		f.stopChecker() // the verdict is in; the dashboard says the checker stopped
	}
	return view.EventsMsg{Events: fresh, Reset: m.Reset, Skipped: m.Skipped}
}

// stopChecker closes the progress channel once.
func (f *forwarder) stopChecker() {
	if f.progress != nil {
		close(f.progress)
		f.progress = nil
	}
}

func (f *forwarder) give(ctx context.Context, m view.EventsMsg) {
	select {
	case f.events <- m:
	case <-ctx.Done():
	}
}

// merge appends next to pending. A Reset drops what was pending: it came
// from the history that was just replaced.
func merge(pending view.EventsMsg, have bool, next view.EventsMsg) view.EventsMsg {
	if !have || next.Reset {
		return next
	}
	pending.Events = append(pending.Events, next.Events...)
	pending.Skipped += next.Skipped
	return pending
}
