package factory

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigValidation(t *testing.T) {
	f := newFake(time.Second)
	ok := Config{ID: "mac-1", Service: f, APIURL: "http://127.0.0.1:1/api", WorkDir: t.TempDir()}
	tests := []struct {
		name  string
		tweak func(*Config)
		want  string // "" = valid
	}{
		{"valid", func(c *Config) {}, ""},
		{"bad id", func(c *Config) { c.ID = "../mac" }, "factory id"},
		{"empty id", func(c *Config) { c.ID = "" }, "factory id"},
		{"bad product", func(c *Config) { c.Product = "a b" }, "product"},
		{"no service", func(c *Config) { c.Service = nil }, "no coordinator Service"},
		{"no work dir", func(c *Config) { c.WorkDir = "" }, "no work dir"},
		{"no api url", func(c *Config) { c.APIURL = "" }, "no API URL"},
		{"api url not needed with ExecArgv", func(c *Config) {
			c.APIURL = ""
			c.ExecArgv = testExecArgv
		}, ""},
		{"negative renew", func(c *Config) { c.Renew = -time.Second }, "renew -1s is negative"},
		{"negative poll", func(c *Config) { c.Poll = -1 }, "poll"},
		{"negative job sleep", func(c *Config) { c.JobSleep = -1 }, "job sleep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.tweak(&c)
			_, err := c.withDefaults()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want ErrConfig mentioning %q, got %v", tt.want, err)
			}
		})
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	err := Run(context.Background(), Config{ID: "no/slash", WorkDir: t.TempDir()})
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("Run: want ErrConfig, got %v", err)
	}
}

func TestConfigDefaults(t *testing.T) {
	dir := t.TempDir()
	c, err := Config{ID: "mac-1", Service: newFake(time.Second), APIURL: "x", WorkDir: dir}.
		withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"shipped", c.ShippedDir, filepath.Join(dir, "shipped")},
		{"quarantine", c.QuarantineDir, filepath.Join(dir, "quarantine")},
		{"log", c.LogPath, filepath.Join(dir, "log-mac-1.txt")},
		{"job sleep", c.JobSleep.String(), DefaultJobSleep.String()},
		{"poll", c.Poll.String(), DefaultPoll.String()},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	if c.Logger == nil || c.ExecArgv == nil {
		t.Error("Logger and ExecArgv must get defaults")
	}
}

func TestHeartbeatEvery(t *testing.T) {
	tests := []struct {
		renew, ttl, want time.Duration
	}{
		{0, 90 * time.Second, 30 * time.Second},                // TTL/3 by default
		{30 * time.Second, 90 * time.Second, 30 * time.Second}, // the fleet's usual
		{10 * time.Second, 90 * time.Second, 10 * time.Second}, // Renew caps it
		{time.Minute, 90 * time.Second, 30 * time.Second},      // never above TTL/3
		{2 * time.Second, time.Second, time.Second / 3},        // Renew >= lease
		{0, 2 * time.Millisecond, time.Millisecond},            // floor: never a busy loop
	}
	for _, tt := range tests {
		got := Config{Renew: tt.renew}.heartbeatEvery(tt.ttl)
		if got != tt.want {
			t.Errorf("Renew %v, TTL %v: every %v, want %v", tt.renew, tt.ttl, got, tt.want)
		}
	}
}
