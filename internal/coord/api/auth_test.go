package api

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/twofactory/twofactory/internal/coord"
)

func TestAuth(t *testing.T) {
	const token = "s3cret-Token"
	fx := newFixture(t, ServerOptions{Token: token}, "")
	ctx := context.Background()
	claim := func(c *Client) error {
		_, err := c.Claim(ctx, coord.ClaimRequest{Factory: "mac-1"})
		return err
	}

	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"no token", "", false},
		{"wrong token", "s3cret-Tokem", false},
		{"prefix of the token", "s3cret", false},
		{"token plus more", token + "x", false},
		{"right token", token, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClient(fx.srv.URL+"/api", tc.token)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = claim(c)
			if tc.ok {
				if err != nil {
					t.Fatalf("claim with the right token: %v", err)
				}
				return
			}
			checkStatusError(t, err, "claim", http.StatusUnauthorized, coord.ErrUnauthorized)
			if err := c.Health(ctx); err != nil {
				t.Errorf("health needs no token, got %v", err)
			}
		})
	}
	if n := fx.fake.callCount(); n != 1 {
		t.Errorf("service called %d times, want 1 (only the authorized claim)", n)
	}
}

// Raw headers: the scheme is case-insensitive, anything else is refused,
// and a refused call never reveals whether its route exists.
func TestAuthHeaders(t *testing.T) {
	fx := newFixture(t, ServerOptions{Token: "tok"}, "")
	tests := []struct {
		name, method, path, auth string
		status                   int
	}{
		{"basic scheme", "GET", "/api/fleet/jobs", "Basic tok", 401},
		{"no scheme", "GET", "/api/fleet/jobs", "tok", 401},
		{"empty bearer", "GET", "/api/fleet/jobs", "Bearer ", 401},
		{"lower-case scheme", "GET", "/api/fleet/jobs", "bearer tok", 200},
		{"unknown route needs the token first", "GET", "/api/nope", "", 401},
		{"wrong method needs the token first", "DELETE", "/api/fleet/jobs/a", "", 401},
		{"health without token", "GET", "/api/healthz", "", 200},
		{"health with a wrong token", "GET", "/api/healthz", "Bearer nope", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.auth != "" {
				hdr["Authorization"] = tc.auth
			}
			resp, b := rawDo(t, fx, tc.method, tc.path, "", hdr)
			if tc.status == 401 {
				checkErrorBody(t, resp, b, 401, codeUnauthorized)
				if resp.Header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
			} else if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
		})
	}
}

func TestNewClientRejects(t *testing.T) {
	bad := []struct{ url, token string }{
		{"", ""},
		{"127.0.0.1:4003/api", ""},
		{"ftp://127.0.0.1/api", ""},
		{"http:///api", ""},
		{"http://user:pw@127.0.0.1/api", ""},
		{"http://127.0.0.1/api?x=1", ""},
		{"http://127.0.0.1/api?", ""},
		{"http://127.0.0.1/api#top", ""},
		{"http://[::1", ""},
		{"http://127.0.0.1/api", "two words"},
		{"http://127.0.0.1/api", "line\nbreak"},
	}
	for _, tc := range bad {
		if _, err := NewClient(tc.url, tc.token); err == nil {
			t.Errorf("NewClient(%q, %q) = nil error", tc.url, tc.token)
		}
	}
	c, err := NewClient("https://127.0.0.1:4003/api/", "t0k.en-_~")
	if err != nil {
		t.Fatal(err)
	}
	if c.base != "https://127.0.0.1:4003/api" {
		t.Errorf("base = %q, want the trailing slash trimmed", c.base)
	}
}

// A connection failure names the operation and the base URL and keeps its
// cause; it is no StatusError and no kind, since nothing answered.
func TestConnectionRefused(t *testing.T) {
	srv := newFixture(t, ServerOptions{}, "")
	base := srv.srv.URL + "/api"
	srv.srv.Close() // nothing listens on the port any more

	c, err := NewClient(base, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Claim(context.Background(), coord.ClaimRequest{Factory: "mac-1"})
	if err == nil {
		t.Fatal("claim against a closed port succeeded")
	}
	want := "claim " + base + ": "
	if got := err.Error(); len(got) < len(want) || got[:len(want)] != want {
		t.Errorf("err = %q, want it to start with %q", got, want)
	}
	var se *StatusError
	if errors.As(err, &se) {
		t.Errorf("a connection failure is a StatusError: %v", err)
	}
	for _, kind := range []error{coord.ErrFenced, coord.ErrUnavailable, coord.ErrBadRequest} {
		if errors.Is(err, kind) {
			t.Errorf("a connection failure reads as %v", kind)
		}
	}
}

// An id that cannot be a job's is refused before anything is sent.
func TestClientChecksPathIDs(t *testing.T) {
	fx := newFixture(t, ServerOptions{}, "")
	ctx := context.Background()
	for _, id := range []string{"", "../x", "a/b", ".."} {
		if _, err := fx.client.Get(ctx, id); !errors.Is(err, coord.ErrBadRequest) {
			t.Errorf("Get(%q) = %v, want ErrBadRequest", id, err)
		}
		r := coord.Report{Job: id, Factory: "mac-1", Epoch: 1}
		if _, err := fx.client.Renew(ctx, r); !errors.Is(err, coord.ErrBadRequest) {
			t.Errorf("Renew(%q) = %v, want ErrBadRequest", id, err)
		}
	}
	if n := fx.fake.callCount(); n != 0 {
		t.Errorf("service called %d times", n)
	}
}
