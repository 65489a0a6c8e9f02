package follow

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/twofactory/twofactory/internal/coord"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait is how long a test waits for anything before it fails. It is a
// ceiling for a hung follower, not a guess at how fast one is.
const wait = 20 * time.Second

// Poll intervals: "never" leaves fsnotify the only way to wake, which
// proves notification works; "often" lets a test park the follower soon.
const (
	pollNever = time.Hour
	pollOften = 10 * time.Millisecond
)

// probe is the test's window into the follower's loop. The follower calls
// idle each time it has caught up; the probe records how far it read and,
// while the test holds it, parks it there so the test can change the file
// behind its back in a known order.
type probe struct {
	off    atomic.Int64
	caught chan struct{}
	parked chan struct{}
	mu     sync.Mutex
	hold   chan struct{}
}

func newProbe() *probe {
	p := &probe{caught: make(chan struct{}, 1), parked: make(chan struct{}, 1)}
	p.off.Store(-1)
	return p
}

func (p *probe) idle(off int64) {
	p.off.Store(off)
	select {
	case p.caught <- struct{}{}:
	default:
	}
	p.mu.Lock()
	h := p.hold
	p.mu.Unlock()
	if h != nil {
		select {
		case p.parked <- struct{}{}:
		default:
		}
		<-h
	}
}

// park holds the follower at its next idle point and returns once it is
// there. It needs the follower to wake: give it a short poll.
func (p *probe) park(t *testing.T) {
	t.Helper()
	select {
	case <-p.parked:
	default:
	}
	p.mu.Lock()
	p.hold = make(chan struct{})
	p.mu.Unlock()
	select {
	case <-p.parked:
	case <-time.After(wait):
		t.Fatal("follower never came back to idle")
	}
}

func (p *probe) release() {
	p.mu.Lock()
	h := p.hold
	p.hold = nil
	p.mu.Unlock()
	if h != nil {
		close(h)
	}
}

// waitOff waits until the follower has caught up to at least off bytes.
func (p *probe) waitOff(t *testing.T, off int64) {
	t.Helper()
	deadline := time.After(wait)
	for p.off.Load() < off {
		select {
		case <-p.caught:
		case <-deadline:
			t.Fatalf("follower stuck at offset %d, want %d", p.off.Load(), off)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// start makes a started follower of path; setup may adjust it first. The
// follower is stopped (after its probe is let go) when the test ends.
func start(t *testing.T, path string, poll time.Duration, setup ...func(*Follower)) (
	*Follower, *probe) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := New(path, Options{Poll: poll, Logger: log})
	p := newProbe()
	f.idle = p.idle
	for _, s := range setup {
		s(f)
	}
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	t.Cleanup(p.release) // runs first: a parked follower could not stop
	return f, p
}

// got is what a test read: the lines in order, and at which line index
// each Reset batch started.
type got struct {
	lines   []string
	resets  []int
	batches []Batch
}

// collect reads batches until n lines have arrived (or, with n == 0, one
// batch), and fails on a timeout or a closed channel.
func collect(t *testing.T, f *Follower, n int) got {
	t.Helper()
	var g got
	deadline := time.After(wait)
	for len(g.batches) == 0 || len(g.lines) < n {
		select {
		case b, ok := <-f.Batches():
			if !ok {
				t.Fatalf("channel closed after %d of %d lines: %q", len(g.lines), n, g.lines)
			}
			if b.Reset {
				g.resets = append(g.resets, len(g.lines))
			}
			for _, l := range b.Lines {
				g.lines = append(g.lines, string(l))
			}
			g.batches = append(g.batches, b)
		case <-deadline:
			t.Fatalf("got %d of %d lines by the deadline: %q", len(g.lines), n, g.lines)
		}
	}
	return g
}

func (g got) check(t *testing.T, lines []string, resets ...int) {
	t.Helper()
	if !slices.Equal(g.lines, lines) {
		t.Errorf("lines %q, want %q", g.lines, lines)
	}
	if !slices.Equal(g.resets, resets) && !(len(g.resets) == 0 && len(resets) == 0) {
		t.Errorf("resets before lines %v, want %v", g.resets, resets)
	}
}

// quiet checks that nothing more is on its way once the follower has
// caught up to off. The channel is unbuffered, so a batch the follower had
// cut would still hold it in its send, before the idle point.
func quiet(t *testing.T, f *Follower, p *probe, off int64) {
	t.Helper()
	p.waitOff(t, off)
	select {
	case b, ok := <-f.Batches():
		t.Fatalf("unexpected batch %+v (open %v)", b, ok)
	default:
	}
}

func appendTo(t *testing.T, path, s string) int64 {
	t.Helper()
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.WriteString(s); err != nil {
		t.Fatal(err)
	}
	st, err := w.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func write(t *testing.T, w *os.File, s string) {
	t.Helper()
	if _, err := w.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func logPath(t *testing.T) string { return filepath.Join(t.TempDir(), "events.log") }

func TestFileAppearsLater(t *testing.T) {
	path := logPath(t)
	f, p := start(t, path, pollNever)
	p.waitOff(t, 0) // it has looked once, with the watch in place

	size := appendTo(t, path, "a\nb\n")
	collect(t, f, 2).check(t, []string{"a", "b"})
	quiet(t, f, p, size)
	if s := f.Stats(); s.Resets != 0 || s.Lines != 2 || s.Bytes != 4 || s.PollFinds != 0 {
		t.Errorf("stats %+v; want 2 lines, 4 bytes, no reset, nothing left to the poll", s)
	}
}

func TestDirectoryAppearsLater(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "events.log")
	f, p := start(t, path, pollOften)
	p.waitOff(t, 0)

	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "a\n")
	collect(t, f, 1).check(t, []string{"a"})
	appendTo(t, path, "b\n")
	collect(t, f, 1).check(t, []string{"b"})
}

// TestPartialLine is C7: a line written in two pieces comes out once,
// whole, after the second piece; a torn last line is never emitted.
func TestPartialLine(t *testing.T) {
	path := logPath(t)
	f, p := start(t, path, pollNever)

	quiet(t, f, p, appendTo(t, path, "1 par"))
	size := appendTo(t, path, "tial\n")
	g := collect(t, f, 1)
	if len(g.batches) != 1 {
		t.Fatalf("want one batch, got %+v", g.batches)
	}
	g.check(t, []string{"1 partial"})

	if end := appendTo(t, path, "2 torn, never finished"); end <= size {
		t.Fatalf("file did not grow: %d <= %d", end, size)
	} else {
		quiet(t, f, p, end)
	}
	f.Stop()
	if b, ok := <-f.Batches(); ok {
		t.Fatalf("torn line delivered at Stop: %+v", b)
	}
}

func TestBurst(t *testing.T) {
	const n = 50000
	path := logPath(t)
	f, _ := start(t, path, pollNever)
	line := func(i int) string {
		return fmt.Sprintf("%06d CLAIM job=j-%d factory=mac-1 epoch=1", i, i)
	}

	errc := make(chan error, 1)
	go func() {
		w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			errc <- err
			return
		}
		// A small buffer, so that lines are split across writes.
		bw := bufio.NewWriterSize(w, 4096)
		for i := range n {
			fmt.Fprintln(bw, line(i))
		}
		err = errors.Join(bw.Flush(), w.Close())
		errc <- err
	}()

	g := collect(t, f, n)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if len(g.lines) != n {
		t.Fatalf("got %d lines, want %d", len(g.lines), n)
	}
	for i, l := range g.lines {
		if l != line(i) {
			t.Fatalf("line %d = %q, want %q", i, l, line(i))
		}
	}
	if len(g.batches) > n/10 {
		t.Errorf("%d batches for %d lines: lines are not batched", len(g.batches), n)
	}
	if s := f.Stats(); s.Lines != n || s.Batches != uint64(len(g.batches)) {
		t.Errorf("stats %+v, want %d lines in %d batches", s, n, len(g.batches))
	}
}

func TestTruncate(t *testing.T) {
	path := logPath(t)
	f, p := start(t, path, pollOften)
	appendTo(t, path, "a\nb\n")
	collect(t, f, 2).check(t, []string{"a", "b"})

	// Truncated to nothing: a Reset at once, even with no line to carry.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	collect(t, f, 0).check(t, nil, 0)
	appendTo(t, path, "c\n")
	collect(t, f, 1).check(t, []string{"c"})

	// Truncated and written again past the old end before the follower
	// looks: the size alone does not show it; the bytes before the read
	// point do.
	p.park(t)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "x\ny\nzzzz\n")
	p.release()
	collect(t, f, 3).check(t, []string{"x", "y", "zzzz"}, 0)
	if s := f.Stats(); s.Resets != 2 {
		t.Errorf("stats %+v, want 2 resets", s)
	}
}

// TestTornTailCut: a writer that finds its own torn last line (after a
// crash) cuts it off and goes on. Nothing delivered was wrong, so that is
// no Reset: the follower re-reads from the start of the unfinished line.
func TestTornTailCut(t *testing.T) {
	for name, next := range map[string]string{"shorter": "b\n", "longer": "bbbbbbbbbb\n"} {
		t.Run(name, func(t *testing.T) {
			path := logPath(t)
			f, p := start(t, path, pollOften)
			size := appendTo(t, path, "a\n3 torn-par")
			collect(t, f, 1).check(t, []string{"a"})
			p.waitOff(t, size)

			p.park(t)
			if err := os.Truncate(path, 2); err != nil {
				t.Fatal(err)
			}
			appendTo(t, path, next)
			p.release()
			collect(t, f, 1).check(t, []string{strings.TrimSuffix(next, "\n")})
			if s := f.Stats(); s.Resets != 0 || s.Torn != 1 {
				t.Errorf("stats %+v, want no reset and one torn line", s)
			}
		})
	}
}

// TestReplace is C5: a new file renamed over the path. The old file's
// complete lines all come first, its torn tail never, then a Reset and the
// new file from its start.
func TestReplace(t *testing.T) {
	for _, parked := range []bool{true, false} {
		t.Run(fmt.Sprintf("parked=%v", parked), func(t *testing.T) {
			path := logPath(t)
			f, p := start(t, path, pollOften)
			old, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			defer old.Close()
			write(t, old, "a1\na2\n")
			collect(t, f, 2)

			if parked {
				p.park(t)
			}
			write(t, old, "a3\na4-torn")
			tmp := path + ".tmp"
			appendTo(t, tmp, "b1\nb2\n")
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
			p.release()
			collect(t, f, 3).check(t, []string{"a3", "b1", "b2"}, 1)

			appendTo(t, path, "b3\n")
			collect(t, f, 1).check(t, []string{"b3"})
			if s := f.Stats(); s.Resets != 1 || s.Torn != 1 {
				t.Errorf("stats %+v, want one reset, one torn line", s)
			}
		})
	}
}

// TestRotate is C6: events.log renamed away and a new one made. The old
// file is read to its end through the descriptor already open, even while
// nothing is at the path, and then the new one from its start.
func TestRotate(t *testing.T) {
	path := logPath(t)
	f, p := start(t, path, pollOften)
	old, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	write(t, old, "a1\n")
	collect(t, f, 1)

	// Half-way: renamed away, no new file yet, the writer still on the old.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	write(t, old, "a2\n")
	collect(t, f, 1).check(t, []string{"a2"})

	// The new file appears while the old one still gets a last line.
	p.park(t)
	write(t, old, "a3\n")
	appendTo(t, path, "b1\n")
	write(t, old, "a4\n")
	p.release()
	collect(t, f, 3).check(t, []string{"a3", "a4", "b1"}, 2)

	appendTo(t, path, "b2\n")
	collect(t, f, 1).check(t, []string{"b2"})
}

func TestStop(t *testing.T) {
	t.Run("before Start", func(t *testing.T) {
		f := New(logPath(t), Options{})
		f.Stop()
		f.Stop()
		if _, ok := <-f.Batches(); ok {
			t.Fatal("channel open after Stop")
		}
		if err := f.Start(); err == nil {
			t.Fatal("Start after Stop succeeded")
		}
	})
	t.Run("twice, concurrently, with a reader that never reads", func(t *testing.T) {
		path := logPath(t)
		appendTo(t, path, "a\nb\n")
		f := New(path, Options{})
		if err := f.Start(); err != nil {
			t.Fatal(err)
		}
		if err := f.Start(); err == nil {
			t.Error("second Start succeeded")
		}
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(f.Stop)
		}
		wg.Wait()
		f.Stop()
		if _, ok := <-f.Batches(); ok {
			t.Fatal("channel open after Stop")
		}
	})
}

// TestReadOnly: the follower opens the file for reading only, and leaves
// the directory and the file exactly as they were.
func TestReadOnly(t *testing.T) {
	path := logPath(t)
	size := appendTo(t, path, "a\nb\n")
	before := snapshot(t, filepath.Dir(path))
	f, p := start(t, path, pollOften)
	collect(t, f, 2)
	p.waitOff(t, size)

	if runtime.GOOS == "linux" {
		checkReadOnlyFDs(t, path)
	}
	f.Stop()
	if after := snapshot(t, filepath.Dir(path)); after != before {
		t.Errorf("directory changed:\nbefore %s\nafter  %s", before, after)
	}
}

func snapshot(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		fmt.Fprintf(&b, "%s %v %d %s %q; ", e.Name(), fi.Mode(), fi.Size(),
			fi.ModTime().Format(time.RFC3339Nano), data)
	}
	return b.String()
}

// checkReadOnlyFDs finds this process's descriptors on path (the test's
// own writers are closed by now) and checks their open flags.
func checkReadOnlyFDs(t *testing.T, path string) {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	found := 0
	for _, fd := range fds {
		target, err := os.Readlink("/proc/self/fd/" + fd.Name())
		if err != nil || target != path {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + fd.Name())
		if err != nil {
			t.Fatal(err)
		}
		for l := range strings.Lines(string(info)) {
			if v, ok := strings.CutPrefix(l, "flags:"); ok {
				flags, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
				if err != nil {
					t.Fatal(err)
				}
				if flags&uint64(os.O_RDONLY|os.O_WRONLY|os.O_RDWR) != uint64(os.O_RDONLY) {
					t.Errorf("fd %s on %s opened with flags %o, not read-only", fd.Name(), path, flags)
				}
				found++
			}
		}
	}
	if found == 0 {
		t.Errorf("no open descriptor on %s found; the check checked nothing", path)
	}
}

// TestMemoryBounded: a batch never holds more than a chunk plus one line's
// limit, however big the file, and a line past the limit is dropped and
// counted instead of held.
func TestMemoryBounded(t *testing.T) {
	const chunk, limit = 4096, 16384
	path := logPath(t)
	var want []string
	var b strings.Builder
	for i := range 3000 {
		l := fmt.Sprintf("%05d %s", i, strings.Repeat("x", i%150))
		switch i {
		case 1000:
			l = "big " + strings.Repeat("y", 3*chunk) // over a chunk, under the limit
		case 2000:
			b.WriteString(strings.Repeat("z", 3*limit) + "\n") // over the limit
		}
		want = append(want, l)
		b.WriteString(l + "\n")
	}
	size := appendTo(t, path, b.String())

	f, p := start(t, path, pollNever, func(f *Follower) { f.t.chunk, f.t.maxLine = chunk, limit })
	g := collect(t, f, len(want))
	g.check(t, want)
	for i, bt := range g.batches {
		n := 0
		for _, l := range bt.Lines {
			n += len(l) + 1
		}
		if n > chunk+limit {
			t.Errorf("batch %d holds %d bytes, over chunk+limit %d", i, n, chunk+limit)
		}
	}
	quiet(t, f, p, size)
	if s := f.Stats(); s.Skipped != 1 {
		t.Errorf("stats %+v, want one skipped line", s)
	}
}

// TestPollOnly: where fsnotify does not work, the poll alone delivers
// everything, and the stats say it had to.
func TestPollOnly(t *testing.T) {
	path := logPath(t)
	f, p := start(t, path, pollOften, func(f *Follower) { f.noNotify = true })
	p.waitOff(t, 0)
	for i := range 3 {
		// Each line only after the follower has gone idle, so that each is
		// found by a poll of its own and not by the catch-up before.
		size := appendTo(t, path, fmt.Sprintf("line %d\n", i))
		collect(t, f, 1).check(t, []string{fmt.Sprintf("line %d", i)})
		quiet(t, f, p, size)
	}
	if s := f.Stats(); s.PollFinds < 3 {
		t.Errorf("stats %+v, want at least 3 poll finds", s)
	}
}

// TestFollowEventsLog follows a log written with the coordinator's own
// line writer, torn last line included, and decodes it.
func TestFollowEventsLog(t *testing.T) {
	path := logPath(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	events := []coord.Event{
		{Seq: 1, Time: at, Type: coord.EvSubmit, Job: "j-1", Payload: "a \"b\"\nc",
			After: coord.JobState{Stage: coord.StageQueued, Epoch: 1}},
		{Seq: 2, Time: at, Type: coord.EvClaim, Job: "j-1", Factory: "mac-1", Epoch: 1,
			After: coord.JobState{Stage: coord.StageClaimed, Holder: "mac-1", Epoch: 1}},
	}
	var data []byte
	for _, e := range events {
		data = coord.AppendLine(data, e)
	}
	third := coord.AppendLine(nil, coord.Event{Seq: 3, Time: at, Type: coord.EvRenew, Job: "j-1"})
	data = append(data, third[:20]...) // a crash mid-write

	appendTo(t, path, string(data))
	f, _ := start(t, path, pollNever)
	g := collect(t, f, 2)
	var lines [][]byte
	for _, b := range g.batches {
		lines = append(lines, b.Lines...)
	}
	got, errs := Decode(lines)
	if len(errs) != 0 || !slices.Equal(got, events) {
		t.Fatalf("decoded %+v, errors %v; want %+v", got, errs, events)
	}
	if vs := coord.Check(got, false); len(vs) != 0 {
		t.Errorf("checker: %v", vs)
	}
}

func TestDecode(t *testing.T) {
	good := coord.AppendLine(nil, coord.Event{Seq: 1, Type: coord.EvSubmit, Job: "j-1",
		After: coord.JobState{Stage: coord.StageQueued, Epoch: 1}})
	good = good[:len(good)-1]
	events, errs := Decode([][]byte{good, []byte("garbage"), good[:len(good)-3], good})
	if len(events) != 2 || events[0].Job != "j-1" || events[1].Seq != 1 {
		t.Errorf("events %+v, want the two good lines", events)
	}
	if len(errs) != 2 {
		t.Fatalf("errors %v, want two", errs)
	}
	for i, want := range []string{"line 1", "line 2"} {
		if !errors.Is(errs[i], coord.ErrBadLine) || !strings.Contains(errs[i].Error(), want) {
			t.Errorf("error %d = %v, want ErrBadLine naming %q", i, errs[i], want)
		}
	}
}
