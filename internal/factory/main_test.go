package factory

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/coord/api"
)

// testDaemonCommand makes the test binary run a factory daemon, configured
// from the environment, so that a test can SIGKILL a real daemon process.
const testDaemonCommand = "test-daemon"

// TestMain lets the test binary stand in for the real one: started with
// ExecCommand it is an executor (reporting to the test's fake over
// loopback HTTP), with testDaemonCommand a daemon. Otherwise it runs the
// tests and checks that none left a goroutine behind.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case ExecCommand:
			os.Exit(ExecMain(context.Background(), os.Args[1:], testDial, os.Stderr))
		case testDaemonCommand:
			os.Exit(runTestDaemon())
		}
	}
	// The race detector makes every instrumented process sleep a second as
	// it exits; the executor children need not.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	goleak.VerifyTestMain(m)
}

// testExecArgv starts executors as this test binary.
func testExecArgv(c ExecConfig) []string {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return append([]string{exe}, ExecArgs(c)...)
}

// testDial is the child processes' Dialer: the project's HTTP client when
// a test runs against the real coordinator (TF_TEST_DIAL=api), else the
// stand-in RPC client for the fake.
func testDial(apiURL, token string) (coord.Service, error) {
	if os.Getenv("TF_TEST_DIAL") == "api" {
		return api.NewClient(apiURL, token)
	}
	return dialRPC(apiURL, token)
}

func runTestDaemon() int {
	svc, err := testDial(os.Getenv("TF_TEST_API"), os.Getenv("TF_TEST_TOKEN"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	err = Run(ctx, Config{
		ID: os.Getenv("TF_TEST_ID"), Service: svc, APIURL: os.Getenv("TF_TEST_API"),
		Token:   os.Getenv("TF_TEST_TOKEN"),
		WorkDir: os.Getenv("TF_TEST_WORK"), Engine: os.Getenv("TF_TEST_ENGINE"),
		Poll: 20 * time.Millisecond, Renew: 100 * time.Millisecond, ExecArgv: testExecArgv,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// gatedEngine is a shell engine that marks $JOB_OUT/started and then waits
// for the gate file, so that a test decides when the job's work is over.
// spin makes the wait CPU-bound instead of sleeping.
func gatedEngine(gate string, spin bool) string {
	wait := "sleep 0.01"
	if spin {
		wait = ":"
	}
	return fmt.Sprintf(`touch "$JOB_OUT/started"; while [ ! -e %q ]; do %s; done; `+
		`echo "$JOB_ID@$JOB_EPOCH" > "$JOB_OUT/result"`, gate, wait)
}

// lockedBuffer collects a daemon's diagnostics for dumping on failure.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runningDaemon is a Run call in a goroutine with its stop controls.
type runningDaemon struct {
	cfg    Config
	gate   string
	cancel context.CancelFunc
	hard   chan struct{}
	once   sync.Once
	done   chan error
}

// startDaemon runs a daemon against f whose executors are real child
// processes (this test binary) reporting to f over loopback HTTP.
func startDaemon(t *testing.T, f *fakeCoord, spin bool, tweak func(*Config)) *runningDaemon {
	t.Helper()
	srv := serveRPC(t, f)
	return startDaemonWith(t, f, srv.URL, func(c *Config) {
		c.Engine = gatedEngine(filepath.Join(c.WorkDir, "gate"), spin)
		if tweak != nil {
			tweak(c)
		}
	})
}

// startDaemonWith runs a daemon "mac-1" against svc, reachable by its
// executors at api, with a gated engine unless tweak sets another.
func startDaemonWith(t *testing.T, svc coord.Service, api string,
	tweak func(*Config)) *runningDaemon {
	t.Helper()
	dir := t.TempDir()
	diag := &lockedBuffer{}
	d := &runningDaemon{gate: filepath.Join(dir, "gate"), hard: make(chan struct{}),
		done: make(chan error, 1)}
	d.cfg = Config{
		ID: "mac-1", Service: svc, APIURL: api, WorkDir: dir,
		Engine: gatedEngine(d.gate, false), Poll: 20 * time.Millisecond,
		Renew: 100 * time.Millisecond, ExecArgv: testExecArgv, Hard: d.hard,
		Logger: slog.New(slog.NewTextHandler(diag, nil)),
	}
	if tweak != nil {
		tweak(&d.cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go func() { d.done <- Run(ctx, d.cfg) }()
	t.Cleanup(func() {
		d.stopHard()
		d.wait(t)
		_ = os.WriteFile(d.gate, nil, 0o644) // no engine waits on after the test
		if t.Failed() {
			t.Logf("--- daemon diagnostics\n%s", diag.String())
		}
	})
	dumpOnFailure(t, dir)
	return d
}

func (d *runningDaemon) openGate(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(d.gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (d *runningDaemon) stopHard() {
	d.cancel()
	d.once.Do(func() { close(d.hard) })
}

// wait returns Run's result, failing the test if Run does not return.
func (d *runningDaemon) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-d.done:
		d.done <- err // keep it for a later wait
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

func (d *runningDaemon) logPath() string {
	return filepath.Join(d.cfg.WorkDir, "log-"+d.cfg.ID+".txt")
}

// waitExit waits for the daemon's exit line for job at epoch and returns it.
func (d *runningDaemon) waitExit(t *testing.T, job string, epoch uint64) string {
	t.Helper()
	var line string
	waitUntil(t, "exit line of "+job, func() bool {
		ls := logLines(t, d.logPath(), "exit", "job="+job, fmt.Sprintf("epoch=%d", epoch))
		if len(ls) > 0 {
			line = ls[0]
		}
		return line != ""
	})
	return line
}
