// Package coord is the fleet's one authority on job state: the job model,
// the event-log reducer, the durable store, the fenced operations, the
// reaper and the invariant checker. It imports no other package of the
// project; everything else is built on it.
package coord

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"
)

// Stage is where a job is in its life. The set is fixed: a patch naming any
// other stage is a bad request, so a typo can never invent a state that the
// reducer, the checker and the dashboard do not know.
type Stage string

// The stages, in the order a job normally passes through them. Running and
// Verifying are the working stages between a claim and the end.
const (
	StageQueued    Stage = "queued"
	StageClaimed   Stage = "claimed"
	StageRunning   Stage = "running"
	StageVerifying Stage = "verifying"
	StageDone      Stage = "done"
	StageFailed    Stage = "failed"
)

// Stages lists every valid stage in life order.
var Stages = []Stage{
	StageQueued, StageClaimed, StageRunning, StageVerifying, StageDone, StageFailed,
}

// ParseStage returns the stage named s, or an error wrapping ErrBadRequest.
func ParseStage(s string) (Stage, error) {
	for _, st := range Stages {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("%w: unknown stage %q (want one of %v)", ErrBadRequest, s, Stages)
}

// Terminal reports whether no further change can happen to a job in st.
func (st Stage) Terminal() bool { return st == StageDone || st == StageFailed }

// Held reports whether a job in st has a holder with a live lease.
func (st Stage) Held() bool {
	return st == StageClaimed || st == StageRunning || st == StageVerifying
}

// Working reports whether st may be the target of a non-terminal patch.
func (st Stage) Working() bool { return st == StageRunning || st == StageVerifying }

// idPattern is the shape of every job, factory and product id. Ids become
// file names (jobs/<id>.job) and log tokens, so the pattern forbids path
// separators, dots at the start ("..") and white space.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidID reports whether s may be used as a job, factory or product id:
// whether it matches idPattern. It checks the bytes by hand because every
// log line parsed carries two or three ids, and the regexp was a fifth of
// the time of a replay; TestValidIDMatchesPattern holds the two together.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// CheckID returns nil when s is a valid id, else an ErrBadRequest naming what.
func CheckID(what, s string) error {
	if ValidID(s) {
		return nil
	}
	return fmt.Errorf("%w: %s %q is not [A-Za-z0-9][A-Za-z0-9._-]{0,63}", ErrBadRequest, what, s)
}

// JobState is the part of a job that changes: what every event line
// carries after the change, so that the log alone rebuilds every job.
type JobState struct {
	Stage     Stage     `json:"stage"`
	Holder    string    `json:"holder,omitempty"`
	Epoch     uint64    `json:"epoch"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

// Job is one unit of work as the coordinator knows it.
type Job struct {
	ID      string `json:"id"`
	Product string `json:"product,omitempty"`
	Payload string `json:"payload,omitempty"`
	JobState
	// SubmitSeq orders the queue: the oldest queued job is the one with the
	// smallest SubmitSeq, whether it is new or was reclaimed.
	SubmitSeq uint64 `json:"submitSeq"`
	// Seq is the sequence number of the last event that changed the job.
	Seq uint64 `json:"seq"`
}

// Lease is a holder's right to work on a job until ExpiresAt, judged by the
// coordinator's clock. TTL is told to the factory so that it never has to
// compare its clock with the coordinator's.
type Lease struct {
	JobID     string        `json:"jobId"`
	Factory   string        `json:"factoryId"`
	Epoch     uint64        `json:"epoch"`
	ExpiresAt time.Time     `json:"expiresAt"`
	TTL       time.Duration `json:"-"`
}

// leaseWire is Lease on the wire: the TTL in whole milliseconds, a unit any
// client can read without knowing Go's nanosecond durations.
type leaseWire struct {
	JobID     string    `json:"jobId"`
	Factory   string    `json:"factoryId"`
	Epoch     uint64    `json:"epoch"`
	ExpiresAt time.Time `json:"expiresAt"`
	TTLMillis int64     `json:"ttlMs"`
}

// MarshalJSON writes the lease with its TTL in milliseconds.
func (l Lease) MarshalJSON() ([]byte, error) {
	return json.Marshal(leaseWire{l.JobID, l.Factory, l.Epoch, l.ExpiresAt, l.TTL.Milliseconds()})
}

// UnmarshalJSON reads a lease written by MarshalJSON.
func (l *Lease) UnmarshalJSON(b []byte) error {
	var w leaseWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*l = Lease{w.JobID, w.Factory, w.Epoch, w.ExpiresAt, time.Duration(w.TTLMillis) * time.Millisecond}
	return nil
}

// Grant is the answer to a successful claim: the job and its lease.
type Grant struct {
	Job   Job   `json:"job"`
	Lease Lease `json:"lease"`
}
