package view

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"

	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/orchestrate"
)

// finishedDemo is a model that saw the whole demo and the verdict r.
func finishedDemo(t *testing.T, opt Options, w, h int, r *orchestrate.Results) *testModel {
	t.Helper()
	tm := newTestModel(t, opt, w, h)
	before, after := demoHistory()
	kill := step(900*time.Millisecond, orchestrate.StepKill, "kill: SIGKILL mac-1 mid job-1")
	kill.Factory = "mac-1"
	judge := step(7*time.Second, orchestrate.StepJudge, "judge")
	judge.Results = r
	tm.send(progressMsg{configStep()}, EventsMsg{Events: before}, progressMsg{kill},
		EventsMsg{Events: after}, progressMsg{judge}, progressDoneMsg{})
	return tm
}

// checkFits fails when the screen is taller or wider than w x h.
func checkFits(t *testing.T, screen string, w, h int) {
	t.Helper()
	lines := strings.Split(screen, "\n")
	if len(lines) > h {
		t.Errorf("%d lines on a %d-line screen:\n%s", len(lines), h, screen)
	}
	for i, l := range lines {
		if n := ansi.StringWidth(l); n > w {
			t.Errorf("line %d is %d cells on a %d-cell screen: %q", i, n, w, l)
		}
	}
}

func TestViewSizes(t *testing.T) {
	tests := []struct {
		w, h int
		want []string // always on screen at this size
	}{
		{120, 40, []string{"twofactory demo", "mac-1", "zombie fenced", "ubuntu-1",
			"job-1  done", "[PASS ] a no double-assign", "! #8", "VERDICT: PASS", "q quit"}},
		{80, 24, []string{"twofactory demo · stub · elapsed 7.0s · lease 1.5s",
			"> scenario finished", "mac-1", "ubuntu-1", "job-3", "c parallelism",
			"VERDICT: PASS"}},
		{40, 12, []string{"twofactory demo", "VERDICT: PASS"}},
		{20, 3, []string{"twofactory demo", "VERDICT: PASS"}},
		{1, 1, []string{"V"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%dx%d", tt.w, tt.h), func(t *testing.T) {
			tm := finishedDemo(t, Options{Title: "twofactory demo"}, tt.w, tt.h, passResults())
			screen := tm.screen()
			checkFits(t, screen, tt.w, tt.h)
			for _, w := range tt.want {
				if !strings.Contains(screen, w) {
					t.Errorf("screen lacks %q:\n%s", w, screen)
				}
			}
		})
	}
}

func TestViewShrinksTheStreamFirst(t *testing.T) {
	tm := finishedDemo(t, Options{Title: "twofactory demo"}, 80, 24, passResults())
	for i := range 1200 {
		tm.send(EventsMsg{Events: []coord.Event{{Seq: uint64(100 + i), Time: t0,
			Type: coord.EvRenew, Job: "job-1", Factory: "ubuntu-1", Epoch: 2,
			After: coord.JobState{Stage: coord.StageDone, Epoch: 2}}}})
	}
	if n := len(tm.stream.lines); n >= 2*streamLimit {
		t.Errorf("stream keeps %d lines, want fewer than twice its bound %d", n, streamLimit)
	}
	screen := tm.screen()
	checkFits(t, screen, 80, 24)
	for _, w := range []string{"twofactory demo", "+---", "job-1", "a no double-assign",
		"VERDICT: PASS", "#1299 "} {
		if !strings.Contains(screen, w) {
			t.Errorf("a full stream pushed %q off the screen:\n%s", w, screen)
		}
	}
}

func TestViewDuringTheRun(t *testing.T) {
	tm := newTestModel(t, Options{Title: "twofactory demo"}, 80, 24)
	before, _ := demoHistory()
	tm.send(progressMsg{configStep()}, EventsMsg{Events: before},
		tickMsg{at: t0.Add(850 * time.Millisecond)})
	screen := tm.screen()
	for _, w := range []string{"elapsed 0.8s", "mac-1  running", "job-1 running e1",
		"lease [##########..........] 0.8s", "VERDICT: pending", "[seen ] c parallelism"} {
		if !strings.Contains(screen, w) {
			t.Errorf("screen lacks %q:\n%s", w, screen)
		}
	}
	tm.send(tickMsg{at: t0.Add(2 * time.Second)})
	if screen := tm.screen(); !strings.Contains(screen, "lease [....................] expired") {
		t.Errorf("an expired lease is not shown as such:\n%s", screen)
	}
}

func TestViewFailIsAsProminentAsPass(t *testing.T) {
	tm := finishedDemo(t, Options{Title: "twofactory demo"}, 80, 24, failResults())
	screen := tm.screen()
	for _, w := range []string{"VIOLATION: job-1 shipped twice", "VERDICT: FAIL",
		"[FAIL ] b fencing + reclaim"} {
		if !strings.Contains(screen, w) {
			t.Errorf("screen lacks %q:\n%s", w, screen)
		}
	}
	small := finishedDemo(t, Options{}, 40, 6, failResults()).screen()
	if !strings.Contains(small, "VIOLATION") || !strings.Contains(small, "VERDICT: FAIL") {
		t.Errorf("a small screen hides the violation or the verdict:\n%s", small)
	}
}

func TestViewLiveViolation(t *testing.T) {
	tm := newTestModel(t, Options{}, 80, 24)
	var h history
	h.add(0, coord.EvSubmit, "job-1", "", 1, queued(1))
	h.add(time.Millisecond, coord.EvClaim, "job-1", "mac-1", 1,
		held(coord.StageClaimed, "mac-1", 1, 0))
	h.add(2*time.Millisecond, coord.EvClaim, "job-1", "ubuntu-1", 1,
		held(coord.StageClaimed, "ubuntu-1", 1, 0))
	tm.send(EventsMsg{Events: h.events})
	screen := tm.screen()
	for _, w := range []string{"VIOLATION (live): job-1 epoch 1 granted to mac-1 and to ubuntu-1",
		"[FAIL ] a no double-assign"} {
		if !strings.Contains(screen, w) {
			t.Errorf("screen lacks %q:\n%s", w, screen)
		}
	}
}

func TestViewWithoutColourHasNoEscapes(t *testing.T) {
	old := lipgloss.ColorProfile()
	lipgloss.SetColorProfile(termenv.ANSI256) // as on a colour terminal with NO_COLOR
	t.Cleanup(func() { lipgloss.SetColorProfile(old) })
	tm := finishedDemo(t, Options{Title: "twofactory demo"}, 80, 24, failResults())
	tm.send(keyRune('?'))
	if v := tm.View(); strings.ContainsRune(v, '\x1b') {
		t.Errorf("Color=false view has escape codes:\n%q", v)
	}
}

func TestViewHelpToggles(t *testing.T) {
	tm := newTestModel(t, Options{}, 100, 40)
	tm.send(keyRune('?'))
	if s := tm.screen(); !strings.Contains(s, "zombie frozen (its executor SIGSTOPped)") {
		t.Errorf("? does not show the legend:\n%s", s)
	}
	tm.send(keyRune('?'))
	if s := tm.screen(); strings.Contains(s, "SIGSTOPped") || !strings.Contains(s, "q quit") {
		t.Errorf("? again does not go back to the short help:\n%s", s)
	}
}

func TestViewIsPure(t *testing.T) {
	tm := finishedDemo(t, Options{}, 80, 24, passResults())
	if a, b := tm.View(), tm.View(); a != b {
		t.Errorf("two Views of one model differ:\n%s\n---\n%s", a, b)
	}
}

// In observe mode the header has no elapsed time: there is no start to
// count from, and the clock only ticks while a lease is live.
func TestObserveHeaderHasNoElapsed(t *testing.T) {
	for _, observe := range []bool{false, true} {
		tm := newTestModel(t, Options{Observe: observe, Title: "observe x"}, 100, 30)
		first := strings.SplitN(tm.screen(), "\n", 2)[0]
		if got := strings.Contains(first, "elapsed"); got == observe {
			t.Errorf("observe=%v: header %q, want elapsed shown=%v", observe, first, !observe)
		}
	}
}
