package view

import (
	"fmt"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/twofactory/twofactory/internal/orchestrate"
)

// onResize follows the terminal's size; zero sizes count as one cell so
// the layout arithmetic never goes negative.
func (m *model) onResize(msg tea.WindowSizeMsg) {
	m.width, m.height = max(1, msg.Width), max(1, msg.Height)
	m.help.Width = m.width
}

// onKey handles the key map.
func (m *model) onKey(msg tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(msg, m.keys.Quit):
		return m.requestQuit()
	case key.Matches(msg, m.keys.Help):
		m.help.ShowAll = !m.help.ShowAll
	case key.Matches(msg, m.keys.Pause):
		m.stream.togglePause()
	}
	return nil
}

// requestQuit leaves at once when the scenario is over. Once the verdict is
// in, the scenario is only cleaning up: it is left to finish (a quit then
// is no interruption, and the exit code is the verdict's). Otherwise it
// asks the scenario to stop and keeps drawing until the progress channel
// closes, so the children are stopped before the dashboard goes. A second
// quit while stopping leaves the screen anyway; RunDashboard still waits
// for the scenario, in plain text.
func (m *model) requestQuit() tea.Cmd {
	if m.scenarioDone || m.stopping {
		m.quitting = true
		return tea.Quit
	}
	if m.results != nil {
		m.stopping = true
		m.status = "finishing: the scenario is stopping its processes (q again to leave now)"
		return nil
	}
	m.stopping, m.interrupted = true, true
	m.status = "stopping: waiting for the scenario to stop its processes (q again to leave now)"
	return m.cancelScenario()
}

// onContextDone stops like a quit, and leaves without waiting for a key
// once the scenario has stopped.
func (m *model) onContextDone() tea.Cmd {
	m.ctxDone = true
	if m.scenarioDone {
		m.quitting = true
		return tea.Quit
	}
	if m.stopping {
		return nil
	}
	m.stopping = true
	m.status = "stopping: waiting for the scenario to stop its processes"
	return m.cancelScenario()
}

// onProgress shows one Progress and updates what it tells about the fleet.
func (m *model) onProgress(p orchestrate.Progress) tea.Cmd {
	m.opt.testPanicAt(testPanicUpdate, p.Step == orchestrate.StepKill)
	text := clean(p.Text)
	if text == "" {
		text = string(p.Step)
	}
	if !p.Time.IsZero() {
		if m.end.IsZero() && p.Time.Before(m.start) {
			m.start = p.Time // the scenario started before the dashboard did
		}
		m.end = p.Time
	}
	if !m.stopping {
		m.status, m.statusStep = text, p.Step
	}
	e := entry{text: "> " + text, kind: fromStep, hl: stepHighlight(p.Step)}
	m.stream.add(e)
	if m.pinStep(e) {
		m.pin(e)
	}
	m.applyStep(p, text)

	var follow tea.Cmd
	if p.EventsLog != "" && m.src == nil && m.following == "" {
		follow = m.followLog(p.EventsLog)
	}
	return tea.Batch(follow, m.readProgress())
}

// applyStep updates the panels and hints from what a step says.
func (m *model) applyStep(p orchestrate.Progress, text string) {
	if p.Lease > 0 {
		m.lease = p.Lease
	}
	who := p.Factory
	if who == "" {
		who = m.victim // freeze, thaw and fence concern the victim
	}
	switch p.Step {
	case orchestrate.StepConfig:
		m.configured = append([]string(nil), p.Factories...)
		for _, id := range p.Factories {
			m.fleet.addFactory(id)
		}
	case orchestrate.StepKill:
		m.victim = who
		m.mark(who, func(mk *factoryMarks) { mk.killed = true })
	case orchestrate.StepFreeze:
		m.mark(who, func(mk *factoryMarks) { mk.frozen, mk.thawed = true, false })
	case orchestrate.StepThaw:
		m.mark(who, func(mk *factoryMarks) { mk.thawed = true })
	case orchestrate.StepFence, orchestrate.StepQuarantine:
		m.mark(who, func(mk *factoryMarks) { mk.fenced = true })
		m.hints.fence = firstOf(nil, m.hints.fence, text)
	case orchestrate.StepParallel:
		m.hints.parallel = text
	case orchestrate.StepReclaim:
		m.hints.reclaim = text
	case orchestrate.StepJudge:
		m.results = p.Results
	}
}

// mark changes the marks of factory id (none when id is empty).
func (m *model) mark(id string, change func(*factoryMarks)) {
	if id == "" {
		return
	}
	mk := m.marks[id]
	change(&mk)
	m.marks[id] = mk
	m.fleet.addFactory(id)
}

// pinStep reports whether a step's line is pinned. The scenario's word on a
// reclaim or a fence is pinned only while no events came in: otherwise the
// RECLAIM and FENCE events themselves are, and saying it twice is noise.
func (m *model) pinStep(e entry) bool {
	switch e.hl {
	case hlNone:
		return false
	case hlReclaim, hlFence:
		return m.fleet.state.LastSeq == 0
	default:
		return true
	}
}

// stepHighlight is the highlight a step's line gets: the kill, the reclaim
// and the fence are the moments the demo exists to show, and errors must
// not scroll away.
func stepHighlight(s orchestrate.Step) highlight {
	switch s {
	case orchestrate.StepKill:
		return hlKill
	case orchestrate.StepReclaim:
		return hlReclaim
	case orchestrate.StepFence:
		return hlFence
	case orchestrate.StepError:
		return hlError
	case orchestrate.StepWarn:
		return hlWarn
	default:
		return hlNone
	}
}

// onProgressDone notes that the scenario is over and, if the user or the
// context already asked to stop, leaves.
func (m *model) onProgressDone() tea.Cmd {
	m.scenarioDone = true
	if m.end.IsZero() {
		m.end = m.now
	}
	if m.stopping || m.ctxDone {
		m.quitting = true
		return tea.Quit
	}
	if m.opt.Observe {
		m.status = "checker stopped; still observing"
	} else {
		m.status = "scenario finished: press q to exit"
	}
	return nil
}

// onEvents folds a batch of events into the fleet and the stream.
func (m *model) onEvents(msg EventsMsg) {
	if msg.Reset {
		m.resetEvents()
	}
	m.badLines += msg.Skipped
	for _, e := range msg.Events {
		prevHolder := ""
		if j := m.fleet.state.Jobs[e.Job]; j != nil {
			prevHolder = j.Holder
		}
		if !m.fleet.apply(e) {
			continue
		}
		en := eventEntry(e, prevHolder)
		m.stream.add(en)
		if en.hl != hlNone {
			m.pin(en)
		}
	}
}

// resetEvents starts the job state over for a new events.log. Lines from
// the old file stay in the stream as history; their pins go, because the
// new file's events bring their own.
func (m *model) resetEvents() {
	m.fleet = newFleet(m.configured)
	for id := range m.marks {
		m.fleet.addFactory(id)
	}
	kept := m.pins[:0]
	for _, p := range m.pins {
		if p.kind != fromEvent {
			kept = append(kept, p)
		}
	}
	m.pins = kept
	note := entry{text: "-- events.log replaced: state rebuilt from the new file --",
		kind: fromNote, hl: hlWarn}
	m.stream.add(note)
	m.pin(note) // a history that changed under the screen must not go unnoticed
}

// pin keeps e in the highlights strip, dropping the oldest past the bound.
func (m *model) pin(e entry) {
	m.pins = append(m.pins, e)
	if over := len(m.pins) - pinLimit; over > 0 {
		m.pins = append(m.pins[:0], m.pins[over:]...)
	}
}

// onSourceBatch folds a batch from the current source and reads on.
func (m *model) onSourceBatch(msg sourceMsg) tea.Cmd {
	if msg.src != m.src {
		return nil // a source replaced meanwhile; its reader ends here
	}
	m.onEvents(msg.batch)
	return readSource(msg.src)
}

// onSourceDone notes that the events ended; a failed source is fatal only
// when it failed by panicking, which the reader reports as an error.
func (m *model) onSourceDone(msg sourceDoneMsg) tea.Cmd {
	if msg.src != m.src {
		return nil
	}
	m.src = nil
	if msg.err != nil {
		return m.onFatal(fatalMsg{err: msg.err})
	}
	m.stream.add(entry{text: "-- " + msg.src.name + " ended --", kind: fromNote})
	return nil
}

// onFollowStarted starts reading the followed log.
func (m *model) onFollowStarted(msg followStartedMsg) tea.Cmd {
	m.src = msg.src
	return readSource(msg.src)
}

// onFollowErr shows that the log cannot be followed; the scenario goes on.
func (m *model) onFollowErr(msg followErrMsg) {
	e := entry{text: clean(fmt.Sprintf("cannot follow %s: %v", msg.path, msg.err)),
		kind: fromNote, hl: hlWarn}
	m.stream.add(e)
	m.pin(e)
}

// onTick moves the model's clock. Whether the next tick is armed is
// decided by startTick, now that this one is no longer in flight.
func (m *model) onTick(msg tickMsg) {
	m.ticking = false
	m.now = msg.at
}

// onFatal records an error the dashboard cannot go on with, and leaves.
func (m *model) onFatal(msg fatalMsg) tea.Cmd {
	m.err = msg.err
	m.quitting = true
	return tea.Quit
}
