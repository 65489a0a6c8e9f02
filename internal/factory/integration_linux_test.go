package factory

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/coord/api"
)

// TestFleetAgainstTheRealCoordinator is the demo's story at the factory's
// scale, against the project's own coordinator and HTTP API (with a token):
// a victim daemon process is SIGKILLed mid-job, the coordinator's reaper
// reclaims its job, a second daemon ships every job once, and the victim's
// orphaned executor is fenced and quarantines. The coordinator's events are
// the judge.
func TestFleetAgainstTheRealCoordinator(t *testing.T) {
	setSubreaper(t)
	t.Setenv("TF_TEST_DIAL", "api") // the executors use the real client
	c, url, client := startCoordinator(t, "tok")
	for _, id := range []string{"j1", "j2", "j3"} {
		if _, _, err := c.Submit(context.Background(), coord.SubmitRequest{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	victimDir := t.TempDir()
	dumpOnFailure(t, victimDir)
	gate := filepath.Join(victimDir, "gate")
	victim := startDaemonProcess(t, victimDir, url, gatedEngine(gate, false), "TF_TEST_TOKEN=tok")
	waitUntil(t, "the victim running j1", func() bool {
		j, err := c.Get(context.Background(), "j1")
		return err == nil && j.Stage == coord.StageRunning && j.Holder == "mac-1"
	})
	pid := readPid(t, victimDir)
	t.Cleanup(func() { killOrphan(gate, pid) })
	survivor := startDaemonWith(t, client, url, func(cfg *Config) {
		cfg.ID, cfg.Token, cfg.Engine, cfg.JobSleep = "ubuntu-1", "tok", "", 100*time.Millisecond
	})

	if err := victim.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = victim.Wait()
	waitUntil(t, "every job done", func() bool { return allDone(c, "j1", "j2", "j3") })
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("the victim's executor died with it: %v", err)
	}
	touch(t, gate)
	code := waitOrphan(t, pid)

	if code != Fenced.ExitCode() {
		t.Errorf("zombie exit code %d, want %d", code, Fenced.ExitCode())
	}
	for _, id := range []string{"j1", "j2", "j3"} {
		if !exists(filepath.Join(survivor.cfg.WorkDir, "shipped", id)) {
			t.Errorf("%s not shipped by the survivor", id)
		}
	}
	if !exists(filepath.Join(victimDir, "quarantine", "j1@epoch=1")) ||
		exists(filepath.Join(victimDir, "shipped", "j1")) {
		t.Error("the zombie's output must be in quarantine, not shipped")
	}
	judgeEvents(t, c)
}

// judgeEvents checks the coordinator's log: j1 reclaimed from epoch 1, one
// fence and only for the zombie, one accepted done per job.
func judgeEvents(t *testing.T, c *coord.Coordinator) {
	t.Helper()
	evs, err := c.Events(context.Background(), 0, 100000, 0)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range evs {
		count[fmt.Sprintf("%s %s %s %d", e.Label(), e.Job, e.Factory, e.Epoch)]++
		if e.Type == coord.EvPatch && e.After.Stage == coord.StageDone {
			count["done "+e.Job]++
			if e.Job == "j1" && e.Factory == "ubuntu-1" && e.Epoch > 1 {
				count["j1 done by the survivor at a new epoch"]++
			}
		}
		if e.Type == coord.EvFence {
			count["fences"]++
		}
		if e.Type == coord.EvReclaim && e.Job == "j1" {
			count["reclaims of j1"]++ // one expired lease, one reclaim
		}
	}
	for key, want := range map[string]int{
		"reclaims of j1":                         1,
		"RECLAIM j1 mac-1 1":                     1,
		"FENCE j1 mac-1 1":                       1,
		"fences":                                 1, // no false zombie from the winner's heartbeat
		"j1 done by the survivor at a new epoch": 1,
		"done j1":                                1, "done j2": 1, "done j3": 1,
	} {
		if count[key] != want {
			t.Errorf("%q: %d events, want %d", key, count[key], want)
		}
	}
	if t.Failed() {
		for _, e := range evs {
			t.Log(coord.FormatLine(e))
		}
	}
}

// startCoordinator runs the project's coordinator with a short lease behind
// its HTTP API on loopback, and returns it, the API's base URL, and a client.
func startCoordinator(t *testing.T, token string) (*coord.Coordinator, string, *api.Client) {
	t.Helper()
	c, err := coord.Open(t.TempDir(), coord.Options{
		Lease: 1500 * time.Millisecond, ReapInterval: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	srv := api.NewServer(c, api.ServerOptions{Token: token})
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	url := "http://" + addr.String() + "/api"
	// Our own transport, so that its idle connections can be closed and
	// leave no goroutine behind for the leak check.
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	client, err := api.NewClient(url, token, api.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		t.Fatal(err)
	}
	return c, url, client
}

func allDone(c *coord.Coordinator, ids ...string) bool {
	for _, id := range ids {
		j, err := c.Get(context.Background(), id)
		if err != nil || j.Stage != coord.StageDone {
			return false
		}
	}
	return true
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}
