package factory

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/twofactory/twofactory/internal/coord"
)

// ExecCommand is the hidden subcommand that runs one job's executor.
const ExecCommand = "exec-job"

// TokenEnv is the environment variable that carries the API token to the
// executor (and that existing fleets already use for it).
const TokenEnv = "AQ_FLEET_TOKEN"

// ExecConfig is everything one executor run needs: which job at which
// epoch, where to report, what engine to run, and where its output goes.
type ExecConfig struct {
	// Factory and JobID name the holder and the job; Epoch is the epoch the
	// claim granted, which every report carries.
	Factory, JobID string
	Epoch          uint64
	// APIURL and Token reach the coordinator (see Dialer).
	APIURL, Token string
	// Engine and JobSleep are as in Config.
	Engine   string
	JobSleep time.Duration
	// WorkDir holds out/<job>@<epoch>; the others are as in Config.
	WorkDir       string
	ShippedDir    string
	QuarantineDir string
	LogPath       string
	// Payload is the job's payload, given to the engine as JOB_PAYLOAD.
	Payload string
}

// ExecArgs is the executor's command line without argv[0]: ExecCommand
// followed by one --name=value flag per field. The token is left out on
// purpose (any local user can read a command line); the daemon passes it
// as TokenEnv in the child's environment, and ParseExecArgs reads it there.
func ExecArgs(c ExecConfig) []string {
	return []string{
		ExecCommand,
		"--factory=" + c.Factory,
		"--job=" + c.JobID,
		"--epoch=" + strconv.FormatUint(c.Epoch, 10),
		"--api=" + c.APIURL,
		"--engine=" + c.Engine,
		"--job-sleep=" + c.JobSleep.String(),
		"--work=" + c.WorkDir,
		"--shipped=" + c.ShippedDir,
		"--quarantine=" + c.QuarantineDir,
		"--log=" + c.LogPath,
		"--payload=" + c.Payload,
	}
}

// ParseExecArgs is the inverse of ExecArgs. A leading ExecCommand is
// skipped, so it takes the arguments either with or after the subcommand.
// The token comes from --token if given, else from TokenEnv. Factory, job,
// a positive epoch and the work dir are required; shipped, quarantine and
// log default as in Config.
func ParseExecArgs(args []string) (ExecConfig, error) {
	if len(args) > 0 && args[0] == ExecCommand {
		args = args[1:]
	}
	var c ExecConfig
	fs := pflag.NewFlagSet(ExecCommand, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.Factory, "factory", "", "factory id")
	fs.StringVar(&c.JobID, "job", "", "job id")
	fs.Uint64Var(&c.Epoch, "epoch", 0, "the granted epoch")
	fs.StringVar(&c.APIURL, "api", "", "coordinator API base URL")
	fs.StringVar(&c.Token, "token", "", "API token (default $"+TokenEnv+")")
	fs.StringVar(&c.Engine, "engine", "", "engine command; empty = built-in")
	fs.DurationVar(&c.JobSleep, "job-sleep", DefaultJobSleep, "built-in engine work time")
	fs.StringVar(&c.WorkDir, "work", "", "work dir")
	fs.StringVar(&c.ShippedDir, "shipped", "", "shipped dir")
	fs.StringVar(&c.QuarantineDir, "quarantine", "", "quarantine dir")
	fs.StringVar(&c.LogPath, "log", "", "log file")
	fs.StringVar(&c.Payload, "payload", "", "job payload")
	if err := fs.Parse(args); err != nil {
		return c, fmt.Errorf("%s: %w", ExecCommand, err)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("%s: unexpected argument %q", ExecCommand, fs.Arg(0))
	}
	if c.Token == "" {
		c.Token = os.Getenv(TokenEnv)
	}
	if err := c.check(); err != nil {
		return c, fmt.Errorf("%s: %w", ExecCommand, err)
	}
	c.ShippedDir = absOr(c.ShippedDir, filepath.Join(c.WorkDir, "shipped"))
	c.QuarantineDir = absOr(c.QuarantineDir, filepath.Join(c.WorkDir, "quarantine"))
	c.LogPath = absOr(c.LogPath, filepath.Join(c.WorkDir, "log-"+c.Factory+".txt"))
	return c, nil
}

// check rejects a configuration RunExecutor cannot act on safely: the ids
// become path components, so they must be valid ids, and epoch 0 is never
// granted.
func (c ExecConfig) check() error {
	var errs []error
	if err := coord.CheckID("factory", c.Factory); err != nil {
		errs = append(errs, err)
	}
	if err := coord.CheckID("job", c.JobID); err != nil {
		errs = append(errs, err)
	}
	if c.Epoch == 0 {
		errs = append(errs, errors.New("epoch must be positive"))
	}
	if c.WorkDir == "" {
		errs = append(errs, errors.New("no work dir"))
	}
	if c.JobSleep < 0 {
		errs = append(errs, fmt.Errorf("job sleep %v is negative", c.JobSleep))
	}
	return errors.Join(errs...)
}

// execEnv is the executor's environment: the daemon's, plus the token.
func execEnv(c ExecConfig) []string {
	env := os.Environ()
	if c.Token != "" {
		env = append(env, TokenEnv+"="+c.Token)
	}
	return env
}

// outDir is where the engine writes: WorkDir/out/<job>@<epoch>.
func (c ExecConfig) outDir() string {
	return filepath.Join(c.WorkDir, "out", c.JobID+"@"+strconv.FormatUint(c.Epoch, 10))
}

// shippedPath is where accepted output goes: ShippedDir/<job>.
func (c ExecConfig) shippedPath() string { return filepath.Join(c.ShippedDir, c.JobID) }

// quarantinePath is where every other output goes:
// QuarantineDir/<job>@epoch=<N>.
func (c ExecConfig) quarantinePath() string {
	return filepath.Join(c.QuarantineDir, c.JobID+"@epoch="+strconv.FormatUint(c.Epoch, 10))
}
