package view

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/orchestrate"
)

func TestRunHeadless(t *testing.T) {
	ch := make(chan orchestrate.Progress, 8)
	ch <- configStep()
	ch <- step(1250*time.Millisecond, orchestrate.StepKill, "kill: \x1b[31mSIGKILL\x1b[0m mac-1")
	ch <- orchestrate.Progress{Time: t0.Add(2 * time.Second), Step: orchestrate.StepWarn}
	judge := step(3210*time.Millisecond, orchestrate.StepJudge, "judge: all three guarantees hold")
	judge.Results = passResults()
	ch <- judge
	ch <- step(4*time.Second, orchestrate.StepCleanup, "cleanup: multi\nline")
	close(ch)

	var out bytes.Buffer
	res := RunHeadless(ch, &out)
	if res != judge.Results {
		t.Errorf("RunHeadless returned %v, want the judged Results", res)
	}
	text := out.String()
	if strings.ContainsRune(text, '\x1b') {
		t.Fatalf("headless output has an escape code:\n%q", text)
	}
	want := []string{
		"[  0.00s] config: stub mode, 3 jobs, lease 1.5s",
		"[  1.25s] kill: SIGKILL mac-1",
		"[  2.00s] warn",
		"[  3.21s] judge: all three guarantees hold",
		"[  4.00s] cleanup: multi | line",
		"RESULTS (stub)",
	}
	lines := strings.Split(text, "\n")
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("line %d = %q, want %q", i, lines[i], w)
		}
	}
	if !strings.HasSuffix(strings.TrimRight(text, "\n"), "VERDICT: PASS") {
		t.Errorf("output does not end with the verdict:\n%s", text)
	}
}

func TestRunHeadlessNeverJudged(t *testing.T) {
	ch := make(chan orchestrate.Progress, 1)
	ch <- step(0, orchestrate.StepError, "error: coordinator did not start")
	close(ch)
	var out bytes.Buffer
	if res := RunHeadless(ch, &out); res != nil {
		t.Errorf("RunHeadless = %v, want nil", res)
	}
	if !strings.Contains(out.String(), "VERDICT: FAIL (not judged)") {
		t.Errorf("output lacks the not-judged verdict:\n%s", out.String())
	}
}
