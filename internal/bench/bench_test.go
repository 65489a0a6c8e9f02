package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/coord/api"
)

// TestMain fails the package when a benchmark or test leaves a goroutine
// behind: a client's connection, the server, the committer.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A small burn-down completes every job, once, in both claim shapes.
func TestRunCompletesEveryJob(t *testing.T) {
	for _, batch := range []int{1, 7} {
		dir := t.TempDir()
		res, err := Run(t.Context(), Options{Jobs: 200, Clients: 3, Batch: batch, Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if res.JobsPerSec <= 0 || res.Calls < int64(2*((200+batch-1)/batch)) {
			t.Errorf("batch %d: %v", batch, res)
		}
		c, err := coord.Open(dir, coord.Options{NoBackground: true})
		if err != nil {
			t.Fatal(err)
		}
		done, _ := c.List(t.Context(), coord.ListFilter{Stage: coord.StageDone})
		evs, _ := c.Events(t.Context(), 0, 10000, 0)
		c.Close()
		if len(done) != 200 {
			t.Errorf("batch %d: %d jobs done, want 200", batch, len(done))
		}
		if v := coord.Check(evs, true); len(v) != 0 {
			t.Errorf("batch %d: checker: %v", batch, v)
		}
	}
}

// BenchmarkClaimDone times claim -> done cycles over loopback HTTP with
// fsync on: b.N jobs are queued with the timer stopped, then the clients
// drain them. The jobs/s metric is the figure docs/performance.md quotes.
//
//	go test -run '^$' -bench ClaimDone -benchtime 20000x ./internal/bench
func BenchmarkClaimDone(b *testing.B) {
	for _, batch := range []int{1, 32} {
		for _, clients := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("batch=%d/clients=%d", batch, clients), func(b *testing.B) {
				benchDrain(b, clients, batch)
			})
		}
	}
}

func benchDrain(b *testing.B, clients, batch int) {
	c, err := coord.Open(b.TempDir(), coord.Options{Lease: 10 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := Queue(context.Background(), c, "b", b.N); err != nil {
		b.Fatal(err)
	}
	srv := api.NewServer(c, api.ServerOptions{})
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop(context.Background())

	b.ResetTimer()
	res, err := Drain(context.Background(), DrainOptions{Base: "http://" + addr.String() + "/api",
		Clients: clients, Batch: batch})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if res.Jobs != int64(b.N) {
		b.Fatalf("%d of %d jobs completed", res.Jobs, b.N)
	}
	b.ReportMetric(float64(res.Jobs)/res.Took.Seconds(), "jobs/s")
	b.ReportMetric(float64(res.Calls)/float64(res.Jobs), "calls/job")
}
