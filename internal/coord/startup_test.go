package coord

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// Start-up after a crash with a 1,000,000-event log, measured, with and
// without the checkpoint. It takes a minute and a few hundred MB of disk,
// so it runs only when asked:
//
//	TWOFACTORY_STARTUP=1 go test -run TestStartupAfterCrash -v ./internal/coord
//
// The log is 100,000 jobs of ten events each (SUBMIT, CLAIM, seven RENEWs,
// PATCH:done), or 10,000 jobs of a hundred, written with AppendLine. One
// Open and Close of the first 990,000 events checkpoints them; the last
// 10,000 are the events a crash leaves after the last checkpoint. Each
// measured Open runs in a child process (this test binary again) that is
// SIGKILLed once it has recovered, so no Close ever tidies the directory
// between runs.
func TestStartupAfterCrash(t *testing.T) {
	if os.Getenv("TWOFACTORY_STARTUP") == "" {
		t.Skip("set TWOFACTORY_STARTUP=1 to measure start-up after a crash")
	}
	for _, shape := range []struct{ jobs, perJob int }{{100_000, 10}, {10_000, 100}} {
		t.Run(fmt.Sprintf("jobs=%d/events-per-job=%d", shape.jobs, shape.perJob),
			func(t *testing.T) { measureStartup(t, shape.jobs, shape.perJob) })
	}
}

// measureStartup writes jobs*perJob events, checkpoints all but the last
// 10,000, and times recovery with and without the checkpoint.
func measureStartup(t *testing.T, jobs, perJob int) {
	tailJobs := 10_000 / perJob
	dir := t.TempDir()
	path := filepath.Join(dir, "events.log")
	writeEvents(t, path, 0, jobs-tailJobs, perJob)
	c, err := Open(dir, Options{NoBackground: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil { // checkpoints every job so far
		t.Fatal(err)
	}
	writeEvents(t, path, jobs-tailJobs, jobs, perJob)
	mark, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("events.log: %d events; checkpoint: %s", jobs*perJob, mark)

	with := measureOpens(t, dir, 5)
	if err := os.Remove(filepath.Join(dir, "checkpoint")); err != nil {
		t.Fatal(err)
	}
	without := measureOpens(t, dir, 5)
	t.Logf("Open from the checkpoint: median %v (%d job files, %d lines replayed), runs %v",
		median(with), jobs-tailJobs, 10_000, with)
	t.Logf("Open from line 1:         median %v (%d lines replayed), runs %v",
		median(without), jobs*perJob, without)
}

// writeEvents appends the events of jobs [from, to) to path, each job's
// perJob events in a row.
func writeEvents(t *testing.T, path string, from, to, perJob int) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	seq := uint64(from * perJob)
	var line []byte
	for i := from; i < to; i++ {
		id := fmt.Sprintf("j%07d", i)
		for k := range perJob {
			seq++
			now := t0.Add(time.Duration(seq) * time.Millisecond)
			e := Event{Seq: seq, Time: now, Job: id, Factory: "mac-1", Epoch: 1,
				After: JobState{Stage: StageClaimed, Holder: "mac-1", Epoch: 1,
					ExpiresAt: now.Add(90 * time.Second)}}
			switch k {
			case 0:
				e.Type, e.Factory, e.After = EvSubmit, "", JobState{Stage: StageQueued, Epoch: 1}
			case 1:
				e.Type = EvClaim
			case perJob - 1:
				e.Type = EvPatch
				e.After.Stage, e.After.ExpiresAt = StageDone, time.Time{}
			default:
				e.Type = EvRenew
			}
			line = AppendLine(line[:0], e)
			if _, err := w.Write(line); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// measureOpens runs n child processes that each Open dir and report how
// long recovery took, and returns those durations.
func measureOpens(t *testing.T, dir string, n int) []time.Duration {
	var out []time.Duration
	for range n {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStartupChild$")
		cmd.Env = append(os.Environ(), "TWOFACTORY_STARTUP_CHILD="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var rec Recovery
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if err := json.Unmarshal(sc.Bytes(), &rec); err == nil && rec.Took > 0 {
				break
			}
		}
		_ = cmd.Process.Kill() // the crash: no Close, no checkpoint
		_ = cmd.Wait()
		if rec.Took == 0 {
			t.Fatal("child reported no recovery")
		}
		out = append(out, rec.Took.Round(time.Millisecond))
	}
	return out
}

// TestStartupChild is the child of measureOpens: it opens the directory,
// prints the Recovery as JSON and waits to be killed.
func TestStartupChild(t *testing.T) {
	dir := os.Getenv("TWOFACTORY_STARTUP_CHILD")
	if dir == "" {
		t.Skip("only run as a child of TestStartupAfterCrash")
	}
	c, err := Open(dir, Options{NoBackground: true})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(c.Recovery())
	fmt.Println(string(data))
	select {} // killed by the parent
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
