package main

import (
	"bytes"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/twofactory/twofactory/internal/orchestrate"
)

// fakeEnv is an environment for in-process runs that also records every
// name the code asked for.
type fakeEnv struct {
	vars  map[string]string
	asked map[string]bool
}

func newFakeEnv(kv ...string) *fakeEnv {
	e := &fakeEnv{vars: map[string]string{}, asked: map[string]bool{}}
	for i := 0; i+1 < len(kv); i += 2 {
		e.vars[kv[i]] = kv[i+1]
	}
	return e
}

func (e *fakeEnv) lookup(name string) (string, bool) {
	e.asked[name] = true
	v, ok := e.vars[name]
	return v, ok
}

// resolveDemo parses args against env as the demo does, without running it.
func resolveDemo(t *testing.T, args []string, env *fakeEnv) (orchestrate.Config, error) {
	t.Helper()
	fs := newEnvFlags("twofactory-tui", env.lookup)
	fs.SetOutput(&bytes.Buffer{})
	resolve := demoFlags(fs)
	if err := fs.parse(args); err != nil {
		return orchestrate.Config{}, err
	}
	cfg, _, err := resolve()
	return cfg, err
}

// TestDemoConfigPrecedence: for each knob, the default with nothing set, the
// environment over the default, and the flag over the environment.
func TestDemoConfigPrecedence(t *testing.T) {
	real := []string{"AQ_FLEET_API", "http://127.0.0.1:1/api", "AQ_FLEET_TOKEN", "t0ken"}
	cases := []struct {
		name string
		args []string
		env  []string
		get  func(orchestrate.Config) any
		want any
	}{
		{"sleep default", nil, nil, sleepOf, 2 * time.Second},
		{"sleep env", nil, []string{"DEMO_JOB_SLEEP", "0.2"}, sleepOf, 200 * time.Millisecond},
		{"sleep flag", []string{"--job-sleep", "1.5s"}, []string{"DEMO_JOB_SLEEP", "0.2"},
			sleepOf, 1500 * time.Millisecond},
		{"timeout default", nil, nil, timeoutOf, time.Minute},
		{"timeout env", nil, []string{"DEMO_TIMEOUT", "2"}, timeoutOf, 2 * time.Second},
		{"timeout flag", []string{"--timeout=7"}, []string{"DEMO_TIMEOUT", "2"}, timeoutOf,
			7 * time.Second},
		{"victim default", nil, nil, victimOf, "mac-1"},
		{"victim env", nil, []string{"DEMO_FACTORY_1", "box-a"}, victimOf, "box-a"},
		{"victim flag", []string{"--factory-1", "box-b"}, []string{"DEMO_FACTORY_1", "box-a"},
			victimOf, "box-b"},
		{"keep default", nil, nil, keepOf, false},
		{"keep env", nil, []string{"DEMO_KEEP", "1"}, keepOf, true},
		{"keep flag", []string{"--keep=false"}, []string{"DEMO_KEEP", "1"}, keepOf, false},
		{"mode default", nil, nil, modeOf, orchestrate.ModeStub},
		{"mode api without token", nil, real[:2], modeOf, orchestrate.ModeStub},
		{"mode real by default", nil, real, modeOf, orchestrate.ModeReal},
		{"mode env", nil, append([]string{"DEMO_MODE", "stub"}, real...), modeOf,
			orchestrate.ModeStub},
		{"mode flag", []string{"--mode", "real"}, append([]string{"DEMO_MODE", "stub"}, real...),
			modeOf, orchestrate.ModeReal},
		{"renew real default", nil, real, renewOf, 30 * time.Second},
		{"renew real env", nil, append([]string{"AQ_FLEET_LEASE_RENEW_SEC", "4"}, real...),
			renewOf, 4 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := resolveDemo(t, c.args, newFakeEnv(c.env...))
			if err != nil {
				t.Fatalf("resolve %v with %v: %v", c.args, c.env, err)
			}
			if got := c.get(cfg); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func sleepOf(c orchestrate.Config) any   { return c.JobSleep }
func timeoutOf(c orchestrate.Config) any { return c.Timeout }
func victimOf(c orchestrate.Config) any  { return c.Factories[0] }
func keepOf(c orchestrate.Config) any    { return c.Keep }
func modeOf(c orchestrate.Config) any    { return c.Mode }
func renewOf(c orchestrate.Config) any   { return c.Renew }

func TestParseSeconds(t *testing.T) {
	good := map[string]time.Duration{
		"2": 2 * time.Second, "0.2": 200 * time.Millisecond, "1.5s": 1500 * time.Millisecond,
		"200ms": 200 * time.Millisecond, " 3 ": 3 * time.Second, "0": 0,
	}
	for in, want := range good {
		if got, err := parseSeconds(in); err != nil || got != want {
			t.Errorf("parseSeconds(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"abc", "-1", "-0.5", "-2s", "", "1e12", "2 s"} {
		if got, err := parseSeconds(in); err == nil {
			t.Errorf("parseSeconds(%q) = %v, want an error", in, got)
		}
	}
}

// TestBadUsageExits2: each bad input exits 2 with exactly one line on
// stderr that names the problem, nothing on stdout, and no stack trace.
// The run is in-process: a usage error is found before anything starts.
func TestBadUsageExits2(t *testing.T) {
	nonEmptyDir := t.TempDir()
	if err := os.WriteFile(nonEmptyDir+"/old", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		env  []string
		says string
	}{
		{"timeout abc", nil, []string{"DEMO_TIMEOUT", "abc"}, `DEMO_TIMEOUT="abc"`},
		{"sleep env negative", nil, []string{"DEMO_JOB_SLEEP", "-1"}, "negative"},
		{"sleep flag negative", []string{"--job-sleep=-1"}, nil, "negative"},
		{"sleep zero", []string{"--job-sleep", "0"}, nil, "--job-sleep must be above zero"},
		{"same ids env", nil, []string{"DEMO_FACTORY_1", "a-1", "DEMO_FACTORY_2", "a-1"},
			`both factories are called "a-1"`},
		{"same ids flag", []string{"--factory-2", "mac-1"}, nil, "both factories"},
		{"unknown flag", []string{"--bogus"}, nil, "unknown flag: --bogus"},
		{"unknown command", []string{"frobnicate"}, nil, `unknown command "frobnicate"`},
		{"bogus bug", []string{"--inject-bug", "bogus"}, nil, `"bogus"`},
		{"bug in real mode", []string{"--mode", "real", "--api", "http://127.0.0.1:1/api",
			"--inject-bug", "no-fence"}, nil, "needs stub mode"},
		{"stray argument", []string{"--headless", "extra"}, nil, `unexpected argument "extra"`},
		{"keep not bool", nil, []string{"DEMO_KEEP", "maybe"}, "DEMO_KEEP"},
		{"dir not empty", []string{"--dir", nonEmptyDir}, nil, "is not empty"},
		{"coordinator extra", []string{"coordinator", "--dir", "x", "extra"}, nil,
			`unexpected argument "extra"`},
		{"factory extra", []string{"factory", "--id", "f", "--api", "http://127.0.0.1:1/api",
			"--work", "w", "extra"}, nil, `unexpected argument "extra"`},
		{"bench extra", []string{"bench", "extra"}, nil, `unexpected argument "extra"`},
		{"coordinator bad listen", []string{"coordinator", "--dir", "x", "--listen",
			"127.0.0.1:99999"}, nil, `--listen "127.0.0.1:99999"`},
		{"bench zero jobs", []string{"bench", "--jobs", "0"}, nil, "above zero"},
		{"bench zero clients", []string{"bench", "--clients", "4,0"}, nil, "above zero"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			io := stdio{in: strings.NewReader(""), out: &out, err: &errb,
				env: newFakeEnv(c.env...).lookup}
			code := run(c.args, io)
			checkUsageFailure(t, code, out.String(), errb.String(), c.says)
		})
	}
}

func checkUsageFailure(t *testing.T, code int, stdout, stderr, says string) {
	t.Helper()
	if code != exitUsage {
		t.Errorf("exit %d, want %d; stderr %q", code, exitUsage, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout %q, want nothing", stdout)
	}
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "twofactory-tui: ") {
		t.Errorf("stderr is not one twofactory-tui: line: %q", stderr)
	}
	if !strings.Contains(stderr, says) {
		t.Errorf("stderr %q does not say %q", stderr, says)
	}
	if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
		t.Errorf("stack trace on stderr: %q", stderr)
	}
}

// TestHelpTellsTheTruth compares --help with the code: every flag it shows
// is defined, every flag defined is shown, and every environment name it
// mentions is one the code reads (asked of the environment while resolving
// the configuration, in stub and in real mode), and the other way round.
func TestHelpTellsTheTruth(t *testing.T) {
	var out, errb bytes.Buffer
	env := newFakeEnv()
	code := run([]string{"--help"}, stdio{in: strings.NewReader(""), out: &out, err: &errb,
		env: env.lookup})
	if code != exitOK {
		t.Fatalf("--help exit %d, want 0; stderr %q", code, errb.String())
	}
	help := out.String() + errb.String()
	if strings.Contains(help, "twofactory-tui: ") {
		t.Errorf("--help printed an error line:\n%s", help)
	}

	fs := newEnvFlags("twofactory-tui", env.lookup)
	demoFlags(fs)
	shown := uniq(regexp.MustCompile(`(?m)^\s+--([a-z0-9-]+)`).FindAllStringSubmatch(help, -1))
	var defined []string
	fs.VisitAll(func(fl *pflag.Flag) { defined = append(defined, fl.Name) })
	slices.Sort(defined)
	if !slices.Equal(shown, defined) {
		t.Errorf("--help shows flags %v, the code defines %v", shown, defined)
	}

	read := envNamesRead(t)
	mentioned := uniq(regexp.MustCompile(`\b((?:DEMO|AQ)_[A-Z0-9_]+|NO_COLOR)\b`).
		FindAllStringSubmatch(help, -1))
	for _, name := range mentioned {
		if !read[name] {
			t.Errorf("--help names %s, which the code never reads", name)
		}
	}
	for name := range fs.env {
		if env := fs.env[name]; !slices.Contains(mentioned, env) {
			t.Errorf("--%s reads %s, which --help does not name", name, env)
		}
	}
}

// envNamesRead is every environment name the demo's configuration asks
// for, in stub mode and in real mode, plus NO_COLOR, which runDemo reads
// itself once the configuration is resolved.
func envNamesRead(t *testing.T) map[string]bool {
	t.Helper()
	stub := newFakeEnv()
	if _, err := resolveDemo(t, nil, stub); err != nil {
		t.Fatal(err)
	}
	realEnv := newFakeEnv("AQ_FLEET_API", "http://127.0.0.1:1/api", "AQ_FLEET_TOKEN", "x")
	if _, err := resolveDemo(t, nil, realEnv); err != nil {
		t.Fatal(err)
	}
	read := map[string]bool{"NO_COLOR": true}
	for _, e := range []*fakeEnv{stub, realEnv} {
		for name := range e.asked {
			read[name] = true
		}
	}
	return read
}

func uniq(matches [][]string) []string {
	var out []string
	for _, m := range matches {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	slices.Sort(out)
	return out
}
