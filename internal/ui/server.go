package ui

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"html/template"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mlrun-cli/mlrun/internal/runquery"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
)

// Options configure a Server.
type Options struct {
	// Store is the lineage store shown (required).
	Store *lineage.Store
	// Kinds holds the step kinds, to re-read the pipelines runs read (a
	// run's report, the semantic diff of two runs). Required.
	Kinds *pipeline.Registry
	// SchemaMemo, when not nil, lends load steps the schemas they
	// inferred before, when a run's pipeline is re-read.
	SchemaMemo pipeline.SchemaMemo
	// Jobs bounds the goroutines that decode run records and score data
	// for reports and ROC curves (<= 0: 1).
	Jobs int
	// Token, when not empty, is required of every request: an
	// "Authorization: Bearer TOKEN" header, or the cookie a visit with
	// ?token=TOKEN sets.
	Token string
	// MonitorNS is the record namespace of monitored batches that reports
	// show ("" skips them).
	MonitorNS string
	// Logger logs requests that fail (nil: none).
	Logger hclog.Logger
	// Now is the clock waivers are judged by (nil: time.Now).
	Now func() time.Time
}

// Server serves the UI. Make one with New; it is safe for concurrent use.
type Server struct {
	opts  Options
	st    *lineage.Store
	reg   *registry.Registry
	index *runquery.Index
	log   hclog.Logger
	mux   *http.ServeMux
	pages map[string]*template.Template

	reports *memo[string, []byte]
	rocs    *memo[string, *rocCurve]
	pdiffs  *memo[string, *semanticDiff]
	monreps *memo[lineage.ID, *monitorSummary]
	audit   *memo[string, *auditData]
}

// New returns a server over opts.Store.
func New(opts Options) (*Server, error) {
	if opts.Store == nil || opts.Kinds == nil {
		return nil, errors.New("ui: a store and the step kinds are required")
	}
	if opts.Jobs <= 0 {
		opts.Jobs = 1
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, st: opts.Store, reg: registry.New(opts.Store, nil), index: runquery.NewIndex(opts.Store, opts.Jobs),
		log: opts.Logger, pages: pages,
		reports: newMemo[string, []byte](8), rocs: newMemo[string, *rocCurve](64), pdiffs: newMemo[string, *semanticDiff](32),
		monreps: newMemo[lineage.ID, *monitorSummary](1024), audit: newMemo[string, *auditData](2)}
	s.routes()
	return s, nil
}

// Index returns the run index the server answers run lists from.
func (s *Server) Index() *runquery.Index { return s.index }

// routes registers every page and API route. Route parameters are checked
// by each handler (validName), so that no path reaches the store as a
// name it does not hold.
func (s *Server) routes() {
	m := http.NewServeMux()
	page := func(pattern string, h func(r *http.Request) (*view, error)) {
		m.HandleFunc("GET "+pattern, func(w http.ResponseWriter, r *http.Request) { s.servePage(w, r, h) })
	}
	api := func(pattern string, h func(r *http.Request) (any, error)) {
		m.HandleFunc("GET "+pattern, func(w http.ResponseWriter, r *http.Request) { s.serveJSON(w, r, h) })
	}
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/runs", http.StatusFound)
	})
	m.HandleFunc("GET /static/style.css", s.serveCSS)
	m.HandleFunc("GET /static/favicon.svg", s.serveIcon)
	m.HandleFunc("GET /favicon.ico", s.serveIcon)
	page("/runs", s.runsPage)
	page("/runs/{id}", s.runPage)
	m.HandleFunc("GET /runs/{id}/report", s.serveReport)
	page("/compare", s.comparePage)
	page("/models", s.modelsPage)
	page("/models/{name}", s.modelPage)
	page("/models/{name}/monitoring", s.monitoringPage)
	page("/audit", s.auditPage)
	page("/explain", s.explainPage)
	api("/api/runs", s.apiRuns)
	api("/api/runs/{id}", s.apiRun)
	api("/api/compare", s.apiCompare)
	api("/api/models", s.apiModels)
	api("/api/models/{name}", s.apiModel)
	api("/api/models/{name}/monitoring", s.apiMonitoring)
	api("/api/audit", s.apiAudit)
	api("/api/explain", s.apiExplain)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.serveError(w, r, &httpError{code: http.StatusNotFound, msg: "no such page"})
	})
	s.mux = m
}

// ServeHTTP answers a request: only GET and HEAD, only with the token
// when one is set, only for a loopback Host otherwise.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		s.serveError(w, r, &httpError{code: http.StatusMethodNotAllowed, msg: "the UI is read-only: only GET and HEAD"})
		return
	}
	if s.opts.Token == "" {
		if !loopbackHost(r.Host) {
			// A page of another site resolving its name to 127.0.0.1 (DNS
			// rebinding) must not read the store.
			s.serveError(w, r, &httpError{code: http.StatusForbidden, msg: "the UI without a token answers only to a loopback host name (localhost, 127.0.0.1, [::1])"})
			return
		}
	} else if !s.authorize(w, r) {
		return
	}
	s.mux.ServeHTTP(w, r)
}

// cookieName is the cookie holding the token after a visit with ?token=.
const cookieName = "mlrun_ui_token"

// authorize checks the token: a bearer header, the cookie, or ?token=
// (which sets the cookie and redirects to the URL without it, so that the
// token leaves the address bar and the history). It answers the request
// itself when it returns false.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) bool {
	if auth := r.Header.Get("Authorization"); auth != "" {
		if t, ok := strings.CutPrefix(auth, "Bearer "); ok && s.tokenOK(t) {
			return true
		}
	} else if c, err := r.Cookie(cookieName); err == nil && s.tokenOK(c.Value) {
		return true
	} else if q := r.URL.Query(); q.Has("token") && s.tokenOK(q.Get("token")) {
		http.SetCookie(w, &http.Cookie{Name: cookieName, Value: q.Get("token"), Path: "/", HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		q.Del("token")
		u := *r.URL
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
		return false
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="mlrun ui"`)
	s.serveError(w, r, &httpError{code: http.StatusUnauthorized, msg: "a token is required: open the address mlrun ui printed (with ?token=), or send Authorization: Bearer TOKEN"})
	return false
}

// tokenOK compares t with the token in constant time (over their
// SHA-256, so that not even the length leaks).
func (s *Server) tokenOK(t string) bool {
	a, b := sha256.Sum256([]byte(t)), sha256.Sum256([]byte(s.opts.Token))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// loopbackHost reports whether a Host header names the loopback interface.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckAddr checks a listen address: one that is not a loopback address
// needs a token (exit code 2 otherwise).
func CheckAddr(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return pipeline.Invalidf("--addr %q: want HOST:PORT (127.0.0.1:8080): %v", addr, err)
	}
	if token != "" {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return pipeline.Invalidf("--addr %s is not a loopback address: anyone who can reach it could read the store; give --token (or MLRUN_UI_TOKEN)", addr)
}

// httpError is an error with an HTTP status.
type httpError struct {
	code int
	msg  string
}

// Error returns the message shown.
func (e *httpError) Error() string { return e.msg }

func notFound(format string, args ...any) error {
	return &httpError{code: http.StatusNotFound, msg: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) error {
	return &httpError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// status maps an error to its HTTP status: an httpError's own, a record
// not found 404, an invalid query (exit code 2) 400, anything else 500.
func status(err error) int {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.code
	case errors.Is(err, lineage.ErrNotFound), errors.Is(err, registry.ErrNoModel):
		return http.StatusNotFound
	case pipeline.ExitCode(err) == pipeline.ExitInvalid:
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// nameRe is what a route parameter may be: a run id (or a prefix), a model
// name. No slash, no dot first, so never a path.
var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// validName returns the route parameter key, or a 404 when it cannot name
// a record.
func validName(r *http.Request, key string) (string, error) {
	v := r.PathValue(key)
	if !nameRe.MatchString(v) || strings.Contains(v, "..") {
		return "", notFound("no such %s %q", key, v)
	}
	return v, nil
}

// view is what a page handler returns: the template and its data.
type view struct {
	Page  string // template name
	Title string
	Nav   string // the nav entry marked current
	Data  any
	// Status is the HTTP status (0: 200).
	Status int
	// Frame allows the page to frame same-origin pages (the run's report).
	Frame bool
}

// servePage renders a page into a buffer, computes its CSP, and writes it.
func (s *Server) servePage(w http.ResponseWriter, r *http.Request, h func(r *http.Request) (*view, error)) {
	start := time.Now()
	v, err := h(r)
	if err != nil {
		s.serveError(w, r, err)
		return
	}
	s.writePage(w, r, v, start)
}

func (s *Server) writePage(w http.ResponseWriter, r *http.Request, v *view, start time.Time) {
	t := s.pages[v.Page]
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", v); err != nil {
		s.log.Error("render page", "page", v.Page, "path", r.URL.Path, "error", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	frames := "'none'"
	if v.Frame {
		frames = "'self'"
	}
	h.Set("Content-Security-Policy", csp(b.Bytes(), true, "'none'", frames))
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Server-Timing", serverTiming(start))
	code := v.Status
	if code == 0 {
		code = http.StatusOK
	}
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(b.Bytes())
	}
}

// serveError answers with an error page (or JSON under /api/).
func (s *Server) serveError(w http.ResponseWriter, r *http.Request, err error) {
	code := status(err)
	if code == http.StatusInternalServerError {
		s.log.Error("request failed", "path", r.URL.Path, "error", err)
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		s.writeJSON(w, r, code, map[string]string{"error": err.Error()}, time.Now())
		return
	}
	s.writePage(w, r, &view{Page: "error", Title: http.StatusText(code), Status: code, Data: struct {
		Code int
		Msg  string
	}{code, err.Error()}}, time.Now())
}

// serveJSON answers an API request.
func (s *Server) serveJSON(w http.ResponseWriter, r *http.Request, h func(r *http.Request) (any, error)) {
	start := time.Now()
	v, err := h(r)
	if err != nil {
		s.serveError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, v, start)
}

func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, code int, v any, start time.Time) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encode json", "path", r.URL.Path, "error", err)
		code = http.StatusInternalServerError
		b, _ = json.Marshal(map[string]string{"error": "encoding the answer: " + err.Error()})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("Server-Timing", serverTiming(start))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(append(b, '\n'))
	}
}

// serverTiming is the Server-Timing header of a response begun at start.
func serverTiming(start time.Time) string {
	return fmt.Sprintf("app;dur=%.3f", float64(time.Since(start).Microseconds())/1000)
}

var (
	styleBlockRe = regexp.MustCompile(`(?s)<style>(.*?)</style>`)
	styleAttrRe  = regexp.MustCompile(`\sstyle="([^"]*)"`)
)

// csp returns the Content-Security-Policy of an HTML document: no script,
// nothing fetched but this origin's stylesheet (selfStyle), the document's
// own inline style blocks and style attributes (the SVG charts gonum/plot
// draws carry style attributes) allowed by their SHA-256 hashes only, never
// 'unsafe-inline'; ancestors is its frame-ancestors, frames its frame-src.
func csp(doc []byte, selfStyle bool, ancestors, frames string) string {
	var sources []string
	if selfStyle {
		sources = append(sources, "'self'")
	}
	seen := map[string]bool{}
	var hashes []string
	add := func(text string) {
		sum := sha256.Sum256([]byte(text))
		h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		if !seen[h] {
			seen[h] = true
			hashes = append(hashes, h)
		}
	}
	for _, m := range styleBlockRe.FindAllSubmatch(doc, -1) {
		add(string(m[1]))
	}
	attrs := styleAttrRe.FindAllSubmatch(doc, -1)
	for _, m := range attrs {
		add(html.UnescapeString(string(m[1])))
	}
	if len(attrs) > 0 {
		sources = append(sources, "'unsafe-hashes'")
	}
	sources = append(sources, hashes...)
	style := "'none'"
	if len(sources) > 0 {
		style = strings.Join(sources, " ")
	}
	return "default-src 'none'; script-src 'none'; style-src " + style + "; img-src 'self'; " +
		"frame-src " + frames + "; frame-ancestors " + ancestors + "; form-action 'self'; base-uri 'none'"
}
