package factory

import "fmt"

// Outcome is how one executor run ended. It is the executor's exit code, so
// that the daemon, a harness, or a shell can tell the endings apart without
// parsing logs. The zero value is not a valid outcome and exits as Failed,
// so that a forgotten assignment can never read as "shipped".
type Outcome int

// The executor outcomes and their exit codes. The codes sit above the
// common 1 and 2 (error, bad usage) so that a crash of the binary itself
// is never mistaken for one of them.
const (
	// Shipped: done was accepted and the output moved to ShippedDir. Exit 0.
	Shipped Outcome = iota + 1
	// Fenced: a report was refused with 409 (a newer epoch or holder owns
	// the job); the output went to quarantine. Exit 10.
	Fenced
	// Failed: the engine failed, the coordinator rejected a report for a
	// reason other than a fence, or it stayed unreachable; nothing shipped
	// and the output went to quarantine. Exit 11.
	Failed
	// Stopped: the executor was told to stop (SIGTERM, or its context was
	// cancelled) before done; the output went to quarantine. Exit 12.
	Stopped
)

// Exit codes of the exec-job subcommand besides the outcomes'.
const (
	// ExitUsage: the exec-job arguments could not be parsed.
	ExitUsage = 2
)

// ExitCode is the process exit code for o: 0 shipped, 10 fenced, 11 failed,
// 12 stopped.
func (o Outcome) ExitCode() int {
	switch o {
	case Shipped:
		return 0
	case Fenced:
		return 10
	case Stopped:
		return 12
	}
	return 11
}

// OutcomeOf maps an executor's exit code back to its Outcome; ok is false
// for a code no outcome has (a crash, a usage error, a signal's -1).
func OutcomeOf(code int) (o Outcome, ok bool) {
	for _, o := range []Outcome{Shipped, Fenced, Failed, Stopped} {
		if o.ExitCode() == code {
			return o, true
		}
	}
	return 0, false
}

// String is the outcome's name as written in logs: shipped, fenced, failed,
// stopped.
func (o Outcome) String() string {
	switch o {
	case Shipped:
		return "shipped"
	case Fenced:
		return "fenced"
	case Failed:
		return "failed"
	case Stopped:
		return "stopped"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}
