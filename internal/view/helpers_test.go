package view

import (
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"go.uber.org/goleak"

	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/orchestrate"
)

// t0 is the fixed start of every canned history.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const testLease = 1500 * time.Millisecond

// history builds a coordinator event history the way the coordinator
// writes it: increasing seq, each event carrying the job's state after it.
type history struct {
	seq    uint64
	events []coord.Event
}

// add appends an event at offset dt from t0 and returns it.
func (h *history) add(dt time.Duration, typ coord.EventType, job, factory string,
	epoch uint64, after coord.JobState) coord.Event {
	h.seq++
	e := coord.Event{Seq: h.seq, Time: t0.Add(dt), Type: typ, Job: job, Factory: factory,
		Epoch: epoch, After: after}
	h.events = append(h.events, e)
	return e
}

// held is the state of a job held by f at epoch e, its lease set at dt.
func held(stage coord.Stage, f string, e uint64, dt time.Duration) coord.JobState {
	return coord.JobState{Stage: stage, Holder: f, Epoch: e, ExpiresAt: t0.Add(dt + testLease)}
}

// queued is the state of a queued job at epoch e.
func queued(e uint64) coord.JobState { return coord.JobState{Stage: coord.StageQueued, Epoch: e} }

// done is the state of a finished job.
func done(e uint64) coord.JobState { return coord.JobState{Stage: coord.StageDone, Epoch: e} }

// demoHistory is the whole demo: three jobs, mac-1 killed holding job-1,
// the reclaim, ubuntu-1 taking job-1 at epoch 2, the zombie fenced.
// It returns the events split where the kill happens.
func demoHistory() (beforeKill, afterKill []coord.Event) {
	var h history
	ms := time.Millisecond
	for _, id := range []string{"job-1", "job-2", "job-3"} {
		h.add(0, coord.EvSubmit, id, "", 1, queued(1))
	}
	h.add(100*ms, coord.EvClaim, "job-1", "mac-1", 1, held(coord.StageClaimed, "mac-1", 1, 100*ms))
	h.add(120*ms, coord.EvClaim, "job-2", "ubuntu-1", 1,
		held(coord.StageClaimed, "ubuntu-1", 1, 120*ms))
	h.add(200*ms, coord.EvPatch, "job-1", "mac-1", 1, held(coord.StageRunning, "mac-1", 1, 100*ms))
	h.add(220*ms, coord.EvPatch, "job-2", "ubuntu-1", 1,
		held(coord.StageRunning, "ubuntu-1", 1, 120*ms))
	beforeKill = append([]coord.Event(nil), h.events...)
	h.events = nil

	h.add(1700*ms, coord.EvReclaim, "job-1", "", 1, queued(2))
	h.add(2100*ms, coord.EvPatch, "job-2", "ubuntu-1", 1, done(1))
	h.add(2200*ms, coord.EvClaim, "job-1", "ubuntu-1", 2,
		held(coord.StageClaimed, "ubuntu-1", 2, 2200*ms))
	h.add(2300*ms, coord.EvFence, "job-1", "mac-1", 1,
		held(coord.StageClaimed, "ubuntu-1", 2, 2200*ms))
	fence := &h.events[len(h.events)-1]
	fence.Op, fence.Reason = "patch:done", coord.ReasonStaleEpoch
	h.add(4300*ms, coord.EvPatch, "job-1", "ubuntu-1", 2, done(2))
	h.add(4400*ms, coord.EvClaim, "job-3", "ubuntu-1", 1,
		held(coord.StageClaimed, "ubuntu-1", 1, 4400*ms))
	h.add(6400*ms, coord.EvPatch, "job-3", "ubuntu-1", 1, done(1))
	return beforeKill, h.events
}

// passResults is the verdict of a good demo run.
func passResults() *orchestrate.Results {
	return &orchestrate.Results{
		Mode: "stub",
		Jobs: []orchestrate.JobResult{
			{ID: "job-1", Stage: "done", Winner: "ubuntu-1", Epoch: 2, ReclaimedFrom: "mac-1",
				FencedEpoch: 1, Ships: 1},
			{ID: "job-2", Stage: "done", Winner: "ubuntu-1", Epoch: 1, Ships: 1},
			{ID: "job-3", Stage: "done", Winner: "ubuntu-1", Epoch: 1, Ships: 1},
		},
		Guarantees: []orchestrate.GuaranteeResult{
			{Name: orchestrate.GuaranteeNoDoubleAssign, Pass: true, Evidence: "3 jobs, 3 ships"},
			{Name: orchestrate.GuaranteeFencing, Pass: true,
				Evidence: "job-1 reclaimed e1->e2; mac-1 e1 patch:done 409"},
			{Name: orchestrate.GuaranteeParallelism, Pass: true, Evidence: "overlap 1.50s"},
		},
		Pass: true,
	}
}

// failResults is the verdict of an --inject-bug run: the zombie shipped.
func failResults() *orchestrate.Results {
	r := passResults()
	r.Guarantees[1] = orchestrate.GuaranteeResult{Name: orchestrate.GuaranteeFencing,
		Pass: false, Evidence: "no 409: the zombie's done at epoch 1 was accepted"}
	r.Jobs[0].Ships = 2
	r.Violations = []string{"job-1 shipped twice (mac-1 e1, ubuntu-1 e2)"}
	r.Pass = false
	return r
}

// step is a Progress at offset dt.
func step(dt time.Duration, s orchestrate.Step, text string) orchestrate.Progress {
	return orchestrate.Progress{Time: t0.Add(dt), Step: s, Text: text}
}

// configStep announces the two factories and the lease.
func configStep() orchestrate.Progress {
	p := step(0, orchestrate.StepConfig, "config: stub mode, 3 jobs, lease 1.5s")
	p.Factories = []string{"mac-1", "ubuntu-1"}
	p.Lease = testLease
	return p
}

// testModel is a model with no links to the world but a tick counter.
type testModel struct {
	*model
	ticks int // tick commands made
}

// newTestModel returns a model at width x height whose ticks are counted.
func newTestModel(t *testing.T, opt Options, w, h int) *testModel {
	t.Helper()
	tm := &testModel{}
	ch := make(chan orchestrate.Progress) // never read: Init is not called
	tm.model = newModel(opt, deps{
		feed:  newFeed(ch),
		tick:  func(time.Duration) tea.Cmd { tm.ticks++; return func() tea.Msg { return nil } },
		start: t0,
	})
	tm.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return tm
}

// send feeds msgs to the model in order.
func (tm *testModel) send(msgs ...tea.Msg) {
	for _, msg := range msgs {
		tm.Update(msg)
	}
}

// screen is the view without escape codes.
func (tm *testModel) screen() string { return ansi.Strip(tm.View()) }

// stripANSI removes escape codes.
func stripANSI(s string) string { return ansi.Strip(s) }

// checkLeaks returns a check, to defer, that no goroutine started during
// the test outlives it. Goroutines already running are ignored: teatest
// leaves one per program waiting for a SIGINT that never comes.
func checkLeaks(t *testing.T) func() {
	opt := goleak.IgnoreCurrent()
	return func() { goleak.VerifyNone(t, opt) }
}
