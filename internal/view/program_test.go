package view

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"github.com/twofactory/twofactory/internal/orchestrate"
)

// waitLong bounds every wait on the running program: generous, because the
// machine is shared, and only ever reached when something is broken.
const waitLong = 10 * time.Second

// asciiProfile draws without colour for the test, as on a dumb terminal.
func asciiProfile(t *testing.T) {
	old := lipgloss.ColorProfile()
	lipgloss.SetColorProfile(termenv.Ascii)
	t.Cleanup(func() { lipgloss.SetColorProfile(old) })
}

// demoScript fills channels with the whole demo: progress (closed after the
// cleanup step) and events (API mode, closed after the last one).
func demoScript(r *orchestrate.Results) (<-chan orchestrate.Progress, <-chan EventsMsg) {
	progress := make(chan orchestrate.Progress, 16)
	events := make(chan EventsMsg, 4)
	before, after := demoHistory()
	kill := step(900*time.Millisecond, orchestrate.StepKill, "kill: SIGKILL mac-1 mid job-1")
	kill.Factory = "mac-1"
	judge := step(7*time.Second, orchestrate.StepJudge, "judge: guarantees judged")
	judge.Results = r
	for _, p := range []orchestrate.Progress{configStep(), kill, judge,
		step(8*time.Second, orchestrate.StepCleanup, "cleanup: every child stopped")} {
		progress <- p
	}
	close(progress)
	events <- EventsMsg{Events: before}
	events <- EventsMsg{Events: after}
	close(events)
	return progress, events
}

// programModel is a dashboard model wired to channels, as RunDashboard
// wires it, with the real tick.
func programModel(progress <-chan orchestrate.Progress, events <-chan EventsMsg,
	cancel func()) *model {
	return newModel(Options{Title: "twofactory demo"}, deps{
		feed: newFeed(progress), events: events, tick: realTick, cancel: cancel,
		start: t0,
	})
}

func TestProgramRunsTheDemoToItsVerdict(t *testing.T) {
	asciiProfile(t)
	progress, events := demoScript(passResults())
	tm := teatest.NewTestModel(t, programModel(progress, events, nil),
		teatest.WithInitialTermSize(80, 24))

	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		return bytes.Contains(b, []byte("VERDICT: PASS")) &&
			bytes.Contains(b, []byte("press q to exit"))
	}, teatest.WithDuration(waitLong))
	tm.Type("q")

	final := tm.FinalModel(t, teatest.WithFinalTimeout(waitLong)).(*model)
	if !final.scenarioDone || final.results == nil || final.err != nil {
		t.Errorf("final model: done=%v results=%v err=%v", final.scenarioDone, final.results,
			final.err)
	}
	screen := stripANSI(final.View())
	for _, w := range []string{"zombie fenced", "RECLAIM", "FENCE", "VERDICT: PASS"} {
		if !strings.Contains(screen, w) {
			t.Errorf("final screen lacks %q:\n%s", w, screen)
		}
	}
}

func TestProgramQuitEarlyWaitsForTheScenario(t *testing.T) {
	asciiProfile(t)
	progress := make(chan orchestrate.Progress, 4)
	progress <- configStep()
	cancelled := make(chan struct{})
	var once sync.Once
	cancel := func() { once.Do(func() { close(cancelled) }) }
	// The scenario stops (and closes its channel) only when cancelled.
	go func() {
		<-cancelled
		progress <- step(time.Second, orchestrate.StepCleanup, "cleanup: stopped on request")
		close(progress)
	}()
	tm := teatest.NewTestModel(t, programModel(progress, nil, cancel),
		teatest.WithInitialTermSize(80, 24))
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		return bytes.Contains(b, []byte("mac-1"))
	}, teatest.WithDuration(waitLong))
	tm.Type("q")

	final := tm.FinalModel(t, teatest.WithFinalTimeout(waitLong)).(*model)
	select {
	case <-cancelled:
	default:
		t.Fatal("quit did not cancel the scenario")
	}
	if !final.stopping || !final.scenarioDone || final.results != nil {
		t.Errorf("final model: stopping=%v done=%v results=%v, want a stopped, unjudged run",
			final.stopping, final.scenarioDone, final.results)
	}
	if s := stripANSI(final.View()); !strings.Contains(s, "VERDICT: none") {
		t.Errorf("final screen lacks the unjudged verdict:\n%s", s)
	}
}
