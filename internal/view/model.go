package view

import (
	"time"

	"github.com/charmbracelet/bubbles/help"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/twofactory/twofactory/internal/orchestrate"
)

// Sizes and rates of the dashboard.
const (
	// streamLimit bounds the event stream kept in memory; the screen shows
	// as many of the newest as fit.
	streamLimit = 500
	// pinLimit bounds the pinned highlights (kill, reclaims, fences).
	pinLimit = 50
	// tickEvery is the redraw rate while a lease counts down or the scenario
	// runs: four a second moves a 1.5 s lease bar smoothly enough.
	tickEvery = 250 * time.Millisecond
	// defaultWidth and defaultHeight are assumed until the first resize.
	defaultWidth, defaultHeight = 80, 24
)

// deps are the model's links to the outside world. Each is a value the
// model calls only from a tea.Cmd, so Update itself never blocks and tests
// can substitute every one.
type deps struct {
	feed   *progressFeed
	events <-chan EventsMsg                        // API mode; nil otherwise
	follow func(path string) (*eventSource, error) // nil: never follow a log
	tick   func(d time.Duration) tea.Cmd
	cancel func()
	start  time.Time // when the dashboard started: elapsed counts from here
}

// model is the dashboard. Update changes it, one handler per message type;
// View draws it and reads no clock: "now" comes only from tick messages.
type model struct {
	opt    Options
	deps   deps
	keys   keyMap
	help   help.Model
	styles styles
	width  int
	height int

	fleet      *fleet
	configured []string // factory ids the scenario announced, victim first
	marks      map[string]factoryMarks
	victim     string
	stream     stream
	pins       []entry
	badLines   int // lines the event source could not decode
	hints      liveHints
	results    *orchestrate.Results

	status     string
	statusStep orchestrate.Step
	lease      time.Duration
	start      time.Time // elapsed counts from here
	now        time.Time // the last tick
	end        time.Time // the last progress, once the scenario is over

	src          *eventSource // the event source being read, if any
	following    string       // the events.log being followed
	scenarioDone bool         // the progress channel closed
	stopping     bool         // asked to stop; waiting for the scenario to stop
	interrupted  bool         // the user stopped the scenario before its end
	ctxDone      bool         // RunDashboard's context ended
	quitting     bool         // tea.Quit was returned
	ticking      bool         // a tick is in flight; at most one ever is
	err          error        // fatal: shown, then returned by RunDashboard
	// drawErr is a panic recovered in View. View cannot quit, so it leaves
	// the error here (its only write to the model) for the next Update.
	drawErr error
}

// newModel returns the dashboard model for opt, linked to the world by d.
func newModel(opt Options, d deps) *model {
	if d.cancel == nil {
		d.cancel = func() {}
	}
	if d.feed == nil {
		d.feed = newFeed(nil)
	}
	m := &model{
		opt:          opt,
		deps:         d,
		keys:         newKeyMap(),
		help:         help.New(),
		styles:       newStyles(opt.Color),
		width:        defaultWidth,
		height:       defaultHeight,
		fleet:        newFleet(nil),
		marks:        map[string]factoryMarks{},
		stream:       newStream(streamLimit),
		start:        d.start,
		now:          d.start,
		scenarioDone: d.feed.done(),
		status:       "starting",
	}
	if opt.Observe {
		m.status = "observing"
	}
	m.help.Width = m.width
	if !opt.Color {
		m.help.Styles = help.Styles{} // bubbles' default help is coloured
	}
	return m
}

// Init starts reading the scenario's progress and the events, and the
// first tick.
func (m *model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.startTick()}
	if !m.scenarioDone {
		cmds = append(cmds, m.readProgress())
	}
	if m.deps.events != nil {
		m.src = &eventSource{c: m.deps.events, name: "event stream"}
		cmds = append(cmds, readSource(m.src))
	}
	if m.opt.EventsLog != "" && m.src == nil {
		cmds = append(cmds, m.followLog(m.opt.EventsLog))
	}
	return tea.Batch(cmds...)
}

// Update routes each message to its one handler. A panic in any of them
// (or an earlier one in View) becomes the model's fatal error and a clean
// quit, so that bubbletea restores the terminal and RunDashboard stops the
// scenario and reports one line, rather than the program dying with the
// terminal raw or bubbletea printing a stack over the screen.
func (m *model) Update(msg tea.Msg) (next tea.Model, cmd tea.Cmd) {
	next = m // set first: a panic must still hand bubbletea a model to draw
	defer func() {
		if r := recover(); r != nil {
			cmd = m.onFatal(fatalMsg{err: panicError("update", r)})
		}
	}()
	if m.drawErr != nil && m.err == nil {
		return next, m.onFatal(fatalMsg{err: m.drawErr})
	}
	return next, m.update(msg)
}

// update is Update without the panic guard. The tick rule is kept here for
// every message: a new tick starts only when none is in flight.
func (m *model) update(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.onResize(msg)
	case tea.KeyMsg:
		cmd = m.onKey(msg)
	case progressMsg:
		cmd = m.onProgress(msg.p)
	case progressDoneMsg:
		cmd = m.onProgressDone()
	case EventsMsg:
		m.onEvents(msg)
	case sourceMsg:
		cmd = m.onSourceBatch(msg)
	case sourceDoneMsg:
		cmd = m.onSourceDone(msg)
	case followStartedMsg:
		cmd = m.onFollowStarted(msg)
	case followErrMsg:
		m.onFollowErr(msg)
	case tickMsg:
		m.onTick(msg)
	case fatalMsg:
		cmd = m.onFatal(msg)
	case ctxDoneMsg:
		cmd = m.onContextDone()
	}
	return tea.Batch(cmd, m.startTick())
}
