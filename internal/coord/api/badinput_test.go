package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// rawDo sends a request as given (path not cleaned, body as is) and returns
// the answer with its body read.
func rawDo(t *testing.T, fx *fixture, method, path, body string,
	hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, fx.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := fx.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// checkErrorBody asserts a JSON error answer with the given status and code.
func checkErrorBody(t *testing.T, resp *http.Response, b []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("status = %d, want %d; body %s", resp.StatusCode, status, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want JSON", ct)
	}
	var eb struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(b, &eb); err != nil {
		t.Fatalf("error body %q is not JSON: %v", b, err)
	}
	if eb.Error != code || eb.Message == "" {
		t.Errorf("error body = %+v, want code %q and a message", eb, code)
	}
}

const okReport = `{"factoryId":"mac-1","epoch":3}`

// Every kind of bad input gets its 4xx with a JSON error, and the service
// is never called: the handler decides before anything can be written.
func TestBadInput(t *testing.T) {
	big := `{"id":"a","payload":"` + strings.Repeat("x", 70<<10) + `"}`
	padded := `{"id":"a"}` + strings.Repeat(" ", 70<<10)
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"malformed JSON", "POST", "/api/fleet/jobs", `{"id":`, 400, codeBadRequest},
		{"not an object", "POST", "/api/fleet/jobs", `[1,2]`, 400, codeBadRequest},
		{"a bare string", "POST", "/api/fleet/jobs", `"job"`, 400, codeBadRequest},
		{"null is no id", "POST", "/api/fleet/jobs", `null`, 400, codeBadRequest},
		{"empty body", "POST", "/api/fleet/jobs", ``, 400, codeBadRequest},
		{"two objects", "POST", "/api/fleet/jobs", `{"id":"a"}{"id":"b"}`, 400, codeBadRequest},
		{"trailing garbage", "POST", "/api/fleet/jobs", `{"id":"a"} x`, 400, codeBadRequest},
		{"unknown field", "POST", "/api/fleet/jobs", `{"id":"a","prio":1}`, 400, codeBadRequest},
		{"wrong type", "POST", "/api/fleet/jobs", `{"id":7}`, 400, codeBadRequest},
		{"oversize body", "POST", "/api/fleet/jobs", big, 413, codeTooLarge},
		{"oversize padding", "POST", "/api/fleet/jobs", padded, 413, codeTooLarge},
		{"id dot dot", "POST", "/api/fleet/jobs", `{"id":"../x"}`, 400, codeBadRequest},
		{"id empty", "POST", "/api/fleet/jobs", `{"id":""}`, 400, codeBadRequest},
		{"id space", "POST", "/api/fleet/jobs", `{"id":"a b"}`, 400, codeBadRequest},
		{"id too long", "POST", "/api/fleet/jobs", `{"id":"` + strings.Repeat("a", 65) + `"}`,
			400, codeBadRequest},
		{"bad product", "POST", "/api/fleet/jobs", `{"id":"a","product":"p/q"}`, 400,
			codeBadRequest},

		{"claim no factory", "POST", "/api/fleet/claim", `{}`, 400, codeBadRequest},
		{"claim bad factory", "POST", "/api/fleet/claim", `{"factoryId":"a/b"}`, 400,
			codeBadRequest},
		{"claim max negative", "POST", "/api/fleet/claim", `{"factoryId":"f","max":-1}`, 400,
			codeBadRequest},
		{"claim max huge", "POST", "/api/fleet/claim", `{"factoryId":"f","max":101}`, 400,
			codeBadRequest},
		{"claim max string", "POST", "/api/fleet/claim", `{"factoryId":"f","max":"2"}`, 400,
			codeBadRequest},

		{"renew no epoch", "POST", "/api/fleet/jobs/a/renew", `{"factoryId":"f"}`, 400,
			codeBadRequest},
		{"renew epoch 0", "POST", "/api/fleet/jobs/a/renew", `{"factoryId":"f","epoch":0}`, 400,
			codeBadRequest},
		{"renew epoch -1", "POST", "/api/fleet/jobs/a/renew", `{"factoryId":"f","epoch":-1}`,
			400, codeBadRequest},
		{"renew epoch 1.5", "POST", "/api/fleet/jobs/a/renew", `{"factoryId":"f","epoch":1.5}`,
			400, codeBadRequest},
		{"renew no factory", "POST", "/api/fleet/jobs/a/renew", `{"epoch":1}`, 400,
			codeBadRequest},
		{"renew with stage", "POST", "/api/fleet/jobs/a/renew",
			`{"factoryId":"f","epoch":1,"stage":"done"}`, 400, codeBadRequest},
		{"renew names job in body", "POST", "/api/fleet/jobs/a/renew",
			`{"factoryId":"f","epoch":1,"job":"b"}`, 400, codeBadRequest},
		{"patch unknown stage", "PATCH", "/api/fleet/jobs/a",
			`{"factoryId":"f","epoch":1,"stage":"shipping"}`, 400, codeBadRequest},
		{"patch no stage", "PATCH", "/api/fleet/jobs/a", okReport, 400, codeBadRequest},
		{"patch to queued", "PATCH", "/api/fleet/jobs/a",
			`{"factoryId":"f","epoch":1,"stage":"queued"}`, 400, codeBadRequest},
		{"patch to claimed", "PATCH", "/api/fleet/jobs/a",
			`{"factoryId":"f","epoch":1,"stage":"claimed"}`, 400, codeBadRequest},
		{"release no factory", "POST", "/api/fleet/jobs/a/release", `{"epoch":2}`, 400,
			codeBadRequest},

		{"path dot dot", "POST", "/api/fleet/jobs/../x/renew", okReport, 400, codeBadRequest},
		{"path escaped dot dot slash", "POST", "/api/fleet/jobs/%2e%2e%2fx/renew", okReport, 400,
			codeBadRequest},
		{"path dot dot escaped slash", "POST", "/api/fleet/jobs/..%2Fx/renew", okReport, 400,
			codeBadRequest},
		{"get escaped dot dot", "GET", "/api/fleet/jobs/%2e%2e", "", 400, codeBadRequest},
		{"get escaped traversal", "GET", "/api/fleet/jobs/%2e%2e%2fx", "", 400, codeBadRequest},
		{"get escaped slash", "GET", "/api/fleet/jobs/a%2Fb", "", 400, codeBadRequest},
		{"get leading dot", "GET", "/api/fleet/jobs/.hidden", "", 400, codeBadRequest},
		{"get space", "GET", "/api/fleet/jobs/a%20b", "", 400, codeBadRequest},
		{"patch traversal", "PATCH", "/api/fleet/jobs/%2e%2e%2f%2e%2e%2fetc",
			`{"factoryId":"f","epoch":1,"stage":"done"}`, 400, codeBadRequest},
		{"double slash", "GET", "/api//fleet/jobs", "", 400, codeBadRequest},

		{"delete a job", "DELETE", "/api/fleet/jobs/a", "", 405, codeMethod},
		{"get claim", "GET", "/api/fleet/claim", "", 405, codeMethod},
		{"put jobs", "PUT", "/api/fleet/jobs", `{"id":"a"}`, 405, codeMethod},
		{"post events", "POST", "/api/fleet/events", `{}`, 405, codeMethod},
		{"unknown route", "GET", "/api/nope", "", 404, codeNotFound},
		{"unknown sub-route", "POST", "/api/fleet/jobs/a/ship", okReport, 404, codeNotFound},
		{"outside the base", "GET", "/healthz", "", 404, codeNotFound},

		{"list bad stage", "GET", "/api/fleet/jobs?stage=shipping", "", 400, codeBadRequest},
		{"list bad holder", "GET", "/api/fleet/jobs?holder=..%2Fx", "", 400, codeBadRequest},
		{"list bad product", "GET", "/api/fleet/jobs?product=a%20b", "", 400, codeBadRequest},
		{"list typo", "GET", "/api/fleet/jobs?stgae=done", "", 400, codeBadRequest},
		{"list twice", "GET", "/api/fleet/jobs?stage=done&stage=failed", "", 400,
			codeBadRequest},
		{"list bad escape", "GET", "/api/fleet/jobs?product=%zz", "", 400, codeBadRequest},
		{"events after -1", "GET", "/api/fleet/events?after=-1", "", 400, codeBadRequest},
		{"events after word", "GET", "/api/fleet/events?after=ten", "", 400, codeBadRequest},
		{"events limit 0", "GET", "/api/fleet/events?limit=0", "", 400, codeBadRequest},
		{"events limit -5", "GET", "/api/fleet/events?limit=-5", "", 400, codeBadRequest},
		{"events wait negative", "GET", "/api/fleet/events?wait=-1s", "", 400, codeBadRequest},
		{"events wait word", "GET", "/api/fleet/events?wait=soon", "", 400, codeBadRequest},
		{"events wait NaN", "GET", "/api/fleet/events?wait=NaN", "", 400, codeBadRequest},
		{"events wait huge", "GET", "/api/fleet/events?wait=1e300", "", 400, codeBadRequest},
		{"events unknown", "GET", "/api/fleet/events?since=3", "", 400, codeBadRequest},
	}
	fx := newFixture(t, ServerOptions{}, "")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := rawDo(t, fx, tc.method, tc.path, tc.body, nil)
			checkErrorBody(t, resp, b, tc.status, tc.code)
			if tc.status == 405 && resp.Header.Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
		})
	}
	if n := fx.fake.callCount(); n != 0 {
		t.Errorf("bad input reached the service %d times: %v", n, fx.fake.calls)
	}
}

// The same good request passes: the table above fails for the right
// reason, not because every request fails.
func TestGoodInputPasses(t *testing.T) {
	fx := newFixture(t, ServerOptions{}, "")
	tests := []struct{ method, path, body string }{
		{"POST", "/api/fleet/jobs", `{"id":"a.b_c-9","product":"p","payload":"x"}` + "\n"},
		{"POST", "/api/fleet/claim", `{"factoryId":"f","max":100}`},
		{"POST", "/api/fleet/jobs/a/renew", okReport},
		{"PATCH", "/api/fleet/jobs/a", `{"factoryId":"f","epoch":1,"stage":"verifying"}`},
		{"POST", "/api/fleet/jobs/a/release", okReport},
		{"GET", "/api/fleet/jobs/A" + strings.Repeat("z", 63), ""},
		{"GET", "/api/fleet/jobs?stage=done&holder=mac-1&product=p", ""},
		{"HEAD", "/api/fleet/jobs", ""},
	}
	for _, tc := range tests {
		resp, b := rawDo(t, fx, tc.method, tc.path, tc.body, nil)
		if resp.StatusCode >= 300 {
			t.Errorf("%s %s: status %d: %s", tc.method, tc.path, resp.StatusCode, b)
		}
	}
}

// FuzzHandler throws garbage bodies and ids at every route: bad input must
// never be a 5xx, and must never panic the handler.
func FuzzHandler(f *testing.F) {
	f.Add(uint8(0), "a", []byte(`{"id":"a"}`))
	f.Add(uint8(1), "a", []byte(`{"factoryId":"f","max":2}`))
	f.Add(uint8(2), "a", []byte(okReport))
	f.Add(uint8(3), "..%2f", []byte(`{"factoryId":"f","epoch":1,"stage":"done"}`))
	f.Add(uint8(4), "%00", []byte(`{"factoryId":"f","epoch":18446744073709551616}`))
	f.Add(uint8(5), "x", []byte("\xff\xfe{"))
	f.Add(uint8(6), "j", []byte(`{"id":"a","id":"../b"}`))
	f.Add(uint8(7), "j", []byte(`{"factoryId":"f","epoch":1e400}`))

	fake := newFake()
	h := NewHandler(fake, ServerOptions{MaxBody: 1 << 10})
	routes := []struct{ method, path string }{
		{"POST", "/api/fleet/jobs"},
		{"POST", "/api/fleet/claim"},
		{"POST", "/api/fleet/jobs/%s/renew"},
		{"PATCH", "/api/fleet/jobs/%s"},
		{"POST", "/api/fleet/jobs/%s/release"},
		{"GET", "/api/fleet/jobs/%s"},
		{"GET", "/api/fleet/jobs?stage=%s"},
		{"GET", "/api/fleet/events?after=%s&wait=0"},
	}
	f.Fuzz(func(t *testing.T, route uint8, id string, body []byte) {
		rt := routes[int(route)%len(routes)]
		target := strings.ReplaceAll(rt.path, "%s", id)
		req, err := http.NewRequest(rt.method, "http://127.0.0.1"+target, bytes.NewReader(body))
		if err != nil {
			return // not a URL a client could send
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: status %d: %s", rt.method, target, body, rec.Code, rec.Body)
		}
	})
}
