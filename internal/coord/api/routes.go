package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/twofactory/twofactory/internal/coord"
)

// Limits of a single call, so that one request cannot ask the coordinator
// for an unbounded amount of work or answer.
const (
	maxClaimBatch     = 100   // grants per claim
	defaultEventLimit = 1000  // events per poll when ?limit= is absent
	maxEventLimit     = 10000 // events per poll at most; more is clamped
)

// submit: POST /api/fleet/jobs. 201 with the new job; 200 with the existing
// one when the same id and body were submitted before.
func (h *handler) submit(w http.ResponseWriter, r *http.Request) {
	var req coord.SubmitRequest
	if err := h.decode(w, r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := checkSubmit(req); err != nil {
		h.fail(w, r, err)
		return
	}

	job, created, err := h.svc.Submit(r.Context(), req)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	h.reply(w, r, status, job)
}

// claimBatch is the answer of a claim that asked for more than one job.
type claimBatch struct {
	Grants []coord.Grant `json:"grants"`
}

// claim: POST /api/fleet/claim. 204 when nothing is queued; else 200 with
// one grant ({"job","lease"}) when max <= 1, or {"grants":[...]} when the
// caller asked for a batch, so that a plain client never sees a list.
func (h *handler) claim(w http.ResponseWriter, r *http.Request) {
	var req coord.ClaimRequest
	if err := h.decode(w, r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := checkClaim(req); err != nil {
		h.fail(w, r, err)
		return
	}

	grants, err := h.svc.Claim(r.Context(), req)
	switch {
	case err != nil:
		h.fail(w, r, err)
	case len(grants) == 0:
		w.WriteHeader(http.StatusNoContent)
	case req.Max > 1:
		h.reply(w, r, http.StatusOK, claimBatch{Grants: grants})
	default:
		if len(grants) > 1 {
			// The service broke its contract; the extra leases expire and
			// the reaper requeues them, which is safe but slow: say so.
			h.log.Error("api: claim granted more than asked", "max", req.Max, "got", len(grants))
		}
		h.reply(w, r, http.StatusOK, grants[0])
	}
}

// renew: POST /api/fleet/jobs/{id}/renew. 200 with the extended lease.
func (h *handler) renew(w http.ResponseWriter, r *http.Request) {
	rep, ok := h.report(w, r, "renew")
	if !ok {
		return
	}
	lease, err := h.svc.Renew(r.Context(), rep)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.reply(w, r, http.StatusOK, lease)
}

// patch: PATCH /api/fleet/jobs/{id}. 200 with the job at its new stage.
func (h *handler) patch(w http.ResponseWriter, r *http.Request) {
	rep, ok := h.report(w, r, "patch")
	if !ok {
		return
	}
	job, err := h.svc.Patch(r.Context(), rep)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.reply(w, r, http.StatusOK, job)
}

// release: POST /api/fleet/jobs/{id}/release. 200 with the requeued job.
func (h *handler) release(w http.ResponseWriter, r *http.Request) {
	rep, ok := h.report(w, r, "release")
	if !ok {
		return
	}
	job, err := h.svc.Release(r.Context(), rep)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.reply(w, r, http.StatusOK, job)
}

// report reads and checks the body of a renew, patch or release; on any
// error it has already answered and returns false.
func (h *handler) report(w http.ResponseWriter, r *http.Request, op string) (coord.Report, bool) {
	var rep coord.Report
	id := r.PathValue("id")
	if err := coord.CheckID("job id", id); err != nil {
		h.fail(w, r, err)
		return rep, false
	}
	if err := h.decode(w, r, &rep); err != nil {
		h.fail(w, r, err)
		return rep, false
	}
	rep.Job = id
	if err := checkReport(rep, op); err != nil {
		h.fail(w, r, err)
		return rep, false
	}
	return rep, true
}

// get: GET /api/fleet/jobs/{id}.
func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := coord.CheckID("job id", id); err != nil {
		h.fail(w, r, err)
		return
	}
	job, err := h.svc.Get(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.reply(w, r, http.StatusOK, job)
}

// jobList is the answer of a list.
type jobList struct {
	Jobs []coord.Job `json:"jobs"`
}

// list: GET /api/fleet/jobs?product=&stage=&holder=.
func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	f, err := parseListQuery(r.URL.RawQuery)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	jobs, err := h.svc.List(r.Context(), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if jobs == nil {
		jobs = []coord.Job{} // [] rather than null: nothing matched
	}
	h.reply(w, r, http.StatusOK, jobList{Jobs: jobs})
}

// eventPage is the answer of an events poll: the events.log lines exactly
// as coord.FormatLine writes them, and the sequence number to poll after
// next (the last line's, or the caller's own when there was none).
type eventPage struct {
	Events []string `json:"events"`
	Last   uint64   `json:"last"`
}

// events: GET /api/fleet/events?after=SEQ&limit=N&wait=DUR, a long poll.
// When the server stops, a waiting poll answers at once with no events.
func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	q, err := parseEventsQuery(r.URL.RawQuery, h.opt.LongPollMax)
	if err != nil {
		h.fail(w, r, err)
		return
	}

	ctx, cancel := h.pollContext(r)
	defer cancel()
	evs, err := h.svc.Events(ctx, q.after, q.limit, q.wait)
	if errors.Is(err, context.Canceled) && h.drain.Err() != nil && r.Context().Err() == nil {
		evs, err = nil, nil // stopped by our own drain: an empty page
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}

	page := eventPage{Events: make([]string, 0, len(evs)), Last: q.after}
	for _, e := range evs {
		page.Events = append(page.Events, coord.FormatLine(e))
		page.Last = max(page.Last, e.Seq)
	}
	h.reply(w, r, http.StatusOK, page)
}

// health: GET /api/healthz. It says the server answers; it needs no token.
func (h *handler) health(w http.ResponseWriter, r *http.Request) {
	h.reply(w, r, http.StatusOK, map[string]bool{"ok": true})
}
