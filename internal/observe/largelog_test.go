package observe

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// The start-up measurements of docs/observe.md run on a generated log of a
// million lines. Neither part runs in the default test run:
//
//	OBSERVE_LARGE_LOG=/tmp/big/events.log go test -run TestWriteLargeLog ./internal/observe
//	go test -run '^$' -bench FoldLargeLog -benchtime 3x ./internal/observe
//
// scripts/observe-bench.sh does both and times the real binary.

// largeLines is the size of the generated log unless OBSERVE_LARGE_LINES says.
const largeLines = 1_000_000

// logWriter writes a sound fleet history: jobs claimed in turn by two
// factories, renewed, patched and shipped; every 100th job is reclaimed
// from its first holder, claimed again by the other, and the first
// holder's late report fenced. Each job is 8 lines.
type logWriter struct {
	w   *bufio.Writer
	seq uint64
	at  time.Time
	buf []byte
}

func (l *logWriter) put(typ coord.EventType, job, factory string, epoch uint64,
	stage coord.Stage, holder string, jepoch uint64, op string) error {
	l.seq++
	l.at = l.at.Add(time.Millisecond)
	e := coord.Event{Seq: l.seq, Time: l.at, Type: typ, Job: job, Factory: factory,
		Epoch: epoch, Op: op, After: coord.JobState{Stage: stage, Holder: holder, Epoch: jepoch}}
	if typ == coord.EvFence {
		e.Reason = coord.ReasonStaleEpoch
	}
	if stage.Held() {
		e.After.ExpiresAt = l.at.Add(90 * time.Second)
	}
	l.buf = coord.AppendLine(l.buf[:0], e)
	_, err := l.w.Write(l.buf)
	return err
}

// job writes one job's 8 lines.
func (l *logWriter) job(k int) error {
	id := "job-" + strconv.Itoa(k)
	f, g := "mac-1", "ubuntu-1"
	if k%2 == 1 {
		f, g = g, f
	}
	type step struct {
		typ     coord.EventType
		factory string
		epoch   uint64
		stage   coord.Stage
		holder  string
		jepoch  uint64
		op      string
	}
	steps := []step{
		{coord.EvSubmit, "", 0, coord.StageQueued, "", 1, ""},
		{coord.EvClaim, f, 1, coord.StageClaimed, f, 1, ""},
		{coord.EvRenew, f, 1, coord.StageClaimed, f, 1, ""},
		{coord.EvPatch, f, 1, coord.StageRunning, f, 1, ""},
		{coord.EvRenew, f, 1, coord.StageRunning, f, 1, ""},
		{coord.EvPatch, f, 1, coord.StageVerifying, f, 1, ""},
		{coord.EvRenew, f, 1, coord.StageVerifying, f, 1, ""},
		{coord.EvPatch, f, 1, coord.StageDone, f, 1, ""},
	}
	if k%100 == 0 {
		steps = []step{
			{coord.EvSubmit, "", 0, coord.StageQueued, "", 1, ""},
			{coord.EvClaim, f, 1, coord.StageClaimed, f, 1, ""},
			{coord.EvPatch, f, 1, coord.StageRunning, f, 1, ""},
			{coord.EvReclaim, f, 1, coord.StageQueued, "", 2, ""},
			{coord.EvClaim, g, 2, coord.StageClaimed, g, 2, ""},
			{coord.EvFence, f, 1, coord.StageClaimed, g, 2, "patch:verifying"},
			{coord.EvPatch, g, 2, coord.StageRunning, g, 2, ""},
			{coord.EvPatch, g, 2, coord.StageDone, g, 2, ""},
		}
	}
	for _, s := range steps {
		if s.typ == coord.EvReclaim {
			l.at = l.at.Add(90 * time.Second) // the reaper waits out the lease
		}
		if err := l.put(s.typ, id, s.factory, s.epoch, s.stage, s.holder, s.jepoch,
			s.op); err != nil {
			return err
		}
	}
	return nil
}

// writeLargeLog writes about lines lines (whole jobs) to path.
func writeLargeLog(path string, lines int) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	l := &logWriter{w: bufio.NewWriterSize(f, 1<<20),
		at: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)}
	for k := 0; k < lines/8; k++ {
		if err := l.job(k); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := l.w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func largeLineCount(tb testing.TB) int {
	n := largeLines
	if v := os.Getenv("OBSERVE_LARGE_LINES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			tb.Fatalf("OBSERVE_LARGE_LINES=%q: %v", v, err)
		}
	}
	return n
}

// TestWriteLargeLog writes the generated log to $OBSERVE_LARGE_LOG.
func TestWriteLargeLog(t *testing.T) {
	path := os.Getenv("OBSERVE_LARGE_LOG")
	if path == "" {
		t.Skip("set OBSERVE_LARGE_LOG=path to write the large log")
	}
	if err := writeLargeLog(path, largeLineCount(t)); err != nil {
		t.Fatal(err)
	}
}

// TestGeneratedLogIsSound keeps the generator honest on a small log: the
// checker finds nothing wrong in it, so the benchmark measures a clean fold.
func TestGeneratedLogIsSound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.log")
	if err := writeLargeLog(path, 8*250); err != nil {
		t.Fatal(err)
	}
	sum, err := Headless(context.Background(), OnceFileSource(path), true, io.Discard,
		io.Discard)
	if err != nil || sum.Events != 2000 || sum.Skipped != 0 {
		t.Fatalf("summary %+v, err %v", sum, err)
	}
}

// BenchmarkFoldLargeLog: read, decode, check and print (to io.Discard) the
// whole generated log, as `observe --once --check --headless` does.
func BenchmarkFoldLargeLog(b *testing.B) {
	path := filepath.Join(b.TempDir(), "events.log")
	n := largeLineCount(b)
	if err := writeLargeLog(path, n); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		sum, err := Headless(context.Background(), OnceFileSource(path), true, io.Discard,
			io.Discard)
		if err != nil || sum.Events != n/8*8 {
			b.Fatalf("summary %+v, err %v", sum, err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(liveAfterFold(b, path)/float64(n/8), "live-B/job")
}

// liveAfterFold folds path with a checking Judge and returns the bytes
// still in use while the Judge lives: what a long-running observer keeps.
func liveAfterFold(b *testing.B, path string) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	j := NewJudge(true)
	batches, wait := startSource(context.Background(), OnceFileSource(path))
	for m := range batches {
		j.Apply(m)
	}
	if err := wait(); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(j)
	return float64(after.HeapAlloc) - float64(before.HeapAlloc)
}
