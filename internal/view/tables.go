package view

import (
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/twofactory/twofactory/internal/coord"
)

// jobVariants are the jobs table: every row, then fewer rows and a count of
// the rest, then a one-line summary. Once the scenario judged, the rows are
// its RESULTS rows. At most height rows are ever drawn, so the number of
// variants stays small however many jobs there are.
func (m *model) jobVariants(height int) [][]string {
	head, rows, total := m.jobRows(max(1, height))
	if total == 0 {
		return nil
	}
	table := alignColumns(append([][]string{head}, rows...))
	table[0] = m.styles.head.Render(table[0])
	shown := len(rows)
	variants := [][]string{table}
	if shown < total {
		variants[0] = append(slices.Clip(table), m.moreJobs(total-shown))
	}
	for k := shown - 2; k >= 1; k-- {
		variants = append(variants, append(slices.Clip(table[:1+k]), m.moreJobs(total-k)))
	}
	return append(variants, []string{m.jobSummary()})
}

// moreJobs is the line that counts the rows left out.
func (m *model) moreJobs(n int) string {
	return m.styles.dim.Render(fmt.Sprintf("  ... %d more jobs", n))
}

// jobRows returns the table heading and up to limit of its rows, live or
// judged, and how many rows there are in all. Only rows that can show are
// formatted, so a fleet of thousands of jobs costs no more to draw.
func (m *model) jobRows(limit int) (head []string, rows [][]string, total int) {
	if r := m.results; r != nil && len(r.Jobs) > 0 {
		head = []string{"job", "stage", "winner", "epoch", "reclaimed from", "fenced", "ships"}
		for _, j := range r.Jobs[:min(limit, len(r.Jobs))] {
			rows = append(rows, []string{clean(j.ID), clean(j.Stage), dashIfEmpty(clean(j.Winner)),
				fmt.Sprint(j.Epoch), dashIfEmpty(clean(j.ReclaimedFrom)),
				epochOrDash(j.FencedEpoch), fmt.Sprint(j.Ships)})
		}
		return head, rows, len(r.Jobs)
	}
	head = []string{"job", "stage", "holder", "epoch", "reclaimed from", "fenced"}
	jobs := liveOrder(m.fleet.state.Order)
	for _, j := range jobs[:min(limit, len(jobs))] {
		n := m.fleet.notes[j.ID]
		var from, fenced []string
		if n != nil {
			from, fenced = n.reclaimedFrom, n.fenced
		}
		rows = append(rows, []string{j.ID, string(j.Stage), dashIfEmpty(j.Holder),
			fmt.Sprint(j.Epoch), listOrDash(from), listOrDash(fenced)})
	}
	return head, rows, len(jobs)
}

// liveOrder puts unfinished jobs first (in submission order), then finished
// ones, latest change first: when rows must be cut, the live ones stay.
func liveOrder(jobs []*coord.Job) []*coord.Job {
	out := slices.Clone(jobs)
	slices.SortStableFunc(out, func(a, b *coord.Job) int {
		at, bt := a.Stage.Terminal(), b.Stage.Terminal()
		switch {
		case at != bt && at:
			return 1
		case at != bt:
			return -1
		case at:
			return -compareSeq(a.Seq, b.Seq)
		default:
			return 0
		}
	})
	return out
}

// compareSeq orders sequence numbers.
func compareSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// jobSummary is the jobs table in one line: how many in each stage.
func (m *model) jobSummary() string {
	counts := m.fleet.state.Counts()
	parts := []string{fmt.Sprintf("jobs %d", len(m.fleet.state.Order))}
	for _, st := range coord.Stages {
		if n := counts[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", st, n))
		}
	}
	if r := m.results; r != nil {
		parts[0] = fmt.Sprintf("jobs %d", len(r.Jobs))
	}
	return strings.Join(parts, " · ")
}

// guaranteeVariants are the three guarantees: a row each, or one line.
func (m *model) guaranteeVariants() [][]string {
	rows := guaranteeRows(m.fleet.ev, m.hints, m.results)
	full := make([]string, 0, len(rows))
	short := make([]string, 0, len(rows))
	for _, r := range rows {
		b := m.styles.forBadge(r.badge).Render("[" + r.badge.label() + "]")
		full = append(full, b+" "+pad(string(r.name), 20)+" "+r.evidence)
		letter, _, _ := strings.Cut(string(r.name), " ")
		short = append(short, letter+" "+m.styles.forBadge(r.badge).Render(
			strings.TrimSpace(r.badge.label())))
	}
	return [][]string{full, {strings.Join(short, " · ")}}
}

// alignColumns pads plain cells to column widths and joins each row.
func alignColumns(rows [][]string) []string {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], ansi.StringWidth(c))
		}
	}
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = pad(c, widths[i])
			if i == len(r)-1 {
				cells[i] = c // no trailing blanks
			}
		}
		out = append(out, "  "+strings.Join(cells, "  "))
	}
	return out
}

// listOrDash joins a list, or shows "-" for none.
func listOrDash(xs []string) string {
	if len(xs) == 0 {
		return "-"
	}
	return strings.Join(xs, ",")
}

// epochOrDash shows an epoch, or "-" for none (epochs start at 1).
func epochOrDash(e uint64) string {
	if e == 0 {
		return "-"
	}
	return fmt.Sprint(e)
}
