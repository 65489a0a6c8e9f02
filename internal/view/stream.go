package view

import (
	"fmt"

	"github.com/twofactory/twofactory/internal/coord"
)

// highlight marks a stream line that must catch the eye and stay pinned.
type highlight int

// The highlight kinds: the kill of the victim, a reclaim, a fence (the
// 409), a scenario error and a warning.
const (
	hlNone highlight = iota
	hlKill
	hlReclaim
	hlFence
	hlError
	hlWarn
)

// entryKind says where a stream line came from.
type entryKind int

// Lines come from coordinator events, from the scenario's progress, or
// from the dashboard itself (a note such as "events.log replaced").
const (
	fromEvent entryKind = iota
	fromStep
	fromNote
)

// entry is one line of the event stream, formatted once when it arrives.
type entry struct {
	text string
	kind entryKind
	hl   highlight
	dim  bool // routine lines (renewals) drawn faint
}

// stream is the bounded window of recent lines, newest last. While paused
// the screen keeps showing what it showed at the pause; new lines are still
// kept (within the bound) and counted so the user sees how far behind the
// picture is.
type stream struct {
	lines    []entry // the newest limit lines, and up to limit more older ones
	limit    int
	total    int // lines ever added
	paused   bool
	pausedAt int // total at the moment of the pause
}

// newStream returns a stream that keeps the last limit lines.
func newStream(limit int) stream {
	return stream{limit: max(1, limit)}
}

// add appends e. Lines past the bound are dropped in bulk once twice the
// bound is held, so that folding a long log costs O(1) a line rather than a
// copy of the whole window each time.
func (s *stream) add(e entry) {
	s.lines = append(s.lines, e)
	s.total++
	if len(s.lines) >= 2*s.limit {
		// Copy down rather than reslice, so the backing array stays bounded.
		n := copy(s.lines, s.lines[len(s.lines)-s.limit:])
		clear(s.lines[n:])
		s.lines = s.lines[:n]
	}
}

// togglePause freezes or unfreezes the visible window.
func (s *stream) togglePause() {
	s.paused = !s.paused
	s.pausedAt = s.total
}

// newCount is how many lines arrived since the pause.
func (s *stream) newCount() int {
	if !s.paused {
		return 0
	}
	return s.total - s.pausedAt
}

// tail returns up to n of the lines to show, newest last: the latest ones,
// or, while paused, the latest ones as of the pause. At most limit lines
// are ever returned.
func (s *stream) tail(n int) []entry {
	n = min(n, s.limit)
	end := len(s.lines)
	if s.paused {
		end -= s.newCount()
	}
	end = max(0, end)
	start := max(0, end-max(0, n))
	return s.lines[start:end]
}

// eventEntry formats an event for the stream. prevHolder is the job's
// holder before e, which a RECLAIM line names.
func eventEntry(e coord.Event, prevHolder string) entry {
	head := fmt.Sprintf("#%d %s %-13s %s", e.Seq, e.Time.Local().Format("15:04:05.000"),
		e.Label(), e.Job)
	en := entry{kind: fromEvent}
	switch e.Type {
	case coord.EvSubmit:
		en.text = head
	case coord.EvClaim:
		en.text = fmt.Sprintf("%s -> %s e%d", head, e.Factory, e.Epoch)
	case coord.EvReclaim:
		en.hl = hlReclaim
		en.text = fmt.Sprintf("%s from %s e%d -> queued e%d (lease expired)",
			head, dashIfEmpty(prevHolder), e.Epoch, e.After.Epoch)
	case coord.EvFence:
		en.hl = hlFence
		why := fmt.Sprintf("job at e%d", e.After.Epoch)
		if e.Reason != "" {
			why = string(e.Reason) + "; " + why
		}
		en.text = fmt.Sprintf("%s 409: %s by %s e%d refused (%s)",
			head, dashIfEmpty(e.Op), dashIfEmpty(e.Factory), e.Epoch, why)
	case coord.EvRelease:
		en.text = fmt.Sprintf("%s by %s e%d -> queued e%d", head, e.Factory, e.Epoch, e.After.Epoch)
	default:
		en.dim = e.Type == coord.EvRenew
		en.text = fmt.Sprintf("%s by %s e%d", head, dashIfEmpty(e.Factory), e.Epoch)
	}
	en.text = clean(en.text)
	return en
}
