package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/coord/api"
)

// fleetOptions are the fleet command's settings after parsing.
type fleetOptions struct {
	apiURL, token, products, host, work, engine string
	renew, sleep, poll                          *time.Duration
}

func fleetFlags(fs *envFlags) *fleetOptions {
	o := &fleetOptions{}
	fs.StringVar(&o.apiURL, "api", "", "coordinator base URL, e.g. http://127.0.0.1:4003/api "+
		"(required)")
	fs.StringVar(&o.token, "token", "", "bearer token (handed to the daemons in their "+
		"environment, never on their command line)")
	fs.StringVar(&o.products, "products", "", "comma-separated products: one factory daemon "+
		"each, claiming only that product's jobs (required)")
	fs.StringVar(&o.host, "host", "", "host part of the factory ids <host>-<product> "+
		"(default: this machine's short host name)")
	fs.StringVar(&o.work, "work", "fleet-work", "parent of the daemons' work directories "+
		"(WORK/<id>: shipped/, quarantine/, log-<id>.txt)")
	fs.StringVar(&o.engine, "engine", "", "engine command of every daemon (see factory --help)")
	o.renew = secondsFlag(fs.FlagSet, "renew", 30*time.Second,
		"heartbeat ceiling; each daemon renews every min(this, lease/3)")
	o.sleep = secondsFlag(fs.FlagSet, "job-sleep", 2*time.Second, "built-in engine's work per job")
	o.poll = secondsFlag(fs.FlagSet, "poll", time.Second, "daemons' wait between claims when idle")
	for flag, env := range map[string]string{"api": "AQ_FLEET_API", "token": "AQ_FLEET_TOKEN",
		"renew": "AQ_FLEET_LEASE_RENEW_SEC", "job-sleep": "DEMO_JOB_SLEEP", "poll": "DEMO_POLL"} {
		fs.bindEnv(flag, env)
	}
	return o
}

// fleetMember is one daemon the fleet runs.
type fleetMember struct {
	id, product, work string
	cmd               *exec.Cmd
	exited            chan struct{} // closed once the daemon was waited for
	err               error         // its exit; read only after exited closed
	output            chan struct{} // closed once its output reached EOF
}

func runFleet(args []string, io stdio) error {
	fs := newEnvFlags("twofactory-tui fleet", io.env)
	o := fleetFlags(fs)
	fs.SetOutput(io.err)
	fs.Usage = func() { fmt.Fprint(io.out, fleetUsage+fs.FlagUsagesWrapped(100)) }
	if err := fs.parse(args); err != nil {
		return err
	}
	members, err := o.plan(fs)
	if err != nil {
		return err
	}
	if err := o.reach(); err != nil {
		return err
	}

	// Signals are caught before any daemon starts, so none is left behind
	// by a Ctrl-C that lands during start-up.
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sig)
	logs := &lineWriter{w: io.err}
	for _, m := range members {
		if err := o.start(m, logs); err != nil {
			stopFleet(members, syscall.SIGKILL)
			waitFleet(members)
			return err
		}
		fmt.Fprintf(io.err, "fleet: started %s (pid %d) for product %s in %s\n",
			m.id, m.cmd.Process.Pid, m.product, m.work)
	}
	return superviseFleet(members, sig, io)
}

// plan turns the flags into one member per product.
func (o *fleetOptions) plan(fs *envFlags) ([]*fleetMember, error) {
	switch {
	case fs.NArg() > 0:
		return nil, usageError("unexpected argument %q", fs.Arg(0))
	case o.apiURL == "" || o.products == "":
		return nil, usageError("fleet needs --api and --products")
	}
	host := o.host
	if host == "" {
		host = shortHost()
	}
	var members []*fleetMember
	seen := map[string]bool{}
	for p := range strings.SplitSeq(o.products, ",") {
		p = strings.TrimSpace(p)
		id := host + "-" + p
		switch {
		case !coord.ValidID(p) || !coord.ValidID(id):
			return nil, usageError("--products: %q does not make a valid factory id %q", p, id)
		case seen[p]:
			return nil, usageError("--products: %q is named twice", p)
		}
		seen[p] = true
		members = append(members, &fleetMember{id: id, product: p,
			work: filepath.Join(o.work, id), exited: make(chan struct{}),
			output: make(chan struct{})})
	}
	return members, nil
}

// shortHost is this machine's host name up to the first dot, with anything
// an id may not hold replaced, so that it can prefix factory ids.
func shortHost() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "host"
	}
	h, _, _ = strings.Cut(h, ".")
	return strings.Map(func(r rune) rune {
		if r < 0x80 && (r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' ||
			r >= 'A' && r <= 'Z') {
			return r
		}
		return '-'
	}, h)
}

// reach asks the coordinator once, so that a wrong address or token is one
// clear line instead of a fleet of daemons failing each in its own way.
func (o *fleetOptions) reach() error {
	cl, err := api.NewClient(o.apiURL, o.token)
	if err != nil {
		return usageError("--api: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A job that does not exist is the cheapest question that still needs
	// the token: 404 means the coordinator is there and lets us in.
	if _, err := cl.Get(ctx, "fleet-probe"); err != nil && !errors.Is(err, coord.ErrNotFound) {
		if errors.Is(err, coord.ErrUnauthorized) {
			return fmt.Errorf("%s refused the token (HTTP 401): check --token or "+
				"AQ_FLEET_TOKEN", o.apiURL)
		}
		return fmt.Errorf("cannot reach the coordinator at %s: %w", o.apiURL, err)
	}
	return nil
}

// start launches m's daemon in its own process group: a Ctrl-C in the
// terminal then reaches the fleet alone, which hands it on once, instead of
// every daemon also taking it as its own (two signals mean "stop now").
func (o *fleetOptions) start(m *fleetMember, logs *lineWriter) error {
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	args := []string{"factory", "--id", m.id, "--api", o.apiURL, "--work", m.work,
		"--product", m.product, "--renew", o.renew.String(), "--job-sleep", o.sleep.String(),
		"--poll", o.poll.String()}
	if o.engine != "" {
		args = append(args, "--engine", o.engine)
	}
	m.cmd = exec.Command(bin, args...)
	m.cmd.Env = append(os.Environ(), "AQ_FLEET_TOKEN="+o.token)
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start factory %s: %w", m.id, err)
	}
	m.cmd.Stdout, m.cmd.Stderr = w, w
	err = m.cmd.Start()
	w.Close() // the daemon holds its own copy; EOF comes when it (and its executors) exit
	if err != nil {
		r.Close()
		return fmt.Errorf("start factory %s: %w", m.id, err)
	}
	go func() { defer close(m.output); logs.copyLines(m.id, r) }()
	go func() { m.err = m.cmd.Wait(); close(m.exited) }()
	return nil
}

// superviseFleet waits for a signal or for a daemon to end on its own. A
// signal is handed on to every daemon (the first: finish the current job;
// a second: stop now). A daemon that ends unasked stops the whole fleet,
// so a broken member is seen rather than silently missing.
func superviseFleet(members []*fleetMember, sig <-chan os.Signal, io stdio) error {
	died := make(chan *fleetMember, len(members))
	for _, m := range members {
		go func() { <-m.exited; died <- m }()
	}
	var first error
	select {
	case s := <-sig:
		fmt.Fprintf(io.err, "fleet: %v: asking every daemon to finish its job and stop\n", s)
	case m := <-died:
		first = fmt.Errorf("factory %s ended on its own (%v); stopped the fleet", m.id, m.err)
	}
	stopFleet(members, syscall.SIGTERM)
	over := make(chan struct{})
	defer close(over)
	go func() {
		select {
		case <-sig:
			fmt.Fprintln(io.err, "fleet: second signal: stopping every daemon now")
			stopFleet(members, syscall.SIGTERM)
		case <-over:
		}
	}()
	errs := waitFleet(members)
	if first != nil {
		return first
	}
	if errs != nil {
		return fmt.Errorf("fleet stop: %w", errs)
	}
	return nil
}

// stopFleet sends s to every member's process group still running.
func stopFleet(members []*fleetMember, s syscall.Signal) {
	for _, m := range members {
		if m.cmd != nil && m.cmd.Process != nil {
			_ = syscall.Kill(-m.cmd.Process.Pid, s)
		}
	}
}

// waitFleet waits for every started member and joins their failures. It
// also lets each one's last output lines through, for a short while: an
// executor left running could hold the pipe open for good.
func waitFleet(members []*fleetMember) error {
	var errs []error
	for _, m := range members {
		if m.cmd == nil || m.cmd.Process == nil {
			continue
		}
		<-m.exited
		if m.err != nil {
			errs = append(errs, fmt.Errorf("factory %s: %w", m.id, m.err))
		}
	}
	grace := time.After(2 * time.Second)
	for _, m := range members {
		if m.cmd == nil || m.cmd.Process == nil {
			continue
		}
		select {
		case <-m.output:
		case <-grace:
		}
	}
	return errors.Join(errs...)
}

// lineWriter interleaves the daemons' output whole lines at a time, each
// prefixed with its daemon's id.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// copyLines copies r to the writer as "<id>: <line>" lines until EOF.
func (l *lineWriter) copyLines(id string, r io.ReadCloser) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l.mu.Lock()
		fmt.Fprintf(l.w, "%s: %s\n", id, sc.Text())
		l.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r) // after a line too long: keep the daemon unblocked
}

const fleetUsage = `Usage: twofactory-tui fleet --api URL --products a,b [flags]

Runs a local fleet: one factory daemon per product, with ids <host>-<product>,
each claiming only its product's jobs from the coordinator at --api. Each
daemon renews its leases every min(--renew, lease/3), well under the lease
the coordinator grants. SIGTERM or Ctrl-C: every daemon finishes its current
job and stops; a second signal stops them at once. If one daemon ends on its
own, the fleet stops the others and exits 3.

Flags:
`
