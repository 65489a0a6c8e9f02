package crashtest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/bench"
	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/testbin"
)

// Several real claimer processes (`twofactory-tui bench --api`, two
// clients each, different batch sizes) drain one coordinator process at
// once. Every job version must be granted exactly once across all of them,
// every job completed once, and the checker must pass over the
// coordinator's own events.log.
func TestClaimerProcessesShareOneCoordinator(t *testing.T) {
	problems, violations := runClaimers(t, 3000)
	for _, p := range problems {
		t.Error(p)
	}
	for _, v := range violations {
		t.Errorf("checker: %v", v)
	}
}

// The same run against a coordinator started with --inject-bug
// double-claim: both the grant files and the checker must see the double
// grants, or the test above could not fail.
func TestClaimerProcessesCatchDoubleClaim(t *testing.T) {
	problems, violations := runClaimers(t, 300, "--inject-bug", "double-claim")
	if len(problems) == 0 || len(violations) == 0 {
		t.Fatalf("double-claim bug not caught: %d grant problems, %d checker violations",
			len(problems), len(violations))
	}
	t.Logf("caught: %s; checker: %v", problems[0], violations[0])
}

// runClaimers queues jobs in a coordinator process, drains it with four
// claimer processes, and returns what the grant files and the checker
// found wrong.
func runClaimers(t *testing.T, jobs int, coordArgs ...string) ([]string, []coord.Violation) {
	dir := t.TempDir()
	p := startCoord(t, dir, append([]string{"--lease", "60"}, coordArgs...)...)
	ctx := deadlineCtx(t, 2*time.Minute)
	if err := bench.Queue(ctx, p.client(), "mp", jobs); err != nil {
		t.Fatal(err)
	}

	batches := []int{1, 3, 8, 1}
	cmds := make([]*exec.Cmd, len(batches))
	files := make([]string, len(batches))
	for i, b := range batches {
		files[i] = filepath.Join(t.TempDir(), fmt.Sprintf("grants-%d", i))
		cmds[i] = exec.CommandContext(ctx, testbin.Path(t), "bench", "--api", p.base,
			"--clients", "2", "--batch", fmt.Sprint(b), "--prefix", fmt.Sprintf("p%d", i),
			"--grants", files[i])
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	var problems []string
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			// A claimer handed a job someone else completed is fenced on its
			// done: a failure only when the coordinator is meant to be right.
			problems = append(problems, fmt.Sprintf("claimer %d: %v", i, err))
		}
	}

	per, gp := checkGrants(t, files, jobs)
	problems = append(problems, gp...)
	t.Logf("grants per process: %v", per)
	p.signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Fatalf("coordinator exit %d:\n%s", code, p.stderr)
	}
	evs := readLog(t, dir)
	problems = append(problems, interleaving(t, evs)...)
	return problems, coord.Check(evs, true)
}

// checkGrants reads the claimers' grant files: every job must have been
// granted once, at epoch 1 (no lease expired), and to one process only.
func checkGrants(t *testing.T, files []string, jobs int) ([]int, []string) {
	t.Helper()
	var problems []string
	seen := map[string]string{}
	per := make([]int, len(files))
	for i, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var factory, job string
			var epoch uint64
			if _, err := fmt.Sscan(sc.Text(), &factory, &job, &epoch); err != nil {
				t.Fatalf("%s: %q: %v", name, sc.Text(), err)
			}
			key := fmt.Sprintf("%s@%d", job, epoch)
			if prev, dup := seen[key]; dup {
				problems = append(problems,
					fmt.Sprintf("%s granted to %s and to %s", key, prev, factory))
			}
			seen[key] = factory
			per[i]++
		}
		f.Close()
	}
	if len(seen) != jobs {
		problems = append(problems,
			fmt.Sprintf("%d job versions granted, want %d (one per job)", len(seen), jobs))
	}
	for key := range seen {
		if !strings.HasSuffix(key, "@1") {
			problems = append(problems,
				fmt.Sprintf("%s: granted at an epoch above 1 with a 60s lease", key))
		}
	}
	return per, problems
}

// interleaving shows the processes really claimed at the same time: the
// log's claims switch between processes, not one block per process.
func interleaving(t *testing.T, evs []coord.Event) []string {
	t.Helper()
	procs, switches, last := map[string]bool{}, 0, ""
	for _, e := range evs {
		if e.Type != coord.EvClaim {
			continue
		}
		proc, _, _ := strings.Cut(e.Factory, "-")
		procs[proc] = true
		if last != "" && proc != last {
			switches++
		}
		last = proc
	}
	t.Logf("claims from %d processes, %d switches between them", len(procs), switches)
	if len(procs) < 2 || switches < len(procs) {
		return []string{fmt.Sprintf("claims came from %d processes with %d switches: "+
			"not concurrent", len(procs), switches)}
	}
	return nil
}
