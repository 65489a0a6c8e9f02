package view

import (
	"log/slog"
	"time"

	tea "github.com/charmbracelet/bubbletea"
)

// Options configure RunDashboard. The zero value is a colourless dashboard
// on the normal screen for a demo run.
type Options struct {
	// Color enables colours and other styling. Set it to false when NO_COLOR
	// is set or the terminal profile is ASCII: the dashboard then draws
	// plain text with ASCII borders and marks highlights with "!".
	Color bool
	// AltScreen draws on the terminal's alternate screen, which is left on
	// exit; the RESULTS are printed again on the normal screen afterwards.
	AltScreen bool
	// Title heads the dashboard, e.g. "twofactory demo" or "observe <dir>".
	Title string
	// Observe is observe mode: there may be no scenario at all, only events
	// (and, when the caller runs one, a checker's progress and verdict).
	Observe bool
	// Mode is shown in the header beside the title ("stub", "real", ...).
	// Empty shows "observe" or "demo", until the Results name the mode.
	Mode string
	// Logger receives the events.log follower's diagnostics. Nil discards
	// them: nothing may ever write over the dashboard.
	Logger *slog.Logger
	// EventsLog, when set, is followed from the start (observe mode on a
	// data directory), without waiting for a Progress that names one.
	EventsLog string
	// TestPanic is for tests only: it names a place where the dashboard
	// panics on purpose ("update", "view", "command" or "watcher"), so that
	// a test of the real binary can check that the terminal is restored, the
	// processes stopped and one line reported. Empty panics nowhere.
	TestPanic string
	// Poll is the follower's polling fallback interval; zero keeps the
	// follower's default.
	Poll time.Duration

	// programOptions lets tests run the program on a fake terminal.
	programOptions []tea.ProgramOption
	// openLog, when set, replaces the events.log follower (tests).
	openLog openFunc
}

// modeLabel is the mode word of the header before the Results name one.
func (o Options) modeLabel() string {
	switch {
	case o.Mode != "":
		return o.Mode
	case o.Observe:
		return "observe"
	default:
		return "demo"
	}
}

// testPanicAt panics when where is the test-only panic point chosen and
// when holds; see TestPanic.
func (o Options) testPanicAt(where string, when bool) {
	if when && o.TestPanic == where {
		panic("test-only panic at " + where + " (TWOFACTORY_TEST_PANIC)")
	}
}
