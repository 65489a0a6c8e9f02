package factory

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// The heartbeat must keep the lease alive however the engine behaves: the
// engine here is a real process that either sleeps or spins on the CPU, and
// the renews must arrive at the coordinator at min(Renew, TTL/3).
func TestHeartbeatKeepsRenewingWhileEngineWorks(t *testing.T) {
	tests := []struct {
		name       string
		spin       bool
		renew, ttl time.Duration
		every      time.Duration
	}{
		{"stalled engine, Renew caps", false, 100 * time.Millisecond, 900 * time.Millisecond,
			100 * time.Millisecond},
		{"CPU-bound engine, TTL/3", true, 0, 600 * time.Millisecond, 200 * time.Millisecond},
		{"Renew above the lease", false, 2 * time.Second, 450 * time.Millisecond,
			150 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(tt.ttl, "j1")
			d := startDaemon(t, f, tt.spin, func(c *Config) { c.Renew = tt.renew })
			const want = 6
			waitUntil(t, "renews", func() bool { return len(f.okRenews()) >= want })
			d.openGate(t)
			line := d.waitExit(t, "j1", 1)

			if !strings.Contains(line, "outcome=shipped") {
				t.Fatalf("exit line %q, want shipped", line)
			}
			renews := f.okRenews()
			for i := 1; i < len(renews); i++ {
				gap := renews[i].Sub(renews[i-1])
				// Not hammering (at least half the interval) and never letting
				// the lease come near its end (under two thirds of it).
				if gap < tt.every/2 || gap > tt.ttl*2/3 {
					t.Errorf("renew gap %d = %v, want about %v (ttl %v)", i, gap, tt.every, tt.ttl)
				}
			}
			if f.failedRenews() != 0 {
				t.Errorf("%d refused renews: the heartbeat renewed after done", f.failedRenews())
			}
		})
	}
}

// C1: the coordinator fences the renew (the job went to another factory):
// the executor is stopped, its output is quarantined, and nothing ships.
func TestRenewFencedStopsTheJob(t *testing.T) {
	f := newFake(time.Second, "j1")
	d := startDaemon(t, f, false, nil)
	waitUntil(t, "two renews", func() bool { return len(f.okRenews()) >= 2 })
	f.reassign("j1", "ubuntu-1")

	line := d.waitExit(t, "j1", 1)

	if !strings.Contains(line, "outcome=stopped") {
		t.Fatalf("exit line %q, want stopped", line)
	}
	for _, want := range [][]string{
		{"renew-failed", "http=409"}, {"lease-lost", "reason=fenced"},
		{"quarantine", "reason=stopped"}, {"stop"},
	} {
		if len(logLines(t, d.logPath(), want[0], append(want[1:], "job=j1", "epoch=1")...)) == 0 {
			t.Errorf("no %v line", want)
		}
	}
	quarantined := filepath.Join(d.cfg.WorkDir, "quarantine", "j1@epoch=1")
	if !exists(filepath.Join(quarantined, "started")) {
		t.Errorf("engine output not in %s", quarantined)
	}
	shipped := exists(filepath.Join(d.cfg.WorkDir, "shipped", "j1"))
	if shipped || f.patched(coord.StageDone, 1, true) > 0 {
		t.Error("a fenced job shipped")
	}
	if len(f.releasesOf()) != 0 {
		t.Error("a fenced lease must not be released: it is not ours")
	}
}

// C2: transient renew errors are retried within the lease. If they end in
// time the job ships once; if they outlast the lease the job is stopped.
func TestTransientRenewErrors(t *testing.T) {
	unavailable := &throttle{kind: coord.ErrUnavailable, after: 20 * time.Millisecond}
	tests := []struct {
		name     string
		failFrom int
		failTo   int // inclusive; 0 = for ever
		ttl      time.Duration
		ships    bool
	}{
		{"errors end within the lease", 2, 4, 1200 * time.Millisecond, true},
		{"errors outlast the lease", 2, 0, 600 * time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(tt.ttl, "j1")
			f.beforeRenew = func(n int, r coord.Report) error {
				if n >= tt.failFrom && (tt.failTo == 0 || n <= tt.failTo) {
					return unavailable
				}
				return nil
			}
			d := startDaemon(t, f, false, nil)
			if tt.ships {
				waitUntil(t, "a renew after the errors", func() bool {
					return f.failedRenews() == tt.failTo-tt.failFrom+1 && len(f.okRenews()) >= 2
				})
				d.openGate(t)
			}

			line := d.waitExit(t, "j1", 1)

			if len(logLines(t, d.logPath(), "renew-failed", "job=j1")) == 0 {
				t.Error("renew failures were not logged")
			}
			shipped := exists(filepath.Join(d.cfg.WorkDir, "shipped", "j1"))
			if tt.ships {
				if !strings.Contains(line, "outcome=shipped") || !shipped {
					t.Fatalf("exit %q, shipped %v: want shipped", line, shipped)
				}
				if n := f.patched(coord.StageDone, 1, true); n != 1 {
					t.Errorf("%d done patches, want 1", n)
				}
				if ls := logLines(t, d.logPath(), "lease-lost"); len(ls) > 0 {
					t.Errorf("lease lost although the errors ended in time: %v", ls)
				}
				return
			}
			if !strings.Contains(line, "outcome=stopped") || shipped {
				t.Fatalf("exit %q, shipped %v: want stopped, not shipped", line, shipped)
			}
			checkLostAfterTTL(t, d, f, tt.ttl)
		})
	}
}

// checkLostAfterTTL checks the lease was declared lost, and not before the
// TTL had passed since the last renew the coordinator confirmed.
func checkLostAfterTTL(t *testing.T, d *runningDaemon, f *fakeCoord, ttl time.Duration) {
	t.Helper()
	lost := logLines(t, d.logPath(), "lease-lost", "reason=expired", "job=j1", "epoch=1")
	if len(lost) != 1 {
		t.Fatalf("lease-lost lines: %q", lost)
	}
	at, err := time.Parse(logTimeLayout, strings.Fields(lost[0])[0])
	if err != nil {
		t.Fatal(err)
	}
	oks := f.okRenews()
	last := oks[len(oks)-1]
	// The log has millisecond times; allow for that and for the gap between
	// sending the renew and the fake recording it.
	if at.Before(last.Add(ttl - 5*time.Millisecond)) {
		t.Errorf("lease declared lost at %v, only %v after the last confirmed renew (ttl %v)",
			at, at.Sub(last), ttl)
	}
	if !exists(filepath.Join(d.cfg.WorkDir, "quarantine", "j1@epoch=1")) {
		t.Error("the stopped job's output was not quarantined")
	}
}

// A graceful stop lets the current job finish and claims nothing more.
func TestGracefulStopFinishesTheJob(t *testing.T) {
	f := newFake(time.Second, "j1", "j2")
	d := startDaemon(t, f, false, nil)
	waitUntil(t, "j1 running", func() bool { return f.patched(coord.StageRunning, 1, true) == 1 })

	d.cancel()
	// The lease must stay alive while the job drains: renews go on.
	after := len(f.okRenews())
	waitUntil(t, "renews after the stop", func() bool { return len(f.okRenews()) >= after+2 })
	d.openGate(t)
	err := d.wait(t)

	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Run returned only after the job ended: its output was shipped by then.
	if !exists(filepath.Join(d.cfg.WorkDir, "shipped", "j1")) {
		t.Fatal("Run returned before the current job shipped")
	}
	if j := f.job("j2"); j.Stage != coord.StageQueued || j.Epoch != 1 {
		t.Errorf("j2 = %+v, want untouched in the queue", j.JobState)
	}
	if exists(filepath.Join(d.cfg.WorkDir, PidFileName)) {
		t.Error("pid file left behind after a clean exit")
	}
}

// A hard stop ends the job at once: the executor is stopped and quarantines,
// the job goes back to the queue, and Run returns.
func TestHardStopReleasesTheJob(t *testing.T) {
	f := newFake(time.Second, "j1")
	d := startDaemon(t, f, false, nil)
	started := filepath.Join(d.cfg.WorkDir, "out", "j1@1", "started")
	waitUntil(t, "j1's engine started", func() bool { return exists(started) })
	pid := readPid(t, d.cfg.WorkDir)

	d.cancel()
	d.stopHard()
	err := d.wait(t)

	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("executor %d still exists after Run returned (kill 0: %v)", pid, err)
	}
	if rs := f.releasesOf(); len(rs) != 1 || rs[0].Job != "j1" || rs[0].Epoch != 1 {
		t.Errorf("releases %+v, want j1 at epoch 1", rs)
	}
	if j := f.job("j1"); j.Stage != coord.StageQueued || j.Epoch != 2 {
		t.Errorf("j1 = %+v, want queued at epoch 2", j.JobState)
	}
	if !exists(filepath.Join(d.cfg.WorkDir, "quarantine", "j1@epoch=1", "started")) {
		t.Error("stopped job's output not quarantined")
	}
	line := d.waitExit(t, "j1", 1)
	if !strings.Contains(line, "outcome=stopped") {
		t.Errorf("exit line %q, want stopped", line)
	}
}

// A SIGTERM to the executor's whole group (a harness stopping it) reaches
// the engine too, which may die before the executor notices its own
// signal: that is still a stop, never a job failure.
func TestGroupSigtermIsAStopNotAFailure(t *testing.T) {
	f := newFake(time.Second, "j1")
	d := startDaemon(t, f, false, nil)
	started := filepath.Join(d.cfg.WorkDir, "out", "j1@1", "started")
	waitUntil(t, "j1's engine started", func() bool { return exists(started) })
	pid := readPid(t, d.cfg.WorkDir)

	if err := syscall.Kill(-pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	line := d.waitExit(t, "j1", 1)

	if !strings.Contains(line, "outcome=stopped") {
		t.Errorf("exit line %q, want stopped", line)
	}
	if n := f.patched(coord.StageFailed, 1, true) + f.patched(coord.StageFailed, 1, false); n > 0 {
		t.Error("a stopped job was reported failed")
	}
}

// Claims back off on throttling for at least the Retry-After, and keep
// going after other errors.
func TestClaimBacksOff(t *testing.T) {
	const retry = 300 * time.Millisecond
	f := newFake(time.Second)
	f.beforeClaim = func(n int) error {
		switch n {
		case 1, 2:
			return &throttle{kind: coord.ErrThrottled, after: retry}
		case 3:
			return errors.New("dial tcp 127.0.0.1:1: connection refused")
		}
		return nil
	}
	d := startDaemon(t, f, false, nil)
	waitUntil(t, "five claims", func() bool { return len(f.claimTimes()) >= 5 })
	d.stopHard()

	ts := f.claimTimes()
	for i, min := range []time.Duration{retry, retry, d.cfg.Poll / 2, d.cfg.Poll} {
		if gap := ts[i+1].Sub(ts[i]); gap < min {
			t.Errorf("claim %d came %v after claim %d, want at least %v", i+2, gap, i+1, min)
		}
	}
}

// The executor runs in its own process group, so that signals for the
// daemon's group never reach it.
func TestExecutorHasItsOwnProcessGroup(t *testing.T) {
	f := newFake(time.Second, "j1")
	d := startDaemon(t, f, false, nil)
	waitUntil(t, "j1 running", func() bool { return f.patched(coord.StageRunning, 1, true) == 1 })
	pid := readPid(t, d.cfg.WorkDir)

	pgid, err := syscall.Getpgid(pid)

	if err != nil {
		t.Fatal(err)
	}
	if pgid != pid {
		t.Errorf("executor %d is in group %d, want its own (%d)", pid, pgid, pid)
	}
	if pgid == syscall.Getpgrp() {
		t.Error("executor shares the daemon's process group")
	}
	launch := logLines(t, d.logPath(), "launch", "job=j1", "epoch=1", "pid="+strconv.Itoa(pid))
	if len(launch) != 1 {
		t.Errorf("launch lines with the pid: %q", launch)
	}
	d.openGate(t)
	d.waitExit(t, "j1", 1)
}

func readPid(t *testing.T, dir string) int {
	t.Helper()
	path := filepath.Join(dir, PidFileName)
	waitUntil(t, "pid file", func() bool { return exists(path) })
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(t, path)))
	if err != nil {
		t.Fatal(fmt.Errorf("pid file: %w", err))
	}
	return pid
}

// stop escalates to SIGKILL for an executor group that ignores SIGTERM.
func TestChildStopKillsAGroupThatIgnoresTerm(t *testing.T) {
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	// The shell marks itself ready only after installing the trap, so the
	// TERM cannot arrive before it is ignored.
	ready := filepath.Join(t.TempDir(), "ready")
	script := fmt.Sprintf(`trap '' TERM; touch %q; while :; do sleep 0.05; done`, ready)
	ch, err := startChild([]string{"sh", "-c", script}, os.Environ(), out)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "trap installed", func() bool { return exists(ready) })

	start := time.Now()
	ch.stop(200 * time.Millisecond)

	if took := time.Since(start); took < 200*time.Millisecond {
		t.Errorf("stopped after %v: the TERM was not ignored, so this tests nothing", took)
	}
	if code, o, label := ch.status(); code != -1 || o != 0 || label != "signal:killed" {
		t.Errorf("status %d %v %q, want -1, no outcome, signal:killed", code, o, label)
	}
}

// A refused token cannot get better by retrying: the daemon says so and
// returns an error (the command exits non-zero) instead of claiming
// forever.
func TestRefusedTokenStopsTheDaemon(t *testing.T) {
	f := newFake(time.Second)
	f.beforeClaim = func(n int) error {
		return fmt.Errorf("claim: %w", coord.ErrUnauthorized)
	}
	d := startDaemon(t, f, false, nil)
	if err := d.wait(t); !errors.Is(err, coord.ErrUnauthorized) {
		t.Fatalf("Run returned %v, want ErrUnauthorized", err)
	}
	if n := len(f.claimTimes()); n != 1 {
		t.Fatalf("%d claims with a refused token, want 1", n)
	}
}
