package view

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/twofactory/twofactory/internal/coord"
)

// TestFollowingARealLog writes a demo events.log and checks that the
// follower adapter delivers it decoded, a damaged line counted, and stops
// without leaks.
func TestFollowingARealLog(t *testing.T) {
	defer checkLeaks(t)()
	before, after := demoHistory()
	var data []byte
	for _, e := range before {
		data = coord.AppendLine(data, e)
	}
	data = append(data, "7 garbage crc=00000000\n"...)
	for _, e := range after {
		data = coord.AppendLine(data, e)
	}
	path := filepath.Join(t.TempDir(), "events.log")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}

	src, stop, err := openLogWith(Options{})(path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer stop()
	var got EventsMsg
	for len(got.Events) < len(before)+len(after) {
		msg, ok := recvWithin(t, src.c)
		if !ok {
			t.Fatalf("source closed after %d events", len(got.Events))
		}
		got = merge(got, msg)
	}
	if got.Skipped != 1 {
		t.Errorf("skipped = %d, want the one damaged line", got.Skipped)
	}
	for i, e := range append(before, after...) {
		if got.Events[i].Seq != e.Seq || got.Events[i].Label() != e.Label() {
			t.Fatalf("event %d = #%d %s, want #%d %s", i, got.Events[i].Seq,
				got.Events[i].Label(), e.Seq, e.Label())
		}
	}
	stop()
	if _, ok := <-src.c; ok {
		t.Error("source still open after stop")
	}
}
