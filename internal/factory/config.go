package factory

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// Defaults applied by Run to zero Config fields.
const (
	// DefaultJobSleep stands in for an agent run (DEMO_JOB_SLEEP).
	DefaultJobSleep = 2 * time.Second
	// DefaultPoll is the wait between claims while nothing is queued
	// (DEMO_POLL): short enough that a demo feels live, long enough that an
	// idle fleet of a few factories costs the coordinator little.
	DefaultPoll = 200 * time.Millisecond
	// DefaultStopGrace is how long a stopped executor may take to quarantine
	// its output and exit after SIGTERM before its group gets SIGKILL. It
	// covers a done patch already in flight (see RunExecutor).
	DefaultStopGrace = 5 * time.Second
)

// Config is what a factory daemon needs. ID, Service and WorkDir are
// required, and APIURL too when ExecArgv is nil (the executor child reports
// to the coordinator itself). Zero durations and paths take the defaults
// documented on each field.
type Config struct {
	// ID is the factory id, the holder name in every lease (coord.ValidID).
	ID string
	// Service reaches the coordinator: the HTTP client in production.
	Service coord.Service
	// APIURL and Token are passed to the executor child so that it can make
	// its own reports. The token travels in the child's environment
	// (AQ_FLEET_TOKEN), never on its command line, where ps would show it.
	APIURL, Token string
	// Product limits claims to this product's jobs; "" claims any job.
	Product string
	// WorkDir is the factory's scratch directory, created if missing.
	WorkDir string
	// ShippedDir defaults to WorkDir/shipped.
	ShippedDir string
	// QuarantineDir defaults to WorkDir/quarantine.
	QuarantineDir string
	// LogPath defaults to WorkDir/log-<ID>.txt.
	LogPath string
	// Engine is "" for the built-in engine (sleep JobSleep, write a result
	// file), else a command run with sh -c and the environment JOB_ID,
	// JOB_EPOCH, JOB_OUT (the directory to write results in) and
	// JOB_PAYLOAD. A non-zero exit fails the job.
	Engine string
	// JobSleep is the built-in engine's work time; default DefaultJobSleep.
	JobSleep time.Duration
	// Poll is the wait between claims when nothing is queued; default
	// DefaultPoll.
	Poll time.Duration
	// Renew caps the heartbeat interval (AQ_FLEET_LEASE_RENEW_SEC). The
	// interval used is min(Renew, TTL/3) for the TTL of each lease; zero means
	// TTL/3.
	Renew time.Duration
	// ExecArgv builds the executor's command line, argv[0] being the binary.
	// Nil means os.Executable() followed by ExecArgs.
	ExecArgv func(ExecConfig) []string
	// Hard, when closed, stops the daemon at once: the executor gets SIGTERM
	// (and quarantines its output), the job is released, and Run returns.
	// Cancelling Run's context is the graceful stop: the current job
	// finishes first. A front end closes Hard on a second signal.
	Hard <-chan struct{}
	// Logger receives the daemon's own diagnostics; job lines go to LogPath.
	// Nil means a text logger on stderr.
	Logger *slog.Logger

	// stopGrace overrides DefaultStopGrace in tests.
	stopGrace time.Duration
}

// ErrConfig is wrapped by every configuration error Run returns.
var ErrConfig = errors.New("factory config")

// withDefaults validates c and returns it with defaults filled in and the
// directories made absolute, so that the executor child, which may resolve
// paths from another working directory, sees the same places.
func (c Config) withDefaults() (Config, error) {
	if err := c.validate(); err != nil {
		return c, err
	}
	work, err := filepath.Abs(c.WorkDir)
	if err != nil {
		return c, fmt.Errorf("%w: work dir %q: %w", ErrConfig, c.WorkDir, err)
	}
	c.WorkDir = work
	c.ShippedDir = absOr(c.ShippedDir, filepath.Join(work, "shipped"))
	c.QuarantineDir = absOr(c.QuarantineDir, filepath.Join(work, "quarantine"))
	c.LogPath = absOr(c.LogPath, filepath.Join(work, "log-"+c.ID+".txt"))
	c.JobSleep = durOr(c.JobSleep, DefaultJobSleep)
	c.Poll = durOr(c.Poll, DefaultPoll)
	c.stopGrace = durOr(c.stopGrace, DefaultStopGrace)
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if c.ExecArgv == nil {
		c.ExecArgv = selfArgv
	}
	return c, nil
}

func (c Config) validate() error {
	var errs []error
	if err := coord.CheckID("factory id", c.ID); err != nil {
		errs = append(errs, err)
	}
	if c.Product != "" {
		if err := coord.CheckID("product", c.Product); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Service == nil {
		errs = append(errs, errors.New("no coordinator Service"))
	}
	if c.WorkDir == "" {
		errs = append(errs, errors.New("no work dir"))
	}
	if c.ExecArgv == nil && c.APIURL == "" {
		errs = append(errs, errors.New("no API URL for the executor to report to"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"job sleep", c.JobSleep}, {"poll", c.Poll}, {"renew", c.Renew}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %v is negative", d.name, d.v))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
	}
	return nil
}

// heartbeatEvery is the renew interval for a lease of length ttl: a third of
// it, so that two renews in a row can fail and the third still lands in
// time, and never more than Renew when that is set.
func (c Config) heartbeatEvery(ttl time.Duration) time.Duration {
	every := ttl / 3
	if c.Renew > 0 && c.Renew < every {
		every = c.Renew
	}
	return max(every, time.Millisecond)
}

// execConfig is the executor's configuration for one grant.
func (c Config) execConfig(g coord.Grant) ExecConfig {
	return ExecConfig{
		Factory:       c.ID,
		JobID:         g.Job.ID,
		Epoch:         g.Lease.Epoch,
		APIURL:        c.APIURL,
		Token:         c.Token,
		Engine:        c.Engine,
		JobSleep:      c.JobSleep,
		WorkDir:       c.WorkDir,
		ShippedDir:    c.ShippedDir,
		QuarantineDir: c.QuarantineDir,
		LogPath:       c.LogPath,
		Payload:       g.Job.Payload,
	}
}

// selfArgv starts the executor as this same binary's exec-job subcommand.
// If the executable cannot be found, argv[0] is left empty and the launch
// fails with a clear error rather than running some other program.
func selfArgv(c ExecConfig) []string {
	exe, err := os.Executable()
	if err != nil {
		exe = ""
	}
	return append([]string{exe}, ExecArgs(c)...)
}

func absOr(p, def string) string {
	if p == "" {
		return def
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

func durOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
