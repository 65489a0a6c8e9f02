package view

import (
	"fmt"
	"strings"

	"github.com/twofactory/twofactory/internal/orchestrate"
)

// Passed reports whether r is a pass: the scenario said so, every guarantee
// row passed and no violation was found. A Results that claims a pass while
// listing a failure is shown (and should be treated) as a FAIL, so that a
// bug in the judging can never print a reassuring verdict.
func Passed(r *orchestrate.Results) bool {
	if r == nil || !r.Pass || len(r.Violations) > 0 {
		return false
	}
	for _, g := range r.Guarantees {
		if !g.Pass {
			return false
		}
	}
	return true
}

// FormatResults renders the RESULTS block: a row per job (id, stage,
// winner, epoch, reclaimed from, fenced epoch, ships), a row per guarantee
// with PASS or FAIL and its evidence, the violations, any note, and a last
// line "VERDICT: PASS" or "VERDICT: FAIL". With color false it is plain
// text with no escape code at all. A nil r (the scenario never judged) is
// reported as such, with a FAIL verdict line. There is no trailing newline.
func FormatResults(r *orchestrate.Results, color bool) string {
	st := newStyles(color)
	if r == nil {
		return "RESULTS: none (the scenario stopped before it judged the guarantees)\n" +
			st.fail.Render("VERDICT: FAIL") + " (not judged)"
	}
	var b strings.Builder
	b.WriteString(st.title.Render("RESULTS"))
	if r.Mode != "" {
		b.WriteString(" (" + clean(r.Mode) + ")")
	}
	b.WriteByte('\n')
	writeJobTable(&b, r.Jobs, st)
	b.WriteByte('\n')
	writeGuaranteeTable(&b, r.Guarantees, st)
	writeViolations(&b, r, st)
	if r.Note != "" {
		b.WriteString("note: " + clean(r.Note) + "\n")
	}
	if Passed(r) {
		b.WriteString(st.pass.Render("VERDICT: PASS"))
	} else {
		b.WriteString(st.fail.Render("VERDICT: FAIL"))
	}
	return b.String()
}

// writeJobTable writes the job rows under a heading.
func writeJobTable(b *strings.Builder, jobs []orchestrate.JobResult, st styles) {
	rows := [][]string{{"job", "stage", "winner", "epoch", "reclaimed from", "fenced epoch",
		"ships"}}
	for _, j := range jobs {
		rows = append(rows, []string{clean(j.ID), clean(j.Stage), dashIfEmpty(clean(j.Winner)),
			fmt.Sprint(j.Epoch), dashIfEmpty(clean(j.ReclaimedFrom)), epochOrDash(j.FencedEpoch),
			fmt.Sprint(j.Ships)})
	}
	if len(jobs) == 0 {
		b.WriteString("  (no jobs)\n")
		return
	}
	for i, line := range alignColumns(rows) {
		if i == 0 {
			line = st.head.Render(line)
		}
		b.WriteString(line + "\n")
	}
}

// writeGuaranteeTable writes a row per guarantee: name, PASS/FAIL, evidence.
// The cells are padded before they are styled, so colour cannot misalign
// the columns.
func writeGuaranteeTable(b *strings.Builder, gs []orchestrate.GuaranteeResult, st styles) {
	rows := [][]string{{"guarantee", "result", "evidence"}}
	for _, g := range gs {
		rows = append(rows, []string{clean(string(g.Name)), passWord(g.Pass), clean(g.Evidence)})
	}
	widths := []int{0, 0}
	for _, r := range rows {
		widths[0], widths[1] = max(widths[0], len(r[0])), max(widths[1], len(r[1]))
	}
	for i, r := range rows {
		name, result := pad(r[0], widths[0]), pad(r[1], widths[1])
		line := "  " + name + "  " + result + "  " + r[2]
		switch {
		case i == 0:
			line = st.head.Render(strings.TrimRight(line, " "))
		case gs[i-1].Pass:
			line = "  " + name + "  " + st.pass.Render(result) + "  " + r[2]
		default:
			line = "  " + name + "  " + st.fail.Render(result) + "  " + r[2]
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
}

// writeViolations lists the violations, or says there were none, or that
// the checker could not run (a server with no event stream).
func writeViolations(b *strings.Builder, r *orchestrate.Results, st styles) {
	vs := r.Violations
	switch {
	case len(vs) == 0 && r.Note == orchestrate.NoStreamNote:
		b.WriteString("violations: not checked (no event stream)\n")
		return
	case len(vs) == 0:
		b.WriteString("violations: none\n")
		return
	}
	b.WriteString(st.fail.Render(fmt.Sprintf("VIOLATIONS (%d):", len(vs))) + "\n")
	for _, v := range vs {
		b.WriteString(st.fail.Render("  - "+clean(v)) + "\n")
	}
}

// passWord is a guarantee's result as RESULTS prints it.
func passWord(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}
