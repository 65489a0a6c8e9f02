package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/twofactory/twofactory/internal/coord"
)

// maxReports bounds the reports of one POST /fleet/reports, like a claim's
// batch: one call must not hold the coordinator's lock for long.
const maxReports = maxClaimBatch

// batchPatcher is the optional batch patch of a service; the in-process
// coordinator has it. A service without it gets the reports one by one.
type batchPatcher interface {
	PatchAll(ctx context.Context, rs []coord.Report) []coord.PatchResult
}

// reportItem is one report of a batch on the wire: a patch's body with the
// job id that a single patch carries in its path.
type reportItem struct {
	Job     string      `json:"jobId"`
	Factory string      `json:"factoryId"`
	Epoch   uint64      `json:"epoch"`
	Stage   coord.Stage `json:"stage"`
}

type reportsRequest struct {
	Reports []reportItem `json:"reports"`
}

// reportResult is one report's outcome on the wire: the job, or the error
// a single patch would have been answered with, with its HTTP status.
type reportResult struct {
	Job    *coord.Job `json:"job,omitempty"`
	Status int        `json:"status"`
	Error  *errorBody `json:"error,omitempty"`
}

type reportsAnswer struct {
	Results []reportResult `json:"results"`
}

// reports: POST /api/fleet/reports. 200 with one result per report, in
// order; each is judged as PATCH /fleet/jobs/{id} would judge it alone.
// Only a malformed body as a whole is a 4xx answer.
func (h *handler) reports(w http.ResponseWriter, r *http.Request) {
	var req reportsRequest
	if err := h.decode(w, r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	if len(req.Reports) == 0 || len(req.Reports) > maxReports {
		h.fail(w, r, badRequest("reports: want 1 to %d reports, got %d", maxReports,
			len(req.Reports)))
		return
	}

	rs := make([]coord.Report, len(req.Reports))
	checked := make([]error, len(rs))
	for i, it := range req.Reports {
		rs[i] = coord.Report{Job: it.Job, Factory: it.Factory, Epoch: it.Epoch, Stage: it.Stage}
		if checked[i] = coord.CheckID("job id", it.Job); checked[i] == nil {
			checked[i] = checkReport(rs[i], "patch")
		}
	}
	res := h.patchAll(r.Context(), rs, checked)
	ans := reportsAnswer{Results: make([]reportResult, len(res))}
	for i, pr := range res {
		ans.Results[i] = h.result(r, pr)
	}
	h.reply(w, r, http.StatusOK, ans)
}

// patchAll applies the reports that passed the checks, in one batch when
// the service can, and returns a result for every report.
func (h *handler) patchAll(ctx context.Context, rs []coord.Report,
	checked []error) []coord.PatchResult {
	out := make([]coord.PatchResult, len(rs))
	var good []coord.Report
	var at []int
	for i, err := range checked {
		if err != nil {
			out[i].Err = err
			continue
		}
		good, at = append(good, rs[i]), append(at, i)
	}
	if bp, ok := h.svc.(batchPatcher); ok && len(good) > 0 {
		for k, pr := range bp.PatchAll(ctx, good) {
			out[at[k]] = pr
		}
		return out
	}
	for k, rep := range good {
		job, err := h.svc.Patch(ctx, rep)
		out[at[k]] = coord.PatchResult{Job: job, Err: err}
	}
	return out
}

// result is one outcome on the wire, with the same status, code and fence
// detail as a single patch's answer.
func (h *handler) result(r *http.Request, pr coord.PatchResult) reportResult {
	if pr.Err == nil {
		return reportResult{Job: &pr.Job, Status: http.StatusOK}
	}
	status, code := toWire(pr.Err)
	body := &errorBody{Code: code, Message: oneLine(pr.Err.Error())}
	if status == http.StatusInternalServerError {
		h.log.Error("api: internal error", "method", r.Method, "path", r.URL.Path, "err", pr.Err)
		body.Message = "internal error"
	}
	var fe *coord.FenceError
	if errors.As(pr.Err, &fe) {
		body.FenceError = fe
	}
	return reportResult{Status: status, Error: body}
}

// PatchAll sends many patches in one call (POST /fleet/reports) and returns
// one result per report, in order: the job, or the error that a single
// Patch of it would have returned (a fence is a *coord.FenceError inside a
// *StatusError). The error is for the call as a whole: nothing was decided
// then, or nothing is known to have been.
func (c *Client) PatchAll(ctx context.Context, rs []coord.Report) ([]coord.PatchResult, error) {
	req := reportsRequest{Reports: make([]reportItem, len(rs))}
	for i, r := range rs {
		req.Reports[i] = reportItem{Job: r.Job, Factory: r.Factory, Epoch: r.Epoch, Stage: r.Stage}
	}
	var ans reportsAnswer
	cl := call{op: "reports", method: http.MethodPost, path: "/fleet/reports", body: req}
	if _, err := c.do(ctx, cl, &ans); err != nil {
		return nil, err
	}
	if len(ans.Results) != len(rs) {
		return nil, c.wrap("reports", fmt.Errorf("%d results for %d reports",
			len(ans.Results), len(rs)))
	}

	out := make([]coord.PatchResult, len(rs))
	for i, res := range ans.Results {
		out[i] = c.patchResult(rs[i], res)
	}
	return out, nil
}

// patchResult reads one result back into the errors a Patch returns.
func (c *Client) patchResult(r coord.Report, res reportResult) coord.PatchResult {
	if res.Error == nil && res.Job != nil {
		return coord.PatchResult{Job: *res.Job}
	}
	body := errorBody{}
	if res.Error != nil {
		body = *res.Error
	}
	se := &StatusError{Code: res.Status, Msg: body.Message, Kind: fromWire(res.Status, body.Code)}
	if se.Code == http.StatusConflict && se.Kind == nil {
		se.Kind = coord.ErrFenced // a report's 409 is a fence, as for a single patch
	}
	if errors.Is(se.Kind, coord.ErrFenced) {
		se.Kind = fenceDetail(body.FenceError, &coord.FenceError{Job: r.Job,
			Factory: r.Factory, Epoch: r.Epoch, Op: "patch:" + string(r.Stage)})
	}
	return coord.PatchResult{Err: c.wrap("reports", fmt.Errorf("job %s: %w", r.Job, se))}
}
