package factory

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// engineWaitDelay bounds how long a cancelled shell engine may keep running
// after its SIGTERM before it is killed, so that a stop never hangs on an
// engine that ignores the signal.
const engineWaitDelay = 2 * time.Second

// runEngine does the job's work into dir: the built-in engine when
// c.Engine is empty, else c.Engine under sh -c. The engine's own output
// goes to w. When ctx is cancelled the engine is stopped and ctx's error
// is returned.
func runEngine(ctx context.Context, c ExecConfig, dir string, w io.Writer) error {
	if c.Engine == "" {
		return builtinEngine(ctx, c, dir)
	}
	return shellEngine(ctx, c, dir, w)
}

// builtinEngine stands in for an agent run: it waits JobSleep, then writes
// result.txt naming the job, the epoch and the factory, which is enough for
// a reader of shipped/ to see who produced what.
func builtinEngine(ctx context.Context, c ExecConfig, dir string) error {
	if !sleepCtx(ctx, c.JobSleep) {
		return ctx.Err()
	}
	body := fmt.Sprintf("job=%s epoch=%d factory=%s payload=%q\n",
		c.JobID, c.Epoch, c.Factory, c.Payload)
	if err := os.WriteFile(filepath.Join(dir, "result.txt"), []byte(body), 0o644); err != nil {
		return fmt.Errorf("built-in engine: %w", err)
	}
	return nil
}

// shellEngine runs the configured command in dir with the job's variables.
// It stays in the executor's process group, so that a SIGTERM or SIGKILL
// the daemon sends to the group reaches the engine and its children too.
func shellEngine(ctx context.Context, c ExecConfig, dir string, w io.Writer) error {
	cmd := exec.CommandContext(ctx, "sh", "-c", c.Engine)
	cmd.Dir = dir
	cmd.Env = append(engineEnv(),
		"JOB_ID="+c.JobID,
		"JOB_EPOCH="+strconv.FormatUint(c.Epoch, 10),
		"JOB_OUT="+dir,
		"JOB_PAYLOAD="+c.Payload,
	)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = engineWaitDelay
	err := cmd.Run()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("engine %q: %w", c.Engine, err)
	}
	return nil
}

// engineEnv is the executor's environment without the fleet's token: the
// engine is the job's work, not a fleet member, and must not be able to
// report (or forge reports) for any job.
func engineEnv() []string {
	env := os.Environ()
	return slices.DeleteFunc(env, func(kv string) bool {
		return strings.HasPrefix(kv, TokenEnv+"=") || strings.HasPrefix(kv, ctlEnv+"=")
	})
}
