package exec_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/exec"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

func TestRunInMemory(t *testing.T) {
	dir := t.TempDir()
	g := newDiamond(dir)
	res, err := exec.RunInMemory(context.Background(), g.p, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := g.calls(); got != "1 1 1 1 1 1" {
		t.Errorf("calls %s, want each step once", got)
	}
	var d any
	if err := res["d"].Outputs["data"].(*pipeline.Document).Into(&d); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(mustJSON(t, d), `"other":{"out":"data"`) {
		t.Errorf("d did not get c's output: %s", mustJSON(t, d))
	}
	// A failing step stops the walk with its error; nothing is stored.
	g.b.fail = errors.New("boom")
	_, err = exec.RunInMemory(context.Background(), g.p, 1, nil)
	if err == nil || err.Error() != `step "b": boom` {
		t.Errorf("err = %v", err)
	}
	// Failed checks are in the result, not an error.
	g.b.fail = nil
	pass := false
	g.c.pass = &pass
	res, err = exec.RunInMemory(context.Background(), g.p, 1, nil)
	if err != nil || !res["c"].Failed() {
		t.Errorf("check failure: %v, failed=%v", err, res["c"] != nil && res["c"].Failed())
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// passStep passes its input on as its "data" output, as a validate step
// does, and records the objects it got and gave.
type passStep struct {
	fakeStep
	mu  sync.Mutex
	got []pipeline.Object
}

func (s *passStep) Run(ctx context.Context, req *pipeline.RunRequest) (*pipeline.Result, error) {
	s.calls.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, req.Inputs["input"])
	out := map[string]pipeline.Object{}
	if o := req.Inputs["input"]; o != nil {
		out["data"] = o
	} else if o := req.Inputs["other"]; o != nil {
		out["data"] = o
	}
	return &pipeline.Result{Outputs: out}, nil
}

// TestPassedOnObjectStaysInMemory: a step that passes its input on gives
// the same object id without storing it again, and its dependant gets the
// object in memory even though the first step's only dependant finished
// (it is not read back from the store).
func TestPassedOnObjectStaysInMemory(t *testing.T) {
	ctx := context.Background()
	passKind := &fakeKind{name: "pass", version: 1, inputs: []string{"input", "other"}, outputs: []string{"data"}}
	reg := registry(t)
	if err := reg.Register(passKind); err != nil {
		t.Fatal(err)
	}
	a := step("a")
	a.kind = srcKind
	b := &passStep{fakeStep: fakeStep{kind: passKind, cfg: map[string]any{"v": "b"}}}
	c := &passStep{fakeStep: fakeStep{kind: passKind, cfg: map[string]any{"v": "c"}}}
	p := build(t.TempDir(),
		node{"a", srcKind, a, nil},
		node{"b", passKind, b, []string{"input=a"}},
		node{"c", passKind, c, []string{"input=b"}},
	)
	for _, verify := range []bool{false, true} {
		s := openStore(t)
		o := exec.Options{Store: s, Registry: reg, Jobs: 2, Version: "test", CacheVerify: verify}
		rec, err := exec.Run(ctx, p, o)
		if err != nil {
			t.Fatal(err)
		}
		ra, rb, rc := rec.Steps[0].Outputs["data"], rec.Steps[1].Outputs["data"], rec.Steps[2].Outputs["data"]
		if ra != rb || rb != rc || ra.Size == 0 {
			t.Fatalf("verify=%v: outputs a %+v, b %+v, c %+v: want the same object", verify, ra, rb, rc)
		}
		if len(b.got) != 1 || len(c.got) != 1 || b.got[0] != c.got[0] {
			t.Fatalf("verify=%v: c got another object than b (read back from the store?)", verify)
		}
		b.got, c.got = nil, nil
		if rep, err := s.Verify(ctx, lineage.VerifyOptions{}); err != nil || !rep.OK() {
			t.Fatalf("verify=%v: Verify = %+v, %v", verify, rep, err)
		}
	}
}
