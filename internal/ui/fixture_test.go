package ui

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/exec"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
	"github.com/mlrun-cli/mlrun/steps"
)

// xssName is the pipeline name of the fixture: markup that must be shown
// as text.
const xssName = `<script>alert("x")</script>`

// fixture is a store holding runs of the example pipeline renamed
// xssName (seed 42, then seed 7) and its first model registered as pd
// with the alias champion; built once for the package's tests.
type fixture struct {
	st    *lineage.Store
	kinds *pipeline.Registry
	runs  []*lineage.RunRecord
}

var (
	fixtureDir  string
	fixtureOnce = sync.OnceValues(buildFixture)
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range []string{fixtureDir, benchDir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

func buildFixture() (*fixture, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "mlrun-ui-test")
	if err != nil {
		return nil, err
	}
	fixtureDir = dir
	src, err := os.ReadFile("../../examples/pipelines/credit-risk.yaml")
	if err != nil {
		return nil, err
	}
	data, err := filepath.Abs("../../examples/data/applications.csv")
	if err != nil {
		return nil, err
	}
	text := strings.Replace(string(src), "name: credit-risk\n", "name: '"+xssName+"'\n", 1)
	text = strings.Replace(text, "path: ../data/applications.csv", "path: "+data, 1)
	file := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		return nil, err
	}
	kinds, err := steps.Builtin()
	if err != nil {
		return nil, err
	}
	st, err := lineage.Open(filepath.Join(dir, "store"), lineage.WithActor("analyst@bank.example", "test"))
	if err != nil {
		return nil, err
	}
	f := &fixture{st: st, kinds: kinds}
	for _, seed := range []string{"42", "7"} {
		p, err := pipeline.Load(file, pipeline.LoadOptions{Registry: kinds, Overrides: map[string]string{"seed": seed}})
		if err != nil {
			return nil, err
		}
		run, err := exec.Run(ctx, p, exec.Options{Store: st, Registry: kinds, Jobs: 2, Version: "test"})
		if err != nil {
			return nil, err
		}
		f.runs = append(f.runs, run)
	}
	if _, err := registry.New(st, nil).Register(ctx, registry.RegisterRequest{Name: "pd", Run: f.runs[0], Step: "model", Aliases: []string{"champion"}}); err != nil {
		return nil, err
	}
	return f, nil
}

func getFixture(t *testing.T) *fixture {
	t.Helper()
	f, err := fixtureOnce()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// testServer serves the fixture on 127.0.0.1 with opts (Store and Kinds
// filled in).
func testServer(t *testing.T, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	f := getFixture(t)
	opts.Store, opts.Kinds = f.st, f.kinds
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return srv, ts
}

// get fetches path from ts and returns the response and body.
func get(t *testing.T, c *http.Client, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}
