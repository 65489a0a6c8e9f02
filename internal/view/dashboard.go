package view

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/twofactory/twofactory/internal/orchestrate"
)

// dashboardFPS caps redraws. The dashboard changes a few times a second at
// most, and the machines it runs on also run the fleet it shows.
const dashboardFPS = 30

// RunDashboard runs the bubbletea dashboard until the scenario ends and the
// user quits (q / ctrl+c). When the user quits early it calls cancel and
// keeps drawing until the progress channel closes, so the scenario's
// children are stopped before it returns; a second quit leaves the screen
// sooner, but RunDashboard still waits for the channel to close. The same
// happens when ctx ends.
//
// Events come from the events channel when it is not nil (API mode);
// otherwise from the events.log named by the first Progress with EventsLog
// set (StepConfig or StepCoordinator), or by opt.EventsLog, followed with
// the follower. A nil progress channel means there is no scenario (observe
// mode): q then leaves at once.
//
// After the program exits, the RESULTS are printed to out on the normal
// screen, so they survive the alternate screen. It returns the Results
// (nil if the scenario never judged) and an error: ErrInterrupted when the
// user stopped the scenario early, or a wrapped failure of the dashboard
// itself (a panic, after the terminal was restored, or a terminal error).
// The caller closes events, if it gave any, once the scenario is over.
func RunDashboard(ctx context.Context, progress <-chan orchestrate.Progress,
	events <-chan EventsMsg, cancel func(), out io.Writer, opt Options,
) (*orchestrate.Results, error) {
	if cancel == nil {
		cancel = func() {}
	}
	feed := newFeed(progress)
	logs := newLogFollowers(openLogWith(opt))
	defer logs.stopAll()

	m := newModel(opt, deps{
		feed:   feed,
		events: events,
		follow: logs.follow,
		tick:   realTick,
		cancel: cancel,
		start:  time.Now(),
	})
	final, runErr := runProgram(ctx, m, opt)
	logs.stopAll()

	if !feed.done() {
		// The program ended before the scenario did (a second quit, a
		// panic, a signal): stop the scenario and wait, so that no child
		// outlives us.
		cancel()
		_, _ = fmt.Fprintln(out, "twofactory: stopping the scenario and its processes...")
		drain(feed, events)
	}
	res := feed.verdict()
	_, _ = fmt.Fprintln(out, FormatResults(res, opt.Color))
	return res, dashboardErr(final, runErr)
}

// runProgram runs the bubbletea program, relaying the end of ctx to it as
// a message so that the model can stop the scenario and keep drawing.
func runProgram(ctx context.Context, m *model, opt Options) (tea.Model, error) {
	opts := []tea.ProgramOption{tea.WithFPS(dashboardFPS)}
	if opt.AltScreen {
		opts = append(opts, tea.WithAltScreen())
	}
	p := tea.NewProgram(m, append(opts, opt.programOptions...)...)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			p.Send(ctxDoneMsg{}) // returns at once once the program has ended
		case <-stop:
		}
	}()
	final, err := p.Run()
	close(stop)
	wg.Wait()
	return final, err
}

// ErrInterrupted is returned by RunDashboard when the user stopped the
// scenario before it ended (q or ctrl+c while it ran, or SIGINT). The
// scenario was still stopped cleanly; main maps this to exit code 130.
var ErrInterrupted = errors.New("view: interrupted by the user")

// dashboardErr is the error RunDashboard reports: the model's own fatal
// error (a recovered panic), else the program's, wrapped with context, else
// ErrInterrupted when the user cut the scenario short.
func dashboardErr(final tea.Model, runErr error) error {
	fm, _ := final.(*model)
	if fm != nil && fm.err != nil {
		return fmt.Errorf("view: dashboard stopped: %w", fm.err)
	}
	switch {
	case errors.Is(runErr, tea.ErrInterrupted):
		return ErrInterrupted
	case errors.Is(runErr, tea.ErrProgramPanic):
		return fmt.Errorf("view: dashboard panicked (terminal restored): %w", runErr)
	case runErr != nil:
		return fmt.Errorf("view: dashboard: %w", runErr)
	case fm != nil && fm.interrupted:
		return ErrInterrupted
	}
	return nil
}

// drain waits for the progress channel to close. Meanwhile it also reads
// and drops the caller's events, so that a producer which blocks on that
// channel cannot keep the scenario from finishing.
func drain(feed *progressFeed, events <-chan EventsMsg) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if events != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case _, ok := <-events:
					if !ok {
						return
					}
				case <-stop:
					return
				}
			}
		}()
	}
	feed.drain()
	close(stop)
	wg.Wait()
}
