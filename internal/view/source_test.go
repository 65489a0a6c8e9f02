package view

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// rawBatch stands in for the follower's batch type.
type rawBatch struct {
	seqs  []uint64
	reset bool
	bad   int
}

func decodeRaw(b rawBatch) EventsMsg {
	msg := EventsMsg{Reset: b.reset, Skipped: b.bad}
	for _, s := range b.seqs {
		msg.Events = append(msg.Events, coord.Event{Seq: s})
	}
	return msg
}

func seqsOf(msg EventsMsg) []uint64 {
	var out []uint64
	for _, e := range msg.Events {
		out = append(out, e.Seq)
	}
	return out
}

// recvWithin reads one batch or fails after a generous deadline.
func recvWithin(t *testing.T, c <-chan EventsMsg) (EventsMsg, bool) {
	t.Helper()
	select {
	case msg, ok := <-c:
		return msg, ok
	case <-time.After(5 * time.Second):
		t.Fatal("no batch within 5s")
		return EventsMsg{}, false
	}
}

func TestCoalescerMergesWhileTheReaderIsBusy(t *testing.T) {
	defer checkLeaks(t)()
	in := make(chan rawBatch)
	stopped := make(chan struct{})
	c := startCoalescer(in, decodeRaw, func() { close(stopped) })
	src := c.source("test")

	// Nobody reads src while these go in: the producer must never wait.
	in <- rawBatch{seqs: []uint64{1, 2}}
	in <- rawBatch{seqs: []uint64{3}, bad: 1}
	in <- rawBatch{seqs: []uint64{4}}
	msg, _ := recvWithin(t, src.c)
	if got := seqsOf(msg); len(got) != 4 || got[3] != 4 || msg.Skipped != 1 || msg.Reset {
		t.Errorf("merged batch = %v skipped=%d reset=%v, want [1 2 3 4], 1, false",
			got, msg.Skipped, msg.Reset)
	}

	// A reset drops what was pending from the old file.
	in <- rawBatch{seqs: []uint64{5}}
	in <- rawBatch{seqs: []uint64{1}, reset: true}
	in <- rawBatch{seqs: []uint64{2}}
	msg, _ = recvWithin(t, src.c)
	if got := seqsOf(msg); len(got) != 2 || got[0] != 1 || !msg.Reset {
		t.Errorf("batch after reset = %v reset=%v, want [1 2] and reset", got, msg.Reset)
	}

	c.Stop()
	c.Stop() // idempotent
	select {
	case <-stopped:
	default:
		t.Error("Stop did not stop the producer")
	}
	if _, ok := <-src.c; ok {
		t.Error("source still open after Stop")
	}
	if err := src.err(); err != nil {
		t.Errorf("err after a clean stop = %v", err)
	}
}

func TestCoalescerFlushesWhenTheProducerEnds(t *testing.T) {
	defer checkLeaks(t)()
	in := make(chan rawBatch, 1)
	c := startCoalescer(in, decodeRaw, nil)
	defer c.Stop()
	in <- rawBatch{seqs: []uint64{7}}
	close(in)
	src := c.source("test")
	msg, ok := recvWithin(t, src.c)
	if !ok || len(msg.Events) != 1 || msg.Events[0].Seq != 7 {
		t.Errorf("last batch = %v (ok=%v), want [7]", seqsOf(msg), ok)
	}
	if _, ok := recvWithin(t, src.c); ok {
		t.Error("source open after the producer ended")
	}
}

func TestCoalescerReportsAPanic(t *testing.T) {
	defer checkLeaks(t)()
	in := make(chan rawBatch, 1)
	c := startCoalescer(in, func(rawBatch) EventsMsg { panic("bad decode") }, nil)
	defer c.Stop()
	in <- rawBatch{}
	src := c.source("test")
	if _, ok := recvWithin(t, src.c); ok {
		t.Fatal("source open after a panic")
	}
	msg := readSource(src)()
	done, ok := msg.(sourceDoneMsg)
	if !ok || done.err == nil || !strings.Contains(done.err.Error(), "bad decode") {
		t.Fatalf("reader returned %#v, want a sourceDoneMsg with the panic", msg)
	}
}

func TestReadSourceMergesQueuedBatches(t *testing.T) {
	c := make(chan EventsMsg, 3)
	first := EventsMsg{Events: make([]coord.Event, 1, 8)}
	first.Events[0].Seq = 1
	c <- first
	c <- EventsMsg{Events: []coord.Event{{Seq: 2}}}
	c <- EventsMsg{Events: []coord.Event{{Seq: 3}}}
	src := &eventSource{c: c}
	msg, ok := readSource(src)().(sourceMsg)
	if !ok || len(msg.batch.Events) != 3 || msg.src != src {
		t.Fatalf("read %#v, want one batch of 3 from src", msg)
	}
	if spare := first.Events[:2]; spare[1].Seq != 0 {
		t.Error("merging wrote into the sender's backing array")
	}
	close(c)
	if _, ok := readSource(src)().(sourceDoneMsg); !ok {
		t.Error("a closed source did not report its end")
	}
}

func TestLogFollowers(t *testing.T) {
	stops := 0
	l := newLogFollowers(func(path string) (*eventSource, func(), error) {
		if path == "bad" {
			return nil, nil, errors.New("no such file")
		}
		return &eventSource{name: path}, func() { stops++ }, nil
	})
	if src, err := l.follow("a"); err != nil || src.name != "a" {
		t.Fatalf("follow(a) = %v, %v", src, err)
	}
	if _, err := l.follow("bad"); err == nil {
		t.Error("follow(bad) did not fail")
	}
	l.stopAll()
	l.stopAll()
	if stops != 1 {
		t.Errorf("stops = %d, want 1", stops)
	}
	if _, err := l.follow("b"); !errors.Is(err, errStopped) {
		t.Errorf("follow after stopAll = %v, want errStopped", err)
	}
}
