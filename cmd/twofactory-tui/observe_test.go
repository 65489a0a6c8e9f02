package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/coord/api"
	"github.com/twofactory/twofactory/internal/testbin"
)

// These tests run `observe` as a user would (the real binary, through the
// demo tests' startDemo, which starts any subcommand in a session of its
// own) and write the events.log it watches by hand, with coord.AppendLine.

// history makes event lines, numbered from 1, with a clock of its own.
type history struct {
	seq uint64
	t0  time.Time
}

func newHistory() *history {
	return &history{t0: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)}
}

// ev appends one event: typ by factory at epoch, leaving job in stage,
// held by holder at jepoch.
func (h *history) ev(dst []byte, typ coord.EventType, job, factory string, epoch uint64,
	stage coord.Stage, holder string, jepoch uint64) []byte {
	h.seq++
	at := h.t0.Add(time.Duration(h.seq) * time.Millisecond)
	e := coord.Event{Seq: h.seq, Time: at, Type: typ, Job: job, Factory: factory,
		Epoch: epoch, After: coord.JobState{Stage: stage, Holder: holder, Epoch: jepoch}}
	if stage.Held() {
		e.After.ExpiresAt = at.Add(1500 * time.Millisecond)
	}
	return coord.AppendLine(dst, e)
}

// submitClaim is a job's SUBMIT and a CLAIM by factory at epoch 1.
func (h *history) submitClaim(dst []byte, job, factory string) []byte {
	dst = h.ev(dst, coord.EvSubmit, job, "", 0, coord.StageQueued, "", 1)
	return h.ev(dst, coord.EvClaim, job, factory, 1, coord.StageClaimed, factory, 1)
}

func appendFile(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestObserveFollowsTheLog: started before events.log exists, observe
// --headless prints every event through a burst, a torn last line, a
// truncation, a replacement by rename and a rotation, each of the last
// three announced as a restart, and never writes to the directory.
func TestObserveFollowsTheLog(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log := filepath.Join(dir, "events.log")
	d := startDemo(t, []string{"observe", "--dir", dir, "--headless", "--poll", "0.05"})

	// Not there yet, then created.
	h := newHistory()
	appendFile(t, log, h.submitClaim(nil, "j-1", "mac-1"))
	d.waitFor("#2 10:00:00.002 CLAIM job=j-1 factory=mac-1 epoch=1 -> claimed holder=mac-1 e1")

	// A burst of 3000 events in one write.
	var burst []byte
	for i := range 1500 {
		burst = h.submitClaim(burst, fmt.Sprintf("b-%d", i), "ubuntu-1")
	}
	appendFile(t, log, burst)
	d.waitFor(fmt.Sprintf("#%d ", h.seq))

	// A torn last line: nothing until its newline lands.
	line := h.submitClaim(nil, "torn", "mac-1")
	half := bytes.IndexByte(line, '\n') / 2
	appendFile(t, log, line[:half])
	appendFile(t, log, line[half:])
	d.waitFor("CLAIM job=torn ")

	// Truncated and rewritten, replaced by rename, rotated away.
	writeFile(t, log, newHistory().submitClaim(nil, "after-truncate", "mac-1"))
	d.waitFor("CLAIM job=after-truncate ")
	writeFile(t, log+".new", newHistory().submitClaim(nil, "after-rename", "mac-1"))
	if err := os.Rename(log+".new", log); err != nil {
		t.Fatal(err)
	}
	d.waitFor("CLAIM job=after-rename ")
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, log, newHistory().submitClaim(nil, "after-rotate", "mac-1"))
	d.waitFor("CLAIM job=after-rotate ")

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := d.wait(); code != exitOK {
		t.Fatalf("exit %d after SIGTERM, want 0; stderr %q", code, d.stderrText())
	}
	checkObserveOutput(t, d.stdout(), d.stderrText(), 2+1500*2+2+2+2+2)
	if got := dirNames(t, dir); !slices.Equal(got, []string{"events.log", "events.log.1"}) {
		t.Errorf("directory holds %v: observe wrote to it", got)
	}
	d.checkNoneLeft(true)
}

// checkObserveOutput checks the headless output: exactly lines event
// lines (none lost or doubled), no escape code, and the three restarts
// noted on stderr, not among the events.
func checkObserveOutput(t *testing.T, stdout, stderr string, lines int) {
	t.Helper()
	got := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	if len(got) != lines {
		t.Errorf("%d event lines, want %d", len(got), lines)
	}
	if strings.ContainsRune(stdout, '\x1b') {
		t.Errorf("stdout holds an escape code")
	}
	for _, l := range got {
		if !strings.HasPrefix(l, "#") {
			t.Errorf("not an event line on stdout: %q", l)
		}
	}
	if n := strings.Count(stderr, "started over"); n != 3 {
		t.Errorf("stderr notes %d restarts, want 3:\n%s", n, stderr)
	}
}

// TestObserveCheckBadHistory: --check on a hand-made history that grants
// one job's epoch twice exits 1 with the violation on one line, both when
// following and with --once; a sound history with --once exits 0.
func TestObserveCheckBadHistory(t *testing.T) {
	t.Parallel()
	h := newHistory()
	bad := h.submitClaim(nil, "j-1", "mac-1")
	bad = h.ev(bad, coord.EvClaim, "j-1", "ubuntu-1", 1, coord.StageClaimed, "ubuntu-1", 1)
	badDir := t.TempDir()
	writeFile(t, filepath.Join(badDir, "events.log"), bad)

	good := newHistory().submitClaim(nil, "j-1", "mac-1")
	goodDir := t.TempDir()
	writeFile(t, filepath.Join(goodDir, "events.log"), good)

	cases := []struct {
		args []string
		code int
		says string
	}{
		{[]string{"--dir", badDir, "--check", "--headless"}, exitFail, "double-grant: job j-1"},
		{[]string{"--dir", badDir, "--check", "--once"}, exitFail, "double-grant: job j-1"},
		{[]string{"--dir", goodDir, "--check", "--once"}, exitOK, "no violation"},
	}
	for _, c := range cases {
		d := startDemo(t, append([]string{"observe"}, c.args...))
		code := d.wait()
		stderr := d.stderrText()
		if code != c.code {
			t.Fatalf("%v: exit %d, want %d; stderr %q", c.args, code, c.code, stderr)
		}
		lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
		if len(lines) != 1 || !strings.Contains(stderr, c.says) {
			t.Errorf("%v: stderr %q, want one line saying %q", c.args, stderr, c.says)
		}
	}
}

// startCoordinator starts `twofactory-tui coordinator` as its own process
// on a fresh directory and a free loopback port, and returns it, its API
// base URL and its directory.
func startCoordinator(t *testing.T, args ...string) (*demoProc, string, string) {
	t.Helper()
	dir := t.TempDir()
	addrFile := filepath.Join(t.TempDir(), "addr")
	d := startDemo(t, append([]string{"coordinator", "--dir", dir, "--listen", "127.0.0.1:0",
		"--addr-file", addrFile}, args...))
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, err := os.ReadFile(addrFile)
		if err == nil && bytes.HasSuffix(data, []byte("\n")) {
			return d, "http://" + strings.TrimSpace(string(data)) + "/api", dir
		}
		select {
		case <-d.done:
			t.Fatalf("coordinator exited (%d): %s", d.code, d.stderrText())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("coordinator wrote no address within 30s: %s", d.stderrText())
		}
	}
}

// stopProc sends SIGTERM and wants exit code 0.
func stopProc(t *testing.T, d *demoProc, what string) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := d.wait(); code != exitOK {
		t.Errorf("%s: exit %d after SIGTERM, want 0; stderr %q", what, code, d.stderrText())
	}
}

// TestObserveCheckLiveCoordinator: a coordinator started with the
// double-claim bug grants one job to two claimers; observe --check, on its
// API and on its directory at once, sees it and exits 1. A wrong token is
// one clear line and exit 3.
func TestObserveCheckLiveCoordinator(t *testing.T) {
	t.Parallel()
	coordProc, url, dir := startCoordinator(t, "--token", "sekrit", "--inject-bug",
		"double-claim")

	wrong := startDemo(t, []string{"observe", "--api", url, "--token", "nope", "--headless"})
	if code := wrong.wait(); code != exitCouldNotRun ||
		!strings.Contains(wrong.stderrText(), "refused the token (HTTP 401)") {
		t.Errorf("wrong token: exit %d, stderr %q; want 3 and a 401 line", code,
			wrong.stderrText())
	}

	byAPI := startDemo(t, []string{"observe", "--api", url, "--check", "--headless"},
		"AQ_FLEET_TOKEN=sekrit")
	byDir := startDemo(t, []string{"observe", "--dir", dir, "--check", "--headless",
		"--poll", "0.05"})
	cl, err := api.NewClient(url, "sekrit")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, _, err := cl.Submit(ctx, coord.SubmitRequest{ID: "j-1"}); err != nil {
		t.Fatal(err)
	}
	byAPI.waitFor("SUBMIT job=j-1 ")
	byDir.waitFor("SUBMIT job=j-1 ")
	for _, f := range []string{"mac-1", "ubuntu-1"} {
		if _, err := cl.Claim(ctx, coord.ClaimRequest{Factory: f}); err != nil {
			t.Fatal(err)
		}
	}
	for name, d := range map[string]*demoProc{"--api": byAPI, "--dir": byDir} {
		code := d.wait()
		stderr := d.stderrText()
		if code != exitFail || !strings.Contains(stderr, "double-grant: job j-1") ||
			strings.Count(stderr, "\n") != 1 {
			t.Errorf("observe %s: exit %d, stderr %q; want 1 and one double-grant line",
				name, code, stderr)
		}
	}
	stopProc(t, coordProc, "coordinator")
}

// freePort returns a loopback address nothing listens on.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// tmuxRun runs args of the real binary in a private tmux server with a
// fixed size, and offers the screen and the exit code.
type tmuxRun struct {
	t      *testing.T
	socket string // the private server's socket path
	exit   string // file the exit code is written to
}

func startTmux(t *testing.T, args ...string) *tmuxRun {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not installed")
	}
	bin := testbin.Path(t)
	dir := t.TempDir()
	// A socket in the test's own directory: unique, and gone with it.
	r := &tmuxRun{t: t, socket: filepath.Join(dir, "tmux.sock"),
		exit: filepath.Join(dir, "exit")}
	quoted := []string{"NO_COLOR=1", strconv.Quote(bin)}
	for _, a := range args {
		quoted = append(quoted, strconv.Quote(a))
	}
	shell := strings.Join(quoted, " ") + "; echo $? > " + strconv.Quote(r.exit) + "; sleep 60"
	cmd := exec.Command("tmux", "-S", r.socket, "-f", "/dev/null", "new-session", "-d",
		"-x", "120", "-y", "40", shell)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", r.socket, "kill-server").Run() })
	return r
}

func (r *tmuxRun) screen() string {
	out, _ := exec.Command("tmux", "-S", r.socket, "capture-pane", "-p").Output()
	return string(out)
}

// waitScreen waits until the screen shows text.
func (r *tmuxRun) waitScreen(text string) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(r.screen(), text) {
		if time.Now().After(deadline) {
			r.t.Fatalf("screen never showed %q:\n%s", text, r.screen())
		}
		time.Sleep(20 * time.Millisecond) // tmux has no change notification
	}
}

// quit presses q and returns the exit code.
func (r *tmuxRun) quit() int {
	r.t.Helper()
	if err := exec.Command("tmux", "-S", r.socket, "send-keys", "q").Run(); err != nil {
		r.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, err := os.ReadFile(r.exit)
		if err == nil && bytes.HasSuffix(data, []byte("\n")) {
			code, _ := strconv.Atoi(strings.TrimSpace(string(data)))
			return code
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("no exit after q:\n%s", r.screen())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestObserveDashboard: the dashboard on a followed directory shows its
// jobs as they appear and leaves with q (exit 0); with --check it shows a
// double grant the moment it lands, and leaving then exits 1.
func TestObserveDashboard(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log := filepath.Join(dir, "events.log")
	r := startTmux(t, "observe", "--dir", dir, "--poll", "0.05")
	r.waitScreen("observing")
	h := newHistory()
	appendFile(t, log, h.submitClaim(nil, "seen-1", "mac-1"))
	r.waitScreen("seen-1")
	if code := r.quit(); code != exitOK {
		t.Errorf("observe dashboard: exit %d after q, want 0", code)
	}

	dir2 := t.TempDir()
	r2 := startTmux(t, "observe", "--dir", dir2, "--check", "--poll", "0.05")
	r2.waitScreen("observing")
	h2 := newHistory()
	bad := h2.submitClaim(nil, "j-1", "mac-1")
	bad = h2.ev(bad, coord.EvClaim, "j-1", "ubuntu-1", 1, coord.StageClaimed, "ubuntu-1", 1)
	appendFile(t, filepath.Join(dir2, "events.log"), bad)
	r2.waitScreen("VIOLATION double-grant")
	if code := r2.quit(); code != exitFail {
		t.Errorf("observe --check dashboard: exit %d after a violation, want 1", code)
	}
}
