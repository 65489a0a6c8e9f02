package orchestrate

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/factory"
)

// judge decides the three guarantees from the coordinator's own events and
// the invariant checker, plus the files the factories left (shipped/ and
// quarantine/). Nothing the orchestrator merely believes counts as evidence.
func (r *run) judge() *Results {
	if r.noStream {
		return r.judgeFromStates()
	}
	evs := r.ourEvents()
	c := coord.NewChecker()
	var vs []coord.Violation
	for _, e := range evs {
		vs = append(vs, c.Observe(e)...)
	}
	vs = append(vs, c.Finish(true)...)
	stats := c.Stats()

	res := &Results{Mode: r.cfg.Mode, Violations: []string{}}
	for _, v := range vs {
		res.Violations = append(res.Violations, v.String())
	}
	final := map[string]coord.JobState{} // each job as the coordinator last recorded it
	for _, e := range evs {
		final[e.Job] = e.After
	}
	for _, id := range r.jobs {
		res.Jobs = append(res.Jobs, jobRow(stats, final, id))
	}
	res.Guarantees = []GuaranteeResult{
		r.judgeNoDoubleAssign(stats, evs, r.listDir("shipped")),
		r.judgeFencing(stats, evs, vs),
		r.judgeParallelism(holdSpans(evs)),
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

func (r *run) judgeNoDoubleAssign(stats coord.CheckStats, evs []coord.Event,
	shipped []string) GuaranteeResult {
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
		if js, _ := stats.Job(id); len(js.Ships) != 1 {
			problems = append(problems, fmt.Sprintf("%s shipped %d times", id, len(js.Ships)))
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

func (r *run) judgeFencing(stats coord.CheckStats, evs []coord.Event,
	vs []coord.Violation) GuaranteeResult {
	g := GuaranteeResult{Name: GuaranteeFencing}
	v, job, ep := r.cfg.Factories[0], r.victimJob, r.victimEp
	j, ok := stats.Job(job)
	if !ok {
		g.Evidence = "the victim never held a job"
		return g
	}
	var missing []string
	// The coordinator's own RECLAIM names the holder it took the job from.
	if findEvent(evs, func(e coord.Event) bool {
		return e.Type == coord.EvReclaim && e.Job == job && e.Factory == v
	}) == nil {
		missing = append(missing, fmt.Sprintf("no RECLAIM of %s from %s", job, v))
	}
	if j.Winner == v || j.WinnerEpoch <= ep {
		missing = append(missing, fmt.Sprintf("%s was not completed at a newer epoch "+
			"by another factory (winner %s@%d)", job, dash(j.Winner), j.WinnerEpoch))
	}
	if !slices.ContainsFunc(j.Fences, func(f coord.FenceRecord) bool {
		return f.Factory == v && f.Epoch == ep
	}) {
		missing = append(missing, fmt.Sprintf("no 409 for the zombie's report at epoch %d", ep))
	}
	stale := 0
	for _, x := range vs {
		if x.Job == job && x.Kind == coord.VStaleAccepted {
			stale++
		}
	}
	if stale > 0 {
		missing = append(missing, fmt.Sprintf("%d stale report(s) ACCEPTED", stale))
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
		job, v, ep, ep+1, j.Winner, j.WinnerEpoch, ep, q)
	return g
}

func (r *run) judgeParallelism(held map[string][]span) GuaranteeResult {
	g := GuaranteeResult{Name: GuaranteeParallelism}
	a, b := r.cfg.Factories[0], r.cfg.Factories[1]
	overlap := overlapOf(held[a], held[b])
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

// span is a stretch of time a factory held a lease on some job.
type span struct{ from, to time.Time }

// holdSpans reads, per factory, the spans it held leases: from each CLAIM
// to the event that ended that holding (a final patch, a reclaim, a release,
// or another factory's claim of the same job). It is the one thing the
// judge needs that the checker's stats do not keep.
func holdSpans(evs []coord.Event) map[string][]span {
	type holding struct {
		factory string
		since   time.Time
	}
	held := map[string][]span{}
	now := map[string]holding{} // job -> its current holding
	end := func(job string, at time.Time) {
		if h, ok := now[job]; ok {
			held[h.factory] = append(held[h.factory], span{h.since, at})
			delete(now, job)
		}
	}
	for _, e := range evs {
		switch {
		case e.Type == coord.EvClaim:
			end(e.Job, e.Time)
			now[e.Job] = holding{e.Factory, e.Time}
		case e.Type == coord.EvReclaim, e.Type == coord.EvRelease,
			e.Type == coord.EvPatch && e.After.Stage.Terminal():
			end(e.Job, e.Time)
		}
	}
	return held
}

// jobRow is one job's row of RESULTS: its stage and epoch as the
// coordinator last recorded them (final), the rest from the checker's stats.
func jobRow(stats coord.CheckStats, final map[string]coord.JobState, id string) JobResult {
	j, ok := stats.Job(id)
	st, seen := final[id]
	if !ok || !seen {
		return JobResult{ID: id, Stage: "missing"}
	}
	row := JobResult{ID: id, Stage: string(st.Stage), Winner: j.Winner, Epoch: st.Epoch,
		Ships: len(j.Ships), ReclaimedFrom: strings.Join(j.ReclaimedFrom(), ",")}
	if n := len(j.Fences); n > 0 {
		row.FencedEpoch = j.Fences[n-1].Epoch
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

// NoStreamNote is Results.Note when a server has no event stream: what the
// job-state judge can and cannot see.
const NoStreamNote = "no event stream: judged from job states and the factories' files; " +
	"a double grant or an accepted stale report that left no trace in them would not be " +
	"seen; the invariant checker cannot run without the events and did not"

// judgeFromStates is the judge for a server with no event stream: the same
// three guarantees, read from the job states the polls saw, the executor's
// exit code and the files the factories left. It is weaker, and says so in
// Results.Note: a grant or a report that changed no state it could read is
// invisible to it.
func (r *run) judgeFromStates() *Results {
	res := &Results{Mode: r.cfg.Mode, Note: NoStreamNote, Violations: []string{}}
	shipped := r.listDir("shipped")
	for _, id := range r.jobs {
		res.Jobs = append(res.Jobs, r.stateRow(id))
	}
	res.Guarantees = []GuaranteeResult{
		r.judgeDoneOnce(shipped),
		r.judgeFencingFromStates(),
		r.judgeParallelFromStates(),
	}
	res.Pass = true
	for _, g := range res.Guarantees {
		res.Pass = res.Pass && g.Pass
	}
	return res
}

// doneStates returns the distinct done states the polls saw of a job: more
// than one is a job done twice (at two epochs, or by two holders).
func doneStates(trail []coord.JobState) []coord.JobState {
	var out []coord.JobState
	for _, st := range trail {
		if st.Stage == coord.StageDone && !slices.Contains(out, st) {
			out = append(out, st)
		}
	}
	return out
}

func (r *run) stateRow(id string) JobResult {
	trail := r.w.trail(id)
	if len(trail) == 0 {
		return JobResult{ID: id, Stage: "missing"}
	}
	last := trail[len(trail)-1]
	row := JobResult{ID: id, Stage: string(last.Stage), Epoch: last.Epoch,
		Ships: len(doneStates(trail))}
	if last.Stage == coord.StageDone {
		row.Winner = last.Holder
	}
	var lost []string
	for _, st := range trail {
		if st.Holder != "" && st.Epoch < last.Epoch && !slices.Contains(lost, st.Holder) {
			lost = append(lost, st.Holder)
		}
	}
	row.ReclaimedFrom = strings.Join(lost, ",")
	if id == r.victimJob && r.zombieFiles().fenced() {
		row.FencedEpoch = r.victimEp
	}
	return row
}

// judgeDoneOnce is guarantee (a) as far as job states and files show: every
// job's final stage is done, it was seen done in one state only, and
// shipped/ holds one result of it.
func (r *run) judgeDoneOnce(shipped []string) GuaranteeResult {
	g := GuaranteeResult{Name: GuaranteeNoDoubleAssign}
	var problems []string
	for _, id := range r.jobs {
		trail := r.w.trail(id)
		switch {
		case len(trail) == 0:
			problems = append(problems, id+" never seen in a List answer")
		case trail[len(trail)-1].Stage != coord.StageDone:
			problems = append(problems, fmt.Sprintf("%s ended %s, not done", id,
				trail[len(trail)-1].Stage))
		}
		if n := len(doneStates(trail)); n > 1 {
			problems = append(problems, fmt.Sprintf("%s seen done %d times", id, n))
		}
		if n := countPrefix(shipped, id); n != 1 {
			problems = append(problems, fmt.Sprintf("shipped/ holds %d results of %s", n, id))
		}
	}
	if len(problems) > 0 {
		g.Evidence = strings.Join(problems, "; ")
		return g
	}
	g.Pass = true
	g.Evidence = fmt.Sprintf("%d jobs each final at done, seen done once, one shipped/ entry "+
		"each (job states and files; the grants themselves are not visible)", len(r.jobs))
	return g
}

// judgeFencingFromStates is guarantee (b) without events: the victim's job
// done by another factory at a newer epoch, the zombie executor ended as
// fenced, its result in quarantine, and nothing of it shipped.
func (r *run) judgeFencingFromStates() GuaranteeResult {
	g := GuaranteeResult{Name: GuaranteeFencing}
	v, job, ep := r.cfg.Factories[0], r.victimJob, r.victimEp
	if job == "" {
		g.Evidence = "the victim never held a job"
		return g
	}
	var missing []string
	last := coord.JobState{}
	if tr := r.w.trail(job); len(tr) > 0 {
		last = tr[len(tr)-1]
	}
	if last.Stage != coord.StageDone || last.Holder == v || last.Epoch <= ep {
		missing = append(missing, fmt.Sprintf("%s was not completed at a newer epoch by "+
			"another factory (last seen %s by %s@%d)", job, dash(string(last.Stage)),
			dash(last.Holder), last.Epoch))
	}
	z := r.zombieFiles()
	missing = append(missing, z.problems(r.zombie, job, ep)...)
	if len(missing) > 0 {
		g.Evidence = strings.Join(missing, "; ")
		return g
	}
	g.Pass = true
	g.Evidence = fmt.Sprintf("%s moved from %s@%d to %s@%d, done (job states); the zombie "+
		"executor exited %q (code %d)%s; result in quarantine/%s, never shipped", job, v, ep,
		last.Holder, last.Epoch, factory.Fenced, factory.Fenced.ExitCode(), z.logNote(),
		quarantineName(job, ep))
	return g
}

// judgeParallelFromStates is guarantee (c) without events: one List answer
// showed both factories running a job.
func (r *run) judgeParallelFromStates() GuaranteeResult {
	g := GuaranteeResult{Name: GuaranteeParallelism}
	a, b := r.cfg.Factories[0], r.cfg.Factories[1]
	if r.parallel.at.IsZero() {
		g.Evidence = fmt.Sprintf("no List answer showed %s and %s running jobs at once", a, b)
		return g
	}
	g.Pass = true
	g.Evidence = fmt.Sprintf("one List answer (%s) showed %s running %s while %s ran %s",
		r.parallel.at.UTC().Format("15:04:05.000"), a, r.parallel.jobs[0], b,
		r.parallel.jobs[1])
	return g
}

func quarantineName(job string, ep uint64) string {
	return fmt.Sprintf("%s@epoch=%d", job, ep)
}

// zombieEvidence is what the factories' files say about the zombie's end.
type zombieEvidence struct {
	exitCode    int
	quarantined bool
	logName     string
	logRead     bool // the victim's factory log exists and was read
	logFence    bool // it has a fence line with http=409 for the job at the epoch
	logShipped  bool // it has a ship line for the job at the epoch
}

// zombieFiles reads the zombie's exit code, quarantine/ and the victim's
// factory log.
func (r *run) zombieFiles() zombieEvidence {
	job, ep := r.victimJob, r.victimEp
	z := zombieEvidence{exitCode: -1, logName: "log-" + r.cfg.Factories[0] + ".txt"}
	if r.zombie.exited {
		z.exitCode = r.zombie.code
	}
	_, err := os.Stat(filepath.Join(r.dir, "quarantine", quarantineName(job, ep)))
	z.quarantined = err == nil
	f, err := os.Open(filepath.Join(r.dir, z.logName))
	if err != nil {
		return z
	}
	defer f.Close()
	z.logRead = true
	want := []string{"job=" + job, fmt.Sprintf("epoch=%d", ep)}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || !containsAll(fields, want) {
			continue
		}
		z.logFence = z.logFence || (fields[1] == "fence" && slices.Contains(fields, "http=409"))
		z.logShipped = z.logShipped || fields[1] == "ship"
	}
	return z
}

func containsAll(fields, want []string) bool {
	for _, w := range want {
		if !slices.Contains(fields, w) {
			return false
		}
	}
	return true
}

// fenced: the executor exited with the fenced outcome, and the log, when
// there is one, has the 409 that made it so.
func (z zombieEvidence) fenced() bool {
	return z.exitCode == factory.Fenced.ExitCode() && (!z.logRead || z.logFence)
}

// problems lists what is missing for the zombie to count as fenced.
func (z zombieEvidence) problems(out zombieOutcome, job string, ep uint64) []string {
	var p []string
	if z.exitCode != factory.Fenced.ExitCode() {
		p = append(p, fmt.Sprintf("the zombie executor did not exit as fenced (code %d): %s",
			factory.Fenced.ExitCode(), dash(out.status)))
	}
	if z.logRead && !z.logFence {
		p = append(p, fmt.Sprintf("%s has no fence line (http=409) for %s@%d", z.logName, job, ep))
	}
	if z.logShipped {
		p = append(p, fmt.Sprintf("%s says the zombie SHIPPED %s@%d", z.logName, job, ep))
	}
	if !z.quarantined {
		p = append(p, "no quarantine/"+quarantineName(job, ep))
	}
	return p
}

// logNote says what the factory log adds to the zombie's exit code.
func (z zombieEvidence) logNote() string {
	if z.logRead {
		return "; " + z.logName + " has its fence line (http=409)"
	}
	return "; no factory log to confirm the 409"
}
