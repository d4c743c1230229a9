package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/steps/exprenv"
)

func gateCompiler(src string, metrics []string) (Gate, error) {
	return exprenv.CompileGate(src, metrics, nil)
}

// fixture stores objects standing for a dataset, a model and metrics, and a
// run record load -> quality -> split -> model -> evaluation.
func fixture(t *testing.T, st *lineage.Store, auc float64) *lineage.RunRecord {
	t.Helper()
	ctx := context.Background()
	put := func(typ string, v any) lineage.ObjectRef {
		id, size, err := st.PutObject(ctx, typ, &pipeline.Document{Type: typ, Value: v})
		if err != nil {
			t.Fatal(err)
		}
		return lineage.ObjectRef{ID: id, Type: typ, Size: size}
	}
	raw, train, test := put("dataset", "raw"), put("dataset", "train"), put("dataset", "test")
	mdl := put("model", fmt.Sprintf("model %v", auc))
	mets := put("metrics", auc)
	run := &lineage.RunRecord{
		ID: lineage.NewRunID(time.Now()), Pipeline: "credit", File: "p.yaml", FileSHA256: strings.Repeat("ab", 32),
		Version: "test", Status: lineage.RunOK,
		Steps: []lineage.StepRecord{
			{ID: "apps", Kind: "load", Status: lineage.StepOK, Files: []pipeline.FileInfo{{Path: "apps.csv", SHA256: strings.Repeat("cd", 32), Size: 10}},
				Outputs: map[string]lineage.ObjectRef{"data": raw}},
			{ID: "other", Kind: "load", Status: lineage.StepOK, Files: []pipeline.FileInfo{{Path: "unrelated.csv", SHA256: strings.Repeat("ef", 32)}},
				Outputs: map[string]lineage.ObjectRef{"data": put("dataset", "other")}},
			{ID: "quality", Kind: "validate", Status: lineage.StepOK, Inputs: map[string]lineage.ObjectRef{"input": raw},
				Outputs: map[string]lineage.ObjectRef{"data": raw}},
			{ID: "split", Kind: "split", Status: lineage.StepCached, Inputs: map[string]lineage.ObjectRef{"input": raw},
				Outputs: map[string]lineage.ObjectRef{"train": train, "test": test}},
			{ID: "model", Kind: "train", Status: lineage.StepOK, Inputs: map[string]lineage.ObjectRef{"input": train},
				Outputs: map[string]lineage.ObjectRef{"model": mdl}, Metrics: lineage.Metrics{"train_auc": auc + 0.01, "auc": -1}},
			{ID: "evaluation", Kind: "evaluate", Status: lineage.StepOK, Inputs: map[string]lineage.ObjectRef{"model": mdl, "data": test},
				Outputs: map[string]lineage.ObjectRef{"metrics": mets}, Metrics: lineage.Metrics{"auc": auc, "threshold": 0.4}},
		},
	}
	if _, err := st.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
		_, err := tx.PutRun(ctx, run)
		tx.Audit(lineage.AuditEntry{Type: lineage.AuditRunFinished, Run: run.ID})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return run
}

func newRegistry(t *testing.T) (*Registry, *lineage.Store) {
	t.Helper()
	st, err := lineage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return New(st, gateCompiler), st
}

func TestDescribe(t *testing.T) {
	r, st := newRegistry(t)
	run := fixture(t, st, 0.8)
	v, err := Describe(run, "model")
	if err != nil {
		t.Fatal(err)
	}
	if len(v.TrainingData) != 1 || v.TrainingData[0].Path != "apps.csv" {
		t.Errorf("training data = %+v, want only apps.csv", v.TrainingData)
	}
	if v.Metrics["auc"] != 0.8 || v.Metrics["train_auc"] != 0.81 || v.Threshold != 0.4 {
		t.Errorf("metrics = %v threshold %v", v.Metrics, v.Threshold)
	}
	if len(v.Evaluations) != 1 || v.Evaluations[0].Step != "evaluation" {
		t.Errorf("evaluations = %+v", v.Evaluations)
	}
	if v.TrainingSet == nil || *v.TrainingSet != run.Steps[4].Inputs["input"] {
		t.Errorf("training set = %v", v.TrainingSet)
	}
	for _, tt := range []struct{ step, want string }{
		{"nope", `run ` + run.ID + ` has no step "nope"`},
		{"quality", `step "quality" of run ` + run.ID + ` (validate) has no model output`},
	} {
		if _, err := Describe(run, tt.step); err == nil || err.Error() != tt.want || pipeline.ExitCode(err) != 2 {
			t.Errorf("Describe(%s) = %v, want %q (exit 2)", tt.step, err, tt.want)
		}
	}
	_ = r
}

func TestRegisterPromoteRollback(t *testing.T) {
	ctx := context.Background()
	r, st := newRegistry(t)
	reg := func(auc float64, gates ...string) *Version {
		t.Helper()
		res, err := r.Register(ctx, RegisterRequest{Name: "pd", Run: fixture(t, st, auc), Step: "model", Gates: gates})
		if err != nil || len(res.Head) != 64 || res.Existing {
			t.Fatalf("register: %v %+v", err, res)
		}
		return res.Version
	}
	v1 := reg(0.80, "auc >= 0.75", "auc >= current.auc + 0.005")
	v2 := reg(0.82)
	v3 := reg(0.821)
	if v1.Version != 1 || v2.Version != 2 || v3.Version != 3 {
		t.Fatalf("versions %d %d %d", v1.Version, v2.Version, v3.Version)
	}

	steps := []struct {
		version int
		action  string // promote or rollback
		want    string // error substring, "" for success
		holder  int
	}{
		{1, "promote", "", 1}, // current.* gate skipped: no holder
		{1, "promote", "already holds production", 1},
		{3, "promote", "", 3},
		{2, "promote", "auc >= current.auc + 0.005: FAILED (auc=0.82, current.auc=0.821)", 3},
		{0, "rollback", "", 1},
		{0, "rollback", "no previous holder", 1},
		{2, "promote", "", 2},
	}
	for i, s := range steps {
		var err error
		if s.action == "promote" {
			_, err = r.Promote(ctx, PromoteRequest{Name: "pd", Version: s.version, Alias: "production", Reason: "test"})
		} else {
			_, _, err = r.Rollback(ctx, "pd", "production", "test")
		}
		if s.want == "" && err != nil || s.want != "" && (err == nil || !strings.Contains(err.Error(), s.want)) {
			t.Fatalf("step %d: err = %v, want %q", i, err, s.want)
		}
		m, err2 := r.Get(ctx, "pd")
		if err2 != nil {
			t.Fatal(err2)
		}
		if m.Aliases["production"] != s.holder {
			t.Fatalf("step %d: holder %d, want %d", i, m.Aliases["production"], s.holder)
		}
	}
	var ge *GateError
	_, err := r.Promote(ctx, PromoteRequest{Name: "pd", Version: 1, Alias: "production", Reason: "x", Gates: []string{"auc >= 0.9"}})
	if !errors.As(err, &ge) || pipeline.ExitCode(err) != 1 || !errors.Is(err, ErrGateFailed) {
		t.Fatalf("extra gate: %v", err)
	}
	if _, err := r.Promote(ctx, PromoteRequest{Name: "pd", Version: 1, Alias: "production", Reason: "x", Gates: []string{"aucc >= 0.9"}}); err == nil ||
		!strings.Contains(err.Error(), `unknown metric "aucc"`) || pipeline.ExitCode(err) != 2 {
		t.Fatalf("bad gate: %v", err)
	}
	if _, err := r.Promote(ctx, PromoteRequest{Name: "pd", Version: 9, Alias: "production", Reason: "x"}); pipeline.ExitCode(err) != 2 {
		t.Fatalf("missing version: %v", err)
	}

	m, _ := r.Get(ctx, "pd")
	var got []string
	for _, mv := range m.History {
		got = append(got, fmt.Sprintf("%s %d->%d", mv.Action, mv.From, mv.To))
	}
	if want := []string{"promote 0->1", "promote 1->3", "rollback 3->1", "promote 1->2"}; !slices.Equal(got, want) {
		t.Errorf("history %v, want %v", got, want)
	}
	// Refused promotions are recorded: the current.* gate and the extra gate.
	if len(m.Refused) != 2 || m.Refused[0].Version != 2 || m.Refused[1].Gates[len(m.Refused[1].Gates)-1].Expr != "auc >= 0.9" {
		t.Errorf("refused %+v", m.Refused)
	}
	for _, ref := range []string{"pd", "pd@2", "pd@production"} {
		_, v, err := r.Resolve(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]int{"pd": 3, "pd@2": 2, "pd@production": 2}[ref]; v.Version != want {
			t.Errorf("Resolve(%s) = %d, want %d", ref, v.Version, want)
		}
	}
	if _, _, err := r.Resolve(ctx, "pd@staging"); err == nil || !strings.Contains(err.Error(), `no alias "staging" (aliases: production=2)`) {
		t.Errorf("Resolve(pd@staging) = %v", err)
	}

	// The audit log holds every registration and move, in order.
	entries, _, err := st.AuditLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range entries {
		if e.Type == AuditModelRegistered || e.Type == AuditAliasMoved {
			types = append(types, e.Type+" "+e.Detail["version"]+e.Detail["to"])
		}
	}
	want := []string{"model.registered 1", "model.registered 2", "model.registered 3",
		"alias.moved 1", "alias.moved 3", "alias.moved 1", "alias.moved 2"}
	if !slices.Equal(types, want) {
		t.Errorf("audit %v, want %v", types, want)
	}
	if rep, err := st.VerifyAudit(ctx); err != nil || !rep.OK() {
		t.Errorf("audit chain: %+v %v", rep, err)
	}
}

// TestConcurrentRegister registers from many goroutines, each with its own
// Store on the same directory (flock excludes them like processes), and
// checks versions 1..N without gaps and a valid audit chain.
func TestConcurrentRegister(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st0, err := lineage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	const n = 12
	runs := make([]*lineage.RunRecord, n)
	for i := range runs {
		runs[i] = fixture(t, st0, 0.7+float64(i)/100)
	}
	var wg sync.WaitGroup
	got := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := lineage.Open(dir)
			if err != nil {
				errs[i] = err
				return
			}
			res, err := New(st, gateCompiler).Register(ctx, RegisterRequest{Name: "pd", Run: runs[i], Step: "model"})
			if err != nil {
				errs[i] = err
				return
			}
			got[i] = res.Version.Version
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(got)
	for i, v := range got {
		if v != i+1 {
			t.Fatalf("versions %v, want 1..%d", got, n)
		}
	}
	r := New(st0, gateCompiler)
	m, err := r.Get(ctx, "pd")
	if err != nil || m.Latest() != n {
		t.Fatalf("model: %+v %v", m, err)
	}
	for v := 1; v <= n; v++ {
		ver, err := r.Version(ctx, m, v)
		if err != nil || ver.Version != v || ver.Run != m.Versions[v-1].Run {
			t.Fatalf("version %d: %+v %v", v, ver, err)
		}
	}
	rep, err := st0.VerifyAudit(ctx)
	if err != nil || !rep.OK() || rep.Entries != 2*n {
		t.Fatalf("audit: %+v %v; want %d entries (the fixtures' runs and the registrations)", rep, err, 2*n)
	}
	// gc keeps what the versions need.
	if _, err := st0.GC(ctx, lineage.GCOptions{KeepLast: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Version(ctx, m, 1); err != nil {
		t.Fatalf("after gc: %v", err)
	}
	if _, err := st0.GetRun(ctx, m.Versions[0].Run); err != nil {
		t.Fatalf("after gc: %v", err)
	}
}

func TestNames(t *testing.T) {
	for _, tt := range []struct {
		name, alias string
		ok          bool
	}{
		{"credit-risk", "production", true},
		{"pd.v2", "champion_2", true},
		{"Credit", "production", false},
		{"a/b", "production", false},
		{"pd", "12", false},
		{"pd", "Prod", false},
	} {
		err := CheckName(tt.name)
		if err == nil {
			err = CheckAlias(tt.alias)
		}
		if (err == nil) != tt.ok {
			t.Errorf("%s@%s: %v, want ok=%v", tt.name, tt.alias, err, tt.ok)
		}
	}
}
