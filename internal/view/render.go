package view

import (
	"fmt"
	"strings"
	"time"

	"github.com/twofactory/twofactory/internal/orchestrate"
)

// The blocks of the screen between the header and the verdict, by index.
const (
	blkPanels = iota
	blkJobs
	blkGuarantees
	blkPins
	blkHelp
)

// maxViolationLines bounds the violations drawn above the verdict; the rest
// are counted there and printed in full in RESULTS after exit.
const maxViolationLines = 3

// View draws the dashboard. It is a pure function of the model: the same
// model always draws the same screen. The one exception is a panic while
// drawing: the screen then shows the error and View records it, so that
// the next Update (the next tick, or a key) quits cleanly.
func (m *model) View() (screen string) {
	defer func() {
		if r := recover(); r != nil {
			m.drawErr = panicError("view", r)
			screen = fit("ERROR: "+m.drawErr.Error(), m.width) + "\nq to quit"
		}
	}()
	return m.draw()
}

// draw lays the screen out. The header and the verdict always show; between
// them the stream gives up its lines first, then the pins, the help, the
// panels' borders and the job rows.
func (m *model) draw() string {
	m.opt.testPanicAt(testPanicView, m.victim != "")
	w, h := m.width, m.height
	header := m.viewHeader()
	verdict := m.viewVerdict()
	blocks := make([]*block, blkHelp+1)
	blocks[blkPanels] = &block{variants: m.panelVariants(w)}
	blocks[blkJobs] = &block{variants: m.jobVariants(h)}
	blocks[blkGuarantees] = &block{variants: m.guaranteeVariants()}
	blocks[blkPins] = &block{variants: m.pinVariants()}
	blocks[blkHelp] = &block{variants: m.helpVariants()}
	budget := h - len(header) - len(verdict)
	fitBlocks(blocks, shrinkOrder(blocks[blkJobs]), budget)

	out := append([]string(nil), header...)
	for _, i := range []int{blkPanels, blkJobs, blkGuarantees, blkPins} {
		out = append(out, blocks[i].lines()...)
	}
	out = append(out, m.viewStream(budget-totalLines(blocks))...)
	out = append(out, verdict...)
	out = append(out, blocks[blkHelp].lines()...)
	return clip(out, header, verdict, w, h)
}

// shrinkOrder is the order in which blocks give up lines once the stream
// has none left: extras first, then detail, and the guarantees last.
func shrinkOrder(jobs *block) []int {
	order := []int{blkPins, blkHelp, blkPanels}
	for range max(0, len(jobs.variants)-1) {
		order = append(order, blkJobs) // one job row at a time, down to a summary
	}
	return append(order, blkHelp, blkPins, blkGuarantees, blkPanels, blkJobs, blkGuarantees)
}

// clip cuts every line to the width and the screen to the height. When not
// even the header and the verdict fit, it keeps the first header line and
// as much of the verdict as fits, the verdict's last line above all.
func clip(out, header, verdict []string, w, h int) string {
	if len(out) > h {
		keep := append(header[:1:1], verdict...)
		if len(keep) > h {
			keep = keep[len(keep)-h:]
			if h > 1 {
				keep[0] = header[0]
			}
		}
		out = keep
	}
	for i := range out {
		out[i] = fit(out[i], w)
	}
	return strings.Join(out, "\n")
}

// viewHeader is the title line and the status line.
func (m *model) viewHeader() []string {
	st := m.styles
	mode := m.opt.modeLabel()
	if m.results != nil && m.results.Mode != "" && m.opt.Mode == "" {
		mode = m.results.Mode
	}
	parts := []string{st.title.Render(m.title()), mode}
	if !m.opt.Observe {
		// Observe mode has no start to count from, and its clock only ticks
		// while a lease is live: an elapsed time there would stand still.
		parts = append(parts, "elapsed "+seconds(m.elapsed()))
	}
	if m.lease > 0 {
		parts = append(parts, "lease "+seconds(m.lease))
	}
	if n := m.badLines; n > 0 {
		parts = append(parts, st.warn.Render(fmt.Sprintf("%d bad lines", n)))
	}
	if n := m.fleet.skipped; n > 0 {
		parts = append(parts, st.dim.Render(fmt.Sprintf("%d resent", n)))
	}
	if n := m.fleet.rejected; n > 0 {
		parts = append(parts, st.warn.Render(fmt.Sprintf("%d rejected: %s", n, m.fleet.lastErr)))
	}
	status := st.status.Render("> " + m.status)
	if m.statusStep == orchestrate.StepError || m.err != nil {
		status = st.fail.Render("> " + m.status)
	}
	return []string{strings.Join(parts, " · "), status}
}

// title is the dashboard's title, with a default.
func (m *model) title() string {
	if m.opt.Title != "" {
		return clean(m.opt.Title)
	}
	return "twofactory"
}

// elapsed is the time since the start, as of the last tick, or as of the
// last progress once the scenario is over.
func (m *model) elapsed() time.Duration {
	end := m.now
	if m.scenarioDone && !m.end.IsZero() && !m.opt.Observe {
		end = m.end
	}
	return max(0, end.Sub(m.start))
}

// viewVerdict is what always shows at the bottom: a fatal error, the
// violations (as prominent as the verdict itself), and the verdict line.
func (m *model) viewVerdict() []string {
	st := m.styles
	var out []string
	if m.err != nil {
		out = append(out, st.fail.Render("ERROR: "+clean(m.err.Error())))
	}
	out = append(out, m.violationLines()...)
	r := m.results
	switch {
	case r != nil:
		if r.Note != "" {
			out = append(out, st.warn.Render("note: "+clean(r.Note)))
		}
		line := st.verdictNo.Render("VERDICT: FAIL")
		if Passed(r) {
			line = st.verdictOK.Render("VERDICT: PASS")
		}
		out = append(out, line+m.exitHint())
	case m.opt.Observe:
		out = append(out, st.dim.Render("VERDICT: none (observe mode; no scenario judges)"))
	case m.scenarioDone:
		out = append(out, st.fail.Render("VERDICT: none (the scenario ended before it judged)")+
			m.exitHint())
	default:
		out = append(out, st.pending.Render("VERDICT: pending"))
	}
	return out
}

// violationLines lists the judged violations, or the live ones until then.
func (m *model) violationLines() []string {
	var texts []string
	label := "VIOLATION (live): "
	if m.results != nil {
		label = "VIOLATION: "
		for _, v := range m.results.Violations {
			texts = append(texts, clean(v))
		}
	} else {
		for _, v := range m.fleet.ev.violations {
			texts = append(texts, v.text)
		}
	}
	var out []string
	for i, t := range texts {
		if i == maxViolationLines {
			out = append(out, m.styles.fail.Render(fmt.Sprintf("... %d more violations",
				len(texts)-i)))
			break
		}
		out = append(out, m.styles.fail.Render(label+t))
	}
	return out
}

// exitHint tells the user how to leave once the scenario is over.
func (m *model) exitHint() string {
	if !m.scenarioDone || m.quitting {
		return ""
	}
	return m.styles.dim.Render("  press q to exit")
}

// viewStream is the newest room lines of the stream; while paused its first
// line says so and how many lines came since.
func (m *model) viewStream(room int) []string {
	if room <= 0 {
		return nil
	}
	var out []string
	if m.stream.paused {
		out = append(out, m.styles.warn.Render(fmt.Sprintf(
			"-- paused: %d new (p to follow) --", m.stream.newCount())))
		room--
	}
	for _, e := range m.stream.tail(room) {
		out = append(out, m.entryLine(e))
	}
	return out
}

// entryLine draws one stream or pin line; highlighted ones carry a "!" so
// they stand out without colour too.
func (m *model) entryLine(e entry) string {
	if e.hl != hlNone {
		return m.styles.forHighlight(e.hl).Render("! " + e.text)
	}
	if e.dim {
		return m.styles.dim.Render("  " + e.text)
	}
	return "  " + e.text
}

// pinVariants are the pinned highlights: the latest three, or the latest.
func (m *model) pinVariants() [][]string {
	n := len(m.pins)
	if n == 0 {
		return nil
	}
	var three []string
	for _, e := range m.pins[max(0, n-3):] {
		three = append(three, m.entryLine(e))
	}
	if n == 1 {
		return [][]string{three}
	}
	return [][]string{three, three[len(three)-1:]}
}

// helpVariants are the footer: the full help with a legend after "?", the
// one-line help otherwise.
func (m *model) helpVariants() [][]string {
	short := []string{m.help.ShortHelpView(m.keys.ShortHelp())}
	if !m.help.ShowAll {
		return [][]string{short}
	}
	full := strings.Split(m.help.FullHelpView(m.keys.FullHelp()), "\n")
	full = append(full, legend...)
	return [][]string{full, short}
}

// legend explains the screen's markers after "?".
var legend = []string{
	"! marks the kill, each RECLAIM and each FENCE (409); they stay pinned above the stream",
	"guarantees: .. pending · ok? nothing broken so far · part one of reclaim/fence seen ·",
	"  seen: all evidence, awaiting the verdict · PASS/FAIL: judged from the coordinator's events",
	"factories: running · idle · killed · zombie frozen (its executor SIGSTOPped) · zombie fenced",
}

// seconds formats d as seconds with one decimal.
func seconds(d time.Duration) string {
	return fmt.Sprintf("%.1fs", d.Seconds())
}
