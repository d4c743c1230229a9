package ui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// TestEscaping: a pipeline named <script>... is shown as text on every
// page that names it, and no page holds a script element.
func TestEscaping(t *testing.T) {
	f := getFixture(t)
	_, ts := testServer(t, Options{})
	a, b := f.runs[0].ID, f.runs[1].ID
	for _, path := range []string{"/runs", "/runs/" + a, "/compare?run=" + a + "&run=" + b, "/runs?pipeline=" + url.QueryEscape(xssName), "/audit"} {
		resp, body := get(t, ts.Client(), ts.URL+path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s\n%s", path, resp.Status, body)
		}
		if strings.Contains(strings.ToLower(body), "<script") {
			t.Errorf("%s: the page holds a <script", path)
		}
		if !strings.Contains(body, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`) {
			t.Errorf("%s: the pipeline name is not shown escaped", path)
		}
	}
	// The report of the run (internal/report's template) escapes it too.
	resp, body := get(t, ts.Client(), ts.URL+"/runs/"+a+"/report")
	if resp.StatusCode != http.StatusOK || strings.Contains(strings.ToLower(body), "<script") {
		t.Errorf("report: %s, holds <script: %v", resp.Status, strings.Contains(strings.ToLower(body), "<script"))
	}
}

// TestTraversal: no route reaches a file or a record by a path.
func TestTraversal(t *testing.T) {
	_, ts := testServer(t, Options{})
	for _, path := range []string{
		"/runs/..%2F..%2F..%2Fgo.mod",
		"/runs/%2e%2e",
		"/runs/x/../../../etc/passwd",
		"/static/../../go.mod",
		"/static/..%2f..%2fgo.mod",
		"/static/templates/layout.html",
		"/models/..%2F..%2Frecords",
		"/models/.hidden",
		"/models/pd/..%2F..%2Fruns",
		"/api/runs/..%2F..%2Faudit",
		"/api/models/%2e%2e%2fpd",
		"/runs/%00",
		"/etc/passwd",
		"/runs/" + strings.Repeat("a", 200),
	} {
		resp, body := get(t, ts.Client(), ts.URL+path)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404\n%.300s", path, resp.Status, body)
		}
	}
}

// TestToken: with a token every request needs it (bearer header, or the
// cookie a ?token= visit sets); without one, only loopback host names.
func TestToken(t *testing.T) {
	_, ts := testServer(t, Options{Token: "s3cret-token"})
	c := ts.Client()
	noRedirect := *c
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cases := []struct {
		name   string
		url    string
		header []string
		want   int
	}{
		{"none", "/runs", nil, http.StatusUnauthorized},
		{"api none", "/api/runs", nil, http.StatusUnauthorized},
		{"wrong bearer", "/runs", []string{"Authorization", "Bearer s3cret-toke"}, http.StatusUnauthorized},
		{"basic", "/runs", []string{"Authorization", "Basic czNjcmV0LXRva2Vu"}, http.StatusUnauthorized},
		{"bearer", "/runs", []string{"Authorization", "Bearer s3cret-token"}, http.StatusOK},
		{"api bearer", "/api/models", []string{"Authorization", "Bearer s3cret-token"}, http.StatusOK},
		{"wrong cookie", "/runs", []string{"Cookie", cookieName + "=nope"}, http.StatusUnauthorized},
		{"cookie", "/runs", []string{"Cookie", cookieName + "=s3cret-token"}, http.StatusOK},
		{"wrong query", "/runs?token=nope", nil, http.StatusUnauthorized},
		{"query", "/runs?token=s3cret-token&sort=-auc", nil, http.StatusSeeOther},
		// A token does not replace the host check: it is the check.
		{"bearer other host", "/runs", []string{"Authorization", "Bearer s3cret-token", "Host", "ui.example"}, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, ts.URL+tc.url, nil)
			for i := 0; i+1 < len(tc.header); i += 2 {
				if tc.header[i] == "Host" {
					req.Host = tc.header[i+1]
				} else {
					req.Header.Set(tc.header[i], tc.header[i+1])
				}
			}
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("%s: want %d", resp.Status, tc.want)
			}
			if tc.want == http.StatusSeeOther {
				if loc := resp.Header.Get("Location"); loc != "/runs?sort=-auc" {
					t.Errorf("redirect to %q, want the URL without the token", loc)
				}
				var set *http.Cookie
				for _, ck := range resp.Cookies() {
					if ck.Name == cookieName {
						set = ck
					}
				}
				if set == nil || set.Value != "s3cret-token" || !set.HttpOnly || set.SameSite != http.SameSiteStrictMode {
					t.Errorf("cookie %+v, want the token, HttpOnly, SameSite=Strict", set)
				}
			}
		})
	}

	// Without a token: a loopback name only (DNS rebinding).
	_, open := testServer(t, Options{})
	for host, want := range map[string]int{"": http.StatusOK, "localhost:8080": http.StatusOK, "[::1]:80": http.StatusOK, "evil.example": http.StatusForbidden, "127.0.0.1.evil.example:80": http.StatusForbidden} {
		req, _ := http.NewRequest(http.MethodGet, open.URL+"/models", nil)
		if host != "" {
			req.Host = host
		}
		resp, err := open.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %q: %s, want %d", host, resp.Status, want)
		}
	}
}

func TestCheckAddr(t *testing.T) {
	for _, tc := range []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:8080", "", true},
		{"127.0.0.1:0", "", true},
		{"localhost:9000", "", true},
		{"[::1]:8080", "", true},
		{"0.0.0.0:8080", "", false},
		{":8080", "", false},
		{"192.168.1.10:8080", "", false},
		{"0.0.0.0:8080", "t", true},
		{"no-port", "", false},
	} {
		err := CheckAddr(tc.addr, tc.token)
		if (err == nil) != tc.ok {
			t.Errorf("CheckAddr(%q, %q) = %v, want ok %v", tc.addr, tc.token, err, tc.ok)
		}
		if err != nil && pipeline.ExitCode(err) != pipeline.ExitInvalid {
			t.Errorf("CheckAddr(%q): exit code %d, want 2", tc.addr, pipeline.ExitCode(err))
		}
	}
}

// TestHeaders: every answer carries the security headers, pages a CSP
// without 'unsafe-inline' or any script source; writes are refused.
func TestHeaders(t *testing.T) {
	f := getFixture(t)
	_, ts := testServer(t, Options{})
	for _, path := range []string{"/runs", "/runs/" + f.runs[0].ID, "/runs/" + f.runs[0].ID + "/report", "/models/pd/monitoring", "/api/runs", "/nope"} {
		resp, _ := get(t, ts.Client(), ts.URL+path)
		h := resp.Header
		if h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", path, h.Get("X-Content-Type-Options"))
		}
		p := h.Get("Content-Security-Policy")
		if !strings.Contains(p, "default-src 'none'") || strings.Contains(p, "unsafe-inline") || strings.Contains(p, "unsafe-eval") {
			t.Errorf("%s: CSP %q", path, p)
		}
		if strings.Contains(h.Get("Content-Type"), "html") && !strings.Contains(p, "script-src 'none'") {
			t.Errorf("%s: CSP allows scripts: %q", path, p)
		}
		if !strings.HasPrefix(h.Get("Server-Timing"), "app;dur=") {
			t.Errorf("%s: Server-Timing %q", path, h.Get("Server-Timing"))
		}
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		req, _ := http.NewRequest(m, ts.URL+"/runs", strings.NewReader("x"))
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s /runs: %s, want 405", m, resp.Status)
		}
	}
}

// TestAPI: the JSON under /api/ answers what the pages show.
func TestAPI(t *testing.T) {
	f := getFixture(t)
	_, ts := testServer(t, Options{})
	a, b := f.runs[0].ID, f.runs[1].ID
	decode := func(path string, want int, v any) {
		t.Helper()
		resp, body := get(t, ts.Client(), ts.URL+path)
		if resp.StatusCode != want {
			t.Fatalf("%s: %s, want %d\n%s", path, resp.Status, want, body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Fatalf("%s: Content-Type %q", path, ct)
		}
		if err := json.Unmarshal([]byte(body), v); err != nil {
			t.Fatalf("%s: %v\n%s", path, err, body)
		}
	}
	var runs struct {
		Runs []struct {
			ID       string
			Pipeline string
			Params   map[string]any
			Metrics  map[string]any
		}
		Total, Page, Per int
	}
	decode("/api/runs", 200, &runs)
	if runs.Total != 2 || len(runs.Runs) != 2 || runs.Runs[0].ID != b || runs.Runs[0].Pipeline != xssName {
		t.Fatalf("runs: %+v", runs)
	}
	decode("/api/runs?where="+url.QueryEscape("params.seed == 42 && auc > 0.5")+"&per=1", 200, &runs)
	if runs.Total != 1 || runs.Runs[0].ID != a || runs.Per != 1 {
		t.Fatalf("filtered: %+v", runs)
	}
	decode("/api/runs?sort=auc&per=1&page=2", 200, &runs)
	if runs.Total != 2 || len(runs.Runs) != 1 {
		t.Fatalf("page 2: %+v", runs)
	}
	var e struct{ Error string }
	decode("/api/runs?where="+url.QueryEscape("auc >="), 400, &e)
	if !strings.HasPrefix(e.Error, "where: ") {
		t.Errorf("bad where: %q", e.Error)
	}
	decode("/api/runs?sort=-no_such_metric", 400, &e)
	decode("/api/runs?page=0", 400, &e)
	decode("/api/runs/nope", 404, &e)

	var run struct {
		Run    struct{ ID string }
		Checks []struct{ Name, Outcome string }
	}
	decode("/api/runs/"+a, 200, &run)
	if run.Run.ID != a || len(run.Checks) == 0 {
		t.Fatalf("run: %+v", run)
	}
	var cmp struct {
		Runs   []string
		Params []struct {
			Name    string
			Values  []string
			Differs bool
		}
		Roc []struct {
			Run   string
			AUC   float64
			Error string
		}
		Semantic []struct{ Error string }
	}
	decode("/api/compare?run="+a+"&run="+b, 200, &cmp)
	found := false
	for _, p := range cmp.Params {
		if p.Name == "seed" {
			found = p.Differs && p.Values[0] == "42" && p.Values[1] == "7"
		}
	}
	if !found || len(cmp.Roc) != 2 || cmp.Roc[0].Error != "" || cmp.Roc[0].AUC < 0.6 {
		t.Fatalf("compare: %+v", cmp)
	}
	if len(cmp.Semantic) != 1 || cmp.Semantic[0].Error != "" {
		t.Errorf("semantic diff: %+v", cmp.Semantic)
	}
	decode("/api/compare?run="+a, 400, &e)

	var models []struct {
		Name     string
		Versions int
		Aliases  []struct {
			Alias   string
			Version int
		}
	}
	decode("/api/models", 200, &models)
	if len(models) != 1 || models[0].Name != "pd" || models[0].Versions != 1 || models[0].Aliases[0].Alias != "champion" {
		t.Fatalf("models: %+v", models)
	}
	var mon struct{ Batches []any }
	decode("/api/models/pd/monitoring", 200, &mon)
	decode("/api/models/nope", 404, &e)

	var audit struct {
		Verify struct {
			Entries  int
			Problems []string
		}
		Entries []struct{ Type, Run, Hash string }
	}
	decode("/api/audit?run="+a, 200, &audit)
	if audit.Verify.Entries == 0 || len(audit.Verify.Problems) > 0 || len(audit.Entries) == 0 {
		t.Fatalf("audit: %+v", audit)
	}
	for _, en := range audit.Entries {
		if en.Run != a || len(en.Hash) != 64 {
			t.Errorf("audit entry %+v, want run %s", en, a)
		}
	}
	decode("/api/explain", 400, &e)
	decode("/api/explain?batch=latest&row=1", 404, &e) // no batch scored
}

// TestConcurrent serves pages to several clients at once (run with -race):
// the index, the caches and the templates are shared.
func TestConcurrent(t *testing.T) {
	f := getFixture(t)
	_, ts := testServer(t, Options{Jobs: 2})
	paths := []string{"/runs", "/api/runs?sort=-auc", "/runs/" + f.runs[0].ID, "/compare?run=" + f.runs[0].ID + "&run=" + f.runs[1].ID, "/models/pd", "/audit", "/api/models/pd/monitoring"}
	errs := make(chan error, 4*len(paths))
	for i := range 4 {
		go func() {
			for j := range paths {
				p := paths[(i+j)%len(paths)]
				resp, err := ts.Client().Get(ts.URL + p)
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("%s: %s", p, resp.Status)
					}
				}
				errs <- err
			}
		}()
	}
	for range 4 * len(paths) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestEmptyStore: a store with nothing recorded yet shows empty pages.
func TestEmptyStore(t *testing.T) {
	st, err := lineage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Store: st, Kinds: getFixture(t).kinds})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	for path, want := range map[string]string{"/runs": "No run matches", "/models": "No model is registered", "/audit": "0 matching entries",
		"/explain": "Decision lookup", "/api/runs": `"total":0`, "/api/models": "[]", "/models/pd": "no such model"} {
		resp, body := get(t, ts.Client(), ts.URL+path)
		code := http.StatusOK
		if path == "/models/pd" {
			code = http.StatusNotFound
		}
		if resp.StatusCode != code || !strings.Contains(body, want) {
			t.Errorf("%s: %s, want %d and %q\n%.500s", path, resp.Status, code, want, body)
		}
	}
}
