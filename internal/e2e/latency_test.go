package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/coord/follow"
)

// eventOnScreen matches an event line of the dashboard's stream: "#<seq>
// <hh:mm:ss.mmm>".
var eventOnScreen = regexp.MustCompile(`#(\d+) \d\d:\d\d:\d\d\.\d{3} `)

// TestEventToScreenLatency measures, over one demo run, the time from an
// event line landing in events.log to that line being on the screen. It is
// a measurement for docs/dashboard.md, not a check: it runs only with
// TWOFACTORY_E2E_LATENCY=1 and asserts nothing about speed.
//
// "Landed" is when a follower of our own (fsnotify on the directory, the
// same mechanism the dashboard uses) hands the line over; "on screen" is
// the first capture-pane that shows it, polled every 10 ms. The window is
// tall enough for every event of the run to be in the stream.
func TestEventToScreenLatency(t *testing.T) {
	if os.Getenv("TWOFACTORY_E2E_LATENCY") != "1" {
		t.Skip("a measurement; set TWOFACTORY_E2E_LATENCY=1 to run it")
	}
	run := filepath.Join(t.TempDir(), "run")
	if err := os.MkdirAll(filepath.Join(run, "coord"), 0o755); err != nil {
		t.Fatal(err)
	}
	landed := followLanded(t, filepath.Join(run, "coord", "events.log"))
	p := startPane(t, 160, 60, nil, "--dir", run)

	seen := map[uint64]time.Time{}
	deadline := time.Now().Add(waitRun)
	for time.Now().Before(deadline) {
		s := p.screen()
		now := time.Now()
		for _, m := range eventOnScreen.FindAllStringSubmatch(s, -1) {
			seq, _ := strconv.ParseUint(m[1], 10, 64)
			if _, ok := seen[seq]; !ok {
				seen[seq] = now
			}
		}
		if strings.Contains(s, "press q to exit") { // the run is over
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.keys("q")
	p.waitExit()
	reportLatency(t, landed(), seen)
}

// followLanded follows path and returns a function that stops following
// and gives when each sequence number's line was handed over.
func followLanded(t *testing.T, path string) func() map[uint64]time.Time {
	fl := follow.New(path, follow.Options{})
	if err := fl.Start(); err != nil {
		t.Fatal(err)
	}
	landed := map[uint64]time.Time{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for b := range fl.Batches() {
			now := time.Now()
			events, _ := follow.Decode(b.Lines)
			for _, e := range events {
				landed[e.Seq] = now
			}
		}
	}()
	return func() map[uint64]time.Time {
		fl.Stop()
		wg.Wait()
		return landed
	}
}

// reportLatency logs the median, 90th percentile and worst delay.
func reportLatency(t *testing.T, landed, seen map[uint64]time.Time) {
	var ds []time.Duration
	for seq, at := range landed {
		if s, ok := seen[seq]; ok {
			ds = append(ds, s.Sub(at))
		}
	}
	if len(ds) == 0 {
		t.Fatalf("no event seen both in events.log (%d) and on screen (%d)", len(landed),
			len(seen))
	}
	slices.Sort(ds)
	t.Logf("event line -> screen over %d events (%d landed, %d seen): median %v, p90 %v, "+
		"worst %v, best %v", len(ds), len(landed), len(seen), ds[len(ds)/2].Round(time.Millisecond),
		ds[len(ds)*9/10].Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond),
		ds[0].Round(time.Millisecond))
}
