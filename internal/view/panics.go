package view

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
)

// Test-only panic points, chosen with Options.TestPanic (the demo sets it
// from TWOFACTORY_TEST_PANIC). Each makes the dashboard panic once the victim
// has been killed, or at the first events.log batch for the watcher, so an
// end-to-end test can check that a panic leaves the terminal usable and no
// process behind (case C9). Production never sets them.
const (
	testPanicUpdate  = "update"  // in Update, on the kill step
	testPanicView    = "view"    // in View, once the kill was seen
	testPanicCommand = "command" // in the progress reader command, on the kill step
	testPanicWatcher = "watcher" // in the events.log decoder, on the first batch
)

// panicError turns a recovered value into an error of one line: what
// panicked, the value, and the file:line that panicked. The whole stack
// would not survive being printed as the one-line error main reports, and
// the site is what a reader needs first.
func panicError(what string, r any) error {
	msg := strings.Join(strings.Fields(fmt.Sprint(r)), " ")
	if site := panicSite(); site != "" {
		return fmt.Errorf("view: %s panicked: %s (at %s)", what, msg, site)
	}
	return fmt.Errorf("view: %s panicked: %s", what, msg)
}

// panicSite is the first frame outside the runtime below runtime.gopanic on
// the calling goroutine's stack; it must be called from the deferred
// function that recovered.
func panicSite() string {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	below := false
	for {
		f, more := frames.Next()
		if below && !strings.HasPrefix(f.Function, "runtime.") {
			return fmt.Sprintf("%s:%d", filepath.Base(f.File), f.Line)
		}
		below = below || f.Function == "runtime.gopanic"
		if !more {
			return ""
		}
	}
}
