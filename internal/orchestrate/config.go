package orchestrate

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// Modes of the scenario.
const (
	ModeStub = "stub" // start our own coordinator as a child process
	ModeReal = "real" // drive a live coordinator at Config.API
)

// Config is everything the scenario needs, resolved from flags and the
// environment by the command line.
type Config struct {
	Mode   string
	Binary string // the twofactory-tui binary to start children with

	Jobs      int
	JobSleep  time.Duration // engine work per job
	Timeout   time.Duration // bound on each wait of the stub scenario, and on the drain
	Poll      time.Duration // factories' wait between claims when idle
	Factories [2]string     // victim first

	// Lease and Renew: in stub mode, the lease our coordinator grants and the
	// factories' heartbeat ceiling; in real mode Renew only.
	Lease time.Duration
	Renew time.Duration

	Keep bool
	Dir  string // run directory; "" means a new temp directory

	// Real mode.
	API        string
	Token      string
	Product    string
	SubmitPath string
	ReapWait   time.Duration
	DrainWait  time.Duration

	Bug coord.Bug // stub mode: start the coordinator with this bug
}

// ErrConfig marks a configuration error (exit code 2).
var ErrConfig = errors.New("bad configuration")

// Validate checks cfg and returns an ErrConfig naming the first problem.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Mode != ModeStub && c.Mode != ModeReal:
		return bad("mode %q (want stub or real)", c.Mode)
	case c.Jobs < 2 || c.Jobs > 1000:
		return bad("--jobs %d (want 2 to 1000: two factories need two jobs at once)", c.Jobs)
	case c.Factories[0] == c.Factories[1]:
		return bad("both factories are called %q; give them distinct ids", c.Factories[0])
	case c.Timeout <= 0:
		return bad("--timeout must be above zero")
	case c.Poll <= 0:
		return bad("--poll must be above zero")
	case c.JobSleep <= 0:
		return bad("--job-sleep must be above zero: a factory must be mid-job when it is killed")
	}
	for _, id := range c.Factories {
		if err := coord.CheckID("factory id", id); err != nil {
			return bad("%v", err)
		}
	}
	if c.Product != "" {
		if err := coord.CheckID("product", c.Product); err != nil {
			return bad("%v", err)
		}
	}
	// A run directory that already holds a run would hand the coordinator
	// the old run's jobs, and the judge would read the old history.
	if ents, err := os.ReadDir(c.Dir); c.Dir != "" && err == nil && len(ents) > 0 {
		return bad("--dir %s is not empty (it holds %s); give a new or empty directory "+
			"for each run", c.Dir, ents[0].Name())
	}
	if c.Mode == ModeStub {
		return c.validateStub(bad)
	}
	return c.validateReal(bad)
}

func (c Config) validateStub(bad func(string, ...any) error) error {
	switch {
	case c.Lease <= 0:
		return bad("--lease must be above zero")
	case c.Renew <= 0 || c.Renew*2 > c.Lease:
		return bad("--renew %v must be above zero and at most half the lease %v, "+
			"or a live factory loses its lease between heartbeats", c.Renew, c.Lease)
	case c.Binary == "":
		return bad("no twofactory-tui binary to start the children with")
	}
	return nil
}

func (c Config) validateReal(bad func(string, ...any) error) error {
	if c.API == "" {
		return bad("real mode needs --api (AQ_FLEET_API)")
	}
	u, err := url.Parse(c.API)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("--api %q is not an http(s) URL", c.API)
	}
	switch {
	case c.ReapWait <= 0 || c.DrainWait <= 0:
		return bad("--reap-wait and --drain-wait must be above zero")
	case c.Renew <= 0:
		return bad("--renew must be above zero")
	case c.SubmitPath == "" || c.SubmitPath[0] != '/':
		return bad("--submit-path %q must start with /", c.SubmitPath)
	case c.Binary == "":
		return bad("no twofactory-tui binary to start the factories with")
	}
	return nil
}
