package factory

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestJobLogLineFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.txt")
	l, err := openJobLog(path, "mac-1")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	at := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.FixedZone("x", 3600))
	l.now = func() time.Time { return at }
	tests := []struct {
		event string
		kv    []string
		want  string
	}{
		{"claim", []string{"ttl", "1.5s"},
			"2026-01-02T02:04:05.006Z claim factory=mac-1 job=j1 epoch=2 ttl=1.5s"},
		{"fence", []string{"op", "patch:done", "http", "409", "err", `fenced: "x" y=z`},
			`2026-01-02T02:04:05.006Z fence factory=mac-1 job=j1 epoch=2 op=patch:done ` +
				`http=409 err="fenced: \"x\" y=z"`},
		{"ship", []string{"dir", ""},
			`2026-01-02T02:04:05.006Z ship factory=mac-1 job=j1 epoch=2 dir=""`},
		{"stage", []string{"stage", "running", "dangling"},
			"2026-01-02T02:04:05.006Z stage factory=mac-1 job=j1 epoch=2 stage=running"},
	}
	for _, tt := range tests {
		if err := l.line(tt.event, "j1", 2, tt.kv...); err != nil {
			t.Fatal(err)
		}
	}
	got := strings.Split(strings.TrimSuffix(readFile(t, path), "\n"), "\n")
	for i, tt := range tests {
		if got[i] != tt.want {
			t.Errorf("line %d:\n got %s\nwant %s", i, got[i], tt.want)
		}
	}
}

// Two writers on their own descriptors, as the daemon and its executor are,
// must never tear or lose each other's lines.
func TestJobLogAppendsWholeLinesFromTwoWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.txt")
	const perWriter = 300
	var wg sync.WaitGroup
	for w := range 2 {
		l, err := openJobLog(path, fmt.Sprintf("w%d", w))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer l.Close()
			pad := strings.Repeat("x", 200)
			for i := range perWriter {
				if err := l.line("renew", "j", uint64(i), "pad", pad); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(readFile(t, path), "\n"), "\n")
	if len(lines) != 2*perWriter {
		t.Fatalf("%d lines, want %d", len(lines), 2*perWriter)
	}
	for _, l := range lines {
		if !strings.HasSuffix(l, strings.Repeat("x", 200)) || strings.Count(l, " renew ") != 1 {
			t.Fatalf("torn line: %q", l)
		}
	}
}
