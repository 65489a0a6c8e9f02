package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// throttle is a service error with a retry hint, as a coordinator under
// load might return.
type throttle struct{ after time.Duration }

func (e throttle) Error() string             { return "too many claims" }
func (e throttle) Is(target error) bool      { return target == coord.ErrThrottled }
func (e throttle) RetryAfter() time.Duration { return e.after }

// syncBuffer is a log sink that handlers may write from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// op calls one Client method.
type op struct {
	name string
	call func(context.Context, *Client) error
}

var rep = coord.Report{Job: "job-1", Factory: "mac-1", Epoch: 3}

var allOps = []op{
	{"submit", func(ctx context.Context, c *Client) error {
		_, _, err := c.Submit(ctx, coord.SubmitRequest{ID: "job-1"})
		return err
	}},
	{"claim", func(ctx context.Context, c *Client) error {
		_, err := c.Claim(ctx, coord.ClaimRequest{Factory: "mac-1"})
		return err
	}},
	{"renew", func(ctx context.Context, c *Client) error {
		_, err := c.Renew(ctx, rep)
		return err
	}},
	{"patch", func(ctx context.Context, c *Client) error {
		r := rep
		r.Stage = coord.StageDone
		_, err := c.Patch(ctx, r)
		return err
	}},
	{"release", func(ctx context.Context, c *Client) error {
		_, err := c.Release(ctx, rep)
		return err
	}},
	{"get", func(ctx context.Context, c *Client) error {
		_, err := c.Get(ctx, "job-1")
		return err
	}},
	{"list", func(ctx context.Context, c *Client) error {
		_, err := c.List(ctx, coord.ListFilter{})
		return err
	}},
	{"events", func(ctx context.Context, c *Client) error {
		_, err := c.Events(ctx, 0, 0, 0)
		return err
	}},
}

// Every error kind the service returns, from every call, crosses the wire
// as its status and comes back to the caller as the same kind.
func TestErrorKindsRoundTrip(t *testing.T) {
	fence := &coord.FenceError{Job: "job-1", Factory: "mac-1", Epoch: 3, Current: 5,
		Holder: "ubuntu-1", Reason: coord.ReasonStaleEpoch, Op: "patch:done", EventSeq: 42}
	kinds := []struct {
		name   string
		err    error
		status int
		kind   error
	}{
		{"bad request", fmt.Errorf("%w: payload too big", coord.ErrBadRequest), 400,
			coord.ErrBadRequest},
		{"unauthorized", coord.ErrUnauthorized, 401, coord.ErrUnauthorized},
		{"not found", fmt.Errorf("get: %w", coord.ErrNotFound), 404, coord.ErrNotFound},
		{"fenced", fmt.Errorf("patch: %w", fence), 409, coord.ErrFenced},
		{"conflict", coord.ErrConflict, 409, coord.ErrConflict},
		{"throttled", throttle{3 * time.Second}, 429, coord.ErrThrottled},
		{"unavailable", fmt.Errorf("%w: log failed", coord.ErrUnavailable), 503,
			coord.ErrUnavailable},
		{"internal", errors.New("disk on fire"), 500, nil},
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	fx := newFixture(t, ServerOptions{Logger: log}, "")
	ctx := context.Background()

	for _, k := range kinds {
		for _, o := range allOps {
			t.Run(k.name+"/"+o.name, func(t *testing.T) {
				fx.fake.setFail(k.err)
				err := o.call(ctx, fx.client)
				checkStatusError(t, err, o.name, k.status, k.kind)
				if k.kind == nil && errors.Is(err, coord.ErrBadRequest) {
					t.Error("a 500 must not read as a bad request")
				}
				if k.name == "fenced" {
					checkFence(t, err, fence)
				}
			})
		}
	}
	if !strings.Contains(logs.String(), "disk on fire") {
		t.Errorf("500s were not logged with their cause; log:\n%s", logs)
	}
}

func checkStatusError(t *testing.T, err error, opName string, status int, kind error) {
	t.Helper()
	var se *StatusError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a *StatusError", err)
	}
	if se.Code != status {
		t.Errorf("status = %d, want %d", se.Code, status)
	}
	if kind != nil && !errors.Is(err, kind) {
		t.Errorf("err = %v, want kind %v", err, kind)
	}
	if kind == nil && se.Kind != nil {
		t.Errorf("kind = %v, want none", se.Kind)
	}
	if !strings.HasPrefix(err.Error(), opName+" http://127.0.0.1:") {
		t.Errorf("err %q does not start with the op and the URL", err)
	}
	if status == 500 && strings.Contains(se.Msg, "disk on fire") {
		t.Errorf("a 500 leaked its cause to the caller: %q", se.Msg)
	}
}

func checkFence(t *testing.T, err error, want *coord.FenceError) {
	t.Helper()
	var fe *coord.FenceError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a *coord.FenceError inside", err)
	}
	if *fe != *want {
		t.Errorf("fence = %+v, want %+v", *fe, *want)
	}
}

// A 429 or 503 carries the service's retry hint as Retry-After, and the
// client offers it both as a field and, for callers that do not import
// this package, as a RetryAfter method found with errors.As.
func TestRetryAfter(t *testing.T) {
	fx := newFixture(t, ServerOptions{}, "")
	fx.fake.setFail(throttle{2500 * time.Millisecond})

	_, err := fx.client.Claim(context.Background(), coord.ClaimRequest{Factory: "mac-1"})
	var se *StatusError
	if !errors.As(err, &se) || se.RetryAfter != 3*time.Second {
		t.Fatalf("err = %v, want RetryAfter 3s (whole seconds, rounded up)", err)
	}
	var hint interface{ RetryAfter() time.Duration }
	if !errors.As(err, &hint) || hint.RetryAfter() != 3*time.Second {
		t.Errorf("no RetryAfter() method in the chain of %v", err)
	}

	fx.fake.setFail(coord.ErrThrottled) // no hint: no header, no method
	_, err = fx.client.Claim(context.Background(), coord.ClaimRequest{Factory: "mac-1"})
	if errors.As(err, &se) && se.RetryAfter != 0 {
		t.Errorf("RetryAfter = %v without a hint", se.RetryAfter)
	}
	if errors.As(err, &hint) {
		t.Errorf("a RetryAfter() method without a hint: %v", err)
	}
}

// foreign answers a fixed status, headers and body, like a server that is
// not ours (or a proxy in front of ours).
func foreign(t *testing.T, status int, hdr map[string]string, body string) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range hdr {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	c, err := NewClient(srv.URL+"/api", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		srv.Close()
	})
	return c
}

// Answers without our error body still map by status alone; a bare 409 to
// a report is a fence of that very call, the safe reading for a holder.
func TestForeignAnswers(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		status int
		body   string
		op     op
		kind   error
		msg    string
	}{
		{"bare 409 on renew", 409, "", allOps[2], coord.ErrFenced, "Conflict"},
		{"bare 409 on submit", 409, "", allOps[0], coord.ErrConflict, "Conflict"},
		{"409 with another code", 409, `{"error":"stale"}`, allOps[3], coord.ErrFenced, ""},
		{"proxy 502 page", 502, "<html>\n<b>Bad Gateway</b></html>", allOps[1],
			coord.ErrUnavailable, "<html> <b>Bad Gateway</b></html>"},
		{"504", 504, "", allOps[1], coord.ErrUnavailable, "Gateway Timeout"},
		{"403", 403, "", allOps[1], coord.ErrUnauthorized, "Forbidden"},
		{"418", 418, "", allOps[1], coord.ErrBadRequest, "I'm a teapot"},
		{"500", 500, "oops", allOps[1], nil, "oops"},
		{"redirect", 302, "", allOps[1], nil, "Found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := foreign(t, tc.status, map[string]string{"Location": "/elsewhere"}, tc.body)
			err := tc.op.call(ctx, c)
			checkStatusError(t, err, tc.op.name, tc.status, tc.kind)
			var se *StatusError
			if errors.As(err, &se) && tc.msg != "" && se.Msg != tc.msg {
				t.Errorf("msg = %q, want %q", se.Msg, tc.msg)
			}
		})
	}
}

// A fence whose detail the server left out is filled from the call.
func TestBareFenceNamesTheCall(t *testing.T) {
	c := foreign(t, 409, nil, "")
	r := coord.Report{Job: "job-4", Factory: "ubuntu-1", Epoch: 7, Stage: coord.StageDone}
	_, err := c.Patch(context.Background(), r)
	checkFence(t, err, &coord.FenceError{Job: "job-4", Factory: "ubuntu-1", Epoch: 7,
		Op: "patch:done"})
}

// Retry-After may be an HTTP date; it is judged against the client's clock.
func TestRetryAfterDate(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		header string
		want   time.Duration
	}{
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"7", 7 * time.Second},
		{"-3", 0},
		{"soon", 0},
	}
	for _, tc := range tests {
		c := foreign(t, 503, map[string]string{"Retry-After": tc.header}, "")
		c.clock = coord.NewFakeClock(now)
		_, err := c.Claim(context.Background(), coord.ClaimRequest{Factory: "mac-1"})
		var se *StatusError
		if !errors.As(err, &se) || se.RetryAfter != tc.want {
			t.Errorf("Retry-After %q: err = %v, want %v", tc.header, err, tc.want)
		}
	}
}

// A damaged events line in an answer is an error, never a made-up event.
func TestEventsBadLine(t *testing.T) {
	line := coord.FormatLine(event(1, coord.EvClaim))
	damaged := strings.Replace(line, "epoch=2", "epoch=9", 1)
	c := foreign(t, 200, nil, `{"events":["`+damaged+`"],"last":1}`)
	_, err := c.Events(context.Background(), 0, 0, 0)
	if !errors.Is(err, coord.ErrBadLine) {
		t.Errorf("err = %v, want ErrBadLine", err)
	}
}
