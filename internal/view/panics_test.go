package view

import (
	"strings"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/orchestrate"
)

// killStep is the progress that fires the update, view and command panic
// points.
func killStep() orchestrate.Progress {
	p := step(time.Second, orchestrate.StepKill, "kill: SIGKILL mac-1 mid job-1")
	p.Factory = "mac-1"
	return p
}

// noMap returns a nil map, for a runtime panic the linter does not see.
func noMap() map[string]int { return nil }

func TestPanicErrorIsOneLineWithItsSite(t *testing.T) {
	var err error
	func() {
		defer func() { err = panicError("test", recover()) }()
		noMap()["x"] = 1 // a runtime panic: its site is this line, not the runtime's
	}()
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "test panicked: assignment") ||
		!strings.Contains(msg, "panics_test.go:") {
		t.Errorf("panicError = %q, want one line naming the value and panics_test.go", msg)
	}
}

func TestUpdatePanicQuitsWithTheError(t *testing.T) {
	tm := newTestModel(t, Options{TestPanic: testPanicUpdate}, 80, 24)
	tm.send(progressMsg{p: configStep()})
	next, cmd := tm.Update(progressMsg{p: killStep()})
	if next != tm.model || !isQuit(cmd) || tm.err == nil ||
		!strings.Contains(tm.err.Error(), "update panicked") {
		t.Fatalf("after a panic in Update: same model=%v quit=%v err=%v", next == tm.model,
			isQuit(cmd), tm.err)
	}
	if !strings.Contains(tm.screen(), "ERROR: view: update panicked") {
		t.Errorf("screen lacks the error:\n%s", tm.screen())
	}
}

func TestViewPanicShowsTheErrorAndTheNextUpdateQuits(t *testing.T) {
	tm := newTestModel(t, Options{TestPanic: testPanicView}, 80, 24)
	tm.send(progressMsg{p: configStep()})
	if s := tm.screen(); !strings.Contains(s, "mac-1") {
		t.Fatalf("before the kill the screen should draw normally:\n%s", s)
	}
	tm.send(progressMsg{p: killStep()})
	if s := tm.screen(); !strings.HasPrefix(s, "ERROR: view: view panicked") {
		t.Fatalf("screen after a panic in View:\n%s", s)
	}
	_, cmd := tm.Update(tickMsg{at: t0.Add(2 * time.Second)})
	if !isQuit(cmd) || tm.err == nil {
		t.Errorf("the Update after a panic in View: quit=%v err=%v", isQuit(cmd), tm.err)
	}
}

func TestCommandPanicBecomesAFatalMessage(t *testing.T) {
	progress := make(chan orchestrate.Progress, 1)
	progress <- killStep()
	m := newModel(Options{TestPanic: testPanicCommand}, deps{feed: newFeed(progress)})
	msg := m.readProgress()()
	if fm, ok := msg.(fatalMsg); !ok || !strings.Contains(fm.err.Error(), "progress reader") {
		t.Fatalf("readProgress returned %#v, want a fatalMsg", msg)
	}
}

func TestNoPanicPointByDefault(t *testing.T) {
	tm := newTestModel(t, Options{}, 80, 24)
	tm.send(progressMsg{p: configStep()}, progressMsg{p: killStep()})
	if tm.err != nil || tm.drawErr != nil || strings.Contains(tm.screen(), "ERROR") {
		t.Errorf("a model without TestPanic failed: err=%v drawErr=%v", tm.err, tm.drawErr)
	}
}
