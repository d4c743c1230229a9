package ui

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/lineage/s3store"
	"github.com/mlrun-cli/mlrun/pipeline/lineage/s3store/s3test"
)

// TestS3Store serves a store on S3 (versitygw on 127.0.0.1; skipped
// without it, unless MLRUN_REQUIRE_S3=1): the fixture pushed there, every
// page answers as over the local store.
func TestS3Store(t *testing.T) {
	f := getFixture(t)
	srv := s3test.Start(t, "team")
	srv.Setenv(t)
	ctx := context.Background()
	b, err := s3store.Open(ctx, "s3://team/ui", s3store.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	st, err := lineage.OpenBackend(ctx, b, b.URL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lineage.Copy(ctx, f.st, st, lineage.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	ui, err := New(Options{Store: st, Kinds: f.kinds, Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(ui)
	defer ts.Close()
	a, c := f.runs[0].ID, f.runs[1].ID
	for path, want := range map[string]string{
		"/runs":                           "Runs 1–2 of 2",
		"/runs/" + a:                      "Lineage graph",
		"/runs/" + a + "/report":          "Model report",
		"/compare?run=" + a + "&run=" + c: "params:",
		"/models/pd":                      "champion",
		"/audit":                          "Audit chain intact",
		"/api/runs?sort=-auc":             `"total":2`,
	} {
		resp, body := get(t, ts.Client(), ts.URL+path)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("%s: %s, want 200 and %q", path, resp.Status, want)
		}
	}
}
