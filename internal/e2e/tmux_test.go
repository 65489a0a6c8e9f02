package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/testbin"
)

// Bounds on waits. They are only reached when something is broken; the
// machine is shared and the binary may be built with -race, so they are
// generous.
const (
	waitRun  = 90 * time.Second // a whole demo run, up to its verdict
	waitStep = 30 * time.Second // one step: a stop, an exit, a redraw
	pollStep = 50 * time.Millisecond
)

// runMarker is the environment variable that tags every process of a run:
// the demo, its coordinator, factories and executors, and their engines all
// inherit it, so a scan of /proc finds whatever a run left behind.
const runMarker = "TWOFACTORY_E2E_RUN"

// paneSeq makes tmux socket names unique within the test process.
var paneSeq atomic.Int64

// pane is one run of the binary in a private tmux server, in a session of
// one window of a fixed size.
type pane struct {
	t      *testing.T
	bin    string
	socket string
	dir    string // the wrapper script, and the exit code and stty it writes
	mark   string // this run's value of runMarker
}

// startPane runs the binary with args in a new tmux server of its own, in a
// w x h window, with env added to its environment (NO_COLOR and CI are
// cleared unless env sets them, so the caller's environment cannot change
// the test).
// Cleanup kills the server and any process of the run still alive, which
// the test will by then have reported.
func startPane(t *testing.T, w, h int, env []string, args ...string) *pane {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (Debian package tmux)")
	}
	n := paneSeq.Add(1)
	p := &pane{
		t:      t,
		bin:    testbin.Path(t),
		socket: fmt.Sprintf("tf-e2e-%d-%d", os.Getpid(), n),
		dir:    t.TempDir(),
		mark:   fmt.Sprintf("%d-%d-%d", os.Getpid(), n, time.Now().UnixNano()),
	}
	p.writeFiles(env, args)
	t.Cleanup(p.stop)

	p.tmux("-f", filepath.Join(p.dir, "tmux.conf"), "new-session", "-d", "-s", "e2e",
		"-x", strconv.Itoa(w), "-y", strconv.Itoa(h), "sh "+shellQuote(p.path("run.sh")))
	return p
}

// writeFiles writes the tmux configuration and the wrapper script. The
// script records the exit code and `stty -a` after the binary exits, then
// exits itself; remain-on-exit keeps the pane, so its last screen can
// still be read.
func (p *pane) writeFiles(env []string, args []string) {
	conf := "set -g remain-on-exit on\nset -g status off\nset -g history-limit 10000\n"
	var sh strings.Builder
	// A person's terminal: no NO_COLOR, and no CI, which the colour
	// detection reads as "no colour" (CI runs these tests with CI=true).
	sh.WriteString("unset NO_COLOR CI\n")
	fmt.Fprintf(&sh, "export %s=%s\n", runMarker, shellQuote(p.mark))
	for _, kv := range env {
		fmt.Fprintf(&sh, "export %s\n", shellQuote(kv))
	}
	sh.WriteString(shellQuote(p.bin))
	for _, a := range args {
		sh.WriteString(" " + shellQuote(a))
	}
	fmt.Fprintf(&sh, "\ncode=$?\nstty -a >%s 2>&1\necho $code >%s.tmp && mv %s.tmp %s\n",
		shellQuote(p.path("stty")), shellQuote(p.path("exit")), shellQuote(p.path("exit")),
		shellQuote(p.path("exit")))
	for name, text := range map[string]string{"tmux.conf": conf, "run.sh": sh.String()} {
		if err := os.WriteFile(p.path(name), []byte(text), 0o644); err != nil {
			p.t.Fatalf("write %s: %v", name, err)
		}
	}
}

// path is a file of the run's directory.
func (p *pane) path(name string) string { return filepath.Join(p.dir, name) }

// tmux runs a tmux command against the run's server and returns its output.
func (p *pane) tmux(args ...string) string {
	p.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", p.socket}, args...)...).Output()
	if err != nil {
		p.t.Fatalf("tmux %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

// screen is the visible screen as plain text, wrapped lines joined.
func (p *pane) screen() string { return p.tmux("capture-pane", "-p", "-J", "-t", "e2e") }

// screenEscapes is the visible screen with its colours and attributes as
// escape sequences.
func (p *pane) screenEscapes() string { return p.tmux("capture-pane", "-p", "-e", "-t", "e2e") }

// history is the normal screen's scrollback and the visible screen. What
// was drawn on the alternate screen is not in it: tmux drops that screen
// when the program leaves it.
func (p *pane) history() string {
	return p.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "e2e")
}

// waitScreen waits until ok holds for the visible screen and returns it.
func (p *pane) waitScreen(what string, within time.Duration, ok func(string) bool) string {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for {
		s := p.screen()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("no %s on screen within %v; the screen:\n%s", what, within, s)
		}
		time.Sleep(pollStep)
	}
}

// waitText waits until the visible screen contains every one of texts.
func (p *pane) waitText(within time.Duration, texts ...string) string {
	p.t.Helper()
	return p.waitScreen(strings.Join(texts, " + "), within, func(s string) bool {
		for _, text := range texts {
			if !strings.Contains(s, text) {
				return false
			}
		}
		return true
	})
}

// keys types keys into the pane (tmux key names: q, C-c, ...).
func (p *pane) keys(keys ...string) {
	p.t.Helper()
	p.tmux(append([]string{"send-keys", "-t", "e2e"}, keys...)...)
}

// resize resizes the window, which the program sees as SIGWINCH.
func (p *pane) resize(w, h int) {
	p.t.Helper()
	p.tmux("resize-window", "-t", "e2e", "-x", strconv.Itoa(w), "-y", strconv.Itoa(h))
}

// waitExit waits for the binary to exit and returns its exit code.
func (p *pane) waitExit() int {
	p.t.Helper()
	deadline := time.Now().Add(waitStep)
	for {
		data, err := os.ReadFile(p.path("exit"))
		if err == nil {
			code, cerr := strconv.Atoi(strings.TrimSpace(string(data)))
			if cerr != nil {
				p.t.Fatalf("exit file %q: %v", data, cerr)
			}
			return code
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the binary did not exit within %v; the screen:\n%s", waitStep, p.screen())
		}
		time.Sleep(pollStep)
	}
}

// checkTerminalRestored checks, from `stty -a` run in the pane after the
// binary exited, that the terminal is back in line mode with echo on.
func (p *pane) checkTerminalRestored() {
	p.t.Helper()
	data, err := os.ReadFile(p.path("stty"))
	if err != nil {
		p.t.Fatalf("read stty: %v", err)
	}
	flags := strings.Fields(string(data))
	for _, want := range []string{"icanon", "echo", "isig"} {
		if !contains(flags, want) || contains(flags, "-"+want) {
			p.t.Errorf("terminal left without %s after exit; stty -a:\n%s", want, data)
		}
	}
}

// checkNothingLeft checks that no process of the run is alive. The demo
// has exited by now, so anything marked is an orphan it failed to stop.
func (p *pane) checkNothingLeft() {
	p.t.Helper()
	if left := markedProcs(p.mark); len(left) > 0 {
		p.t.Errorf("processes of the run left after exit: %v", left)
	}
}

// stop kills the tmux server, removes its socket (which kill-server leaves
// behind) and kills whatever the run left (reported already).
func (p *pane) stop() {
	_ = exec.Command("tmux", "-L", p.socket, "kill-server").Run()
	_ = os.Remove(socketPath(p.socket))
	for _, pr := range markedProcs(p.mark) {
		if proc, err := os.FindProcess(pr.pid); err == nil {
			_ = proc.Kill()
		}
	}
}

// socketPath is where tmux keeps the socket of "-L name": in
// $TMUX_TMPDIR (default /tmp), under tmux-<uid>.
func socketPath(name string) string {
	dir := os.Getenv("TMUX_TMPDIR")
	if dir == "" {
		dir = "/tmp"
	}
	return filepath.Join(dir, fmt.Sprintf("tmux-%d", os.Getuid()), name)
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// contains reports whether list holds s.
func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
