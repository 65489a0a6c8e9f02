package factory

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

// The control channel between a daemon and its executor exists for one
// question, asked once per job: "I am about to report done; is your
// heartbeat quiet?". Without it a renew could reach the coordinator just
// after the accepted done and be refused (the job is no longer held), which
// logs a FENCE event for the winner: harmless, but it would put a false
// zombie in the audit trail that the demo judges from. The daemon answers
// once its heartbeat has stopped and no renew is in flight.
//
// The channel is a Unix socket pair; the executor gets its end as fd 3 and
// learns so from ctlEnv. An executor whose daemon is gone (the zombie) gets
// EOF or an error at once and reports without waiting, and one whose daemon
// is slow waits at most ctlWait, so the channel can delay a report but never
// block it.
//
// Once quiet, the lease is no longer renewed, so done must land within what
// is left of it. It does unless the coordinator is unreachable for that
// long; then the late done is fenced and the output quarantined, which is
// the safe way for that race to go.
const (
	ctlEnv      = "TWOFACTORY_EXEC_CTL"
	ctlChildFD  = 3
	ctlAsk      = "done?\n"
	ctlGo       = "go\n"
	ctlWait     = 2 * time.Second
	ctlFileName = "executor-ctl"
)

// ctlPair makes the socket pair: the daemon's end as a net.Conn (whose
// Close interrupts a blocked read) and the child's end as a file for
// exec.Cmd.ExtraFiles, which the daemon closes once the child has started.
func ctlPair() (net.Conn, *os.File, error) {
	// ForkLock keeps another goroutine's fork from inheriting the fds in the
	// moment before they are marked close-on-exec.
	syscall.ForkLock.RLock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, fmt.Errorf("control socket: %w", err)
	}
	parent := os.NewFile(uintptr(fds[0]), ctlFileName)
	conn, err := net.FileConn(parent)
	parent.Close() // FileConn holds its own dup
	if err != nil {
		syscall.Close(fds[1])
		return nil, nil, fmt.Errorf("control socket: %w", err)
	}
	return conn, os.NewFile(uintptr(fds[1]), ctlFileName), nil
}

// ctlChildEnv is the environment entry that tells the executor where its
// end of the channel is.
func ctlChildEnv() string { return ctlEnv + "=" + strconv.Itoa(ctlChildFD) }

// serveCtl answers the executor's questions on conn until it closes: for
// each ask it calls quiet, which returns once the heartbeat is stopped, and
// then says go.
func serveCtl(conn net.Conn, quiet func()) {
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if line == ctlAsk {
			quiet()
			if _, err := conn.Write([]byte(ctlGo)); err != nil {
				return
			}
		}
	}
}

// ctlClient is the executor's end, or nil when it runs without a daemon.
type ctlClient struct {
	conn net.Conn
}

// openCtl finds the channel from ctlEnv. It returns nil (no channel) when
// the variable is unset or the fd is unusable: the executor then simply
// reports without asking.
func openCtl() *ctlClient {
	v := os.Getenv(ctlEnv)
	if v == "" {
		return nil
	}
	// The engine must not inherit the variable or the fd: neither means
	// anything to it, and the fd would keep the socket open after we exit.
	os.Unsetenv(ctlEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil
	}
	syscall.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), ctlFileName)
	conn, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil
	}
	return &ctlClient{conn: conn}
}

// askQuiet asks the daemon to quiet its heartbeat and waits for the go, for
// at most ctlWait. The answer does not change what happens next, only when,
// so the error is for the log alone.
func (c *ctlClient) askQuiet() error {
	if c == nil {
		return nil
	}
	if err := c.conn.SetDeadline(time.Now().Add(ctlWait)); err != nil {
		return fmt.Errorf("control channel: %w", err)
	}
	if _, err := c.conn.Write([]byte(ctlAsk)); err != nil {
		return fmt.Errorf("control channel: %w", err)
	}
	line, err := bufio.NewReader(c.conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("control channel: %w", err)
	}
	if line != ctlGo {
		return errors.New("control channel: unexpected answer " + strconv.Quote(line))
	}
	return nil
}

// Close releases the channel.
func (c *ctlClient) Close() error {
	if c == nil {
		return nil
	}
	return c.conn.Close()
}
