package orchestrate

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// judge decides the three guarantees from the coordinator's own events and
// the invariant checker, plus the files the factories left (shipped/ and
// quarantine/). Nothing the orchestrator merely believes counts as evidence.
func (r *run) judge() *Results {
	evs := r.ourEvents()
	h := foldHistory(evs)
	res := &Results{Mode: r.cfg.Mode}
	for _, v := range coord.Check(evs, true) {
		res.Violations = append(res.Violations, v.String())
	}
	shipped := r.listDir("shipped")
	for _, id := range r.jobs {
		res.Jobs = append(res.Jobs, h.row(id))
	}
	res.Guarantees = []GuaranteeResult{
		r.judgeNoDoubleAssign(h, evs, shipped),
		r.judgeFencing(h),
		r.judgeParallelism(h),
	}
	res.Pass = len(res.Violations) == 0
	for _, g := range res.Guarantees {
		res.Pass = res.Pass && g.Pass
	}
	return res
}

// ourEvents is the history of this run's jobs (a live coordinator in real
// mode also serves other work).
func (r *run) ourEvents() []coord.Event {
	all := r.w.snapshot()
	if r.cfg.Mode == ModeStub {
		return all
	}
	mine := map[string]bool{}
	for _, id := range r.jobs {
		mine[id] = true
	}
	var out []coord.Event
	for _, e := range all {
		if mine[e.Job] {
			out = append(out, e)
		}
	}
	return out
}

func (r *run) judgeNoDoubleAssign(h *history, evs []coord.Event, shipped []string) GuaranteeResult {
	g := GuaranteeResult{Name: GuaranteeNoDoubleAssign, Pass: true}
	grants := map[string]int{}
	for _, e := range evs {
		if e.Type == coord.EvClaim {
			grants[fmt.Sprintf("%s@%d", e.Job, e.Epoch)]++
		}
	}
	var problems []string
	for k, n := range grants {
		if n > 1 {
			problems = append(problems, fmt.Sprintf("%s granted %d times", k, n))
		}
	}
	for _, id := range r.jobs {
		if n := h.jobs[id].ships; n != 1 {
			problems = append(problems, fmt.Sprintf("%s shipped %d times", id, n))
		}
		if n := countPrefix(shipped, id); n != 1 {
			problems = append(problems, fmt.Sprintf("shipped/ holds %d results of %s", n, id))
		}
	}
	slices.Sort(problems)
	if len(problems) > 0 {
		g.Pass, g.Evidence = false, strings.Join(problems, "; ")
		return g
	}
	g.Evidence = fmt.Sprintf("%d grants, each (job, epoch) once; %d jobs each shipped once "+
		"(accepted done events and shipped/ agree)", len(grants), len(r.jobs))
	return g
}

func (r *run) judgeFencing(h *history) GuaranteeResult {
	g := GuaranteeResult{Name: GuaranteeFencing}
	v, job, ep := r.cfg.Factories[0], r.victimJob, r.victimEp
	j := h.jobs[job]
	if j == nil {
		g.Evidence = "the victim never held a job"
		return g
	}
	var missing []string
	if !slices.Contains(j.reclaimedFrom, v) {
		missing = append(missing, fmt.Sprintf("no RECLAIM of %s from %s", job, v))
	}
	if j.winner == v || j.winnerEpoch <= ep {
		missing = append(missing, fmt.Sprintf("%s was not completed at a newer epoch "+
			"by another factory (winner %s@%d)", job, dash(j.winner), j.winnerEpoch))
	}
	if !slices.Contains(j.fencedEpochs, ep) {
		missing = append(missing, fmt.Sprintf("no 409 for the zombie's report at epoch %d", ep))
	}
	if j.staleAccepted > 0 {
		missing = append(missing, fmt.Sprintf("%d stale report(s) ACCEPTED", j.staleAccepted))
	}
	q := fmt.Sprintf("%s@epoch=%d", job, ep)
	if !slices.Contains(r.listDir("quarantine"), q) {
		missing = append(missing, "no quarantine/"+q)
	}
	if len(missing) > 0 {
		g.Evidence = strings.Join(missing, "; ")
		return g
	}
	g.Pass = true
	g.Evidence = fmt.Sprintf("%s reclaimed from %s (epoch %d -> %d), completed by %s at epoch %d; "+
		"zombie's report at epoch %d refused with 409; result in quarantine/%s, never shipped",
		job, v, ep, ep+1, j.winner, j.winnerEpoch, ep, q)
	return g
}

func (r *run) judgeParallelism(h *history) GuaranteeResult {
	g := GuaranteeResult{Name: GuaranteeParallelism}
	a, b := r.cfg.Factories[0], r.cfg.Factories[1]
	overlap := overlapOf(h.held[a], h.held[b])
	if overlap <= 0 {
		g.Evidence = fmt.Sprintf("%s and %s never held jobs at the same time", a, b)
		return g
	}
	g.Pass = true
	g.Evidence = fmt.Sprintf("%s and %s held leases at the same time for %.2fs (by the "+
		"coordinator's CLAIM and end events)", a, b, overlap.Seconds())
	return g
}

func (r *run) listDir(sub string) []string {
	ents, _ := os.ReadDir(filepath.Join(r.dir, sub))
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func countPrefix(names []string, id string) int {
	n := 0
	for _, name := range names {
		if name == id || strings.HasPrefix(name, id+"@") {
			n++
		}
	}
	return n
}

func verdictLine(res *Results) string {
	if res.Pass {
		return "VERDICT: PASS"
	}
	return "VERDICT: FAIL"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// history is the scenario's reading of the events: per job who won, who
// lost it, which epochs were fenced; per factory the spans it held a lease.
type history struct {
	jobs map[string]*jobHistory
	held map[string][]span
}

type jobHistory struct {
	stage         coord.Stage
	epoch         uint64
	winner        string
	winnerEpoch   uint64
	ships         int
	reclaimedFrom []string
	fencedEpochs  []uint64
	staleAccepted int
	holder        string
	holdStart     time.Time
}

type span struct{ from, to time.Time }

func foldHistory(evs []coord.Event) *history {
	h := &history{jobs: map[string]*jobHistory{}, held: map[string][]span{}}
	for _, e := range evs {
		j := h.jobs[e.Job]
		if j == nil {
			j = &jobHistory{}
			h.jobs[e.Job] = j
		}
		h.apply(j, e)
		j.stage, j.epoch = e.After.Stage, e.After.Epoch
	}
	return h
}

func (h *history) apply(j *jobHistory, e coord.Event) {
	switch e.Type {
	case coord.EvClaim:
		h.endHold(j, e.Time)
		j.holder, j.holdStart = e.Factory, e.Time
	case coord.EvPatch:
		if e.Epoch != j.epoch || (j.holder != "" && e.Factory != j.holder) {
			j.staleAccepted++
		}
		if e.After.Stage == coord.StageDone {
			j.ships++
			j.winner, j.winnerEpoch = e.Factory, e.Epoch
		}
		if e.After.Stage.Terminal() {
			h.endHold(j, e.Time)
		}
	case coord.EvReclaim, coord.EvRelease:
		j.reclaimedFrom = append(j.reclaimedFrom, e.Factory)
		h.endHold(j, e.Time)
	case coord.EvFence:
		j.fencedEpochs = append(j.fencedEpochs, e.Epoch)
	}
}

func (h *history) endHold(j *jobHistory, at time.Time) {
	if j.holder != "" {
		h.held[j.holder] = append(h.held[j.holder], span{j.holdStart, at})
		j.holder = ""
	}
}

func (h *history) row(id string) JobResult {
	j := h.jobs[id]
	if j == nil {
		return JobResult{ID: id, Stage: "missing"}
	}
	row := JobResult{ID: id, Stage: string(j.stage), Winner: j.winner, Epoch: j.epoch,
		Ships: j.ships, ReclaimedFrom: strings.Join(j.reclaimedFrom, ",")}
	if n := len(j.fencedEpochs); n > 0 {
		row.FencedEpoch = j.fencedEpochs[n-1]
	}
	return row
}

// overlapOf is the total time two sets of spans cover together.
func overlapOf(a, b []span) time.Duration {
	var total time.Duration
	for _, x := range a {
		for _, y := range b {
			from, to := x.from, x.to
			if y.from.After(from) {
				from = y.from
			}
			if y.to.Before(to) {
				to = y.to
			}
			if to.After(from) {
				total += to.Sub(from)
			}
		}
	}
	return total
}
