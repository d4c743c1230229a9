package alert

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func sample() *Alert {
	return &Alert{ID: "r--model--t", Severity: "critical", Text: "2 critical checks failed", Run: "r", Step: "model", Data: "b.csv", Report: "abc",
		Failed: []Check{{Name: "psi:x", Severity: "critical", Message: "psi = 0.4, needs psi < 0.25", Values: map[string]float64{"psi": 0.4}}}}
}

// TestWebhook: statuses that retry, statuses that do not, and the body.
func TestWebhook(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int // one per attempt; the last repeats
		retries  int
		attempts int
		ok       bool
		errText  string
	}{
		{"first attempt", []int{200}, 3, 1, true, ""},
		{"5xx then ok", []int{503, 502, 204}, 3, 3, true, ""},
		{"429 then ok", []int{429, 200}, 1, 2, true, ""},
		{"retries exhausted", []int{500}, 2, 3, false, "3 attempt(s): 500 Internal Server Error"},
		{"4xx is final", []int{404}, 3, 1, false, "1 attempt(s): 404 Not Found"},
		{"no retries", []int{503}, 0, 1, false, "1 attempt(s): 503 Service Unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			var body []byte
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i := int(n.Add(1)) - 1
				b, _ := io.ReadAll(r.Body)
				if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
					t.Errorf("%s %s", r.Method, r.Header.Get("Content-Type"))
				}
				body = b
				w.WriteHeader(tt.statuses[min(i, len(tt.statuses)-1)])
			}))
			defer srv.Close()
			wh := &Webhook{URL: srv.URL + "/hooks/SECRET", Retries: tt.retries, Backoff: time.Millisecond}
			attempts, err := wh.Send(context.Background(), sample())
			if attempts != tt.attempts || int(n.Load()) != tt.attempts {
				t.Errorf("attempts %d (server saw %d), want %d", attempts, n.Load(), tt.attempts)
			}
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok %v", err, tt.ok)
			}
			if err != nil {
				if !errors.Is(err, ErrDelivery) || !strings.Contains(err.Error(), tt.errText) {
					t.Errorf("err = %v, want %q", err, tt.errText)
				}
				if strings.Contains(err.Error(), "SECRET") {
					t.Errorf("the error shows the URL's secret path: %v", err)
				}
			}
			var got map[string]any
			if err := json.Unmarshal(body, &got); err != nil || got["text"] != "2 critical checks failed" || got["id"] != "r--model--t" {
				t.Errorf("body %s", body)
			}
		})
	}
}

// TestWebhookDown: a server that is not there fails after the retries; a
// slow one times out per attempt.
func TestWebhookDown(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	url := srv.URL
	srv.Close()
	n, err := (&Webhook{URL: url + "/hooks/SECRET", Retries: 2, Backoff: time.Millisecond}).Send(context.Background(), sample())
	if n != 3 || !errors.Is(err, ErrDelivery) {
		t.Errorf("down: %d attempts, %v", n, err)
	}
	if err != nil && strings.Contains(err.Error(), "SECRET") {
		t.Errorf("down: the error shows the URL's secret path: %v", err)
	}

	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(block)
	start := time.Now()
	n, err = (&Webhook{URL: slow.URL + "/hooks/SECRET", Timeout: 50 * time.Millisecond, Retries: 1, Backoff: time.Millisecond}).Send(context.Background(), sample())
	if n != 2 || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("slow: %d attempts, %v after %v", n, err, time.Since(start))
	}
	if err != nil && strings.Contains(err.Error(), "SECRET") {
		t.Errorf("slow: the error shows the URL's secret path: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (&Webhook{URL: url, Retries: 5, Backoff: time.Hour}).Send(ctx, sample()); !errors.Is(err, ErrDelivery) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestAppendFile: one JSON line per alert.
func TestAppendFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "alerts.jsonl")
	for range 2 {
		if err := AppendFile(p, sample()); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	var a Alert
	if err := json.Unmarshal([]byte(lines[1]), &a); err != nil || a.Failed[0].Values["psi"] != 0.4 {
		t.Errorf("line %s: %v", lines[1], err)
	}
	if err := AppendFile(filepath.Join(p, "x"), sample()); !errors.Is(err, ErrDelivery) {
		t.Errorf("unwritable: %v", err)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.slack.com/services/T/B/SECRET": "https://hooks.slack.com/…",
		"http://127.0.0.1:8080":                       "http://127.0.0.1:8080",
		"::":                                          "(webhook)",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSink: a file sink appends; a webhook sink expands $VAR at delivery
// and keeps it unexpanded in its name.
func TestSink(t *testing.T) {
	var got atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hooks/SECRET" {
			got.Add(1)
		}
	}))
	defer srv.Close()
	t.Setenv("MLRUN_TEST_HOOK", srv.URL+"/hooks/SECRET")
	wh := Sink{Webhook: "${MLRUN_TEST_HOOK}", Timeout: 5, Retries: 0}
	if n, err := wh.Deliver(context.Background(), sample(), time.Millisecond); n != 1 || err != nil || got.Load() != 1 {
		t.Errorf("webhook: %d attempts, %v, server saw %d", n, err, got.Load())
	}
	if wh.Name() != "webhook" || wh.String() != "webhook ${MLRUN_TEST_HOOK}" {
		t.Errorf("webhook sink named %q, %q", wh.Name(), wh.String())
	}
	p := filepath.Join(t.TempDir(), "alerts.jsonl")
	f := Sink{File: p}
	if n, err := f.Deliver(context.Background(), sample(), 0); n != 1 || err != nil {
		t.Errorf("file: %d attempts, %v", n, err)
	}
	if b, err := os.ReadFile(p); err != nil || strings.Count(string(b), "\n") != 1 {
		t.Errorf("file: %q, %v", b, err)
	}
	if f.Name() != "file" || f.String() != "file "+p {
		t.Errorf("file sink named %q, %q", f.Name(), f.String())
	}
}
