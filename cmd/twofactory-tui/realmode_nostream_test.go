package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/twofactory/twofactory/internal/orchestrate"
)

// noStreamProxy stands in front of a coordinator on loopback and answers
// 404 to its event stream, as a server that never had one would; every
// other request goes through. refused counts the event requests turned
// away, so the test knows the stream was asked for and never reached.
type noStreamProxy struct {
	next    http.Handler
	refused atomic.Int64
}

func (p *noStreamProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.TrimSuffix(r.URL.Path, "/") == "/api/fleet/events" {
		p.refused.Add(1)
		http.NotFound(w, r)
		return
	}
	p.next.ServeHTTP(w, r)
}

// startNoStreamProxy returns the API base URL of a proxy to the coordinator
// at apiURL (ending in /api) that has no event stream.
func startNoStreamProxy(t *testing.T, apiURL string) (*noStreamProxy, string) {
	t.Helper()
	target, err := url.Parse(strings.TrimSuffix(apiURL, "/api"))
	if err != nil {
		t.Fatal(err)
	}
	p := &noStreamProxy{next: httputil.NewSingleHostReverseProxy(target)}
	srv := httptest.NewServer(p) // httptest listens on 127.0.0.1
	t.Cleanup(srv.Close)
	return p, srv.URL + "/api"
}

// TestRealModeNoEventStream: against a server with no event stream real
// mode says so, judges from job states, passes against a sound coordinator,
// and carries the caveat into --json.
func TestRealModeNoEventStream(t *testing.T) {
	t.Parallel()
	coordProc, coordURL, _ := startCoordinator(t, "--token", "sekrit", "--lease", "1.5s",
		"--reap-interval", "100ms")
	proxy, url := startNoStreamProxy(t, coordURL)
	jsonPath := filepath.Join(t.TempDir(), "results.json")
	d := startDemo(t, []string{"--headless", "--json", jsonPath}, "DEMO_MODE=real",
		"AQ_FLEET_API="+url, "AQ_FLEET_TOKEN=sekrit", "DEMO_REAP_WAIT=10")
	code := d.wait()
	out := d.stdout()
	if code != exitOK {
		t.Fatalf("real mode without a stream: exit %d, want 0; stderr %q\n%s", code,
			d.stderrText(), out)
	}
	checkInOrder(t, out, "has no event stream", "judged from job states",
		"reached the live coordinator at "+url, "PARALLELISM observed", "reaper reclaimed",
		`FENCED: its executor exited "fenced"`, "http=409", "VERDICT: PASS",
		"note: no event stream")
	if proxy.refused.Load() == 0 {
		t.Error("the proxy never refused an event request: the stream was not asked for")
	}

	res := readResults(t, jsonPath)
	if !res.Pass || res.Note != orchestrate.NoStreamNote {
		t.Errorf("--json: pass=%v note=%q, want pass and the no-stream note", res.Pass, res.Note)
	}
	if len(res.Violations) != 0 {
		t.Errorf("violations %v without a checker", res.Violations)
	}
	d.checkNoneLeft(false)
	stopProc(t, coordProc, "coordinator")
}
