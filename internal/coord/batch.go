package coord

import "context"

// PatchResult is the outcome of one report of a PatchAll: the job as Patch
// would have returned it, or the error Patch would have returned.
type PatchResult struct {
	Job Job
	Err error
}

// PatchAll applies each report as Patch would, in order, and answers once
// the events of all of them are durable. The reports are decided under one
// hold of the lock and share one fsync, so a factory (or a burn-down)
// finishing many jobs at once pays one call and one disk flush for all of
// them instead of one each. Each report is judged on its own: a fenced or
// bad one fails alone and the others still land. It is not part of Service;
// the HTTP API offers it as POST /fleet/reports.
func (c *Coordinator) PatchAll(ctx context.Context, rs []Report) []PatchResult {
	out := make([]PatchResult, len(rs))
	batches := make([]*commitBatch, len(rs))
	c.mu.Lock()
	for i, r := range rs {
		if err := checkPatch(r); err != nil {
			out[i].Err = err
			continue
		}
		out[i].Job, batches[i], out[i].Err = c.patchLocked(r)
	}
	c.mu.Unlock()

	// Batches commit in order and a failed commit fails every later one, so
	// each wait after the first returns at once.
	for i, b := range batches {
		if err := waitBatch(b); err != nil {
			out[i] = PatchResult{Err: err}
		}
	}
	return out
}
