package factory

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// TestRunExecutor runs the executor in-process against the fake, one case
// per ending, and checks the three things that must agree: the outcome,
// where the output went, and what the coordinator was told.
func TestRunExecutor(t *testing.T) {
	type setup func(f *fakeCoord, cancel context.CancelFunc, c ExecConfig)
	onStage := func(stage coord.Stage, do func(f *fakeCoord)) setup {
		return func(f *fakeCoord, _ context.CancelFunc, _ ExecConfig) {
			f.afterPatch = func(r coord.Report) error {
				if r.Stage == stage {
					do(f)
				}
				return nil
			}
		}
	}
	tests := []struct {
		name      string
		engine    string
		setup     setup
		want      Outcome
		wantErr   bool
		wantDone  int      // accepted done patches at epoch 1
		wantLog   []string // events that must be in the log
		wantStage []coord.Stage
	}{
		{name: "ships", want: Shipped, wantDone: 1, wantLog: []string{"stage", "ship"},
			wantStage: []coord.Stage{coord.StageRunning, coord.StageVerifying, coord.StageDone}},
		{name: "fenced at running",
			setup: func(f *fakeCoord, _ context.CancelFunc, _ ExecConfig) {
				f.reassign("j1", "ubuntu-1")
			},
			want: Fenced, wantLog: []string{"fence", "quarantine"}},
		{name: "fenced at done",
			setup: onStage(coord.StageVerifying, func(f *fakeCoord) {
				f.reassign("j1", "ubuntu-1")
			}),
			want: Fenced, wantLog: []string{"fence", "quarantine"},
			wantStage: []coord.Stage{coord.StageRunning, coord.StageVerifying}},
		{name: "done answer lost, then repeated",
			setup: func(f *fakeCoord, _ context.CancelFunc, _ ExecConfig) {
				lost := false
				f.afterPatch = func(r coord.Report) error {
					if r.Stage == coord.StageDone && !lost {
						lost = true
						return errors.New("read tcp: connection reset by peer")
					}
					return nil
				}
			},
			want: Shipped, wantDone: 2, wantLog: []string{"patch-failed", "ship"}},
		{name: "running throttled, then accepted",
			setup: func(f *fakeCoord, _ context.CancelFunc, _ ExecConfig) {
				n := 0
				f.beforePatch = func(r coord.Report) error {
					if n++; n <= 2 {
						return &throttle{kind: coord.ErrThrottled, after: 20 * time.Millisecond}
					}
					return nil
				}
			},
			want: Shipped, wantDone: 1, wantLog: []string{"patch-failed", "ship"}},
		{name: "bad request is not retried",
			setup: func(f *fakeCoord, _ context.CancelFunc, _ ExecConfig) {
				f.beforePatch = func(r coord.Report) error { return coord.ErrBadRequest }
			},
			want: Failed, wantErr: true, wantLog: []string{"fail", "quarantine"}},
		{name: "engine fails", engine: "echo boom >&2; exit 3",
			want: Failed, wantErr: true, wantLog: []string{"fail", "quarantine"},
			wantStage: []coord.Stage{coord.StageRunning, coord.StageFailed}},
		{name: "stopped mid-engine", engine: `touch "$JOB_OUT/started"; exec sleep 30`,
			setup: func(f *fakeCoord, cancel context.CancelFunc, c ExecConfig) {
				go func() {
					deadline := time.Now().Add(20 * time.Second)
					started := filepath.Join(c.outDir(), "started")
					for !exists(started) && time.Now().Before(deadline) {
						time.Sleep(5 * time.Millisecond)
					}
					cancel()
				}()
			},
			want: Stopped, wantLog: []string{"stop", "quarantine"},
			wantStage: []coord.Stage{coord.StageRunning}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, c := claimedJob(t)
			c.Engine = tt.engine
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.setup != nil {
				tt.setup(f, cancel, c)
			}

			got, err := RunExecutor(ctx, c, f)

			if got != tt.want || (err != nil) != tt.wantErr {
				t.Fatalf("RunExecutor = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
			checkOutput(t, c, got == Shipped)
			if n := f.patched(coord.StageDone, 1, true); n != tt.wantDone {
				t.Errorf("%d accepted done patches, want %d", n, tt.wantDone)
			}
			for _, ev := range tt.wantLog {
				if len(logLines(t, c.LogPath, ev, "job=j1", "epoch=1")) == 0 {
					t.Errorf("no %q line in log:\n%s", ev, readFile(t, c.LogPath))
				}
			}
			for _, st := range tt.wantStage {
				if f.patched(st, 1, true) == 0 {
					t.Errorf("stage %s was not accepted", st)
				}
			}
		})
	}
}

// claimedJob is a fake holding j1 for mac-1 at epoch 1 and the executor
// configuration for it, with a quick built-in engine.
func claimedJob(t *testing.T) (*fakeCoord, ExecConfig) {
	t.Helper()
	f := newFake(time.Minute, "j1")
	f.claimFor(t, "mac-1")
	dir := t.TempDir()
	c := ExecConfig{
		Factory: "mac-1", JobID: "j1", Epoch: 1, JobSleep: 10 * time.Millisecond,
		WorkDir: dir, ShippedDir: filepath.Join(dir, "shipped"),
		QuarantineDir: filepath.Join(dir, "quarantine"), LogPath: filepath.Join(dir, "log.txt"),
		Payload: "p",
	}
	return f, c
}

// checkOutput asserts the output is in exactly one place: shipped/<job>
// when shipped, else quarantine/<job>@epoch=<N>; never left in out/.
func checkOutput(t *testing.T, c ExecConfig, shipped bool) {
	t.Helper()
	if exists(c.outDir()) {
		t.Errorf("output left in %s", c.outDir())
	}
	if got := exists(c.shippedPath()); got != shipped {
		t.Errorf("shipped/%s exists = %v, want %v", c.JobID, got, shipped)
	}
	if got := exists(c.quarantinePath()); got == shipped {
		t.Errorf("%s exists = %v, want %v", c.quarantinePath(), got, !shipped)
	}
	if shipped && c.Engine == "" {
		body := readFile(t, filepath.Join(c.shippedPath(), "result.txt"))
		if !strings.Contains(body, "job=j1 epoch=1 factory=mac-1") {
			t.Errorf("result.txt = %q", body)
		}
	}
}

func TestRunExecutorRejectsBadConfig(t *testing.T) {
	_, c := claimedJob(t)
	c.JobID = "../../etc"
	o, err := RunExecutor(context.Background(), c, newFake(time.Second))
	if o != Failed || err == nil {
		t.Fatalf("got %v, %v; want Failed with an error", o, err)
	}
	if _, err := os.Stat(filepath.Join(c.WorkDir, "out")); err == nil {
		t.Fatal("a rejected config must not create directories")
	}
}
