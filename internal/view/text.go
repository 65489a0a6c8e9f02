package view

import (
	"strings"
	"unicode"

	"github.com/charmbracelet/x/ansi"
)

// clean makes s safe to print on one line of a terminal or a CI log: escape
// sequences are removed, line breaks become " | ", and every other control
// character is dropped. Progress texts and evidence may quote child-process
// output, which must never move the cursor or change the colours.
func clean(s string) string {
	s = ansi.Strip(s)
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.TrimRight(s, "\n")
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r':
			b.WriteString(" | ")
		case r == '\t':
			b.WriteByte(' ')
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			// dropped: no control character reaches the output
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// fit cuts a (possibly styled) line to width cells, marking the cut.
func fit(s string, width int) string {
	if width <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= width {
		return s
	}
	if width == 1 {
		return ansi.Truncate(s, 1, "")
	}
	return ansi.Truncate(s, width, "…")
}

// pad right-pads plain s with spaces to width cells.
func pad(s string, width int) string {
	if w := ansi.StringWidth(s); w < width {
		return s + strings.Repeat(" ", width-w)
	}
	return s
}
