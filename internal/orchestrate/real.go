package orchestrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
	"github.com/twofactory/twofactory/internal/coord/api"
)

// connectReal reaches the live coordinator of real mode and checks, before
// anything is submitted, that the token is accepted and whether it serves an
// event stream to judge from (without one, r.noStream is set).
func (r *run) connectReal(ctx context.Context) error {
	cl, err := api.NewClient(r.cfg.API, r.cfg.Token)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cl.List(cctx, coord.ListFilter{Product: r.cfg.Product}); err != nil {
		if errors.Is(err, coord.ErrUnauthorized) {
			return fmt.Errorf("%w: %s refused the token (HTTP 401): check AQ_FLEET_TOKEN",
				ErrCouldNotRun, r.cfg.API)
		}
		return fmt.Errorf("%w: cannot reach the coordinator at %s: %w", ErrCouldNotRun,
			r.cfg.API, err)
	}
	if _, err := cl.Events(cctx, 0, 1, 0); errors.Is(err, coord.ErrNotFound) {
		// No stream at all (404), as opposed to a stream that fails: go on
		// with the weaker judge, and say so before anything happens.
		r.noStream = true
		r.out.emit(Progress{Step: StepWarn, Text: fmt.Sprintf("warning: %s has no event "+
			"stream (GET /fleet/events: 404): the verdict is judged from job states (List) "+
			"and the factories' files, a weaker check", r.cfg.API)})
	} else if err != nil {
		return fmt.Errorf("%w: %s serves no usable event stream (GET /fleet/events: %w)",
			ErrCouldNotRun, r.cfg.API, err)
	}
	r.svc = cl
	r.out.emit(Progress{Step: StepCoordinator, Text: fmt.Sprintf("reached the live "+
		"coordinator at %s (its own reaper; waiting up to %v for it)", r.cfg.API, r.cfg.ReapWait)})
	return nil
}

// checkServerLease refuses to go on when the live coordinator's lease is
// longer than the reaper wait: the reclaim could not be seen in time.
func (r *run) checkServerLease() error {
	if r.cfg.Mode != ModeReal {
		return nil
	}
	if r.noStream {
		return r.checkLeaseFromStates()
	}
	claim := r.lastEvent(func(e coord.Event) bool { return e.Type == coord.EvClaim })
	if claim == nil {
		return nil
	}
	lease := claim.After.ExpiresAt.Sub(claim.Time)
	if lease > r.cfg.ReapWait {
		return fmt.Errorf("%w: the coordinator's lease is %v, longer than DEMO_REAP_WAIT %v: "+
			"its reaper cannot reclaim in time (raise --reap-wait or shorten the server's lease)",
			ErrCouldNotRun, lease.Round(time.Millisecond), r.cfg.ReapWait)
	}
	return nil
}

// checkLeaseFromStates is checkServerLease without events: what the victim's
// lease had left at the last poll is at most the server's lease, so a
// remainder above the reaper wait is proof enough to refuse.
func (r *run) checkLeaseFromStates() error {
	left := r.w.leaseLeft(r.victimJob)
	if left > r.cfg.ReapWait {
		return fmt.Errorf("%w: the coordinator's lease is at least %v, longer than "+
			"DEMO_REAP_WAIT %v: its reaper cannot reclaim in time (raise --reap-wait or "+
			"shorten the server's lease)", ErrCouldNotRun, left.Round(time.Millisecond),
			r.cfg.ReapWait)
	}
	return nil
}

// submitOne submits a job through the configured submit route: the API's
// own when it is the default, else a plain POST of the same body.
func (r *run) submitOne(ctx context.Context, id string) (coord.Job, error) {
	req := coord.SubmitRequest{ID: id, Product: r.cfg.Product}
	if r.cfg.SubmitPath == "" || r.cfg.SubmitPath == "/fleet/jobs" || r.cfg.Mode == ModeStub {
		j, _, err := r.svc.Submit(ctx, req)
		return j, err
	}
	body, _ := json.Marshal(req)
	url := strings.TrimSuffix(r.cfg.API, "/") + r.cfg.SubmitPath
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return coord.Job{}, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	if r.cfg.Token != "" {
		hreq.Header.Set("Authorization", "Bearer "+r.cfg.Token)
	}
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		return coord.Job{}, fmt.Errorf("POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return coord.Job{}, fmt.Errorf("POST %s: HTTP %d: %s", url, resp.StatusCode,
			strings.TrimSpace(string(data)))
	}
	var j coord.Job
	if err := json.Unmarshal(data, &j); err != nil {
		return coord.Job{}, fmt.Errorf("POST %s: answer is not a job: %w", url, err)
	}
	return j, nil
}
