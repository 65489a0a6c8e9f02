package main

import (
	"testing"
)

// Real mode as a user runs it: `twofactory-tui coordinator` started on its
// own with a token and a short lease, then the demo pointed at it with
// DEMO_MODE=real, AQ_FLEET_API and AQ_FLEET_TOKEN, relying on that server's
// reaper.

// TestRealModePasses: against a sound coordinator the scenario passes.
func TestRealModePasses(t *testing.T) {
	t.Parallel()
	coordProc, url, _ := startCoordinator(t, "--token", "sekrit", "--lease", "1.5s",
		"--reap-interval", "100ms")
	d := startDemo(t, []string{"--headless"}, "DEMO_MODE=real", "AQ_FLEET_API="+url,
		"AQ_FLEET_TOKEN=sekrit", "DEMO_REAP_WAIT=10")
	code := d.wait()
	out := d.stdout()
	if code != exitOK {
		t.Fatalf("real mode: exit %d, want 0; stderr %q\n%s", code, d.stderrText(), out)
	}
	checkInOrder(t, out, "mode=real", "reached the live coordinator at "+url,
		"PARALLELISM observed", "reaper reclaimed", `FENCED \(HTTP 409\)`, "VERDICT: PASS")
	d.checkNoneLeft(false)
	stopProc(t, coordProc, "coordinator")
}

// TestRealModeCannotRun: a wrong token, an address nobody listens on and
// a server whose lease outlasts DEMO_REAP_WAIT each end in one clear line
// and exit 3, with no process left behind.
func TestRealModeCannotRun(t *testing.T) {
	t.Parallel()
	short, shortURL, _ := startCoordinator(t, "--token", "sekrit", "--lease", "1.5s")
	long, longURL, _ := startCoordinator(t, "--token", "sekrit", "--lease", "30s")
	cases := []struct {
		name, url, token, says string
	}{
		{"wrong token", shortURL, "wrong", "refused the token (HTTP 401)"},
		{"unreachable", "http://" + freePort(t) + "/api", "sekrit", "cannot reach"},
		{"lease too long", longURL, "sekrit", "longer than DEMO_REAP_WAIT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := startDemo(t, []string{"--headless"}, "DEMO_MODE=real", "AQ_FLEET_API="+c.url,
				"AQ_FLEET_TOKEN="+c.token, "DEMO_REAP_WAIT=5")
			d.checkCouldNotRun(c.says)
		})
	}
	stopProc(t, short, "coordinator")
	stopProc(t, long, "coordinator")
}
