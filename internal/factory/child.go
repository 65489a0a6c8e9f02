package factory

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// child is a running executor process, leader of its own process group.
type child struct {
	cmd    *exec.Cmd
	pid    int
	exited chan struct{} // closed once Wait returned; cmd.ProcessState is set
}

// startChild starts argv in a new process group with env, its stdout and
// stderr on out, its stdin on /dev/null, and extra as fds 3 and up.
//
// Its own group is what lets the executor outlive the daemon: a SIGKILL of
// the daemon, or a Ctrl-C the terminal sends to the daemon's foreground
// group, does not reach it. It also lets the daemon stop the executor and
// every engine process under it with one signal to the group.
//
// out is a file rather than the daemon's stderr because an orphaned
// executor outlives whoever reads that stderr; writing to a pipe with no
// reader would kill it with SIGPIPE before it could make its report.
func startChild(argv, env []string, out *os.File, extra ...*os.File) (*child, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("start executor: no executable")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start executor %s: %w", argv[0], err)
	}
	c := &child{cmd: cmd, pid: cmd.Process.Pid, exited: make(chan struct{})}
	go func() {
		// The error is the exit status, which ProcessState also holds.
		_ = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// stop asks the executor to stop with SIGTERM, and kills its whole group
// with SIGKILL if it has not exited after grace, then waits for it.
//
// The SIGTERM goes to the executor alone, not its group: signalled
// together, the engine could die first and the executor would see a failed
// engine before it saw its own signal, reporting a stop as a job failure.
// Alone, the executor notices the stop first and ends its engine itself.
// Signals to processes that are already gone fail with ESRCH, which is the
// outcome stop wants anyway.
func (c *child) stop(grace time.Duration) {
	_ = syscall.Kill(c.pid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.exited:
		return
	case <-t.C:
	}
	_ = syscall.Kill(-c.pid, syscall.SIGKILL)
	<-c.exited
}

// sweep kills what is left of the executor's group once the executor has
// been waited for: engine processes that outlived it must not outlive the
// job. The group id cannot be taken by a new group while any of them is
// alive, and with none alive the kill finds nothing.
func (c *child) sweep() {
	_ = syscall.Kill(-c.pid, syscall.SIGKILL)
}

// status describes how the child ended: its exit code (-1 when a signal
// ended it), the Outcome that code stands for (0 when none does), and a
// label for the log.
func (c *child) status() (code int, o Outcome, label string) {
	st := c.cmd.ProcessState
	code = st.ExitCode()
	if o, ok := OutcomeOf(code); ok {
		return code, o, o.String()
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return code, 0, "signal:" + ws.Signal().String()
	}
	return code, 0, "crashed"
}
