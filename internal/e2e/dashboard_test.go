package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Screen texts the demo must show.
const (
	textKill    = "! > killed factory"
	textReclaim = "RECLAIM"
	textFence   = "409:"
	textPass    = "VERDICT: PASS"
	textTitle   = "twofactory demo"
)

// colourSGR matches an escape that sets a foreground or background colour.
var colourSGR = regexp.MustCompile(`\x1b\[[0-9;]*(3[0-8]|4[0-8]|9[0-7]|10[0-7])[;m]`)

// clockTicks is the kernel's USER_HZ, the unit of /proc/<pid>/stat times;
// it is 100 on every Linux architecture Go supports.
const clockTicks = 100

func TestDashboardRunsTheDemoAndLeavesNothing(t *testing.T) {
	t.Parallel()
	p := startPane(t, 100, 32, nil)
	p.waitText(waitRun, textTitle, "stub", textKill)

	// Mid-run resizes: the layout must follow each new width.
	for _, size := range [][2]int{{72, 20}, {100, 32}} {
		p.resize(size[0], size[1])
		p.waitScreen("panels drawn at the new width", waitStep, bordersSpan(size[0]))
	}

	s := p.waitText(waitRun, textKill, textReclaim, "FENCE", textFence, textPass)
	if !strings.HasPrefix(s, textTitle+" · stub") {
		t.Errorf("header is not the first line:\n%s", s)
	}
	if !colourSGR.MatchString(p.screenEscapes()) {
		t.Error("no colour escapes on a colour terminal: the NO_COLOR check would prove nothing")
	}
	p.waitText(waitStep, "press q to exit") // the scenario is over: nothing moves now
	measureIdleCPU(t, p)

	p.keys("q")
	if code := p.waitExit(); code != 0 {
		t.Errorf("exit code %d after a passing run, want 0", code)
	}
	p.checkTerminalRestored()
	p.checkNothingLeft()
	checkVerdictAfterExit(t, p, textPass)
}

func TestDashboardSmallTerminals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		w, h    int
		noColor bool
	}{
		{"80x24 NO_COLOR", 80, 24, true},
		{"40x12", 40, 12, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var env []string
			if tc.noColor {
				env = []string{"NO_COLOR=1"}
			}
			p := startPane(t, tc.w, tc.h, env)
			s := p.waitText(waitRun, textPass)
			if first := strings.SplitN(s, "\n", 2)[0]; !strings.HasPrefix(first, textTitle) {
				t.Errorf("header is not the first line at %dx%d:\n%s", tc.w, tc.h, s)
			}
			if tc.noColor {
				if esc := p.screenEscapes(); colourSGR.MatchString(esc) {
					t.Errorf("colour escapes with NO_COLOR:\n%q", esc)
				}
				checkNoLineOver(t, s, tc.w)
			}

			p.keys("q")
			if code := p.waitExit(); code != 0 {
				t.Errorf("exit code %d, want 0", code)
			}
			p.checkTerminalRestored()
			p.checkNothingLeft()
			checkVerdictAfterExit(t, p, textPass)
		})
	}
}

func TestDashboardStopsMidRun(t *testing.T) {
	for _, key := range []string{"q", "C-c"} {
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			p := startPane(t, 100, 32, nil)
			// After the kill, the victim's executor is frozen (SIGSTOPped):
			// the hardest moment to stop everything cleanly.
			p.waitText(waitRun, textKill)
			// The scan must see the live run (demo, coordinator, survivor,
			// frozen executor...) before it is trusted to find none.
			if live := markedProcs(p.mark); len(live) < 3 {
				t.Fatalf("the /proc scan sees %d processes of a live run: %v", len(live), live)
			}
			p.keys(key)
			if code := p.waitExit(); code != 130 {
				t.Errorf("exit code %d after %s mid-run, want 130", code, key)
			}
			p.checkTerminalRestored()
			p.checkNothingLeft()
			h := p.history()
			if !strings.Contains(h, "VERDICT: FAIL (not judged)") ||
				!strings.Contains(h, "interrupted") {
				t.Errorf("after %s mid-run the normal screen lacks the unjudged verdict:\n%s",
					key, h)
			}
		})
	}
}

func TestDashboardPanicLeavesTheTerminalUsable(t *testing.T) {
	for _, where := range []string{"update", "view", "command", "watcher"} {
		t.Run(where, func(t *testing.T) {
			t.Parallel()
			p := startPane(t, 100, 32, []string{"TWOFACTORY_TEST_PANIC=" + where})
			code := p.waitExit()
			if code == 0 || code == 130 {
				t.Errorf("exit code %d after a panic, want a failure (3)", code)
			}
			p.checkTerminalRestored()
			p.checkNothingLeft()
			checkOneLineError(t, p.history(), where)
		})
	}
}

// checkOneLineError checks that the run ended with exactly one error line
// naming the panic, and no stack trace.
func checkOneLineError(t *testing.T, history, where string) {
	t.Helper()
	var errs []string
	for _, line := range strings.Split(history, "\n") {
		if strings.HasPrefix(line, "twofactory-tui: ") {
			errs = append(errs, line)
		}
	}
	if len(errs) != 1 || !strings.Contains(errs[0], "panicked") ||
		!strings.Contains(errs[0], where) {
		t.Errorf("want one error line naming the %s panic, got %q; screen:\n%s",
			where, errs, history)
	}
	for _, trace := range []string{"goroutine ", "Caught panic", "panic("} {
		if strings.Contains(history, trace) {
			t.Errorf("a stack trace (%q) was printed:\n%s", trace, history)
		}
	}
}

// checkVerdictAfterExit checks that the RESULTS and the verdict are on the
// normal screen after the program left the alternate screen.
func checkVerdictAfterExit(t *testing.T, p *pane, verdict string) {
	t.Helper()
	h := p.history()
	if !strings.Contains(h, "RESULTS") || !strings.Contains(h, verdict) {
		t.Errorf("after exit the normal screen lacks RESULTS and %s:\n%s", verdict, h)
	}
}

// bordersSpan reports whether the factory panels' top border spans exactly
// w columns: the two boxes are drawn to share the full width, so this holds
// only once the program has redrawn for a width of w.
func bordersSpan(w int) func(string) bool {
	return func(s string) bool {
		for _, line := range strings.Split(s, "\n") {
			line = strings.TrimRight(line, " ")
			if strings.HasPrefix(line, "╭") && strings.HasSuffix(line, "╮") &&
				utf8.RuneCountInString(line) == w {
				return true
			}
		}
		return false
	}
}

// checkNoLineOver checks that no line of the screen is wider than w.
func checkNoLineOver(t *testing.T, s string, w int) {
	t.Helper()
	for _, line := range strings.Split(s, "\n") {
		if n := utf8.RuneCountInString(line); n > w {
			t.Errorf("line of %d columns on a %d-column screen: %q", n, w, line)
		}
	}
}

// measureIdleCPU reports the demo's CPU use over a few seconds after the
// verdict, when nothing moves on screen (C11). Only a generous bound is
// asserted: a busy tick loop spins a core, an idle dashboard uses ~0%.
func measureIdleCPU(t *testing.T, p *pane) {
	t.Helper()
	demo, ok := demoProc(p.mark, p.bin)
	if !ok {
		t.Fatal("demo process not found in /proc")
	}
	const window = 3 * time.Second
	before, err := readStat(demo.pid)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	time.Sleep(window) // a measuring window, not a wait for something to happen
	after, err := readStat(demo.pid)
	if err != nil {
		t.Fatal(err)
	}
	cpu := float64(after.cpuTicks-before.cpuTicks) / clockTicks
	share := cpu / time.Since(start).Seconds()
	t.Logf("idle CPU after the verdict: %.2fs over %v (%.1f%% of one core)", cpu,
		window, 100*share)
	if share > 0.25 {
		t.Errorf("idle dashboard used %.0f%% of a core; ticks multiply or spin", 100*share)
	}
}
