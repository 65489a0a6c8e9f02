package view

import (
	"fmt"

	"github.com/twofactory/twofactory/internal/coord/follow"
)

// openLogWith returns how the dashboard follows an events.log: with the
// follower, its batches decoded and coalesced for the model. Tests may
// replace it through opt.openLog.
func openLogWith(opt Options) openFunc {
	if opt.openLog != nil {
		return opt.openLog
	}
	return func(path string) (*eventSource, func(), error) {
		fl := follow.New(path, follow.Options{Poll: opt.Poll, Logger: opt.Logger})
		if err := fl.Start(); err != nil {
			return nil, nil, fmt.Errorf("view: follow %s: %w", path, err)
		}
		decode := decodeBatch
		if opt.TestPanic == testPanicWatcher {
			decode = func(b follow.Batch) EventsMsg {
				opt.testPanicAt(testPanicWatcher, true)
				return decodeBatch(b)
			}
		}
		c := startCoalescer(fl.Batches(), decode, fl.Stop)
		return c.source("events.log"), c.Stop, nil
	}
}

// decodeBatch turns the follower's lines into events with the one line
// parser; lines that do not parse are counted, not fatal.
func decodeBatch(b follow.Batch) EventsMsg {
	events, errs := follow.Decode(b.Lines)
	return EventsMsg{Events: events, Reset: b.Reset, Skipped: len(errs)}
}
