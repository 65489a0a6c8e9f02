package factory

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// childClient turns the child's end of a pair into the executor's client,
// as openCtl does from the inherited fd.
func childClient(t *testing.T, f *os.File) *ctlClient {
	t.Helper()
	conn, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	return &ctlClient{conn: conn}
}

func TestCtlAskWaitsForQuiet(t *testing.T) {
	daemonEnd, childEnd, err := ctlPair()
	if err != nil {
		t.Fatal(err)
	}
	c := childClient(t, childEnd)
	defer c.Close()
	var quieted atomic.Bool
	served := make(chan struct{})
	go func() {
		serveCtl(daemonEnd, func() { quieted.Store(true) })
		close(served)
	}()

	err = c.askQuiet()

	if err != nil || !quieted.Load() {
		t.Fatalf("askQuiet: %v, quiet called %v", err, quieted.Load())
	}
	daemonEnd.Close()
	<-served
}

// An executor whose daemon is gone must not wait: it gets an error at once.
func TestCtlAskWithoutDaemonReturnsAtOnce(t *testing.T) {
	daemonEnd, childEnd, err := ctlPair()
	if err != nil {
		t.Fatal(err)
	}
	c := childClient(t, childEnd)
	defer c.Close()
	daemonEnd.Close()
	start := time.Now()

	err = c.askQuiet()

	if err == nil {
		t.Fatal("askQuiet succeeded with no daemon")
	}
	if took := time.Since(start); took >= ctlWait {
		t.Fatalf("askQuiet took %v; it must not wait out ctlWait for a dead daemon", took)
	}
	var none *ctlClient
	if err := none.askQuiet(); err != nil {
		t.Fatalf("no channel: %v", err)
	}
}

// Quiet must not be granted while a renew is in flight: that renew could
// otherwise reach the coordinator after the done.
func TestHeartbeatQuietWaitsForRenewInFlight(t *testing.T) {
	f := newFake(time.Minute, "j1")
	f.claimFor(t, "mac-1")
	entered, release := make(chan struct{}), make(chan struct{})
	var renewDone atomic.Int64
	f.beforeRenew = func(n int, r coord.Report) error {
		if n == 1 {
			close(entered)
			<-release
			renewDone.Store(time.Now().UnixNano())
		}
		return nil
	}
	hb := testHeartbeat(t, f)
	ended, hbDone := make(chan beatEnd, 1), make(chan struct{})
	go func() {
		ended <- hb.run(context.Background())
		close(hbDone)
	}()
	<-entered
	quieted := make(chan int64, 1)
	go func() {
		quietHeartbeat(hb, hbDone)
		quieted <- time.Now().UnixNano()
	}()
	close(release)

	at := <-quieted

	if at < renewDone.Load() {
		t.Fatal("quiet was granted before the renew in flight had returned")
	}
	if end := <-ended; end != beatQuiet {
		t.Fatalf("heartbeat ended %v, want beatQuiet", end)
	}
}

func testHeartbeat(t *testing.T, f *fakeCoord) *heartbeat {
	t.Helper()
	log, err := openJobLog(filepath.Join(t.TempDir(), "log.txt"), "mac-1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	return &heartbeat{
		svc: f, log: log, ttl: time.Minute, confirmed: time.Now(), now: time.Now,
		every:  func(time.Duration) time.Duration { return time.Millisecond },
		report: coord.Report{Job: "j1", Factory: "mac-1", Epoch: 1},
		quiet:  make(chan chan struct{}),
	}
}

// A renew refused because our own done already landed is the job's normal
// end, not a lost lease.
func TestHeartbeatRefusedAfterOwnDoneIsFinal(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fakeCoord)
		want  beatEnd
	}{
		{"done at our epoch", func(f *fakeCoord) {
			_, _ = f.Patch(context.Background(),
				coord.Report{Job: "j1", Factory: "mac-1", Epoch: 1, Stage: coord.StageDone})
		}, beatFinal},
		{"taken at a newer epoch", func(f *fakeCoord) { f.reassign("j1", "ubuntu-1") }, beatLost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(time.Minute, "j1")
			f.claimFor(t, "mac-1")
			tt.setup(f)
			hb := testHeartbeat(t, f)

			if got := hb.run(context.Background()); got != tt.want {
				t.Fatalf("heartbeat ended %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEngineDoesNotSeeTheToken(t *testing.T) {
	t.Setenv(TokenEnv, "s3cret")
	f, c := claimedJob(t)
	c.Engine = `env > "$JOB_OUT/env"`

	o, err := RunExecutor(context.Background(), c, f)

	if o != Shipped || err != nil {
		t.Fatalf("RunExecutor = %v, %v", o, err)
	}
	env := readFile(t, filepath.Join(c.shippedPath(), "env"))
	if strings.Contains(env, "s3cret") {
		t.Error("the engine saw the fleet token")
	}
	for _, want := range []string{"JOB_ID=j1\n", "JOB_EPOCH=1\n", "JOB_PAYLOAD=p\n",
		"JOB_OUT=" + c.outDir() + "\n"} {
		if !strings.Contains(env, want) {
			t.Errorf("engine env lacks %q", strings.TrimSpace(want))
		}
	}
}
