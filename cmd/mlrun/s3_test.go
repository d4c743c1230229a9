package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline/lineage/s3store/s3test"
)

// leaseTTL is the lease of the tests' S3 stores: a dead run is seen as
// such this long after its last refresh.
const leaseTTL = 2 * time.Second

// s3env is a working directory with the example pipeline and data, and a
// versitygw on loopback holding the team's bucket.
type s3env struct {
	t   *testing.T
	bin string
	dir string
	srv *s3test.Server
}

func newS3Env(t *testing.T) *s3env {
	t.Helper()
	srv := s3test.Start(t, "team")
	e := &s3env{t: t, bin: scriptBinary(t), dir: t.TempDir(), srv: srv}
	repo, _ := filepath.Abs("../..")
	for _, f := range []string{"applications.csv", "applications_drift.csv"} {
		b, err := os.ReadFile(filepath.Join(repo, "examples", "data", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(e.dir, f), b, 0o644)
	}
	src, err := os.ReadFile(filepath.Join(repo, "examples", "pipelines", "credit-risk.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p := strings.ReplaceAll(string(src), "../data/", "")
	os.WriteFile(filepath.Join(e.dir, "p.yaml"), []byte(p), 0o644)
	// The same pipeline with a register step.
	reg := p + "  registered:\n    kind: register\n    model: model\n    name: pd\n"
	os.WriteFile(filepath.Join(e.dir, "reg.yaml"), []byte(reg), 0o644)
	return e
}

// run runs mlrun with the S3 environment, its own local cache (cache:
// a directory name under the work dir), and returns output and exit code.
func (e *s3env) run(cache string, args ...string) (string, int) {
	e.t.Helper()
	cmd := exec.Command(e.bin, args...)
	cmd.Dir = e.dir
	cmd.Env = append(append(os.Environ(), e.srv.Env()...), "MLRUN_STORE=s3://team/credit", "MLRUN_CACHE_DIR="+filepath.Join(e.dir, cache),
		"MLRUN_S3_LEASE_TTL="+leaseTTL.String())
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	case err != nil:
		e.t.Fatal(err)
	}
	return string(out), 0
}

func (e *s3env) ok(cache string, args ...string) string {
	e.t.Helper()
	out, code := e.run(cache, args...)
	if code != 0 {
		e.t.Fatalf("mlrun %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// TestS3Store runs the example on a store in an S3 bucket: cold, then all
// cached from another machine's cache; the store verifies; the secret key
// appears nowhere in any output, even at trace level.
func TestS3Store(t *testing.T) {
	e := newS3Env(t)
	out := e.ok("a", "run", "p.yaml")
	if !strings.Contains(out, "(6 ran, 0 cached") {
		t.Fatalf("cold run:\n%s", out)
	}
	out = e.ok("b", "--log-level", "trace", "run", "p.yaml")
	if !strings.Contains(out, "(0 ran, 6 cached") {
		t.Fatalf("re-run from another cache:\n%s", out)
	}
	if strings.Contains(out, e.srv.SecretKey) {
		t.Fatal("the secret key appears in the output")
	}
	if out := e.ok("b", "verify"); !strings.Contains(out, "store intact") || !strings.Contains(out, "in s3://team/credit") {
		t.Fatalf("verify:\n%s", out)
	}
	out = e.ok("c", "runs", "list")
	if strings.Count(out, " ok ") != 2 {
		t.Fatalf("runs list:\n%s", out)
	}
	// Errors do not show it either.
	cmd := exec.Command(e.bin, "--store", "s3://team/credit", "runs", "list")
	cmd.Dir = e.dir
	cmd.Env = append(append(os.Environ(), e.srv.Env()...), "AWS_SECRET_ACCESS_KEY=wrong-"+e.srv.SecretKey, "MLRUN_CACHE_DIR="+filepath.Join(e.dir, "d"))
	bad, _ := cmd.CombinedOutput()
	if !strings.Contains(string(bad), "mlrun:") || strings.Contains(string(bad), e.srv.SecretKey) {
		t.Fatalf("a wrong secret: want an error without the secret:\n%s", bad)
	}
}

// TestS3ConcurrentRuns: 8 runs at once from separate processes, each with
// its own local cache, on one S3 store: nothing is lost, the model is
// registered once, and the chain verifies.
func TestS3ConcurrentRuns(t *testing.T) {
	e := newS3Env(t)
	const n = 8
	var wg sync.WaitGroup
	outs := make([]string, n)
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() { outs[i], codes[i] = e.run(fmt.Sprintf("cache-%d", i), "run", "-q", "reg.yaml") })
	}
	wg.Wait()
	for i := range n {
		if codes[i] != 0 {
			t.Fatalf("run %d: exit %d\n%s", i, codes[i], outs[i])
		}
	}
	var runs []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(e.ok("x", "runs", "list", "--limit", "0", "--json")), &runs); err != nil {
		t.Fatal(err)
	}
	if len(runs) != n {
		t.Fatalf("%d runs recorded, want %d", len(runs), n)
	}
	for _, r := range runs {
		if r.Status != "ok" {
			t.Fatalf("run %s: %s", r.ID, r.Status)
		}
	}
	var m struct {
		Versions []json.RawMessage `json:"versions"`
	}
	if err := json.Unmarshal([]byte(e.ok("x", "models", "show", "pd", "--json")), &m); err != nil {
		t.Fatal(err)
	}
	log := e.ok("x", "audit", "log", "--type", "model.registered")
	if c := strings.Count(log, "model.registered"); c != 1 {
		t.Fatalf("%d model.registered entries, want 1:\n%s", c, log)
	}
	if out := e.ok("x", "verify"); !strings.Contains(out, "store intact") || !strings.Contains(out, "audit log intact") {
		t.Fatalf("verify:\n%s", out)
	}
}

// TestS3ServerKilled: the server dies while a run commits: the run fails
// with exit 3, the store is consistent when the server is back, and the
// next run succeeds.
func TestS3ServerKilled(t *testing.T) {
	e := newS3Env(t)
	e.ok("a", "run", "-q", "p.yaml")
	// Force a run whose commits need the server, and kill it meanwhile.
	cmd := exec.Command(e.bin, "run", "-q", "--force", "p.yaml")
	cmd.Dir = e.dir
	cmd.Env = append(append(os.Environ(), e.srv.Env()...), "MLRUN_STORE=s3://team/credit", "MLRUN_CACHE_DIR="+filepath.Join(e.dir, "a"),
		"MLRUN_S3_LEASE_TTL="+leaseTTL.String())
	commits := func() int {
		m, _ := filepath.Glob(filepath.Join(e.srv.Root, "team", "credit", "records", "audit", "*.json"))
		return len(m)
	}
	before := commits()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill the server once the run has committed its start.
	for deadline := time.Now().Add(10 * time.Second); commits() == before && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	e.srv.Stop()
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("run with the server killed: %v, want exit 3", err)
	}
	e.srv.Restart()
	// The run's lease is no longer refreshed: once it is stale, the run is
	// recorded interrupted by the next command.
	time.Sleep(leaseTTL + time.Second)
	if out := e.ok("b", "verify"); !strings.Contains(out, "store intact") || !strings.Contains(out, "was interrupted") {
		t.Fatalf("verify after the server came back:\n%s", out)
	}
	if out := e.ok("b", "run", "p.yaml"); !strings.Contains(out, "OK in") {
		t.Fatalf("run after the server came back:\n%s", out)
	}
	// No run is left running.
	if out := e.ok("b", "runs", "list", "--limit", "0"); strings.Contains(out, " running ") {
		t.Fatalf("a run is left running:\n%s", out)
	}
}

// TestS3PushPull copies a local store to S3 and back: both verify, the
// audit head is the same, a second push copies nothing, gc with a
// retention works on the bucket.
func TestS3PushPull(t *testing.T) {
	e := newS3Env(t)
	local := filepath.Join(e.dir, "local-store")
	e.ok("a", "--store", local, "run", "-q", "p.yaml")
	e.ok("a", "--store", local, "models", "register", "--run", "latest", "--step", "model", "--name", "pd")
	e.ok("a", "--store", local, "predict", "--model", "pd", "--data", "applications_drift.csv", "--out", "scores.csv")
	out := e.ok("a", "--store", local, "store", "push", "s3://team/pushed")
	if !strings.Contains(out, "both stores verify; audit head ") {
		t.Fatalf("push:\n%s", out)
	}
	head := out[strings.LastIndex(out, "audit head ")+len("audit head "):]
	head = strings.TrimSpace(head)
	if out := e.ok("a", "--store", local, "store", "push", "s3://team/pushed"); !strings.Contains(out, "copied 0 objects (0 B) and 0 commits") {
		t.Fatalf("second push:\n%s", out)
	}
	back := filepath.Join(e.dir, "pulled")
	if out := e.ok("b", "--store", back, "store", "pull", "s3://team/pushed"); !strings.Contains(out, head) {
		t.Fatalf("pull:\n%s", out)
	}
	if out := e.ok("b", "--store", back, "audit", "verify", "--head", head); !strings.Contains(out, "intact") {
		t.Fatalf("audit verify --head on the pulled store:\n%s", out)
	}
	if out := e.ok("b", "--store", "s3://team/pushed", "models", "show", "pd"); !strings.Contains(out, "pd@1") {
		t.Fatalf("the registry on S3:\n%s", out)
	}
	// A store that diverged is refused.
	e.ok("a", "--store", local, "run", "-q", "--force", "p.yaml")
	e.ok("b", "--store", "s3://team/pushed", "run", "-q", "--force", "p.yaml")
	if out, code := e.run("a", "--store", local, "store", "push", "s3://team/pushed"); code != 1 || !strings.Contains(out, "diverge") {
		t.Fatalf("push onto a diverged store: exit %d\n%s", code, out)
	}
	// gc and retention on the bucket.
	out = e.ok("b", "--store", "s3://team/pushed", "gc", "--retention", "0d")
	if !strings.Contains(out, "past the 0d retention") {
		t.Fatalf("gc --retention on S3:\n%s", out)
	}
	if out := e.ok("b", "--store", "s3://team/pushed", "verify"); !strings.Contains(out, "store intact") {
		t.Fatalf("verify after gc on S3:\n%s", out)
	}
}
