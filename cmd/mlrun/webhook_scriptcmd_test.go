package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdWebhook implements "webhook up VAR FILE": start a local HTTP server
// that appends the body of every request to FILE (one line each) and
// answers 200, and set $VAR to its URL; and "webhook down VAR": set $VAR to
// the URL of a server that is no longer there. Servers stop when the
// script ends.
func cmdWebhook(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || (args[0] == "up") != (len(args) == 3) || (args[0] != "up" && args[0] != "down") {
		ts.Fatalf("usage: webhook up VAR FILE | webhook down VAR")
	}
	if args[0] == "down" {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		ts.Setenv(args[1], srv.URL+"/hook")
		return
	}
	file := ts.MkAbs(args[2])
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		f.Write(append(b, '\n'))
	}))
	ts.Defer(srv.Close)
	ts.Setenv(args[1], srv.URL+"/hook")
}
