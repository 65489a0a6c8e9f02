package view

import "github.com/charmbracelet/lipgloss"

// styles holds every style the dashboard and RESULTS use, in one place.
// Without colour every style is empty, so the output is plain text: the
// emphasis then comes from words and markers ("!", "PASS", "FAIL"), never
// from escape codes, which is what NO_COLOR and CI logs need.
type styles struct {
	title     lipgloss.Style
	dim       lipgloss.Style
	status    lipgloss.Style
	head      lipgloss.Style // table headings
	pass      lipgloss.Style // PASS badges, running factories
	fail      lipgloss.Style // FAIL badges, violations, errors
	warn      lipgloss.Style
	pending   lipgloss.Style
	seen      lipgloss.Style // evidence seen, not yet judged
	kill      lipgloss.Style // the kill and killed factories
	reclaim   lipgloss.Style
	fence     lipgloss.Style
	frozen    lipgloss.Style
	verdictOK lipgloss.Style // the VERDICT: PASS line
	verdictNo lipgloss.Style // the VERDICT: FAIL line
	box       lipgloss.Style // factory panels
	barFull   string
	barEmpty  string
}

// newStyles returns the coloured styles, or plain ones when color is false.
func newStyles(color bool) styles {
	if !color {
		return styles{
			box:      lipgloss.NewStyle().Border(lipgloss.ASCIIBorder()),
			barFull:  "#",
			barEmpty: ".",
		}
	}
	fg := func(c string) lipgloss.Style { return lipgloss.NewStyle().Foreground(lipgloss.Color(c)) }
	// The verdict is drawn as a reversed block, padded so it reads as a badge.
	verdict := lipgloss.NewStyle().Bold(true).Reverse(true).Padding(0, 1)
	return styles{
		title:     lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("12")),
		dim:       lipgloss.NewStyle().Faint(true),
		status:    fg("14"),
		head:      lipgloss.NewStyle().Bold(true).Underline(true),
		pass:      fg("10").Bold(true),
		fail:      fg("9").Bold(true),
		warn:      fg("11"),
		pending:   fg("8"),
		seen:      fg("14"),
		kill:      fg("9").Bold(true),
		reclaim:   fg("11").Bold(true),
		fence:     fg("13").Bold(true),
		frozen:    fg("14").Bold(true),
		verdictOK: verdict.Foreground(lipgloss.Color("10")),
		verdictNo: verdict.Foreground(lipgloss.Color("9")),
		box: lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).
			BorderForeground(lipgloss.Color("8")),
		barFull:  "█",
		barEmpty: "░",
	}
}

// forHighlight is the style of a stream line of kind h.
func (s styles) forHighlight(h highlight) lipgloss.Style {
	switch h {
	case hlKill:
		return s.kill
	case hlReclaim:
		return s.reclaim
	case hlFence:
		return s.fence
	case hlError:
		return s.fail
	case hlWarn:
		return s.warn
	default:
		return lipgloss.NewStyle()
	}
}

// forStatus is the style of a factory status word.
func (s styles) forStatus(st factoryStatus) lipgloss.Style {
	switch st {
	case statusRunning:
		return s.pass
	case statusKilled:
		return s.kill
	case statusZombieFrozen:
		return s.frozen
	case statusZombieFenced:
		return s.fence
	default:
		return s.dim
	}
}

// forBadge is the style of a guarantee badge.
func (s styles) forBadge(b badge) lipgloss.Style {
	switch b {
	case badgePass:
		return s.pass
	case badgeFail:
		return s.fail
	case badgeSeen, badgePartial, badgeWatching:
		return s.seen
	default:
		return s.pending
	}
}
