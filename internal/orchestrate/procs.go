package orchestrate

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// child is a process the scenario started, in a process group of its own so
// that stopping it stops whatever it started too.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and been reaped
	err  error         // its exit status, once done
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// exited reports whether the child has exited.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// procSet owns every process of a run: the children it starts and the
// orphaned executors it adopts. Its stop kills process groups, not single
// pids, and waits for each, so nothing outlives the run.
type procSet struct {
	mu       sync.Mutex
	children []*child
	groups   map[int]bool // extra process groups to stop (adopted executors)
}

func newProcSet() *procSet { return &procSet{groups: map[int]bool{}} }

// becomeSubreaper makes this process the reaper of its orphaned
// descendants: when a factory daemon is killed, its executor is re-parented
// here rather than to init, so the scenario can stop and reap it.
func becomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", err)
	}
	return nil
}

// startWithLine starts argv in its own process group, its output appended
// to logPath, and waits (until ctx is done) for the child's
// stderr to print a line starting with prefix and returns the rest of it.
// The coordinator announces its bound address this way.
func (p *procSet) startWithLine(ctx context.Context, name string, argv []string,
	logPath, prefix string) (*child, string, error) {
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, "", fmt.Errorf("start %s: %w", name, err)
	}
	pr, pw := io.Pipe()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, io.MultiWriter(logf, pw)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c, err := p.launch(name, cmd, logf, pw)
	if err != nil {
		return nil, "", err
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), prefix); ok {
				found <- strings.TrimSpace(rest)
				break
			}
		}
		// Keep draining so that the child never blocks on a full pipe.
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case line := <-found:
		return c, line, nil
	case <-c.done:
		return nil, "", fmt.Errorf("%s exited before it was ready (%v); see %s", name, c.err,
			logPath)
	case <-ctx.Done():
		return nil, "", fmt.Errorf("%s did not get ready: %w", name, ctx.Err())
	}
}

func (p *procSet) launch(name string, cmd *exec.Cmd, closers ...io.Closer) (*child, error) {
	if err := cmd.Start(); err != nil {
		for _, c := range closers {
			c.Close()
		}
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	p.mu.Lock()
	p.children = append(p.children, c)
	p.mu.Unlock()
	go func() {
		c.err = cmd.Wait()
		for _, cl := range closers {
			cl.Close()
		}
		close(c.done)
	}()
	return c, nil
}

// adopt records an extra process group to stop at the end (an executor whose
// daemon was killed).
func (p *procSet) adopt(pgid int) {
	p.mu.Lock()
	p.groups[pgid] = true
	p.mu.Unlock()
}

// stopAll stops every process of the run: SIGTERM to each group, up to
// grace for them to go, then SIGKILL, then a wait for every child and the
// reaping of every adopted orphan. Safe to call more than once.
func (p *procSet) stopAll(grace time.Duration) {
	p.mu.Lock()
	children := append([]*child(nil), p.children...)
	var groups []int
	for g := range p.groups {
		groups = append(groups, g)
	}
	p.mu.Unlock()
	for _, c := range children {
		groups = append(groups, c.pid())
	}

	signalGroups(groups, syscall.SIGCONT) // a stopped process cannot act on SIGTERM
	// Twice: a factory daemon takes its first SIGTERM as "finish the current
	// job" and its second as "stop now" (release the job, stop the executor).
	signalGroups(groups, syscall.SIGTERM)
	signalGroups(groups, syscall.SIGTERM)
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	for _, c := range children {
		select {
		case <-c.done:
		case <-deadline.C:
		}
	}
	signalGroups(groups, syscall.SIGKILL)
	for _, c := range children {
		<-c.done
	}
	reapOrphans()
}

func signalGroups(groups []int, sig syscall.Signal) {
	for _, g := range groups {
		if g > 0 {
			_ = syscall.Kill(-g, sig)
		}
	}
}

// reapOrphans kills and reaps every process still parented to this one
// that no exec.Cmd owns: orphans adopted as subreaper. Their groups were
// already signalled; anything left (an executor started after the pid file
// was read, say) is found in /proc, so that none is left running or as a
// zombie entry.
func reapOrphans() {
	for _, pid := range childPids() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(pid, &ws, 0, nil)
			if !errors.Is(err, unix.EINTR) {
				break
			}
		}
	}
}

// childPids lists the pids whose parent is this process, from /proc.
func childPids() []int {
	self := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name (field 2) may hold spaces; fields after its ')'
		// are: state, ppid, ...
		i := strings.LastIndexByte(string(stat), ')')
		f := strings.Fields(string(stat[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(self) {
			out = append(out, pid)
		}
	}
	return out
}

// waitPid waits for an adopted process (not started through exec) to exit.
// It returns an error if the process is not this process's child.
func waitPid(ctx context.Context, pid int) (unix.WaitStatus, error) {
	type result struct {
		ws  unix.WaitStatus
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(pid, &ws, 0, nil)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			ch <- result{ws, err}
			return
		}
	}()
	select {
	case r := <-ch:
		return r.ws, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// startEnv is start with extra environment variables (a token, which must
// not appear on a command line where ps shows it).
func (p *procSet) startEnv(name string, argv []string, logPath string, env []string) (*child,
	error) {
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return p.launch(name, cmd, logf)
}
