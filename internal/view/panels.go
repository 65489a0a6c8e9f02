package view

import (
	"fmt"
	"math"
	"strings"

	"github.com/charmbracelet/lipgloss"

	"github.com/twofactory/twofactory/internal/coord"
)

// minBoxWidth is the narrowest a bordered factory panel may be; narrower
// screens get one line per factory instead.
const minBoxWidth = 30

// panelVariants are the factory panels: bordered boxes side by side (rows
// of them when many), or one line per factory.
func (m *model) panelVariants(w int) [][]string {
	views := factoryViews(m.fleet, m.marks)
	if len(views) == 0 {
		return nil
	}
	compact := make([]string, 0, len(views))
	for _, v := range views {
		compact = append(compact, m.panelLine(v))
	}
	perRow := min(len(views), w/minBoxWidth)
	if perRow == 0 {
		return [][]string{compact}
	}
	return [][]string{m.panelBoxes(views, w/perRow, perRow), compact}
}

// panelBoxes lays the panels out perRow to a row, each boxW wide.
func (m *model) panelBoxes(views []factoryView, boxW, perRow int) []string {
	inner := boxW - 2 // the border takes a column each side
	var lines []string
	for i := 0; i < len(views); i += perRow {
		var row []string
		for _, v := range views[i:min(i+perRow, len(views))] {
			// The padding is inside Width; the text gets what is left.
			body := m.panelBody(v, inner-2)
			row = append(row, m.styles.box.Width(inner).Padding(0, 1).Render(body))
		}
		lines = append(lines, strings.Split(lipgloss.JoinHorizontal(lipgloss.Top, row...), "\n")...)
	}
	return lines
}

// panelBody is the inside of one factory's box, each line cut to width.
func (m *model) panelBody(v factoryView, width int) string {
	st := m.styles
	lines := []string{
		st.title.Render(v.id) + "  " + st.forStatus(v.status).Render(string(v.status)),
		st.dim.Render("no job"),
		"lease -",
		fmt.Sprintf("shipped %d", v.shipped),
	}
	if len(v.jobs) > 0 {
		j := v.jobs[0]
		lines[1] = m.jobWords(j, len(v.jobs))
		lines[2] = "lease " + m.leaseBar(j, max(4, min(20, width-14)))
	}
	for i := range lines {
		lines[i] = fit(lines[i], width)
	}
	return strings.Join(lines, "\n")
}

// panelLine is one factory on one line, for narrow or short screens.
func (m *model) panelLine(v factoryView) string {
	st := m.styles
	line := st.title.Render(v.id) + " " + st.forStatus(v.status).Render(string(v.status))
	if len(v.jobs) > 0 {
		j := v.jobs[0]
		line += " · " + m.jobWords(j, len(v.jobs)) + " " + m.leaseBar(j, 8)
	}
	return line + fmt.Sprintf(" · shipped %d", v.shipped)
}

// jobWords names the job a factory holds: id, stage, epoch, and how many
// more it holds.
func (m *model) jobWords(j *coord.Job, held int) string {
	s := fmt.Sprintf("%s %s e%d", j.ID, j.Stage, j.Epoch)
	if held > 1 {
		s += fmt.Sprintf(" (+%d)", held-1)
	}
	return s
}

// leaseBar draws the time left on j's lease as a bar width cells wide and
// the seconds left. The bar's full length is the lease length announced by
// the scenario or, failing that, the time from the event that set the
// lease to its expiry.
func (m *model) leaseBar(j *coord.Job, width int) string {
	if j.ExpiresAt.IsZero() {
		return "-"
	}
	left := j.ExpiresAt.Sub(m.now)
	total := m.lease
	if n := m.fleet.notes[j.ID]; total <= 0 && n != nil && !n.leaseFrom.IsZero() {
		total = j.ExpiresAt.Sub(n.leaseFrom)
	}
	frac := 0.0
	if total > 0 {
		frac = math.Min(1, math.Max(0, left.Seconds()/total.Seconds()))
	}
	full := int(math.Round(frac * float64(width)))
	bar := "[" + strings.Repeat(m.styles.barFull, full) +
		strings.Repeat(m.styles.barEmpty, width-full) + "]"
	if left <= 0 {
		return m.styles.warn.Render(bar + " expired")
	}
	return bar + " " + seconds(left)
}
