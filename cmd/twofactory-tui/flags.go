package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// errUsage marks an error as bad usage or configuration: exit code 2.
var errUsage = errors.New("usage")

// usageError wraps err so that main exits with code 2.
func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// envFlags is a pflag.FlagSet whose flags fall back to environment
// variables: a flag given on the command line beats the environment, which
// beats the default. The environment name is shown in --help.
type envFlags struct {
	*pflag.FlagSet
	env    map[string]string // flag name -> env name
	lookup func(string) (string, bool)
}

func newEnvFlags(name string, lookup func(string) (string, bool)) *envFlags {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SortFlags = false
	if lookup == nil {
		lookup = os.LookupEnv
	}
	return &envFlags{FlagSet: fs, env: map[string]string{}, lookup: lookup}
}

// bindEnv records that flag name falls back to the environment variable env
// and adds the name to the flag's help text.
func (f *envFlags) bindEnv(name, env string) {
	f.env[name] = env
	fl := f.Lookup(name)
	fl.Usage += fmt.Sprintf(" [env %s]", env)
}

// parse parses args, then fills every flag not given on the command line
// from its environment variable. A bad value in either is a usage error
// naming where it came from.
func (f *envFlags) parse(args []string) error {
	if err := f.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err // --help: usage printed, exit 0
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	var err error
	f.VisitAll(func(fl *pflag.Flag) {
		env, ok := f.env[fl.Name]
		if !ok || fl.Changed || err != nil {
			return
		}
		v, set := f.lookup(env)
		if !set || v == "" {
			return
		}
		if serr := fl.Value.Set(v); serr != nil {
			err = usageError("%s=%q: %v", env, v, serr)
		}
	})
	return err
}

// given reports whether flag name was set, by flag or by environment.
func (f *envFlags) given(name string) bool {
	if fl := f.Lookup(name); fl != nil && fl.Changed {
		return true
	}
	if env, ok := f.env[name]; ok {
		v, set := f.lookup(env)
		return set && v != ""
	}
	return false
}

// seconds is a duration flag that also takes bare seconds, as the fleet's
// environment variables always have: "2" and "0.2" are seconds, "1.5s" and
// "200ms" are Go durations. Negative values are refused.
type seconds time.Duration

func secondsFlag(fs *pflag.FlagSet, name string, def time.Duration, usage string) *time.Duration {
	p := new(time.Duration)
	*p = def
	fs.Var((*seconds)(p), name, usage)
	return p
}

func (s *seconds) String() string { return time.Duration(*s).String() }

func (s *seconds) Type() string { return "duration" }

func (s *seconds) Set(v string) error {
	d, err := parseSeconds(v)
	if err != nil {
		return err
	}
	*s = seconds(d)
	return nil
}

func parseSeconds(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	var d time.Duration
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f > 1e9 {
			return 0, fmt.Errorf("%q seconds is too long", v)
		}
		d = time.Duration(f * float64(time.Second))
	} else if d, err = time.ParseDuration(v); err != nil {
		return 0, fmt.Errorf("%q is not a duration (want seconds like 2 or 0.2, or 1.5s)", v)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", v)
	}
	return d, nil
}

// boolish is a bool flag that also reads the environment's 0/1.
type boolish bool

func boolishFlag(fs *pflag.FlagSet, name string, usage string) *bool {
	p := new(bool)
	fl := fs.VarPF((*boolish)(p), name, "", usage)
	fl.NoOptDefVal = "true"
	return p
}

func (b *boolish) String() string { return strconv.FormatBool(bool(*b)) }

func (b *boolish) Type() string { return "bool" }

func (b *boolish) Set(v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		*b = true
	case "0", "false", "no", "off", "":
		*b = false
	default:
		return fmt.Errorf("%q is not a boolean (want 1 or 0)", v)
	}
	return nil
}
