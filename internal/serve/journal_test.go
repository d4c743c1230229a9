//go:build unix

package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/hashicorp/go-hclog"

	"github.com/mlrun-cli/mlrun/internal/decisions"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

func openStore(t *testing.T) *lineage.Store {
	t.Helper()
	st, err := lineage.Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// logged returns the request ids of every decision in the store's
// batches, with the batch records.
func logged(t *testing.T, st *lineage.Store) (map[string]int, []decisions.Batch) {
	t.Helper()
	ctx := context.Background()
	v, err := st.View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names, err := v.List(ctx, decisions.NS)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	var batches []decisions.Batch
	for _, n := range names {
		var b decisions.Batch
		if err := v.GetJSON(ctx, decisions.NS, n, &b); err != nil {
			t.Fatal(err)
		}
		batches = append(batches, b)
		raw, err := st.GetObject(ctx, b.DecisionLog)
		if err != nil {
			t.Fatal(err)
		}
		var dl decisions.Log
		if err := json.Unmarshal(raw, &dl); err != nil {
			t.Fatal(err)
		}
		for i, d := range dl.Decisions {
			if d.Row != i+1 {
				t.Errorf("batch %s: decision %d has row %d", n, i+1, d.Row)
			}
			ids[d.Request]++
		}
	}
	return ids, batches
}

func decision(id string) decisions.Decision {
	return decisions.Decision{Request: id, RowHash: strings.Repeat("a", 64), Score: 0.7, Decision: "adverse", Time: time.Now().UTC()}
}

// TestJournalGroupCommit appends from many goroutines at once: every
// append returns only once durable, fsyncs are shared, segments roll at
// SegmentRows, two versions interleaved share two open segments, and
// Close commits everything, each
// decision once.
func TestJournalGroupCommit(t *testing.T) {
	st := openStore(t)
	dir := filepath.Join(t.TempDir(), "journal")
	var syncs, synced atomic.Int64
	j, err := OpenJournal(JournalOptions{Dir: dir, Store: st, SegmentRows: 100, Log: hclog.NewNullLogger(),
		OnSync: func(n int) { syncs.Add(1); synced.Add(int64(n)) }})
	if err != nil {
		t.Fatal(err)
	}
	obj, err := st.PutBytes(context.Background(), []byte("a model"))
	if err != nil {
		t.Fatal(err)
	}
	v1 := &Segment{Model: "pd", Version: 1, Run: "r", Step: "model", ModelObject: obj, Threshold: 0.5, Server: "test"}
	v2 := &Segment{Model: "pd", Version: 2, Run: "r2", Step: "model", ModelObject: obj, Threshold: 0.5, Server: "test"}
	var wg sync.WaitGroup
	const workers, each = 32, 20
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range each {
				seg := v1
				if n >= each/2 {
					seg = v2
				}
				if err := j.Append(seg, []decisions.Decision{decision(fmt.Sprintf("g%d-%d", g, n))}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(v1, []decisions.Decision{decision("late")}); !errors.Is(err, ErrClosed) {
		t.Errorf("append after close: %v, want ErrClosed", err)
	}
	if synced.Load() != workers*each {
		t.Errorf("%d decisions synced, want %d", synced.Load(), workers*each)
	}
	if syncs.Load() >= workers*each {
		t.Errorf("%d fsyncs for %d appends from %d goroutines: no group commit", syncs.Load(), workers*each, workers)
	}
	t.Logf("%d appends, %d fsyncs", workers*each, syncs.Load())
	ids, batches := logged(t, st)
	if len(ids) != workers*each {
		t.Errorf("%d request ids logged, want %d", len(ids), workers*each)
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("%s logged %d times", id, n)
		}
	}
	// Two versions interleaved share two open segments: about
	// 320/100 segments each, not one per change of version.
	if len(batches) > 10 {
		t.Errorf("%d segments for %d decisions of 2 versions at 100 per segment", len(batches), workers*each)
	}
	for _, b := range batches {
		if b.Rows > 100 || b.Source != "serve" || b.Input.SHA256 == "" || b.First.IsZero() {
			t.Errorf("batch %+v", b)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*"+journalExt)); len(left) != 0 {
		t.Errorf("segments left after Close: %v", left)
	}
	rep, err := st.Verify(context.Background(), lineage.VerifyOptions{})
	if err != nil || !rep.OK() {
		t.Errorf("verify: %v %+v", err, rep)
	}
}

// writeSegment writes a segment file as a killed server leaves it.
func writeSegment(t *testing.T, dir, batch string, ids []string, tail string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	writeFrame(&b, &Segment{Batch: batch, Model: "pd", Version: 1, Run: "r", Step: "model", Threshold: 0.5, Server: "test"})
	for i, id := range ids {
		d := decision(id)
		d.Row = i + 1
		writeFrame(&b, &d)
	}
	b.WriteString(tail)
	path := filepath.Join(dir, batch+journalExt)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRecover commits the segment a killed server left (its torn last
// frame dropped), leaves a live server's locked segment alone, removes a
// segment already committed, and refuses a damaged one.
func TestRecover(t *testing.T) {
	st := openStore(t)
	dir := filepath.Join(t.TempDir(), "journal")
	ctx := context.Background()
	dead := writeSegment(t, dir, "20261202T100000Z-aaaaaa", []string{"a1", "a2", "a3"}, `0000abcd {"row":4,"req`)
	live := writeSegment(t, dir, "20261202T100001Z-bbbbbb", []string{"b1"}, "")
	f, err := os.Open(live)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	got, err := Recover(ctx, st, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["20261202T100000Z-aaaaaa"] != 3 {
		t.Errorf("recovered %v, want 3 decisions of the dead server's segment", got)
	}
	if _, err := os.Stat(dead); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("recovered segment not removed: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("live segment touched: %v", err)
	}
	f.Close()
	ids, _ := logged(t, st)
	if len(ids) != 3 || ids["a1"] != 1 || ids["a3"] != 1 {
		t.Errorf("logged %v", ids)
	}
	// Committed but not removed (a crash between the two): removed only.
	again := writeSegment(t, dir, "20261202T100000Z-aaaaaa", []string{"a1", "a2", "a3"}, "")
	got, err = Recover(ctx, st, dir)
	if err != nil || got["20261202T100000Z-aaaaaa"] != 0 || got["20261202T100001Z-bbbbbb"] != 1 {
		t.Errorf("second recovery: %v %v", got, err)
	}
	if _, err := os.Stat(again); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("already committed segment not removed: %v", err)
	}
	if ids, _ := logged(t, st); len(ids) != 4 || ids["a1"] != 1 {
		t.Errorf("logged after the second recovery %v", ids)
	}
	// A damaged frame before the end is refused, not skipped.
	path := writeSegment(t, dir, "20261202T100002Z-cccccc", []string{"c1", "c2"}, "")
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Recover(ctx, st, dir); err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Errorf("damaged segment: %v, want a checksum mismatch", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("damaged segment removed: %v", err)
	}
}

// TestPanicRecovered: a handler that panics answers 500 with a JSON body,
// and is counted; the server goes on.
func TestPanicRecovered(t *testing.T) {
	s := &Server{log: hclog.NewNullLogger(), metrics: metrics.NewSet()}
	h := s.recoverer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/score" {
			panic("boom")
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/score", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), `"error":"internal error"`) {
		t.Errorf("panic answered %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v2/health/live", nil))
	if rec.Code != http.StatusNoContent {
		t.Errorf("after a panic: %d", rec.Code)
	}
	var out strings.Builder
	s.metrics.WritePrometheus(&out)
	for _, want := range []string{"mlrun_serve_panics_total 1", `mlrun_serve_requests_total{endpoint="score",code="500"} 1`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("metrics lack %s:\n%s", want, out.String())
		}
	}
}

// TestRequestID: a client's id is kept when well-formed, else refused; a
// missing one is generated, unique.
func TestRequestID(t *testing.T) {
	for _, tc := range []struct {
		header, body, want string
		bad                bool
	}{
		{header: "abc-1", want: "abc-1"},
		{body: "oip.2", want: "oip.2"},
		{header: "h", body: "b", want: "h"},
		{header: "has space", bad: true},
		{body: strings.Repeat("x", 129), bad: true},
	} {
		got, ferr := requestID(tc.header, tc.body)
		if (ferr != nil) != tc.bad || (!tc.bad && got != tc.want) {
			t.Errorf("requestID(%q, %q) = %q, %v", tc.header, tc.body, got, ferr)
		}
	}
	a, _ := requestID("", "")
	b, _ := requestID("", "")
	if a == b || !strings.HasPrefix(a, "r-") {
		t.Errorf("generated ids %q, %q", a, b)
	}
}
