package factory

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestExecArgsRoundTrip(t *testing.T) {
	t.Setenv(TokenEnv, "")
	full := ExecConfig{
		Factory: "mac-1", JobID: "job-7", Epoch: 3, APIURL: "http://127.0.0.1:4003/api",
		Engine: `echo "a b" > "$JOB_OUT/x"; exit 0`, JobSleep: 1500 * time.Millisecond,
		WorkDir: "/w", ShippedDir: "/w/s", QuarantineDir: "/w/q", LogPath: "/w/l.txt",
		Payload: "--looks-like-a-flag = and spaces",
	}
	tests := []struct {
		name string
		c    ExecConfig
	}{
		{"every field", full},
		{"built-in engine, empty payload", func() ExecConfig {
			c := full
			c.Engine, c.Payload = "", ""
			return c
		}()},
		{"payload with newline and unicode", func() ExecConfig {
			c := full
			c.Payload = "line1\nline2 ünï"
			return c
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := ExecArgs(tt.c)
			if args[0] != ExecCommand {
				t.Fatalf("args[0] = %q, want %q", args[0], ExecCommand)
			}
			for _, in := range [][]string{args, args[1:]} {
				got, err := ParseExecArgs(in)
				if err != nil {
					t.Fatalf("ParseExecArgs(%q): %v", in, err)
				}
				if got != tt.c {
					t.Fatalf("round trip:\n got %+v\nwant %+v", got, tt.c)
				}
			}
		})
	}
}

func TestExecArgsKeepTokenOffTheCommandLine(t *testing.T) {
	c := ExecConfig{Factory: "f", JobID: "j", Epoch: 1, WorkDir: "/w", Token: "s3cret"}
	hasToken := func(a string) bool { return strings.Contains(a, "s3cret") }
	if slices.ContainsFunc(ExecArgs(c), hasToken) {
		t.Fatalf("token on the command line: %q", ExecArgs(c))
	}
	if !slices.Contains(execEnv(c), TokenEnv+"=s3cret") {
		t.Fatal("token not in the executor's environment")
	}
	t.Setenv(TokenEnv, "s3cret")
	got, err := ParseExecArgs(ExecArgs(c))
	if err != nil || got.Token != "s3cret" {
		t.Fatalf("token from env: %q, %v", got.Token, err)
	}
	got, err = ParseExecArgs(append(ExecArgs(c), "--token=flag-wins"))
	if err != nil || got.Token != "flag-wins" {
		t.Fatalf("token from flag: %q, %v", got.Token, err)
	}
}

func TestParseExecArgsDefaults(t *testing.T) {
	got, err := ParseExecArgs([]string{"--factory=f", "--job=j", "--epoch=2", "--work=/w"})
	if err != nil {
		t.Fatal(err)
	}
	if got.ShippedDir != "/w/shipped" || got.QuarantineDir != "/w/quarantine" ||
		got.LogPath != "/w/log-f.txt" || got.JobSleep != DefaultJobSleep {
		t.Fatalf("defaults: %+v", got)
	}
}

func TestParseExecArgsErrors(t *testing.T) {
	base := []string{"--factory=f", "--job=j", "--epoch=1", "--work=/w"}
	with := func(extra ...string) []string { return append(slices.Clone(base), extra...) }
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", with("--bogus=1"), "unknown flag"},
		{"stray argument", with("extra"), "unexpected argument"},
		{"bad epoch", with("--epoch=x"), "epoch"},
		{"zero epoch", with("--epoch=0"), "epoch must be positive"},
		{"no job", []string{"--factory=f", "--epoch=1", "--work=/w"}, "job"},
		{"path in job id", with("--job=../etc"), "job"},
		{"bad factory", with("--factory=a/b"), "factory"},
		{"no work dir", []string{"--factory=f", "--job=j", "--epoch=1"}, "no work dir"},
		{"negative sleep", with("--job-sleep=-1s"), "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseExecArgs(tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want error with %q, got %v", tt.want, err)
			}
		})
	}
}

func TestExecMainUsageError(t *testing.T) {
	var stderr bytes.Buffer
	code := ExecMain(context.Background(), []string{ExecCommand, "--nope"}, dialRPC, &stderr)
	if code != ExitUsage || !strings.Contains(stderr.String(), "unknown flag") {
		t.Fatalf("code %d, stderr %q", code, stderr.String())
	}
}
