package view

import (
	"strings"
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/twofactory/twofactory/internal/orchestrate"
)

func TestFormatResults(t *testing.T) {
	tests := []struct {
		name string
		r    *orchestrate.Results
		want []string
		not  []string
		last string
	}{
		{
			name: "pass",
			r:    passResults(),
			want: []string{"RESULTS (stub)", "job-1  done   ubuntu-1  2      mac-1           1",
				"a no double-assign   PASS    3 jobs, 3 ships", "c parallelism        PASS",
				"violations: none"},
			not:  []string{"FAIL"},
			last: "VERDICT: PASS",
		},
		{
			name: "fail",
			r:    failResults(),
			want: []string{"b fencing + reclaim  FAIL    no 409", "VIOLATIONS (1):",
				"  - job-1 shipped twice"},
			last: "VERDICT: FAIL",
		},
		{
			name: "claims a pass but a guarantee failed",
			r: func() *orchestrate.Results {
				r := failResults()
				r.Pass, r.Violations = true, nil
				return r
			}(),
			last: "VERDICT: FAIL",
		},
		{
			name: "not judged",
			r:    nil,
			want: []string{"RESULTS: none"},
			last: "VERDICT: FAIL (not judged)",
		},
		{
			name: "note and escape codes in evidence",
			r: func() *orchestrate.Results {
				r := passResults()
				r.Note = "judged from job states\x1b[31m only"
				r.Guarantees[2].Evidence = "overlap\n1.5s"
				return r
			}(),
			want: []string{"note: judged from job states only", "overlap | 1.5s"},
			last: "VERDICT: PASS",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := FormatResults(tt.r, false)
			if strings.ContainsRune(out, '\x1b') {
				t.Fatalf("plain RESULTS has an escape code:\n%q", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("RESULTS lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(out, w) {
					t.Errorf("RESULTS has %q:\n%s", w, out)
				}
			}
			lines := strings.Split(out, "\n")
			if got := lines[len(lines)-1]; got != tt.last {
				t.Errorf("last line = %q, want %q", got, tt.last)
			}
		})
	}
}

func TestFormatResultsColour(t *testing.T) {
	old := lipgloss.ColorProfile()
	lipgloss.SetColorProfile(termenv.ANSI)
	t.Cleanup(func() { lipgloss.SetColorProfile(old) })

	out := FormatResults(failResults(), true)
	if !strings.ContainsRune(out, '\x1b') {
		t.Fatalf("coloured RESULTS has no escape code:\n%s", out)
	}
	if plain := stripANSI(out); !strings.HasSuffix(plain, "VERDICT: FAIL") {
		t.Errorf("coloured RESULTS does not end with the verdict:\n%s", plain)
	}
}

// Without an event stream the checker never ran: RESULTS must not claim
// that it found nothing.
func TestFormatResultsSaysWhenTheCheckerDidNotRun(t *testing.T) {
	r := &orchestrate.Results{Mode: "real", Pass: true, Note: orchestrate.NoStreamNote}
	out := FormatResults(r, false)
	if strings.Contains(out, "violations: none") ||
		!strings.Contains(out, "violations: not checked (no event stream)") {
		t.Fatalf("RESULTS without a stream:\n%s", out)
	}
}
