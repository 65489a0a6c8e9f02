package coord

import (
	"slices"
	"testing"
	"time"
)

// A report from the holder that lands after its lease ran out must be
// refused (and the job reclaimed); a checker that saw it accepted has found
// a coordinator that judges expiry wrongly, or not at all.
func TestCheckerExpiredAccepted(t *testing.T) {
	at, base := renewedLease()
	done := func(when float64) Event {
		return Event{Seq: 4, Time: at(when), Type: EvPatch, Job: "j", Factory: "f1", Epoch: 1,
			After: JobState{Stage: StageDone, Holder: "f1", Epoch: 1}}
	}
	for _, tc := range []struct {
		name string
		when float64
		want []ViolationKind
	}{
		{"done inside the renewed lease", 4.9, nil},
		{"done at the instant the lease ends", 5, []ViolationKind{VExpiredAccepted}},
		{"done after the lease ended", 7, []ViolationKind{VExpiredAccepted}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Check(append(slices.Clone(base), done(tc.when)), true)
			if !slices.Equal(kinds(got), tc.want) {
				t.Fatalf("violations %v, want %v", got, tc.want)
			}
		})
	}
}

// A RECLAIM while the holder's lease still runs takes a live job from a
// working factory: its next report is fenced though it broke no rule. The
// reaper may act only once the lease is over, by the coordinator's clock.
func TestCheckerEarlyReclaim(t *testing.T) {
	at, base := renewedLease()
	reclaim := func(when float64) Event {
		return Event{Seq: 4, Time: at(when), Type: EvReclaim, Job: "j", Factory: "f1", Epoch: 1,
			After: JobState{Stage: StageQueued, Epoch: 2}}
	}
	for _, tc := range []struct {
		name string
		when float64
		want []ViolationKind
	}{
		{"reclaim after the first lease but inside the renewed one", 4, []ViolationKind{VEarlyReclaim}},
		{"reclaim at the instant the lease ends", 5, nil},
		{"reclaim after the lease ended", 6, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Check(append(slices.Clone(base), reclaim(tc.when)), false)
			if !slices.Equal(kinds(got), tc.want) {
				t.Fatalf("violations %v, want %v", got, tc.want)
			}
		})
	}
}

// renewedLease is a job claimed by f1 at second 1 with a lease to second 3,
// renewed at second 2 to second 5; at gives the time of a second.
func renewedLease() (at func(float64) time.Time, base []Event) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	at = func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	held := func(exp float64) JobState {
		return JobState{Stage: StageClaimed, Holder: "f1", Epoch: 1, ExpiresAt: at(exp)}
	}
	return at, []Event{
		{Seq: 1, Time: at(0), Type: EvSubmit, Job: "j", After: JobState{Stage: StageQueued, Epoch: 1}},
		{Seq: 2, Time: at(1), Type: EvClaim, Job: "j", Factory: "f1", Epoch: 1, After: held(3)},
		{Seq: 3, Time: at(2), Type: EvRenew, Job: "j", Factory: "f1", Epoch: 1, After: held(5)},
	}
}
