package view

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/orchestrate"
)

func keyRune(r rune) tea.KeyMsg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}} }

// isQuit reports whether cmd, run, asks the program to quit. Batches are
// looked into; commands that would block are never part of a quit batch.
func isQuit(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	switch msg := cmd().(type) {
	case tea.QuitMsg:
		return true
	case tea.BatchMsg:
		for _, c := range msg {
			if isQuit(c) {
				return true
			}
		}
	}
	return false
}

func TestProgressDrivesThePanels(t *testing.T) {
	tm := newTestModel(t, Options{}, 80, 24)
	before, after := demoHistory()
	kill := step(900*time.Millisecond, orchestrate.StepKill, "kill mac-1")
	kill.Factory = "mac-1"
	freeze := step(time.Second, orchestrate.StepFreeze, "freeze the zombie")
	thaw := step(2*time.Second, orchestrate.StepThaw, "thaw the zombie")

	status := func() factoryStatus {
		return factoryViews(tm.fleet, tm.marks)[0].status
	}
	tm.send(progressMsg{configStep()}, EventsMsg{Events: before})
	if got := tm.fleet.factories; len(got) != 2 || got[0] != "mac-1" {
		t.Fatalf("factories = %v, want mac-1 first", got)
	}
	if tm.lease != testLease {
		t.Errorf("lease = %v, want %v", tm.lease, testLease)
	}
	steps := []struct {
		msg  tea.Msg
		want factoryStatus
	}{
		{nil, statusRunning},
		{progressMsg{kill}, statusKilled},
		{progressMsg{freeze}, statusZombieFrozen}, // Factory empty: the victim
		{EventsMsg{Events: after[:3]}, statusZombieFrozen},
		{progressMsg{thaw}, statusKilled},
		{EventsMsg{Events: after[3:4]}, statusZombieFenced}, // the FENCE event
	}
	for i, s := range steps {
		if s.msg != nil {
			tm.send(s.msg)
		}
		if got := status(); got != s.want {
			t.Errorf("step %d: mac-1 status = %q, want %q", i, got, s.want)
		}
	}
}

func TestHighlightsArePinned(t *testing.T) {
	tm := newTestModel(t, Options{}, 80, 24)
	before, after := demoHistory()
	kill := step(900*time.Millisecond, orchestrate.StepKill, "kill: SIGKILL mac-1")
	kill.Factory = "mac-1"
	tm.send(progressMsg{configStep()}, EventsMsg{Events: before}, progressMsg{kill},
		EventsMsg{Events: after})
	var kinds []highlight
	for _, p := range tm.pins {
		kinds = append(kinds, p.hl)
	}
	want := []highlight{hlKill, hlReclaim, hlFence}
	if len(kinds) != len(want) {
		t.Fatalf("pins = %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Errorf("pin %d = %v, want %v", i, kinds[i], want[i])
		}
	}
	// Push the highlights out of the stream: they stay on screen, pinned.
	for i := range 100 {
		tm.send(progressMsg{step(time.Duration(i)*time.Second, orchestrate.StepDrain, "drain")})
	}
	screen := tm.screen()
	for _, w := range []string{"! > kill: SIGKILL mac-1", "! #8", "RECLAIM", "! #11", "FENCE",
		"409: patch:done by mac-1 e1 refused"} {
		if !strings.Contains(screen, w) {
			t.Errorf("screen lacks %q after the stream moved on:\n%s", w, screen)
		}
	}
}

func TestStepsArePinnedWhenNoEventsCome(t *testing.T) {
	tests := []struct {
		name   string
		events bool
		want   []highlight
	}{
		{"events show the reclaim and fence", true, []highlight{hlKill, hlReclaim, hlFence}},
		{"no events: the steps do", false, []highlight{hlKill, hlReclaim, hlFence}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm := newTestModel(t, Options{}, 80, 24)
			before, after := demoHistory()
			tm.send(progressMsg{configStep()})
			if tt.events {
				tm.send(EventsMsg{Events: before})
			}
			tm.send(progressMsg{step(time.Second, orchestrate.StepKill, "kill")},
				progressMsg{step(2*time.Second, orchestrate.StepReclaim, "reclaim job-1")},
				progressMsg{step(3*time.Second, orchestrate.StepFence, "fence 409")})
			if tt.events {
				tm.send(EventsMsg{Events: after})
			}
			var got []highlight
			for _, p := range tm.pins {
				got = append(got, p.hl)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("pins = %v, want %v (each once)", got, tt.want)
			}
		})
	}
}

func TestResetRebuildsState(t *testing.T) {
	tm := newTestModel(t, Options{}, 80, 24)
	before, after := demoHistory()
	tm.send(progressMsg{configStep()}, EventsMsg{Events: before}, EventsMsg{Events: after})
	if len(tm.pins) != 2 {
		t.Fatalf("pins = %d, want the reclaim and the fence", len(tm.pins))
	}
	tm.send(EventsMsg{Events: before, Reset: true, Skipped: 1})
	if st := tm.fleet.state.Jobs["job-1"].Stage; st != "running" {
		t.Errorf("job-1 after reset = %s, want running (rebuilt from the new file)", st)
	}
	if len(tm.pins) != 1 || tm.pins[0].kind != fromNote || len(tm.fleet.ev.reclaims) != 0 {
		t.Errorf("pins=%v reclaims=%d after reset, want only the reset note",
			tm.pins, len(tm.fleet.ev.reclaims))
	}
	if tm.badLines != 1 || len(tm.fleet.factories) != 2 {
		t.Errorf("badLines=%d factories=%v, want 1 and the configured two",
			tm.badLines, tm.fleet.factories)
	}
	if s := tm.screen(); !strings.Contains(s, "1 bad lines") || !strings.Contains(s, "replaced") {
		t.Errorf("screen lacks the bad-line count or the reset note:\n%s", s)
	}
}

func TestTickRule(t *testing.T) {
	tm := newTestModel(t, Options{}, 80, 24)
	if tm.ticks != 1 || !tm.ticking {
		t.Fatalf("after the first message: ticks=%d ticking=%v, want one tick started",
			tm.ticks, tm.ticking)
	}
	before, _ := demoHistory()
	for range 20 {
		tm.send(EventsMsg{Events: before}, keyRune('?'), tea.WindowSizeMsg{Width: 90, Height: 30},
			progressMsg{step(0, orchestrate.StepSubmit, "submit")})
	}
	if tm.ticks != 1 {
		t.Fatalf("non-tick messages made %d more ticks, want none", tm.ticks-1)
	}
	tm.send(tickMsg{at: t0.Add(time.Second)})
	if tm.ticks != 2 {
		t.Fatalf("a tick while the scenario runs re-armed %d ticks, want 1", tm.ticks-1)
	}
	if !tm.now.Equal(t0.Add(time.Second)) {
		t.Errorf("now = %v, want the tick's time", tm.now)
	}

	// The scenario ends and the leases run out: the next tick is the last.
	tm.send(progressDoneMsg{})
	tm.send(tickMsg{at: t0.Add(time.Hour)})
	if tm.ticks != 2 || tm.ticking {
		t.Fatalf("idle: ticks=%d ticking=%v, want no new tick", tm.ticks, tm.ticking)
	}
	tm.send(keyRune('p'), tea.WindowSizeMsg{Width: 80, Height: 24})
	if tm.ticks != 2 {
		t.Fatalf("idle keys started a tick")
	}

	// A new live lease wakes the clock, once.
	lease := before[3]
	lease.Seq = 100
	lease.After.ExpiresAt = t0.Add(2 * time.Hour)
	tm.send(EventsMsg{Events: []coord.Event{lease}}, EventsMsg{})
	if tm.ticks != 3 {
		t.Fatalf("a live lease started %d ticks, want 1", tm.ticks-2)
	}
}

func TestPauseCountsNewLines(t *testing.T) {
	tm := newTestModel(t, Options{}, 80, 24)
	before, after := demoHistory()
	tm.send(EventsMsg{Events: before}, keyRune('p'), EventsMsg{Events: after})
	if n := tm.stream.newCount(); n != len(after) {
		t.Errorf("new lines while paused = %d, want %d", n, len(after))
	}
	screen := tm.screen()
	if !strings.Contains(screen, "paused: 7 new") {
		t.Errorf("screen lacks the paused count:\n%s", screen)
	}
	if strings.Contains(screen, "#14 ") {
		t.Errorf("paused stream shows a line that came after the pause:\n%s", screen)
	}
	tm.send(keyRune('p'))
	screen = tm.screen()
	if !strings.Contains(screen, "#14 ") || strings.Contains(screen, "paused") {
		t.Errorf("following again does not show the newest line:\n%s", screen)
	}
}

func TestQuitWhileRunningStopsTheScenarioFirst(t *testing.T) {
	cancelled := 0
	tm := newTestModel(t, Options{}, 80, 24)
	tm.deps.cancel = func() { cancelled++ }

	cmd := tm.onKey(keyRune('q'))
	if isQuit(cmd) {
		t.Fatal("q while the scenario runs quit at once")
	}
	if cancelled != 1 || !tm.stopping {
		t.Fatalf("cancelled=%d stopping=%v, want the scenario asked to stop",
			cancelled, tm.stopping)
	}
	if !strings.Contains(tm.screen(), "stopping") {
		t.Errorf("screen does not say it is stopping:\n%s", tm.screen())
	}
	_, cmd = tm.Update(progressDoneMsg{})
	if !isQuit(cmd) {
		t.Error("the scenario's end after a quit did not quit")
	}
}

func TestQuitAfterTheVerdictLetsTheCleanupFinish(t *testing.T) {
	cancelled := 0
	tm := newTestModel(t, Options{}, 80, 24)
	tm.deps.cancel = func() { cancelled++ }
	judge := step(7*time.Second, orchestrate.StepJudge, "judge: guarantees judged")
	judge.Results = passResults()
	tm.send(progressMsg{p: judge})

	cmd := tm.onKey(keyRune('q'))
	if isQuit(cmd) || cancelled != 0 || tm.interrupted || !tm.stopping {
		t.Fatalf("q after the verdict: quit=%v cancelled=%d interrupted=%v stopping=%v, "+
			"want to wait for the cleanup without cancelling", isQuit(cmd), cancelled,
			tm.interrupted, tm.stopping)
	}
	if _, cmd = tm.Update(progressDoneMsg{}); !isQuit(cmd) {
		t.Error("the scenario's end after a quit did not quit")
	}
}

func TestQuitKeys(t *testing.T) {
	tests := []struct {
		name string
		prep func(tm *testModel)
		key  tea.KeyMsg
		quit bool
	}{
		{"q after the end", func(tm *testModel) { tm.send(progressDoneMsg{}) }, keyRune('q'), true},
		{"ctrl+c after the end", func(tm *testModel) { tm.send(progressDoneMsg{}) },
			tea.KeyMsg{Type: tea.KeyCtrlC}, true},
		{"second q while stopping", func(tm *testModel) { tm.send(keyRune('q')) },
			keyRune('q'), true},
		{"q while running", func(*testModel) {}, keyRune('q'), false},
		{"other key after the end", func(tm *testModel) { tm.send(progressDoneMsg{}) },
			keyRune('x'), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm := newTestModel(t, Options{}, 80, 24)
			tt.prep(tm)
			if got := isQuit(tm.onKey(tt.key)); got != tt.quit {
				t.Errorf("quit = %v, want %v", got, tt.quit)
			}
		})
	}
}

func TestContextEndLeavesOnceTheScenarioStopped(t *testing.T) {
	cancelled := 0
	tm := newTestModel(t, Options{}, 80, 24)
	tm.deps.cancel = func() { cancelled++ }
	if cmd := tm.onContextDone(); isQuit(cmd) || cancelled != 1 {
		t.Fatalf("context end: quit=%v cancelled=%d, want no quit yet and one cancel",
			isQuit(cmd), cancelled)
	}
	if _, cmd := tm.Update(progressDoneMsg{}); !isQuit(cmd) {
		t.Error("did not leave when the scenario stopped after the context ended")
	}
}

func TestFatalShowsAndQuits(t *testing.T) {
	tm := newTestModel(t, Options{}, 80, 24)
	_, cmd := tm.Update(fatalMsg{err: errors.New("boom")})
	if !isQuit(cmd) || tm.err == nil {
		t.Fatalf("fatal: quit=%v err=%v", isQuit(cmd), tm.err)
	}
	if !strings.Contains(tm.screen(), "ERROR: boom") {
		t.Errorf("screen lacks the error:\n%s", tm.screen())
	}
}

func TestGuardTurnsPanicsIntoMessages(t *testing.T) {
	msg := guard("test", func() tea.Msg { panic("kaboom") })()
	fm, ok := msg.(fatalMsg)
	if !ok || !strings.Contains(fm.err.Error(), "kaboom") {
		t.Fatalf("guard returned %#v, want a fatalMsg naming the panic", msg)
	}
}
