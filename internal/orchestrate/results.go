package orchestrate

// Results is the scenario's verdict: a row per job, a row per guarantee.
// It is what RESULTS prints and what --json writes.
type Results struct {
	Mode       string            `json:"mode"`
	Jobs       []JobResult       `json:"jobs"`
	Guarantees []GuaranteeResult `json:"guarantees"`
	// Violations lists every invariant the checker found broken.
	Violations []string `json:"violations"`
	Pass       bool     `json:"pass"`
	// Note is set when the verdict needs a caveat (for example a real
	// server with no event stream, judged from job states alone).
	Note string `json:"note,omitempty"`
}

// JobResult is one job's row of RESULTS.
type JobResult struct {
	ID            string `json:"id"`
	Stage         string `json:"stage"`
	Winner        string `json:"winner"`
	Epoch         uint64 `json:"epoch"`
	ReclaimedFrom string `json:"reclaimedFrom,omitempty"`
	FencedEpoch   uint64 `json:"fencedEpoch,omitempty"`
	Ships         int    `json:"ships"`
}

// Guarantee names one of the three promises.
type Guarantee string

// The guarantees, as RESULTS names them.
const (
	GuaranteeNoDoubleAssign Guarantee = "a no double-assign"
	GuaranteeFencing        Guarantee = "b fencing + reclaim"
	GuaranteeParallelism    Guarantee = "c parallelism"
)

// GuaranteeResult is one guarantee's row: PASS or FAIL and the evidence.
type GuaranteeResult struct {
	Name     Guarantee `json:"name"`
	Pass     bool      `json:"pass"`
	Evidence string    `json:"evidence"`
}
