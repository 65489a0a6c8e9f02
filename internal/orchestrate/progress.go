// Package orchestrate runs the two-factory scenario: it starts a
// coordinator (or uses a live one), submits jobs, starts two factory
// processes, kills one mid-job, watches the reaper reclaim its job and the
// zombie's late report get fenced, waits for the drain, and judges the three
// guarantees from the coordinator's own events. It reports what it does as
// typed Progress values on a channel, so any front end (the headless trace,
// the dashboard) can show it without the scenario knowing which.
package orchestrate

import "time"

// Step names a point of the scenario. Front ends key their display on it.
type Step string

// The scenario's steps, in the order they normally happen.
const (
	StepConfig      Step = "config"      // the resolved configuration, once
	StepCoordinator Step = "coordinator" // coordinator started (or reached, in real mode)
	StepSubmit      Step = "submit"      // one job submitted
	StepFactory     Step = "factory"     // one factory process started
	StepParallel    Step = "parallel"    // both factories held an active job at once
	StepKill        Step = "kill"        // the victim factory was SIGKILLed mid-job
	StepFreeze      Step = "freeze"      // its orphaned executor was SIGSTOPped
	StepReclaim     Step = "reclaim"     // the reaper put the victim's job back, epoch bumped
	StepReclaimed   Step = "reclaimed"   // the survivor claimed it at the new epoch
	StepThaw        Step = "thaw"        // the zombie executor was SIGCONTed
	StepFence       Step = "fence"       // the zombie's report was refused with 409
	StepQuarantine  Step = "quarantine"  // the zombie's result went to quarantine/
	StepDrain       Step = "drain"       // every job reached a final stage
	StepJudge       Step = "judge"       // guarantees judged; Results is set
	StepCleanup     Step = "cleanup"     // every child process stopped
	StepWarn        Step = "warn"        // something a user should know, not fatal
	StepError       Step = "error"       // the scenario could not run
)

// Progress is one thing the scenario did or saw. Text is a complete,
// human-readable line (the headless trace prints it as it is); the other
// fields let a dashboard update its panels without parsing Text.
type Progress struct {
	Time    time.Time
	Step    Step
	Text    string
	Job     string
	Factory string
	Epoch   uint64
	Pid     int
	// Dir is the run's directory (StepConfig, StepCleanup); EventsLog the
	// coordinator's events.log to follow, when the scenario has one locally.
	Dir       string
	EventsLog string
	// Factories lists the two factory ids, victim first (StepConfig).
	Factories []string
	// Lease is the lease length in force (StepConfig, StepCoordinator).
	Lease time.Duration
	// Results is set on StepJudge.
	Results *Results
}
