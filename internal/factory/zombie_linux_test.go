package factory

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// prSetChildSubreaper is Linux's PR_SET_CHILD_SUBREAPER: orphans of our
// descendants are re-parented to us, so the test can wait for the zombie
// executor and read its exit code after its daemon is dead.
const prSetChildSubreaper = 36

// TestZombieExecutorIsFenced is design (b) from the factory's side, with
// real processes: a daemon process is SIGKILLed mid-job; its executor lives
// on; the job moves to another factory at a new epoch; the executor's late
// done is refused with 409, and it quarantines instead of shipping and
// exits with the fenced code.
func TestZombieExecutorIsFenced(t *testing.T) {
	setSubreaper(t)
	f := newFake(2*time.Second, "j1")
	// The reaper strikes between the zombie's verifying and its done, so
	// that it is the done report that gets fenced.
	f.afterPatch = func(r coord.Report) error {
		if r.Stage == coord.StageVerifying && r.Epoch == 1 {
			f.reassign("j1", "ubuntu-1")
		}
		return nil
	}
	srv := serveRPC(t, f)
	dir := t.TempDir()
	dumpOnFailure(t, dir)
	gate := filepath.Join(dir, "gate")
	daemon := startDaemonProcess(t, dir, srv.URL, gatedEngine(gate, false))
	waitUntil(t, "j1 running", func() bool { return f.patched(coord.StageRunning, 1, true) == 1 })
	pid := readPid(t, dir)
	t.Cleanup(func() { killOrphan(gate, pid) })

	checkOwnGroup(t, pid, daemon.Process.Pid)
	if err := daemon.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = daemon.Wait()
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("the executor died with its daemon: %v", err)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code := waitOrphan(t, pid)

	if code != Fenced.ExitCode() {
		t.Errorf("zombie exit code %d, want %d (fenced)", code, Fenced.ExitCode())
	}
	if !exists(filepath.Join(dir, "quarantine", "j1@epoch=1", "result")) {
		t.Error("zombie output not in quarantine/j1@epoch=1")
	}
	if exists(filepath.Join(dir, "shipped", "j1")) {
		t.Error("the zombie shipped")
	}
	if f.patched(coord.StageDone, 1, false) != 1 || f.patched(coord.StageDone, 1, true) != 0 {
		t.Error("want exactly one done from epoch 1, refused")
	}
	log := filepath.Join(dir, "log-mac-1.txt")
	if len(logLines(t, log, "fence", "job=j1", "epoch=1", "op=patch:done", "http=409")) != 1 {
		t.Errorf("no fence line for the refused done:\n%s", readFile(t, log))
	}
	if len(logLines(t, log, "no-daemon", "job=j1")) != 1 {
		t.Error("the zombie did not notice its daemon was gone")
	}
}

func setSubreaper(t *testing.T) {
	t.Helper()
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); e != 0 {
		t.Skipf("cannot become a child subreaper: %v", e)
	}
	t.Cleanup(func() { _, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 0, 0) })
}

// startDaemonProcess runs a factory daemon as a child process of the test;
// env entries override the defaults (id mac-1, the fake's RPC client).
func startDaemonProcess(t *testing.T, dir, api, engine string, env ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "daemon.txt"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	cmd := exec.Command(exe, testDaemonCommand)
	cmd.Env = append(os.Environ(), "TF_TEST_ID=mac-1", "TF_TEST_API="+api,
		"TF_TEST_WORK="+dir, "TF_TEST_ENGINE="+engine)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

func checkOwnGroup(t *testing.T, pid, daemonPid int) {
	t.Helper()
	pgid, err := syscall.Getpgid(pid)
	if err != nil {
		t.Fatal(err)
	}
	daemonGroup, err := syscall.Getpgid(daemonPid)
	if err != nil {
		t.Fatal(err)
	}
	if pgid != pid || pgid == daemonGroup {
		t.Fatalf("executor %d in group %d, daemon in %d: want its own group",
			pid, pgid, daemonGroup)
	}
}

// waitOrphan reaps the re-parented executor and returns its exit code.
func waitOrphan(t *testing.T, pid int) int {
	t.Helper()
	type result struct {
		ws  syscall.WaitStatus
		err error
	}
	done := make(chan result, 1)
	go func() {
		var ws syscall.WaitStatus
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		done <- result{ws, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("wait for the orphan: %v", r.err)
		}
		return r.ws.ExitStatus()
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-done
		t.Fatal("the zombie executor did not exit")
		return 0
	}
}

// killOrphan makes sure a failed test leaves no executor behind: it kills
// the executor and its group, and opens the gate so that an engine that is
// somehow outside the group finishes by itself.
func killOrphan(gate string, pid int) {
	_ = os.WriteFile(gate, nil, 0o644)
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}
