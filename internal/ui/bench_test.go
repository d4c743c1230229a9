package ui

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/steps"
)

// benchRuns is the size of the generated store of the benchmarks.
const benchRuns = 10000

var (
	benchDir  string
	benchOnce = sync.OnceValues(func() (*lineage.Store, error) {
		st, dir, err := genStore(benchRuns)
		benchDir = dir
		return st, err
	})
)

// genStore writes n run records shaped like the example pipeline's (six
// steps, 40 metrics, params) straight through the lineage API, 1,000 per
// commit, on tmpfs when there is one (fsync is what costs there, not
// mlrun). Seeded: the same store every time.
func genStore(n int) (*lineage.Store, string, error) {
	base := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "mlrun-ui-bench")
	if err != nil {
		return nil, "", err
	}
	st, err := lineage.Open(filepath.Join(dir, "store"))
	if err != nil {
		return nil, dir, err
	}
	rng := rand.New(rand.NewPCG(17, 17))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pipes := []string{"credit-risk", "credit-risk-trees", "cards", "mortgages", "collections"}
	ctx := context.Background()
	for lo := 0; lo < n; lo += 1000 {
		_, err := st.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
			for i := lo; i < min(lo+1000, n); i++ {
				t := start.Add(time.Duration(i) * time.Minute)
				auc := 0.65 + 0.25*rng.Float64()
				r := &lineage.RunRecord{ID: fmt.Sprintf("%s-%06x", t.Format("20060102T150405Z"), i), Pipeline: pipes[i%len(pipes)],
					File: "pipelines/p.yaml", FileSHA256: fmt.Sprintf("%064x", i%37), Params: map[string]any{"seed": float64(i % 100), "test_size": 0.2, "min_auc": 0.7},
					Version: "bench", Start: t, End: t.Add(time.Duration(200+rng.IntN(2000)) * time.Millisecond), Status: lineage.RunOK, User: "u", Host: "h"}
				if auc < 0.7 {
					r.Status, r.ExitCode = lineage.RunCheckFailed, 1
				}
				for j, kind := range []string{"load", "validate", "derive", "split", "train", "evaluate"} {
					s := lineage.StepRecord{ID: []string{"applications", "quality", "features", "split", "model", "evaluation"}[j], Kind: kind, KindVersion: 1,
						CacheKey: fmt.Sprintf("%064x", i*6+j), CacheHit: rng.IntN(3) == 0, Status: "ok", Duration: time.Duration(rng.IntN(50)) * time.Millisecond,
						Metrics: lineage.Metrics{"rows": float64(4000 + rng.IntN(2000))}}
					if kind == "evaluate" {
						for k, name := range []string{"accuracy", "brier", "precision", "recall", "f1", "log_loss", "fp", "fn", "tp", "tn", "positive_rate",
							"disparate_impact", "demographic_parity_difference", "equal_opportunity_difference", "threshold", "positives"} {
							s.Metrics[name] = rng.Float64() + float64(k%3)
						}
						s.Metrics["auc"], s.Metrics["gini"], s.Metrics["ks"] = auc, 2*auc-1, auc-0.3+0.05*rng.Float64()
					}
					r.Steps = append(r.Steps, s)
				}
				if _, err := tx.PutRun(ctx, r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, dir, err
		}
	}
	return st, dir, nil
}

func benchServer(b *testing.B) *Server {
	b.Helper()
	st, err := benchOnce()
	if err != nil {
		b.Fatal(err)
	}
	kinds, err := steps.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	srv, err := New(Options{Store: st, Kinds: kinds, Jobs: 2})
	if err != nil {
		b.Fatal(err)
	}
	return srv
}

// BenchmarkIndex is the first listing of a new server: every record of
// the generated store decoded and summarised.
func BenchmarkIndex(b *testing.B) {
	st, err := benchOnce()
	if err != nil {
		b.Fatal(err)
	}
	kinds, _ := steps.Builtin()
	for b.Loop() {
		srv, err := New(Options{Store: st, Kinds: kinds, Jobs: 2})
		if err != nil {
			b.Fatal(err)
		}
		snap, err := srv.Index().Snapshot(context.Background())
		if err != nil || snap.Len() != benchRuns {
			b.Fatalf("%v, %d runs", err, snap.Len())
		}
	}
}

// BenchmarkRuns measures the server time of run list requests over 10,000
// runs (filtered, sorted, paged; HTML and JSON), the index built, and
// reports the median and 95th percentile besides the mean. The -new cases
// change the filter at every request (a new constant: a new compile per
// group, nothing cached); the others repeat a request (the snapshot's
// selection cache answers after the first).
func BenchmarkRuns(b *testing.B) {
	srv := benchServer(b)
	if _, err := srv.Index().Snapshot(context.Background()); err != nil {
		b.Fatal(err)
	}
	// where last, so that the fresh cases can extend it.
	filter := url.Values{"sort": {"-auc"}, "page": {"3"}}.Encode() + "&where=" + url.QueryEscape("auc >= 0.75 && params.seed < 50")
	for _, c := range []struct {
		name, path string
		fresh      bool
	}{
		{"page", "/runs", false},
		{"page-filtered-sorted", "/runs?" + filter, false},
		{"page-filtered-sorted-new", "/runs?" + filter, true},
		{"page-sorted-last", "/runs?sort=ks&page=200", false},
		{"api", "/api/runs", false},
		{"api-filtered-sorted", "/api/runs?" + filter, false},
		{"api-filtered-sorted-new", "/api/runs?" + filter, true},
		{"api-per-500", "/api/runs?sort=-gini&per=500", false},
	} {
		b.Run(c.name, func(b *testing.B) {
			var times []time.Duration
			n := 0
			for b.Loop() {
				path := c.path
				if c.fresh {
					// A filter the snapshot has not seen (not cached).
					n++
					path += url.QueryEscape(fmt.Sprintf(" && ks > -%d", n))
				}
				req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080"+path, nil)
				w := httptest.NewRecorder()
				t0 := time.Now()
				srv.ServeHTTP(w, req)
				times = append(times, time.Since(t0))
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", c.path, w.Code, w.Body.String())
				}
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms-median")
			b.ReportMetric(float64(times[len(times)*95/100].Microseconds())/1000, "ms-p95")
		})
	}
}

// TestGeneratedStore checks the benchmark's store generator on a small
// store: every run listed, filtered as runs list would.
func TestGeneratedStore(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	st, dir, err := genStore(1500)
	defer os.RemoveAll(dir)
	if err != nil {
		t.Fatal(err)
	}
	kinds, err := steps.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Store: st, Kinds: kinds})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := srv.Index().Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	res, err := snap.Query(runsQuery{}.Query)
	if err != nil || snap.Len() != 1500 || res.Total != 1500 {
		t.Fatalf("%v: %d runs, %d listed", err, snap.Len(), res.Total)
	}
}
