package factory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// The executor children of these tests are other processes, so they reach
// the test's fakeCoord over loopback HTTP. This is a deliberately tiny RPC
// (POST /rpc/<method>, JSON in and out), not the project's API: the factory
// must work against any coord.Service, and testing it against a stand-in
// keeps these tests independent of the real client.

// rpcReport carries a Report with its job id, which Report keeps off the
// wire.
type rpcReport struct {
	Job    string
	Report coord.Report
}

type rpcError struct {
	Kind       string            `json:"kind"`
	Msg        string            `json:"msg"`
	Fence      *coord.FenceError `json:"fence,omitempty"`
	RetryAfter time.Duration     `json:"retryAfter,omitempty"`
}

type rpcAnswer struct {
	OK  json.RawMessage `json:"ok,omitempty"`
	Err *rpcError       `json:"err,omitempty"`
}

// rpcKinds is the one table between error kinds and their wire names.
var rpcKinds = []struct {
	name string
	kind error
}{
	{"fenced", coord.ErrFenced}, {"not-found", coord.ErrNotFound},
	{"bad-request", coord.ErrBadRequest}, {"unavailable", coord.ErrUnavailable},
	{"throttled", coord.ErrThrottled}, {"unauthorized", coord.ErrUnauthorized},
}

// throttle is an error with a Retry-After, as the API client's are.
type throttle struct {
	kind  error
	after time.Duration
}

func (e *throttle) Error() string {
	return fmt.Sprintf("%v (retry after %v)", e.kind, e.after)
}

func (e *throttle) Unwrap() error             { return e.kind }
func (e *throttle) RetryAfter() time.Duration { return e.after }

func serveRPC(t *testing.T, svc coord.Service) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ans rpcAnswer
		out, err := dispatch(r.Context(), svc, strings.TrimPrefix(r.URL.Path, "/rpc/"), r)
		if err != nil {
			ans.Err = encodeErr(err)
		} else if ans.OK, err = json.Marshal(out); err != nil {
			ans.Err = encodeErr(err)
		}
		_ = json.NewEncoder(w).Encode(ans)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func dispatch(ctx context.Context, svc coord.Service, method string, r *http.Request) (any, error) {
	dec := json.NewDecoder(r.Body)
	switch method {
	case "claim":
		var req coord.ClaimRequest
		if err := dec.Decode(&req); err != nil {
			return nil, err
		}
		return svc.Claim(ctx, req)
	case "get":
		var id string
		if err := dec.Decode(&id); err != nil {
			return nil, err
		}
		return svc.Get(ctx, id)
	}
	var rr rpcReport
	if err := dec.Decode(&rr); err != nil {
		return nil, err
	}
	rr.Report.Job = rr.Job
	switch method {
	case "renew":
		return svc.Renew(ctx, rr.Report)
	case "patch":
		return svc.Patch(ctx, rr.Report)
	case "release":
		return svc.Release(ctx, rr.Report)
	}
	return nil, fmt.Errorf("%w: no method %q", coord.ErrBadRequest, method)
}

func encodeErr(err error) *rpcError {
	e := &rpcError{Kind: "other", Msg: err.Error()}
	for _, k := range rpcKinds {
		if errors.Is(err, k.kind) {
			e.Kind = k.name
			break
		}
	}
	errors.As(err, &e.Fence)
	if ra, ok := retryAfter(err); ok {
		e.RetryAfter = ra
	}
	return e
}

func (e *rpcError) decode() error {
	if e.Fence != nil {
		return e.Fence
	}
	var err error = errors.New(e.Msg)
	for _, k := range rpcKinds {
		if k.name == e.Kind {
			err = fmt.Errorf("%w: %s", k.kind, e.Msg)
		}
	}
	if e.RetryAfter > 0 {
		err = &throttle{kind: err, after: e.RetryAfter}
	}
	return err
}

// rpcClient is the coord.Service the test's child processes use.
type rpcClient struct {
	base string
	hc   *http.Client
}

func dialRPC(apiURL, token string) (coord.Service, error) {
	if apiURL == "" {
		return nil, errors.New("no api url")
	}
	return &rpcClient{base: apiURL, hc: &http.Client{Timeout: 10 * time.Second}}, nil
}

func (c *rpcClient) call(ctx context.Context, method string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/rpc/"+method,
		bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var ans rpcAnswer
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
		return err
	}
	if ans.Err != nil {
		return ans.Err.decode()
	}
	return json.Unmarshal(ans.OK, out)
}

func (c *rpcClient) report(ctx context.Context, method string, r coord.Report, out any) error {
	return c.call(ctx, method, rpcReport{Job: r.Job, Report: r}, out)
}

func (c *rpcClient) Submit(context.Context, coord.SubmitRequest) (coord.Job, bool, error) {
	return coord.Job{}, false, errors.New("rpc: submit not served")
}

func (c *rpcClient) Claim(ctx context.Context, r coord.ClaimRequest) ([]coord.Grant, error) {
	var gs []coord.Grant
	err := c.call(ctx, "claim", r, &gs)
	return gs, err
}

func (c *rpcClient) Renew(ctx context.Context, r coord.Report) (coord.Lease, error) {
	var l coord.Lease
	err := c.report(ctx, "renew", r, &l)
	return l, err
}

func (c *rpcClient) Patch(ctx context.Context, r coord.Report) (coord.Job, error) {
	var j coord.Job
	err := c.report(ctx, "patch", r, &j)
	return j, err
}

func (c *rpcClient) Release(ctx context.Context, r coord.Report) (coord.Job, error) {
	var j coord.Job
	err := c.report(ctx, "release", r, &j)
	return j, err
}

func (c *rpcClient) Get(ctx context.Context, id string) (coord.Job, error) {
	var j coord.Job
	err := c.call(ctx, "get", id, &j)
	return j, err
}

func (c *rpcClient) List(context.Context, coord.ListFilter) ([]coord.Job, error) {
	return nil, errors.New("rpc: list not served")
}

func (c *rpcClient) Events(context.Context, uint64, int, time.Duration) ([]coord.Event, error) {
	return nil, errors.New("rpc: events not served")
}
