package crashtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/coord/api"
	"github.com/twofactory/twofactory/internal/testbin"
)

// startTimeout bounds how long a coordinator may take to print its
// address; a race-built binary on a busy 2-core machine is slow to start.
const startTimeout = 30 * time.Second

// coordProc is one `twofactory-tui coordinator` process on a data dir.
type coordProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	base   string // API base URL
	stderr *lockedBuffer
	exited chan struct{} // closed when the process has been waited for
	err    error         // Wait's result, set before exited is closed
}

// startCoord runs the coordinator on dir with a free loopback port and
// waits until it says where it listens. Cleanup kills it if the test did
// not stop it.
func startCoord(t *testing.T, dir string, extra ...string) *coordProc {
	t.Helper()
	args := append([]string{"coordinator", "--dir", dir, "--listen", "127.0.0.1:0"}, extra...)
	p := &coordProc{t: t, cmd: exec.Command(testbin.Path(t), args...),
		stderr: &lockedBuffer{}, exited: make(chan struct{})}
	pipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start coordinator: %v", err)
	}
	addr := make(chan string, 1)
	go p.readStderr(pipe, addr)
	t.Cleanup(p.kill)

	select {
	case a := <-addr:
		p.base = "http://" + a + "/api"
	case <-p.exited:
		t.Fatalf("coordinator exited before listening (%v):\n%s", p.err, p.stderr)
	case <-time.After(startTimeout):
		t.Fatalf("coordinator did not listen within %s:\n%s", startTimeout, p.stderr)
	}
	return p
}

// readStderr copies the process's stderr into p.stderr, sends the bound
// address once it is printed, and reaps the process when stderr closes.
func (p *coordProc) readStderr(r io.Reader, addr chan<- string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		p.stderr.WriteString(line + "\n")
		if a, ok := strings.CutPrefix(line, "coordinator listening on "); ok {
			addr <- a
		}
	}
	p.err = p.cmd.Wait()
	close(p.exited)
}

// client returns an API client of the process, closed at cleanup.
func (p *coordProc) client() *api.Client {
	cl, err := api.NewClient(p.base, "")
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(cl.Close)
	return cl
}

// signal sends sig to the process.
func (p *coordProc) signal(sig syscall.Signal) {
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits up to d for the process to exit and returns its exit code.
func (p *coordProc) wait(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(d):
		p.t.Fatalf("coordinator still running %s after it was told to stop:\n%s", d, p.stderr)
	}
	return p.cmd.ProcessState.ExitCode()
}

// kill SIGKILLs the process and reaps it; harmless once it has exited.
func (p *coordProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// lockedBuffer is a bytes.Buffer safe for one writer and many readers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) WriteString(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// readLog parses every line of dir's events.log with the project's one
// line parser.
func readLog(t *testing.T, dir string) []coord.Event {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "events.log"))
	if err != nil {
		t.Fatal(err)
	}
	var evs []coord.Event
	for i, line := range bytes.SplitAfter(data, []byte{'\n'}) {
		if len(line) == 0 {
			continue
		}
		e, err := coord.ParseLine(line)
		if err != nil {
			t.Fatalf("events.log line %d: %v", i+1, err)
		}
		evs = append(evs, e)
	}
	return evs
}

// checkLog runs the invariant checker over dir's events.log.
func checkLog(t *testing.T, dir string, requireShipped bool) []coord.Event {
	t.Helper()
	evs := readLog(t, dir)
	for _, v := range coord.Check(evs, requireShipped) {
		t.Errorf("checker: %v", v)
	}
	return evs
}

// deadlineCtx is a context bounded by d and the test.
func deadlineCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
