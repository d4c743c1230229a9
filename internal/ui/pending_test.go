package ui

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlrun-cli/mlrun/internal/decisions"
	"github.com/mlrun-cli/mlrun/internal/serve"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/steps/explain"
)

// TestPendingDecision: a decision of mlrun serve still in the store's
// decision journal (its segment not rolled) is found by the decision
// lookup, shown as pending, in HTML and JSON; an unknown request is 404.
func TestPendingDecision(t *testing.T) {
	st, err := lineage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	j, err := serve.OpenJournal(serve.JournalOptions{Dir: filepath.Join(st.Dir(), "journal"), Store: st, SegmentAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	seg := &serve.Segment{Model: "pd", Version: 3, Run: "20261202T100000Z-abcdef", Step: "model", Threshold: 0.5, Server: "127.0.0.1:8080"}
	d := decisions.Decision{Request: "app-<b>7</b>", RowHash: strings.Repeat("c", 64), Score: 0.91, Decision: "adverse", Time: time.Now().UTC(),
		Reasons: []explain.Reason{{Feature: "payment_score", Contribution: 1.5, Text: "Too few payments made on time"}}}
	if err := j.Append(seg, []decisions.Decision{d}); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Store: st, Kinds: getFixture(t).kinds})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	c := ts.Client()
	resp, body := get(t, c, ts.URL+"/explain?request=app-%3Cb%3E7%3C%2Fb%3E")
	for _, want := range []string{"pending", "Durable in the decision journal", "pd@3", "Too few payments made on time", "app-&lt;b&gt;7&lt;/b&gt;"} {
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("/explain of a pending decision: %s, want %q in\n%.2000s", resp.Status, want, body)
		}
	}
	if strings.Contains(body, "<b>7") {
		t.Errorf("request id not escaped")
	}
	resp, body = get(t, c, ts.URL+"/api/explain?hash=cccccccc")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"pending"`) || !strings.Contains(body, `"payment_score"`) {
		t.Errorf("/api/explain of a pending decision: %s\n%.1000s", resp.Status, body)
	}
	if resp, _ := get(t, c, ts.URL+"/explain?request=nope"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/explain of an unknown request: %s, want 404", resp.Status)
	}
}
