package observe

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/view"
)

var t0 = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

func ev(seq uint64, typ coord.EventType, job, factory string, epoch uint64, stage coord.Stage,
	holder string) coord.Event {
	e := coord.Event{Seq: seq, Time: t0.Add(time.Duration(seq) * time.Millisecond), Type: typ,
		Job: job, Factory: factory, Epoch: epoch,
		After: coord.JobState{Stage: stage, Holder: holder, Epoch: max(epoch, 1)}}
	if stage.Held() {
		e.After.ExpiresAt = e.Time.Add(1500 * time.Millisecond)
	}
	return e
}

// doubleGrant is a history whose third event grants j-1's epoch 1 again.
func doubleGrant() []coord.Event {
	return []coord.Event{
		ev(1, coord.EvSubmit, "j-1", "", 0, coord.StageQueued, ""),
		ev(2, coord.EvClaim, "j-1", "mac-1", 1, coord.StageClaimed, "mac-1"),
		ev(3, coord.EvClaim, "j-1", "ubuntu-1", 1, coord.StageClaimed, "ubuntu-1"),
	}
}

func TestJudgeDropsRepeatsAndFindsTheFirstViolation(t *testing.T) {
	h := doubleGrant()
	j := NewJudge(true)
	fresh, v := j.Apply(view.EventsMsg{Events: h[:2]})
	if len(fresh) != 2 || v != nil {
		t.Fatalf("first batch: %d fresh, violation %v", len(fresh), v)
	}
	// A source that resends seq 2 must not look like a sequence fault.
	fresh, v = j.Apply(view.EventsMsg{Events: h[1:3]})
	if len(fresh) != 1 || fresh[0].Seq != 3 {
		t.Fatalf("resent batch: fresh %v, want only seq 3", fresh)
	}
	if v == nil || v.Kind != coord.VDoubleGrant {
		t.Fatalf("violation %v, want double-grant", v)
	}
	// Only the first one is the verdict.
	more := ev(4, coord.EvClaim, "j-1", "third", 1, coord.StageClaimed, "third")
	if _, v := j.Apply(view.EventsMsg{Events: []coord.Event{more}}); v != nil {
		t.Errorf("second violation reported: %v", v)
	}
	if j.Failed() == nil || j.Events() != 4 {
		t.Errorf("Failed %v Events %d", j.Failed(), j.Events())
	}
}

func TestJudgeResetStartsOver(t *testing.T) {
	h := doubleGrant()
	j := NewJudge(true)
	if _, v := j.Apply(view.EventsMsg{Events: h}); v == nil {
		t.Fatal("no violation in a double grant")
	}
	// A new log: seq 1 again, a sound history, judged by a new checker.
	fresh, v := j.Apply(view.EventsMsg{Reset: true, Events: h[:2]})
	if len(fresh) != 2 || v != nil || j.Failed() != nil || j.Events() != 2 {
		t.Fatalf("after reset: %d fresh, violation %v, failed %v", len(fresh), v, j.Failed())
	}
	if _, v := j.Apply(view.EventsMsg{Events: h[2:]}); v == nil {
		t.Error("the new history's own double grant went unseen")
	}
}

func TestJudgeWithoutCheckNeverFails(t *testing.T) {
	j := NewJudge(false)
	if fresh, v := j.Apply(view.EventsMsg{Events: doubleGrant()}); len(fresh) != 3 || v != nil {
		t.Errorf("fresh %d violation %v", len(fresh), v)
	}
}

func TestLine(t *testing.T) {
	fence := ev(9, coord.EvFence, "j-1", "mac-1", 1, coord.StageRunning, "ubuntu-1")
	fence.Op, fence.Reason, fence.After.Epoch = "patch:done", coord.ReasonStaleEpoch, 2
	cases := []struct {
		e    coord.Event
		want string
	}{
		{doubleGrant()[1], "#2 10:00:00.002 CLAIM job=j-1 factory=mac-1 epoch=1 -> claimed " +
			"holder=mac-1 e1 lease=1.5s"},
		{fence, "#9 10:00:00.009 FENCE job=j-1 factory=mac-1 epoch=1 op=patch:done " +
			"reason=stale-epoch 409 -> running holder=ubuntu-1 e2 lease=1.5s"},
		{ev(1, coord.EvSubmit, "j-1", "", 0, coord.StageQueued, ""),
			"#1 10:00:00.001 SUBMIT job=j-1 factory=- epoch=0 -> queued holder=- e1"},
	}
	for _, c := range cases {
		if got := Line(c.e); got != c.want {
			t.Errorf("Line:\n got %q\nwant %q", got, c.want)
		}
	}
	// Whatever a damaged source holds, no control byte reaches the output.
	evil := ev(1, coord.EvSubmit, "j\x1b[2J", "a b", 0, coord.StageQueued, "")
	if got := Line(evil); strings.ContainsAny(got, "\x1b\n") || !strings.Contains(got, `\x1b`) {
		t.Errorf("unsafe line %q", got)
	}
}

func TestMergeDropsWhatAResetReplaces(t *testing.T) {
	h := doubleGrant()
	m := merge(view.EventsMsg{}, false, view.EventsMsg{Events: h[:1], Skipped: 1})
	m = merge(m, true, view.EventsMsg{Events: h[1:2], Skipped: 2})
	if len(m.Events) != 2 || m.Skipped != 3 || m.Reset {
		t.Fatalf("merged %+v", m)
	}
	m = merge(m, true, view.EventsMsg{Reset: true, Events: h[2:]})
	if len(m.Events) != 1 || !m.Reset || m.Skipped != 0 {
		t.Fatalf("after reset %+v", m)
	}
}

// scripted is an EventLister that answers from a history the test
// changes, as a coordinator restarted on a new directory would.
type scripted struct {
	mu      sync.Mutex
	history []coord.Event
	calls   int
	fail    error // answered once, then cleared
}

func (s *scripted) Events(ctx context.Context, after uint64, limit int,
	wait time.Duration) ([]coord.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if err := s.fail; err != nil {
		s.fail = nil
		return nil, err
	}
	var out []coord.Event
	for _, e := range s.history {
		if e.Seq > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *scripted) set(h []coord.Event) {
	s.mu.Lock()
	s.history = h
	s.mu.Unlock()
}

func TestAPISourceOnceReadsTheHistory(t *testing.T) {
	s := &scripted{history: doubleGrant(), fail: coord.ErrUnavailable}
	src := APISource("test", s, true, nil).(*apiSource)
	src.retry = time.Millisecond
	var out, notes bytes.Buffer
	sum, err := Headless(context.Background(), src, true, &out, &notes)
	if !errors.Is(err, ErrViolation) || !strings.Contains(err.Error(), "double-grant") {
		t.Fatalf("err %v, want the double grant", err)
	}
	if sum.Events != 3 || strings.Count(out.String(), "\n") != 3 {
		t.Errorf("summary %+v, output:\n%s", sum, out.String())
	}
}

func TestAPISourceFinalErrors(t *testing.T) {
	s := &scripted{fail: coord.ErrUnauthorized}
	_, err := Headless(context.Background(), APISource("test", s, false, nil), false,
		&bytes.Buffer{}, &bytes.Buffer{})
	if !errors.Is(err, coord.ErrUnauthorized) {
		t.Fatalf("err %v, want unauthorized", err)
	}
}

func TestAPISourceSeesARestartedHistory(t *testing.T) {
	h := doubleGrant()
	s := &scripted{history: h[:2]}
	src := APISource("test", s, false, nil).(*apiSource)
	src.wait, src.idle = 0, time.Millisecond // the scripted server answers at once
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := make(chan view.EventsMsg, 1)
	go func() { _ = src.Run(ctx, out) }()

	if m := <-out; m.Reset || len(m.Events) != 2 {
		t.Fatalf("first batch %+v", m)
	}
	// The coordinator restarts on a new log with another first event.
	fresh := ev(1, coord.EvSubmit, "other", "", 0, coord.StageQueued, "")
	s.set([]coord.Event{fresh})
	select {
	case m := <-out:
		if !m.Reset || len(m.Events) != 1 || m.Events[0].Job != "other" {
			t.Fatalf("after restart %+v, want a reset with the new history", m)
		}
	case <-ctx.Done():
		t.Fatal("restart never noticed")
	}
	cancel()
}
