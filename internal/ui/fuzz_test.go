package ui

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzRequest sends arbitrary request targets to the server: no answer is
// a 500 (a bad query is a 400, an unknown name a 404), and no page holds a
// script element, whatever the target put in it.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{"/runs?where=auc%3E1&sort=-auc&page=2", "/runs/..%2f..%2fgo.mod", "/compare?run=a&run=b",
		"/explain?batch=%3Cscript%3E&row=1", "/audit?type=%3Cscript%3E&page=3", "/api/runs?per=0", "/models/%3Cx%3E/monitoring",
		"/runs?where=%3Cscript%3Ealert(1)%3C/script%3E", "/runs?pipeline=%3Cscript%3E", "/api/explain?hash=deadbeef00"} {
		f.Add(s)
	}
	fx, err := fixtureOnce()
	if err != nil {
		f.Fatal(err)
	}
	srv, err := New(Options{Store: fx.st, Kinds: fx.kinds})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || !strings.HasPrefix(target, "/") || strings.HasSuffix(u.Path, "/report") {
			return // not a request line a client sends; reports are slow to build
		}
		req := &http.Request{Method: http.MethodGet, URL: u, RequestURI: target, Host: "127.0.0.1:8080", Header: http.Header{}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s: %d\n%s", target, w.Code, w.Body.String())
		}
		if strings.Contains(strings.ToLower(w.Body.String()), "<script") {
			t.Fatalf("%s: the answer holds <script", target)
		}
	})
}
