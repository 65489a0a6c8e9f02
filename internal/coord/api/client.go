package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// maxAnswer bounds an answer body the client reads: a full events page of
// maxEventLimit lines is a few MiB, and a list of every job is the largest.
const maxAnswer = 64 << 20

// Client is a coord.Service over the HTTP API, with the same errors as the
// in-process coordinator: a status maps back to its error kind through
// wireToKinds, every non-2xx answer is a *StatusError, and connection
// failures name the operation and the base URL. It never retries: when and
// how often to try again is the caller's policy, which can read the
// server's Retry-After from the StatusError. It is safe for concurrent use.
type Client struct {
	base  string // the API's base URL, without a trailing slash
	token string
	hc    *http.Client
	clock coord.Clock
}

var _ coord.Service = (*Client)(nil)

// ClientOption configures NewClient.
type ClientOption func(*Client)

// WithHTTPClient makes the client send its requests with hc (for its
// transport, TLS settings or timeouts) instead of its own. Nil is ignored.
// Note that a timeout on hc also cuts long polls short.
func WithHTTPClient(hc *http.Client) ClientOption {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// NewClient returns a client of the API at baseURL, for example
// "http://127.0.0.1:4003/api", sending token as a bearer token when it is
// not empty. The URL must be absolute http or https with a host and no
// query, fragment or user info.
func NewClient(baseURL, token string, opts ...ClientOption) (*Client, error) {
	base, err := checkBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	for i := 0; i < len(token); i++ {
		if token[i] <= ' ' || token[i] > '~' {
			return nil, errors.New("api client: token has a space or a non-printable byte")
		}
	}

	c := &Client{base: base, token: token, clock: coord.SystemClock{}}
	c.hc = &http.Client{
		// Its own pool, so that Close releases exactly this client's idle
		// connections.
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
		// A redirect would turn a POST into a GET; an API answer is never
		// a redirect, so the 3xx itself is returned as the error.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

func checkBaseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("api client: base URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("api client: base URL %q: scheme must be http or https", raw)
	case u.Host == "":
		return "", fmt.Errorf("api client: base URL %q has no host", raw)
	case u.User != nil:
		return "", errors.New("api client: base URL has user info; pass a token instead")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", fmt.Errorf("api client: base URL %q has a query or fragment", raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// Close releases the client's idle connections. The client stays usable.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Health asks GET /healthz; nil means the server answers.
func (c *Client) Health(ctx context.Context) error {
	_, err := c.do(ctx, call{op: "health", method: http.MethodGet, path: "/healthz"}, nil)
	return err
}

// Submit adds a job; created is false when the same id and body were
// submitted before (200 rather than 201). See coord.Service.
func (c *Client) Submit(ctx context.Context, r coord.SubmitRequest) (coord.Job, bool, error) {
	var job coord.Job
	cl := call{op: "submit", method: http.MethodPost, path: "/fleet/jobs", body: r,
		want: []int{http.StatusOK, http.StatusCreated}}
	status, err := c.do(ctx, cl, &job)
	if err != nil {
		return coord.Job{}, false, err
	}
	return job, status == http.StatusCreated, nil
}

// claimAnswer reads both forms of a claim's answer: one grant, or a batch.
type claimAnswer struct {
	Job    *coord.Job    `json:"job"`
	Lease  *coord.Lease  `json:"lease"`
	Grants []coord.Grant `json:"grants"`
}

// Claim asks for up to max(1, r.Max) jobs; Max above 1 uses the batch form.
// Nothing queued (204) is an empty slice and nil. See coord.Service.
func (c *Client) Claim(ctx context.Context, r coord.ClaimRequest) ([]coord.Grant, error) {
	var ans claimAnswer
	cl := call{op: "claim", method: http.MethodPost, path: "/fleet/claim", body: r,
		want: []int{http.StatusOK, http.StatusNoContent}}
	status, err := c.do(ctx, cl, &ans)
	switch {
	case err != nil:
		return nil, err
	case status == http.StatusNoContent:
		return []coord.Grant{}, nil
	case ans.Grants != nil:
		return ans.Grants, nil
	case ans.Job != nil && ans.Lease != nil:
		return []coord.Grant{{Job: *ans.Job, Lease: *ans.Lease}}, nil
	}
	return nil, c.wrap("claim", errors.New("answer has neither a grant nor grants"))
}

// Renew extends the caller's lease. A fence is a *coord.FenceError inside
// a *StatusError. See coord.Service.
func (c *Client) Renew(ctx context.Context, r coord.Report) (coord.Lease, error) {
	var lease coord.Lease
	err := c.report(ctx, "renew", http.MethodPost, "/renew", r, &lease)
	return lease, err
}

// Patch moves a held job to r.Stage. See coord.Service.
func (c *Client) Patch(ctx context.Context, r coord.Report) (coord.Job, error) {
	var job coord.Job
	err := c.report(ctx, "patch", http.MethodPatch, "", r, &job)
	return job, err
}

// Release gives a held job back to the queue. See coord.Service.
func (c *Client) Release(ctx context.Context, r coord.Report) (coord.Job, error) {
	var job coord.Job
	err := c.report(ctx, "release", http.MethodPost, "/release", r, &job)
	return job, err
}

// report sends a renew, patch or release of r.Job. Only a patch carries a
// stage. A 409 without the server's detail is still read as a fence of this
// very call, the safe reading for a holder: it stops rather than ships.
func (c *Client) report(ctx context.Context, op, method, suffix string, r coord.Report,
	out any) error {
	if err := coord.CheckID("job id", r.Job); err != nil {
		return c.wrap(op, err)
	}
	fenceOp := op
	body := coord.Report{Factory: r.Factory, Epoch: r.Epoch}
	if op == "patch" {
		body.Stage = r.Stage
		fenceOp = "patch:" + string(r.Stage)
	}
	cl := call{op: op, method: method, path: "/fleet/jobs/" + url.PathEscape(r.Job) + suffix,
		body: body, fence: &coord.FenceError{Job: r.Job, Factory: r.Factory, Epoch: r.Epoch,
			Op: fenceOp}}
	_, err := c.do(ctx, cl, out)
	return err
}

// Get returns one job. See coord.Service.
func (c *Client) Get(ctx context.Context, id string) (coord.Job, error) {
	if err := coord.CheckID("job id", id); err != nil {
		return coord.Job{}, c.wrap("get", err)
	}
	var job coord.Job
	cl := call{op: "get", method: http.MethodGet, path: "/fleet/jobs/" + url.PathEscape(id)}
	if _, err := c.do(ctx, cl, &job); err != nil {
		return coord.Job{}, err
	}
	return job, nil
}

// List returns the jobs matching f, in submission order. See coord.Service.
func (c *Client) List(ctx context.Context, f coord.ListFilter) ([]coord.Job, error) {
	q := url.Values{}
	setIf(q, "product", f.Product)
	setIf(q, "stage", string(f.Stage))
	setIf(q, "holder", f.Holder)
	var ans jobList
	cl := call{op: "list", method: http.MethodGet, path: "/fleet/jobs", query: q}
	if _, err := c.do(ctx, cl, &ans); err != nil {
		return nil, err
	}
	return ans.Jobs, nil
}

// Events long-polls for up to limit events after seq after, waiting up to
// wait (the server caps it) for the first. The lines are read with
// coord.ParseLine, the project's one reader of events. See coord.Service.
func (c *Client) Events(ctx context.Context, after uint64, limit int,
	wait time.Duration) ([]coord.Event, error) {
	q := url.Values{"after": {strconv.FormatUint(after, 10)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	var page eventPage
	cl := call{op: "events", method: http.MethodGet, path: "/fleet/events", query: q}
	if _, err := c.do(ctx, cl, &page); err != nil {
		return nil, err
	}

	evs := make([]coord.Event, 0, len(page.Events))
	for i, line := range page.Events {
		e, err := coord.ParseLine([]byte(line))
		if err != nil {
			return nil, c.wrap("events", fmt.Errorf("line %d of the answer: %w", i+1, err))
		}
		evs = append(evs, e)
	}
	return evs, nil
}

func setIf(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

// call is one request of the client.
type call struct {
	op     string // names the call in errors: "claim", "renew", ...
	method string
	path   string // below the base URL, already escaped
	query  url.Values
	body   any   // sent as JSON when not nil
	want   []int // the 2xx statuses the call expects; nil means 200
	// fence is what a 409 without a known error code means: a fence of this
	// call (renew, patch, release); nil means a conflict (submit).
	fence *coord.FenceError
}

// do sends cl and decodes a 2xx answer into out (unless it is 204 or out is
// nil). It returns the status, and an error naming cl.op and the base URL.
func (c *Client) do(ctx context.Context, cl call, out any) (int, error) {
	req, err := c.request(ctx, cl)
	if err != nil {
		return 0, c.wrap(cl.op, err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the full URL and method
		}
		return 0, c.wrap(cl.op, err)
	}
	defer resp.Body.Close()

	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err == nil && len(b) > maxAnswer {
		err = fmt.Errorf("answer is over %d bytes", maxAnswer)
	}
	if err != nil {
		return resp.StatusCode, c.wrap(cl.op, fmt.Errorf("read HTTP %d answer: %w",
			resp.StatusCode, err))
	}

	want := cmpOr(cl.want, []int{http.StatusOK})
	if !slices.Contains(want, resp.StatusCode) {
		return resp.StatusCode, c.statusFailure(cl, resp, b)
	}
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, c.wrap(cl.op, fmt.Errorf("decode HTTP %d answer: %w",
				resp.StatusCode, err))
		}
	}
	return resp.StatusCode, nil
}

func cmpOr(a, b []int) []int {
	if a == nil {
		return b
	}
	return a
}

func (c *Client) request(ctx context.Context, cl call) (*http.Request, error) {
	u := c.base + cl.path
	if len(cl.query) > 0 {
		u += "?" + cl.query.Encode()
	}
	var body io.Reader
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// statusFailure turns an answer with an unexpected status into a
// *StatusError of the right kind, wrapped with the call, and with a
// RetryAfter method on top when the server sent a Retry-After.
func (c *Client) statusFailure(cl call, resp *http.Response, b []byte) error {
	var body errorBody
	if json.Unmarshal(b, &body) != nil {
		body = errorBody{}
	}
	se := &StatusError{
		Code:       resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), c.clock.Now()),
		Msg:        answerMessage(body, b, resp.StatusCode),
		Kind:       fromWire(resp.StatusCode, body.Code),
	}
	if se.Code == http.StatusConflict && se.Kind == nil {
		se.Kind = coord.ErrConflict
		if cl.fence != nil {
			se.Kind = coord.ErrFenced
		}
	}
	if errors.Is(se.Kind, coord.ErrFenced) {
		se.Kind = fenceDetail(body.FenceError, cl.fence)
	}

	err := c.wrap(cl.op, se)
	if se.RetryAfter > 0 {
		return &retryHint{err: err, after: se.RetryAfter}
	}
	return err
}

// fenceDetail is the server's fence detail, with what it left out taken
// from the call itself.
func fenceDetail(got, call *coord.FenceError) *coord.FenceError {
	fe := &coord.FenceError{}
	if got != nil {
		*fe = *got
	}
	if call == nil {
		return fe
	}
	if fe.Job == "" {
		fe.Job = call.Job
	}
	if fe.Factory == "" {
		fe.Factory = call.Factory
	}
	if fe.Epoch == 0 {
		fe.Epoch = call.Epoch
	}
	if fe.Op == "" {
		fe.Op = call.Op
	}
	return fe
}

// answerMessage is the one-line message of an error answer: the server's
// own, else the start of whatever it sent (a proxy's page), else the
// status text.
func answerMessage(body errorBody, raw []byte, status int) string {
	if body.Message != "" {
		return oneLine(body.Message)
	}
	if s := oneLine(string(raw)); s != "" {
		return s
	}
	return http.StatusText(status)
}

// wrap names the operation and the base URL in err.
func (c *Client) wrap(op string, err error) error {
	return fmt.Errorf("%s %s: %w", op, c.base, err)
}
