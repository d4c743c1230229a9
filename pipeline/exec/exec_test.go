package exec_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/exec"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// fakeKind is a step kind for tests; its steps are compiled by hand.
type fakeKind struct {
	name    string
	version int
	inputs  []string
	outputs []string
}

func (k *fakeKind) Name() string      { return k.name }
func (k *fakeKind) Version() int      { return k.version }
func (k *fakeKind) Outputs() []string { return k.outputs }
func (k *fakeKind) Inputs() []pipeline.Port {
	var ps []pipeline.Port
	for _, n := range k.inputs {
		ps = append(ps, pipeline.Port{Name: n})
	}
	return ps
}
func (k *fakeKind) Settings() map[string]any {
	return map[string]any{"v": map[string]any{"type": "string"}}
}
func (k *fakeKind) Required() []string { return nil }

// Compile makes a fakeStep whose config is the "v" setting.
func (k *fakeKind) Compile(req *pipeline.CompileRequest) pipeline.Compiled {
	cfg := map[string]any{}
	if n := req.Setting("v"); n != nil {
		cfg["v"] = n.Value
	}
	return &fakeStep{kind: k, cfg: cfg}
}

// tracker measures how many steps run at once.
type tracker struct {
	mu       sync.Mutex
	cur, max int
}

func (t *tracker) enter() {
	t.mu.Lock()
	t.cur++
	t.max = max(t.max, t.cur)
	t.mu.Unlock()
}

func (t *tracker) exit() { t.mu.Lock(); t.cur--; t.mu.Unlock() }

// fakeStep outputs documents that are a pure function of its config,
// inputs and files (unless nondet), and counts its runs.
type fakeStep struct {
	kind    *fakeKind
	cfg     map[string]any
	fail    error
	pass    *bool // nil: no checks
	nondet  bool
	sleep   time.Duration
	track   *tracker
	calls   atomic.Int32
	gotJobs atomic.Int32
}

func (s *fakeStep) OutputTypes() map[string]pipeline.Type { return nil }
func (s *fakeStep) CacheConfig() any                      { return s.cfg }

func (s *fakeStep) Run(ctx context.Context, req *pipeline.RunRequest) (*pipeline.Result, error) {
	n := s.calls.Add(1)
	s.gotJobs.Store(int32(req.Jobs))
	if s.track != nil {
		s.track.enter()
		defer s.track.exit()
	}
	if s.sleep > 0 {
		time.Sleep(s.sleep)
	}
	if s.fail != nil {
		return nil, s.fail
	}
	in := map[string]any{}
	for port, o := range req.Inputs {
		var v any
		if err := o.(*pipeline.Document).Into(&v); err != nil {
			return nil, err
		}
		in[port] = v
	}
	files := map[string]string{}
	for p := range req.Files {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		files[filepath.Base(p)] = string(b)
	}
	val := map[string]any{"cfg": s.cfg, "in": in, "files": files}
	if s.nondet {
		val["n"] = n
	}
	res := &pipeline.Result{Outputs: map[string]pipeline.Object{}, Metrics: map[string]float64{"calls": 1}}
	for _, name := range s.kind.outputs {
		res.Outputs[name] = &pipeline.Document{Type: "doc", Value: map[string]any{"out": name, "val": val}}
	}
	if s.pass != nil {
		res.Checks = []pipeline.Check{{Name: "must_pass", Kind: "rule", Passed: *s.pass, Severity: pipeline.SeverityError, Message: "m"}}
	}
	return res, nil
}

// fileStep also reads external files.
type fileStep struct {
	*fakeStep
	files []string
}

func (s *fileStep) Files() []string { return s.files }

var (
	srcKind   = &fakeKind{name: "src", version: 1, outputs: []string{"data"}}
	addKind   = &fakeKind{name: "add", version: 1, inputs: []string{"input", "other"}, outputs: []string{"data", "report"}}
	checkKind = &fakeKind{name: "check", version: 1, inputs: []string{"input"}, outputs: []string{"report"}}
)

func registry(t *testing.T) *pipeline.Registry {
	reg := pipeline.NewRegistry()
	for _, k := range []*fakeKind{srcKind, addKind, checkKind} {
		if err := reg.Register(k); err != nil {
			t.Fatal(err)
		}
	}
	if err := reg.RegisterObject("doc", pipeline.DocumentDecoder("doc")); err != nil {
		t.Fatal(err)
	}
	return reg
}

// node declares a step: id, kind, compiled step, inputs as "port=step[.output]".
type node struct {
	id     string
	kind   *fakeKind
	step   pipeline.Compiled
	inputs []string
}

// build makes a pipeline from nodes given in topological order.
func build(dir string, nodes ...node) *pipeline.Pipeline {
	p := &pipeline.Pipeline{Name: "test", File: filepath.Join(dir, "p.yaml"), Dir: dir, SHA256: "00", Version: 1,
		Params: []*pipeline.Param{{Name: "seed", Value: int64(1)}}}
	for _, n := range nodes {
		spec := &pipeline.StepSpec{ID: n.id, Kind: n.kind.name, KindImpl: n.kind, Compiled: n.step}
		for _, in := range n.inputs {
			port, ref, _ := strings.Cut(in, "=")
			step, out, ok := strings.Cut(ref, ".")
			if !ok {
				out = "data"
			}
			spec.Inputs = append(spec.Inputs, pipeline.InputRef{Port: port, Step: step, Output: out})
		}
		p.Steps = append(p.Steps, spec)
	}
	return p
}

func step(cfg string) *fakeStep { return &fakeStep{kind: nil, cfg: map[string]any{"v": cfg}} }

// diamond: a -> b -> d <- c, and an independent e -> f.
type diamond struct {
	a, b, c, d, e, f *fakeStep
	p                *pipeline.Pipeline
}

func newDiamond(dir string) *diamond {
	g := &diamond{a: step("a"), b: step("b"), c: step("c"), d: step("d"), e: step("e"), f: step("f")}
	g.rebuild(dir)
	return g
}

func (g *diamond) rebuild(dir string) {
	for _, s := range []*fakeStep{g.a, g.c, g.e} {
		s.kind = srcKind
	}
	for _, s := range []*fakeStep{g.b, g.d, g.f} {
		s.kind = addKind
	}
	g.p = build(dir,
		node{"a", srcKind, g.a, nil},
		node{"b", addKind, g.b, []string{"input=a"}},
		node{"c", srcKind, g.c, nil},
		node{"d", addKind, g.d, []string{"input=b", "other=c"}},
		node{"e", srcKind, g.e, nil},
		node{"f", addKind, g.f, []string{"input=e"}},
	)
}

func (g *diamond) calls() string {
	return fmt.Sprint(g.a.calls.Load(), g.b.calls.Load(), g.c.calls.Load(), g.d.calls.Load(), g.e.calls.Load(), g.f.calls.Load())
}

func openStore(t *testing.T) *lineage.Store {
	t.Helper()
	s, err := lineage.Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func opts(t *testing.T, s *lineage.Store) exec.Options {
	return exec.Options{Store: s, Registry: registry(t), Jobs: 2, Version: "test"}
}

// statuses renders "id:status[*]" for each step, * marking a cache hit.
func statuses(rec *lineage.RunRecord) string {
	var parts []string
	for _, st := range rec.Steps {
		s := st.ID + ":" + st.Status
		if st.CacheHit {
			s += "*"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func outputs(rec *lineage.RunRecord) map[string]lineage.ID {
	m := map[string]lineage.ID{}
	for _, st := range rec.Steps {
		for name, ref := range st.Outputs {
			m[st.ID+"."+name] = ref.ID
		}
	}
	return m
}

func TestRunThenCached(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	g := newDiamond(t.TempDir())
	rec1, err := exec.Run(ctx, g.p, opts(t, s))
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(rec1); got != "a:ok b:ok c:ok d:ok e:ok f:ok" {
		t.Fatalf("first run: %s", got)
	}
	if rec1.Status != lineage.RunOK || rec1.ExitCode != 0 || rec1.Pipeline != "test" || rec1.Version != "test" ||
		rec1.End.IsZero() || rec1.Params["seed"] == nil {
		t.Fatalf("run record: %+v", rec1)
	}
	d := rec1.Steps[3]
	if d.Inputs["input"].ID != rec1.Steps[1].Outputs["data"].ID || d.Inputs["other"].ID != rec1.Steps[2].Outputs["data"].ID ||
		len(d.Outputs) != 2 || d.Outputs["data"].Size == 0 || d.CacheKey == "" || d.Metrics["calls"] != 1 {
		t.Fatalf("step record d: %+v", d)
	}
	rec2, err := exec.Run(ctx, g.p, opts(t, s))
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(rec2); got != "a:cached* b:cached* c:cached* d:cached* e:cached* f:cached*" {
		t.Fatalf("second run: %s", got)
	}
	if g.calls() != "1 1 1 1 1 1" {
		t.Fatalf("calls after a cached run: %s", g.calls())
	}
	if fmt.Sprint(outputs(rec1)) != fmt.Sprint(outputs(rec2)) {
		t.Fatal("cached run reports other outputs")
	}
	if rec2.Steps[3].Metrics["calls"] != 1 || rec2.Steps[3].CacheKey != d.CacheKey {
		t.Fatalf("cached step record: %+v", rec2.Steps[3])
	}
	got, err := s.GetRun(ctx, rec2.ID)
	if err != nil || statuses(got) != statuses(rec2) || got.Status != lineage.RunOK {
		t.Fatalf("stored run = %v, %v", got, err)
	}
	if rep, err := s.Verify(ctx, lineage.VerifyOptions{}); err != nil || !rep.OK() || rep.Runs != 2 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

func TestConfigChangeRerunsDependantsOnly(t *testing.T) {
	ctx := context.Background()
	s, dir := openStore(t), t.TempDir()
	g := newDiamond(dir)
	if _, err := exec.Run(ctx, g.p, opts(t, s)); err != nil {
		t.Fatal(err)
	}
	g.b.cfg = map[string]any{"v": "b2"}
	rec, err := exec.Run(ctx, g.p, opts(t, s))
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(rec); got != "a:cached* b:ok c:cached* d:ok e:cached* f:cached*" {
		t.Fatalf("after changing b: %s", got)
	}
	if g.calls() != "1 2 1 2 1 1" {
		t.Fatalf("calls: %s", g.calls())
	}
}

func TestDeterministicWhateverJobs(t *testing.T) {
	ctx := context.Background()
	var prev map[string]lineage.ID
	for _, jobs := range []int{1, 4} {
		g := newDiamond(t.TempDir())
		o := opts(t, openStore(t))
		o.Jobs = jobs
		rec, err := exec.Run(ctx, g.p, o)
		if err != nil {
			t.Fatal(err)
		}
		got := outputs(rec)
		if prev != nil && fmt.Sprint(got) != fmt.Sprint(prev) {
			t.Fatalf("jobs=%d gives other ids:\n%v\n%v", jobs, got, prev)
		}
		prev = got
		if g.d.gotJobs.Load() != int32(jobs) {
			t.Fatalf("RunRequest.Jobs = %d, want %d", g.d.gotJobs.Load(), jobs)
		}
	}
}

func TestFailedCheckSkipsDependants(t *testing.T) {
	ctx := context.Background()
	s, dir := openStore(t), t.TempDir()
	no := false
	src, chk, after, e, f := step("a"), &fakeStep{kind: checkKind, cfg: map[string]any{}, pass: &no}, step("g"), step("e"), step("f")
	src.kind, after.kind, e.kind, f.kind = srcKind, addKind, srcKind, addKind
	p := build(dir,
		node{"a", srcKind, src, nil},
		node{"chk", checkKind, chk, []string{"input=a"}},
		node{"e", srcKind, e, nil},
		node{"f", addKind, f, []string{"input=e"}},
		node{"g", addKind, after, []string{"input=chk.report"}},
		node{"h", addKind, step("h"), []string{"input=g"}},
	)
	for i, want := range []string{
		"a:ok chk:check-failed e:ok f:ok g:skipped h:skipped",
		"a:cached* chk:check-failed* e:cached* f:cached* g:skipped h:skipped",
	} {
		rec, err := exec.Run(ctx, p, opts(t, s))
		if pipeline.ExitCode(err) != 1 || !strings.Contains(err.Error(), `checks failed: step "chk": must_pass`) {
			t.Fatalf("run %d: err = %v (exit %d), want exit 1", i, err, pipeline.ExitCode(err))
		}
		if got := statuses(rec); got != want {
			t.Fatalf("run %d: %s, want %s", i, got, want)
		}
		if rec.Status != lineage.RunCheckFailed || rec.ExitCode != 1 {
			t.Fatalf("run %d: status %s exit %d", i, rec.Status, rec.ExitCode)
		}
		for _, st := range rec.Steps[4:] {
			if st.Reason != `upstream step "chk" failed checks` {
				t.Fatalf("run %d: step %s reason %q", i, st.ID, st.Reason)
			}
		}
		if c := rec.Steps[1].Checks; len(c) != 1 || c[0].Passed {
			t.Fatalf("run %d: checks %+v", i, c)
		}
	}
	if chk.calls.Load() != 1 || after.calls.Load() != 0 {
		t.Fatalf("calls: chk %d, g %d", chk.calls.Load(), after.calls.Load())
	}
}

func TestStepErrors(t *testing.T) {
	ctx := context.Background()
	s, dir := openStore(t), t.TempDir()
	g := newDiamond(dir)
	g.b.fail = errors.New("boom")
	rec, err := exec.Run(ctx, g.p, opts(t, s))
	if pipeline.ExitCode(err) != 3 || err.Error() != `step "b": boom` {
		t.Fatalf("err = %v (exit %d)", err, pipeline.ExitCode(err))
	}
	if got := statuses(rec); got != "a:ok b:failed c:ok d:skipped e:ok f:ok" {
		t.Fatalf("statuses: %s", got)
	}
	if rec.Steps[1].Error != "boom" || rec.Steps[3].Reason != `upstream step "b" failed` || rec.Status != lineage.RunFailed || rec.ExitCode != 3 {
		t.Fatalf("records: %+v", rec)
	}
	// A failure is not cached: fixing the step re-runs it.
	g.b.fail = nil
	rec, err = exec.Run(ctx, g.p, opts(t, s))
	if err != nil || statuses(rec) != "a:cached* b:ok c:cached* d:ok e:cached* f:cached*" {
		t.Fatalf("after the fix: %s, %v", statuses(rec), err)
	}
	// A step's own exit code is kept (2: invalid input).
	g.c.fail = pipeline.Invalidf("bad csv")
	g.c.cfg = map[string]any{"v": "c2"}
	if _, err := exec.Run(ctx, g.p, opts(t, s)); pipeline.ExitCode(err) != 2 {
		t.Fatalf("invalid input: exit %d, want 2", pipeline.ExitCode(err))
	}
	// Missing outputs are an error.
	g.c.fail = nil
	g.c.kind = &fakeKind{name: "src", version: 1, outputs: []string{"data"}}
	bad := build(dir, node{"x", addKind, &fakeStep{kind: srcKind, cfg: map[string]any{}}, nil})
	if _, err := exec.Run(ctx, bad, opts(t, s)); err == nil || !strings.Contains(err.Error(), `step produced no "report" output`) {
		t.Fatalf("missing output: %v", err)
	}
	o := opts(t, s)
	o.ForceSteps = []string{"nope"}
	if _, err := exec.Run(ctx, g.p, o); pipeline.ExitCode(err) != 2 {
		t.Fatalf("unknown force step: %v", err)
	}
}

func TestParallelismBoundedByJobs(t *testing.T) {
	ctx := context.Background()
	tr := &tracker{}
	var nodes []node
	for i := range 8 {
		st := step(fmt.Sprint(i))
		st.kind, st.sleep, st.track = srcKind, 15*time.Millisecond, tr
		nodes = append(nodes, node{fmt.Sprintf("s%d", i), srcKind, st, nil})
	}
	o := opts(t, openStore(t))
	o.Jobs = 3
	if _, err := exec.Run(ctx, build(t.TempDir(), nodes...), o); err != nil {
		t.Fatal(err)
	}
	if tr.max != 3 {
		t.Fatalf("max concurrent steps = %d, want 3", tr.max)
	}
}

func TestForce(t *testing.T) {
	ctx := context.Background()
	s, dir := openStore(t), t.TempDir()
	g := newDiamond(dir)
	first, err := exec.Run(ctx, g.p, opts(t, s))
	if err != nil {
		t.Fatal(err)
	}
	o := opts(t, s)
	o.ForceSteps = []string{"b"}
	rec, err := exec.Run(ctx, g.p, o)
	if err != nil {
		t.Fatal(err)
	}
	// b re-runs, gives the same output, so d stays cached.
	if got := statuses(rec); got != "a:cached* b:ok c:cached* d:cached* e:cached* f:cached*" || rec.Steps[1].Reason != "forced" {
		t.Fatalf("force b: %s (reason %q)", got, rec.Steps[1].Reason)
	}
	o = opts(t, s)
	o.Force = true
	rec, err = exec.Run(ctx, g.p, o)
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(rec); got != "a:ok b:ok c:ok d:ok e:ok f:ok" {
		t.Fatalf("force: %s", got)
	}
	if g.calls() != "2 3 2 2 2 2" || fmt.Sprint(outputs(rec)) != fmt.Sprint(outputs(first)) {
		t.Fatalf("calls %s; outputs equal: %v", g.calls(), fmt.Sprint(outputs(rec)) == fmt.Sprint(outputs(first)))
	}
}

func TestCorruptObjectNotReused(t *testing.T) {
	ctx := context.Background()
	s, dir := openStore(t), t.TempDir()
	g := newDiamond(dir)
	first, err := exec.Run(ctx, g.p, opts(t, s))
	if err != nil {
		t.Fatal(err)
	}
	id := first.Steps[1].Outputs["report"].ID
	p := filepath.Join(s.Dir(), "objects", id.String()[:2], id.String())
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 1
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, b, 0o444); err != nil {
		t.Fatal(err)
	}
	rec, err := exec.Run(ctx, g.p, opts(t, s))
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(rec); got != "a:cached* b:ok c:cached* d:cached* e:cached* f:cached*" {
		t.Fatalf("after corrupting b's output: %s", got)
	}
	if want := fmt.Sprintf(`cached output "report" (%s) is corrupt`, id.Short()); rec.Steps[1].Reason != want {
		t.Fatalf("reason %q, want %q", rec.Steps[1].Reason, want)
	}
	if rep, err := s.Verify(ctx, lineage.VerifyOptions{}); err != nil || !rep.OK() {
		t.Fatalf("store not healed: %+v, %v", rep, err)
	}
	// A missing object is not reused either.
	os.Remove(p)
	rec, err = exec.Run(ctx, g.p, opts(t, s))
	if err != nil || statuses(rec) != "a:cached* b:ok c:cached* d:cached* e:cached* f:cached*" {
		t.Fatalf("after deleting b's output: %s, %v", statuses(rec), err)
	}
}

func TestCacheVerify(t *testing.T) {
	ctx := context.Background()
	s, dir := openStore(t), t.TempDir()
	g := newDiamond(dir)
	if _, err := exec.Run(ctx, g.p, opts(t, s)); err != nil {
		t.Fatal(err)
	}
	o := opts(t, s)
	o.CacheVerify = true
	rec, err := exec.Run(ctx, g.p, o)
	if err != nil || statuses(rec) != "a:ok* b:ok* c:ok* d:ok* e:ok* f:ok*" || g.calls() != "2 2 2 2 2 2" {
		t.Fatalf("verify mode, deterministic steps: %s, %v, calls %s", statuses(rec), err, g.calls())
	}
	g.e.nondet = true
	g.e.cfg = map[string]any{"v": "e2"}
	if _, err := exec.Run(ctx, g.p, opts(t, s)); err != nil {
		t.Fatal(err)
	}
	rec, err = exec.Run(ctx, g.p, o)
	if pipeline.ExitCode(err) != 3 || !strings.Contains(err.Error(), `step "e": cache verify: output "data" differs from the cached one`) {
		t.Fatalf("verify mode, non-deterministic step: %v", err)
	}
	if got := statuses(rec); got != "a:ok* b:ok* c:ok* d:ok* e:failed f:skipped" {
		t.Fatalf("statuses: %s", got)
	}
}

func TestExternalFiles(t *testing.T) {
	ctx := context.Background()
	s, dir := openStore(t), t.TempDir()
	csv := filepath.Join(dir, "data", "in.csv")
	os.MkdirAll(filepath.Dir(csv), 0o755)
	os.WriteFile(csv, []byte("x\n1\n"), 0o644)
	ld := &fileStep{fakeStep: &fakeStep{kind: srcKind, cfg: map[string]any{"path": "data/in.csv"}}, files: []string{csv}}
	down := step("down")
	down.kind = addKind
	p := build(dir, node{"load", srcKind, ld, nil}, node{"down", addKind, down, []string{"input=load"}})
	rec, err := exec.Run(ctx, p, opts(t, s))
	if err != nil {
		t.Fatal(err)
	}
	if f := rec.Steps[0].Files; len(f) != 1 || f[0].Path != csv || f[0].SHA256 != lineage.Hash([]byte("x\n1\n")).String() || f[0].Size != 4 {
		t.Fatalf("file fingerprints: %+v", f)
	}
	if rec, _ := exec.Run(ctx, p, opts(t, s)); statuses(rec) != "load:cached* down:cached*" {
		t.Fatalf("second run: %s", statuses(rec))
	}
	os.WriteFile(csv, []byte("x\n2\n"), 0o644)
	plan, err := exec.Plan(ctx, p, opts(t, s))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("file data/in.csv changed (sha256 %s -> %s)",
		lineage.Hash([]byte("x\n1\n")).String()[:12], lineage.Hash([]byte("x\n2\n")).String()[:12])
	if got := planString(plan); got != "load:run["+want+"] down:run[upstream step \"load\" will re-run]" {
		t.Fatalf("plan: %s", got)
	}
	if rec, _ := exec.Run(ctx, p, opts(t, s)); statuses(rec) != "load:ok down:ok" {
		t.Fatalf("after editing the file: %s", statuses(rec))
	}
}

func planString(r *exec.PlanReport) string {
	var parts []string
	for _, s := range r.Steps {
		parts = append(parts, fmt.Sprintf("%s:%s[%s]", s.ID, s.Action, strings.Join(s.Reasons, "; ")))
	}
	return strings.Join(parts, " ")
}

func TestPlan(t *testing.T) {
	ctx := context.Background()
	s, dir := openStore(t), t.TempDir()
	g := newDiamond(dir)
	plan := func(o exec.Options) string {
		t.Helper()
		r, err := exec.Plan(ctx, g.p, o)
		if err != nil {
			t.Fatal(err)
		}
		return planString(r)
	}
	run := func() *lineage.RunRecord {
		t.Helper()
		rec, err := exec.Run(ctx, g.p, opts(t, s))
		if err != nil && pipeline.ExitCode(err) == 2 {
			t.Fatal(err)
		}
		return rec
	}
	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Fatalf("%s:\n got %s\nwant %s", what, got, want)
		}
	}
	check("fresh store", plan(opts(t, s)),
		`a:run[no previous run] b:run[upstream step "a" will re-run] c:run[no previous run] d:run[upstream step "b" will re-run; upstream step "c" will re-run] e:run[no previous run] f:run[upstream step "e" will re-run]`)
	first := run()
	check("after a run", plan(opts(t, s)), "a:cached[] b:cached[] c:cached[] d:cached[] e:cached[] f:cached[]")

	g.b.cfg = map[string]any{"v": "b2", "extra": 1}
	check("setting changed", plan(opts(t, s)),
		`a:cached[] b:run[setting changed: extra, v] c:cached[] d:run[upstream step "b" will re-run] e:cached[] f:cached[]`)
	g.b.cfg = map[string]any{"v": "b"}

	o := opts(t, s)
	o.ForceSteps = []string{"e"}
	check("forced", plan(o), `a:cached[] b:cached[] c:cached[] d:cached[] e:run[forced] f:run[upstream step "e" will re-run]`)

	addV2 := &fakeKind{name: "add", version: 2, inputs: addKind.inputs, outputs: addKind.outputs}
	g.p.Steps[5].KindImpl = addV2
	check("kind version", plan(opts(t, s)), "a:cached[] b:cached[] c:cached[] d:cached[] e:cached[] f:run[kind version changed (1 -> 2)]")
	g.rebuild(dir)

	// Input changed: run with a=a2 (b's last key has a2's output), then
	// go back to a=a (cached from the first run): b's input differs from
	// its last key and no entry exists for that combination... unless the
	// first run made one, so change b's setting in between too.
	g.a.cfg = map[string]any{"v": "a2"}
	g.b.cfg = map[string]any{"v": "b2"}
	second := run()
	g.a.cfg = map[string]any{"v": "a"}
	check("input changed", plan(opts(t, s)), fmt.Sprintf(
		`a:cached[] b:run[input input changed (%s -> %s)] c:cached[] d:run[upstream step "b" will re-run] e:cached[] f:cached[]`,
		second.Steps[0].Outputs["data"].ID.Short(), first.Steps[0].Outputs["data"].ID.Short()))

	// A failed step leaves its last key but no cache entry.
	g.b.fail = errors.New("boom")
	run()
	g.b.fail = nil
	check("after a failure", plan(opts(t, s)),
		`a:cached[] b:run[no cached result (the previous run of this step failed or was interrupted)] c:cached[] d:run[upstream step "b" will re-run] e:cached[] f:cached[]`)

	// A cached failed check means its dependants would be skipped.
	no := false
	g.c.pass = &no
	g.c.cfg = map[string]any{"v": "c-fails"}
	run()
	check("cached failed check", plan(opts(t, s)),
		`a:cached[] b:cached[] c:cached[] d:skip[upstream step "c" failed checks] e:cached[] f:cached[]`)
	o = opts(t, s)
	o.Force = true
	check("force", plan(o), `a:run[forced] b:run[forced; upstream step "a" will re-run] c:run[forced] d:run[forced; upstream step "b" will re-run; upstream step "c" will re-run] e:run[forced] f:run[forced; upstream step "e" will re-run]`)
}

func TestEventsAndRunningRecord(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	g := newDiamond(t.TempDir())
	g.c.fail = errors.New("boom")
	var events []string
	var sawRunning bool
	o := opts(t, s)
	o.Jobs = 1
	o.Events = func(e exec.Event) {
		events = append(events, fmt.Sprintf("%s:%s", e.Step, e.Type))
		if runs, err := s.ListRuns(ctx); err == nil && len(runs) == 1 && runs[0].Status == lineage.RunRunning {
			sawRunning = true
		}
	}
	if _, err := exec.Run(ctx, g.p, o); err == nil {
		t.Fatal("no error")
	}
	got := strings.Join(events, " ")
	for _, want := range []string{"a:started a:finished", "b:started b:finished", "c:started c:finished", "d:skipped", "f:started", "f:finished"} {
		if !strings.Contains(got, want) {
			t.Fatalf("events %q lack %q", got, want)
		}
	}
	if !sawRunning {
		t.Fatal("no run record with status running during the run")
	}
	g.c.fail = nil
	events = nil
	exec.Run(ctx, g.p, o)
	if got := strings.Join(events, " "); !strings.Contains(got, "a:cached") || strings.Contains(got, "a:started") {
		t.Fatalf("cached events: %q", got)
	}
}

func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := openStore(t)
	g := newDiamond(t.TempDir())
	o := opts(t, s)
	o.Jobs = 1
	o.Events = func(e exec.Event) {
		if e.Step == "a" && e.Type == exec.EventFinished {
			cancel()
		}
	}
	rec, err := exec.Run(ctx, g.p, o)
	if !errors.Is(err, context.Canceled) || pipeline.ExitCode(err) != 3 {
		t.Fatalf("err = %v", err)
	}
	stored, gerr := s.GetRun(context.Background(), rec.ID)
	if gerr != nil || stored.Status != lineage.RunInterrupted || !strings.Contains(statuses(stored), "skipped") {
		t.Fatalf("stored run after cancel: %v, %v", stored, gerr)
	}
	// Its outcome was committed although ctx was cancelled.
	entries, _, err := s.AuditLog(context.Background())
	if err != nil || len(entries) == 0 || entries[len(entries)-1].Type != lineage.AuditRunInterrupted {
		t.Fatalf("audit log after cancel: %v, %v", entries, err)
	}
}

func TestParsedPipeline(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	reg := registry(t)
	src := `mlrun: 1
name: parsed
params:
  label: one
steps:
  load:
    kind: src
    v: ${params.label}
  derive:
    kind: add
    input: load
  side:
    kind: src
    v: side
  join:
    kind: add
    input: derive.data
    other: side
`
	load := func(label string) *pipeline.Pipeline {
		t.Helper()
		p, err := pipeline.Parse(filepath.Join(dir, "p.yaml"), []byte(src), pipeline.LoadOptions{
			Registry: reg, Overrides: map[string]string{"label": label}})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	s := openStore(t)
	o := exec.Options{Store: s, Registry: reg, Jobs: 2}
	rec, err := exec.Run(ctx, load("one"), o)
	if err != nil || statuses(rec) != "load:ok derive:ok side:ok join:ok" && statuses(rec) != "load:ok side:ok derive:ok join:ok" {
		t.Fatalf("first run: %s, %v", statuses(rec), err)
	}
	if rec.Params["label"] != "one" {
		t.Fatalf("params recorded: %v", rec.Params)
	}
	rec, err = exec.Run(ctx, load("one"), o)
	if err != nil || strings.Count(statuses(rec), ":cached*") != 4 {
		t.Fatalf("second run: %s, %v", statuses(rec), err)
	}
	plan, err := exec.Plan(ctx, load("two"), o)
	if err != nil {
		t.Fatal(err)
	}
	got := planString(plan)
	for _, want := range []string{"load:run[setting changed: v]", `derive:run[upstream step "load" will re-run]`, "side:cached[]", `join:run[upstream step "derive" will re-run]`} {
		if !strings.Contains(got, want) {
			t.Fatalf("plan %s lacks %s", got, want)
		}
	}
}
