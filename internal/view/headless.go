package view

import (
	"fmt"
	"io"
	"time"

	"github.com/twofactory/twofactory/internal/orchestrate"
)

// RunHeadless prints the scenario as plain lines, for CI and for output
// that is not a terminal: one line per Progress, its Text prefixed with the
// seconds since the first one ("[  3.21s] "), then the RESULTS block. No
// escape code is ever written, whatever the texts contain. It returns when
// progress closes, with the Results of the judged step (nil if none).
// Write errors are ignored: a closed log must not stop the scenario's drain.
func RunHeadless(progress <-chan orchestrate.Progress, out io.Writer) *orchestrate.Results {
	var (
		res   *orchestrate.Results
		start time.Time
	)
	for p := range progress {
		at := p.Time
		if at.IsZero() {
			at = time.Now()
		}
		if start.IsZero() {
			start = at
		}
		text := clean(p.Text)
		if text == "" {
			text = string(p.Step)
		}
		_, _ = fmt.Fprintf(out, "[%6.2fs] %s\n", max(0, at.Sub(start)).Seconds(), text)
		if p.Results != nil {
			res = p.Results
		}
	}
	_, _ = fmt.Fprintln(out, FormatResults(res, false))
	return res
}
