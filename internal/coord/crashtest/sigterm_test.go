package crashtest

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptrace"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/testbin"
)

// SIGTERM while clients hammer the coordinator and a long poll waits: the
// poll is answered at once, no call gets a server error (each one either
// completes or never reached a server that had stopped accepting), the
// process exits 0, and a restart finds every acknowledged operation.
func TestSIGTERMFinishesCallsAndExitsZero(t *testing.T) {
	dir := t.TempDir()
	p := startCoord(t, dir, "--lease", "60")
	a := newAcks()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	poll := startPoll(ctx, t, p)
	wg := hammer(ctx, p, a, 0, 6)
	waitFor(t, func() bool { return a.n.Load() >= 300 }, "acknowledged operations")

	p.signal(syscall.SIGTERM)
	code := p.wait(30 * time.Second)
	wg.Wait()
	if code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0:\n%s", code, p.stderr)
	}
	if err := <-poll; err != nil {
		t.Errorf("long poll in flight at SIGTERM: %v", err)
	}
	if !strings.Contains(p.stderr.String(), "stopping") {
		t.Errorf("no stopping line on stderr:\n%s", p.stderr)
	}
	t.Logf("stopped after %d acknowledged operations", a.n.Load())

	p2 := startCoord(t, dir)
	a.verify(t, list(t, p2))
	for _, se := range a.answered {
		t.Errorf("a call in flight at SIGTERM was answered %v", se)
	}
	if rec := p2.stderr.String(); !strings.Contains(rec, "torn_bytes=0") {
		t.Errorf("a clean stop left a torn line:\n%s", rec)
	}
}

// startPoll sends a long poll for events far in the future and returns
// once the request is written, with a channel for its result.
func startPoll(ctx context.Context, t *testing.T, p *coordProc) <-chan error {
	t.Helper()
	cl := p.client()
	written := make(chan struct{})
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) {
		close(written)
	}}
	res := make(chan error, 1)
	go func() {
		start := time.Now()
		_, err := cl.Events(httptrace.WithClientTrace(ctx, trace), 1<<40, 10, 50*time.Second)
		if err == nil && time.Since(start) > 40*time.Second {
			err = errors.New("the poll ran its full wait instead of ending at SIGTERM")
		}
		res <- err
	}()
	select {
	case <-written:
	case <-ctx.Done():
		t.Fatal("long poll never written")
	}
	return res
}

// A second coordinator on a directory in use fails at once, with the
// could-not-run exit code and a message naming the holder's pid; the first
// keeps serving.
func TestSecondCoordinatorNamesTheHolder(t *testing.T) {
	dir := t.TempDir()
	p := startCoord(t, dir)
	ctx := deadlineCtx(t, 30*time.Second)
	cmd := exec.CommandContext(ctx, testbin.Path(t), "coordinator", "--dir", dir,
		"--listen", "127.0.0.1:0")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("second coordinator: %v, want exit code 3\n%s", err, out)
	}
	holder := fmt.Sprintf("pid %d", p.cmd.Process.Pid)
	if !strings.Contains(string(out), "data directory is in use") ||
		!strings.Contains(string(out), holder) {
		t.Errorf("message does not say the directory is held by %s:\n%s", holder, out)
	}
	if err := p.client().Health(ctx); err != nil {
		t.Errorf("first coordinator after the refusal: %v", err)
	}
}
