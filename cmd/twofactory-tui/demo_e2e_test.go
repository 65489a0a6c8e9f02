package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/orchestrate"
	"github.com/twofactory/twofactory/internal/testbin"
)

// These tests run the real binary as CI does: stdin /dev/null, stdout a
// pipe, in a session of its own with no controlling terminal (case C8), and
// TMPDIR pointed at a directory of the test's own, so that the run
// directory and every process of the run can be found and checked
// afterwards without looking at anyone else's.

// runDeadline bounds one demo run; a normal one takes about 6 s.
const runDeadline = 2 * time.Minute

// demoProc is one running demo.
type demoProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	tmp    string // the run's TMPDIR: its run directory is made under it
	marker string // an environment entry every process of the run inherits

	mu     sync.Mutex
	out    bytes.Buffer
	grew   chan struct{} // closed and replaced on each new line of stdout
	stderr bytes.Buffer
	done   chan struct{}
	code   int
}

// startDemo starts the demo with args and extra environment entries, with
// none of the caller's DEMO_ and AQ_ variables.
func startDemo(t *testing.T, args []string, env ...string) *demoProc {
	t.Helper()
	bin := testbin.Path(t)
	tmp := t.TempDir()
	d := &demoProc{t: t, tmp: tmp, grew: make(chan struct{}), done: make(chan struct{}),
		marker: fmt.Sprintf("TWOFACTORY_E2E_RUN=%s", tmp)}
	d.cmd = exec.Command(bin, args...)
	d.cmd.Env = append(cleanEnv(), append([]string{"TMPDIR=" + tmp, d.marker}, env...)...)
	d.cmd.Stdin = nil // /dev/null
	d.cmd.Stderr = &lockedWriter{mu: &d.mu, buf: &d.stderr}
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start demo: %v", err)
	}
	go d.read(stdout)
	t.Cleanup(d.kill)
	return d
}

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DEMO_") && !strings.HasPrefix(kv, "AQ_") &&
			!strings.HasPrefix(kv, "TMPDIR=") && !strings.HasPrefix(kv, "NO_COLOR=") {
			env = append(env, kv)
		}
	}
	return env
}

type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// read copies stdout line by line, waking waitFor, then reaps the process.
func (d *demoProc) read(stdout interface{ Read([]byte) (int, error) }) {
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		d.mu.Lock()
		d.out.WriteString(sc.Text() + "\n")
		close(d.grew)
		d.grew = make(chan struct{})
		d.mu.Unlock()
	}
	err := d.cmd.Wait()
	d.code = 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		d.code = ee.ExitCode()
	} else if err != nil {
		d.code = -1
	}
	close(d.done)
}

// waitFor waits until stdout holds text.
func (d *demoProc) waitFor(text string) {
	d.t.Helper()
	deadline := time.After(runDeadline)
	for {
		d.mu.Lock()
		ok, ch := strings.Contains(d.out.String(), text), d.grew
		d.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-d.done:
			d.t.Fatalf("demo exited (%d) before printing %q:\n%s", d.code, text, d.stdout())
		case <-deadline:
			d.t.Fatalf("no %q within %v:\n%s", text, runDeadline, d.stdout())
		}
	}
}

// wait waits for the demo to exit and returns its exit code.
func (d *demoProc) wait() int {
	d.t.Helper()
	select {
	case <-d.done:
		return d.code
	case <-time.After(runDeadline):
		d.kill()
		d.t.Fatalf("demo still running after %v:\n%s", runDeadline, d.stdout())
		return -1
	}
}

// kill ends a demo that a failed test left running, and its session.
func (d *demoProc) kill() {
	select {
	case <-d.done:
	default:
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.done
	}
}

func (d *demoProc) stdout() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.out.String()
}

func (d *demoProc) stderrText() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stderr.String()
}

// checkNoneLeft fails if any process of this run is still there (by its
// command line naming the run's TMPDIR, or by the marker in its
// environment), and, unless the run directory was kept, if it is still on
// disk.
func (d *demoProc) checkNoneLeft(kept bool) {
	d.t.Helper()
	for _, p := range processesOf(d.tmp, d.marker) {
		d.t.Errorf("process outlived the run: %s", p)
	}
	runs, _ := filepath.Glob(filepath.Join(d.tmp, "twofactory-run-*"))
	if !kept && len(runs) > 0 {
		d.t.Errorf("run directory not removed: %v", runs)
	}
}

// processesOf lists "pid cmdline" of every live process whose command line
// mentions dir or whose environment holds marker. Exited processes not yet
// reaped (state Z) have neither and are not listed.
func processesOf(dir, marker string) []string {
	ents, _ := os.ReadDir("/proc")
	var found []string
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		environ, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		hasMarker := bytes.Contains(append([]byte{0}, environ...), []byte("\x00"+marker+"\x00"))
		if bytes.Contains(cmdline, []byte(dir)) || hasMarker {
			found = append(found, fmt.Sprintf("%d %s", pid,
				strings.ReplaceAll(string(cmdline), "\x00", " ")))
		}
	}
	return found
}

// checkInOrder fails unless out holds each pattern, each after the one
// before it.
func checkInOrder(t *testing.T, out string, patterns ...string) {
	t.Helper()
	rest := out
	for _, p := range patterns {
		loc := regexp.MustCompile(p).FindStringIndex(rest)
		if loc == nil {
			t.Fatalf("output lacks %q (after the lines before it):\n%s", p, out)
		}
		rest = rest[loc[1]:]
	}
}

// TestDemoEndToEnd runs the default demo without --headless: with stdout
// a pipe and no terminal it must choose the plain trace by itself (C8),
// pass, keep the run directory as asked, and write --json to match.
func TestDemoEndToEnd(t *testing.T) {
	jsonPath := filepath.Join(t.TempDir(), "results.json")
	d := startDemo(t, []string{"--keep", "--json", jsonPath})
	code := d.wait()
	out := d.stdout()
	if code != exitOK {
		t.Fatalf("exit %d, want 0; stderr %q\n%s", code, d.stderrText(), out)
	}
	checkInOrder(t, out,
		`PARALLELISM observed: mac-1 running job-\d@1 while ubuntu-1 runs job-\d`,
		`killed factory mac-1 \(pid \d+, SIGKILL\) mid-job`,
		`reaper reclaimed job-\d from mac-1: lease expired, epoch 1 -> 2`,
		`zombie report for job-\d@epoch=1 was FENCED \(HTTP 409\)`,
		`RESULTS`, `VERDICT: PASS`)
	if strings.Contains(out, "\x1b") || strings.Contains(d.stderrText(), "\x1b") {
		t.Errorf("escape codes in headless output:\n%q", out)
	}
	res := readResults(t, jsonPath)
	checkResultsMatch(t, res, out)
	dir := keptDir(t, out)
	checkArtefacts(t, dir, res)
	d.checkNoneLeft(true)
}

func readResults(t *testing.T, path string) orchestrate.Results {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("--json file: %v", err)
	}
	var res orchestrate.Results
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatalf("--json file is not valid JSON: %v\n%s", err, data)
	}
	return res
}

// checkResultsMatch compares the JSON with the RESULTS table printed.
func checkResultsMatch(t *testing.T, res orchestrate.Results, out string) {
	t.Helper()
	if !res.Pass || len(res.Jobs) != 3 || len(res.Guarantees) != 3 || len(res.Violations) > 0 {
		t.Fatalf("JSON results: %+v", res)
	}
	for _, j := range res.Jobs {
		row := fmt.Sprintf(`(?m)^\s*%s\s+%s\s+%s\s+%d\s`, j.ID, j.Stage, j.Winner, j.Epoch)
		if !regexp.MustCompile(row).MatchString(out) {
			t.Errorf("JSON job %+v has no matching RESULTS row", j)
		}
		if j.Stage != "done" || j.Ships != 1 || j.Winner != "ubuntu-1" {
			t.Errorf("job %+v: want done once by the survivor", j)
		}
	}
	for _, g := range res.Guarantees {
		row := fmt.Sprintf(`(?m)^\s*%s\s+PASS\s`, regexp.QuoteMeta(string(g.Name)))
		if !g.Pass || !regexp.MustCompile(row).MatchString(out) {
			t.Errorf("guarantee %+v: not a PASS row in RESULTS", g)
		}
	}
}

func keptDir(t *testing.T, out string) string {
	t.Helper()
	m := regexp.MustCompile(`run directory kept: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("--keep did not print the run directory:\n%s", out)
	}
	return m[1]
}

// checkArtefacts looks at what --keep kept: the coordinator's data, each
// factory's log, a result per job in shipped/, and the zombie's result in
// quarantine/ under the reclaimed job and its stale epoch.
func checkArtefacts(t *testing.T, dir string, res orchestrate.Results) {
	t.Helper()
	for _, p := range []string{"coord/events.log", "coord/jobs", "log-mac-1.txt",
		"log-ubuntu-1.txt", "shipped", "quarantine"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("kept run directory lacks %s: %v", p, err)
		}
	}
	shipped, _ := os.ReadDir(filepath.Join(dir, "shipped"))
	if len(shipped) != 3 {
		t.Errorf("shipped/ holds %d entries, want 3", len(shipped))
	}
	reclaimed := ""
	for _, j := range res.Jobs {
		if j.ReclaimedFrom == "mac-1" {
			reclaimed = j.ID
		}
	}
	q := filepath.Join(dir, "quarantine", reclaimed+"@epoch=1")
	if _, err := os.Stat(q); reclaimed == "" || err != nil {
		t.Errorf("no quarantine of the reclaimed job %q: %v", reclaimed, err)
	}
}

// TestDemoInjectedBugs: against a coordinator with a deliberate bug the
// verdict is FAIL on the guarantee that bug breaks, exit 1, with the
// checker's violations listed. The two runs use their own directories and
// ports, so they run side by side.
func TestDemoInjectedBugs(t *testing.T) {
	cases := []struct {
		bug   string
		fails orchestrate.Guarantee
	}{
		{"no-fence", orchestrate.GuaranteeFencing},
		{"double-claim", orchestrate.GuaranteeNoDoubleAssign},
	}
	for _, c := range cases {
		t.Run(c.bug, func(t *testing.T) {
			t.Parallel()
			jsonPath := filepath.Join(t.TempDir(), "results.json")
			d := startDemo(t, []string{"--headless", "--inject-bug", c.bug, "--json", jsonPath})
			code := d.wait()
			out := d.stdout()
			if code != exitFail {
				t.Fatalf("exit %d, want 1; stderr %q\n%s", code, d.stderrText(), out)
			}
			checkInOrder(t, out, "inject-bug="+c.bug, `RESULTS`,
				`(?m)^\s*`+regexp.QuoteMeta(string(c.fails))+`\s+FAIL\s`, `VERDICT: FAIL`)
			if regexp.MustCompile(`violations: none`).MatchString(out) {
				t.Errorf("no violations listed:\n%s", out)
			}
			res := readResults(t, jsonPath)
			for _, g := range res.Guarantees {
				if g.Name == c.fails && (g.Pass || g.Evidence == "") {
					t.Errorf("%s: %+v, want FAIL with evidence", c.fails, g)
				}
			}
			if res.Pass || len(res.Violations) == 0 {
				t.Errorf("JSON: pass=%v violations=%v", res.Pass, res.Violations)
			}
			d.checkNoneLeft(false)
		})
	}
}

// TestDemoSignals: Ctrl-C or SIGTERM once the factories are mid-job stops
// the run with exit 130 and leaves nothing behind.
func TestDemoSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			d := startDemo(t, []string{"--headless"}, "DEMO_JOB_SLEEP=30")
			d.waitFor("PARALLELISM observed")
			// The scan that later finds none must see the run's processes
			// now (the demo, coordinator, factories, executors), or its
			// "none left" would prove nothing.
			if live := processesOf(d.tmp, d.marker); len(live) < 4 {
				t.Errorf("the /proc scan sees %d processes of a live run, want 4 or more: %v",
					len(live), live)
			}
			if err := d.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := d.wait(); code != exitInterrupted {
				t.Fatalf("exit %d after %v, want 130; stderr %q\n%s", code, sig,
					d.stderrText(), d.stdout())
			}
			d.checkNoneLeft(false)
		})
	}
}

// TestDemoCouldNotRun: a run that cannot show the scenario exits 3 with one
// clear line, and leaves nothing behind: waits bounded by a tiny timeout
// while the jobs take long, and a run directory that cannot be made. (Jobs
// too short to be killed mid-job are not here: whether a 1 ms job is still
// running at the kill is a race, so the orchestrate package tests that path
// on hand-made histories instead.)
func TestDemoCouldNotRun(t *testing.T) {
	cases := []struct {
		name string
		args func(t *testing.T) []string
		env  []string
		says string
	}{
		{"timeout", noArgs, []string{"DEMO_TIMEOUT=0.3", "DEMO_JOB_SLEEP=30"}, "timed out"},
		{"run directory not creatable", dirUnderFile, nil, "create run directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := startDemo(t, append([]string{"--headless"}, c.args(t)...), c.env...)
			d.checkCouldNotRun(c.says)
		})
	}
}

func noArgs(*testing.T) []string { return nil }

// dirUnderFile asks for a run directory below a regular file, which no one
// can create.
func dirUnderFile(t *testing.T) []string {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"--dir", filepath.Join(file, "run")}
}

// checkCouldNotRun waits for the demo and checks that it could not run:
// exit 3, one line on stderr saying says, and no process of it left.
func (d *demoProc) checkCouldNotRun(says string) {
	d.t.Helper()
	code := d.wait()
	stderr := d.stderrText()
	if code != exitCouldNotRun {
		d.t.Fatalf("exit %d, want 3; stderr %q\n%s", code, stderr, d.stdout())
	}
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.Contains(stderr, says) {
		d.t.Errorf("stderr %q: want one line saying %q", stderr, says)
	}
	d.checkNoneLeft(false)
}
