package coord

import (
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWALFailureFailsQueuedLinesOnce makes a commit fail while more lines
// wait behind it. The waiting lines must fail with it, exactly once: they
// must neither be written afterwards (their callers were told they failed)
// nor have their batch answered a second time (a close of a closed channel
// would crash the coordinator).
func TestWALFailureFailsQueuedLinesOnce(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	// A one-page pipe, filled: the committer's write blocks until the
	// reader drains it, which holds the commit in flight. The fsync after
	// it fails, as fsync on a pipe always does.
	size, err := unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, os.Getpagesize())
	if err != nil {
		t.Skipf("cannot size the pipe: %v", err)
	}
	if _, err := w.Write(make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	wl := openWAL(w, 0, 0)

	b1, err := wl.enqueue([]byte("line 1\n"), 1)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool {
		wl.mu.Lock()
		defer wl.mu.Unlock()
		return len(wl.pending) == 0 // the committer has taken line 1
	})
	b2, err := wl.enqueue([]byte("line 2\n"), 2)
	if err != nil {
		t.Fatal(err)
	}

	drained := make(chan []byte)
	go func() {
		got, _ := io.ReadAll(r)
		drained <- got
	}()
	if err := b1.wait(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("failed commit: err %v, want ErrUnavailable", err)
	}
	if err := b2.wait(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("line queued behind a failed commit: err %v, want ErrUnavailable", err)
	}
	if _, err := wl.enqueue([]byte("line 3\n"), 3); err == nil {
		t.Fatal("enqueue after a failed commit was accepted")
	}
	if err := wl.close(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("close after a failed commit: %v, want ErrUnavailable", err)
	}

	got := <-drained
	if want := size + len("line 1\n"); len(got) != want {
		t.Fatalf("pipe got %d bytes, want %d: a failed line was written after the failure",
			len(got), want)
	}
}

// waitUntil polls cond until it holds, failing the test after a deadline.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
