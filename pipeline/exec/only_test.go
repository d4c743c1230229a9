package exec_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/exec"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// onlyRun runs the given steps of g with Options.Only (and Require).
func onlyRun(t *testing.T, s *lineage.Store, g *diamond, only []string, require ...string) (*lineage.RunRecord, error) {
	t.Helper()
	o := opts(t, s)
	o.Only, o.Require = only, require
	return exec.Run(context.Background(), g.p, o)
}

// TestOnlySequence runs the diamond one step at a time, as the tasks of a
// cluster workflow do, then checks that a full run reuses every step and
// that the keys, outputs and audit entries are those of a local run.
func TestOnlySequence(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	g := newDiamond(t.TempDir())
	steps := []struct {
		only    []string
		want    string // statuses; "" when the run must fail
		missing string // the upstream step named by the error
		calls   string // a b c d e f
	}{
		{[]string{"b"}, "", "a", "0 0 0 0 0 0"},
		{[]string{"a"}, "a:ok", "", "1 0 0 0 0 0"},
		{[]string{"b"}, "a:cached* b:ok", "", "1 1 0 0 0 0"},
		{[]string{"d"}, "", "c", "1 1 0 0 0 0"},
		{[]string{"c"}, "c:ok", "", "1 1 1 0 0 0"},
		{[]string{"d"}, "a:cached* b:cached* c:cached* d:ok", "", "1 1 1 1 0 0"},
		// A second submission: every task finds its step cached.
		{[]string{"d"}, "a:cached* b:cached* c:cached* d:cached*", "", "1 1 1 1 0 0"},
		{[]string{"e", "f"}, "e:ok f:ok", "", "1 1 1 1 1 1"},
	}
	for i, tc := range steps {
		head0, _, _ := s.AuditHead(ctx)
		rec, err := onlyRun(t, s, g, tc.only)
		if tc.missing != "" {
			var me *exec.MissingError
			if !errors.As(err, &me) || me.Step != tc.missing || pipeline.ExitCode(err) != pipeline.ExitInvalid || !errors.Is(err, exec.ErrUpstreamMissing) {
				t.Fatalf("#%d --only %v: err %v (exit %d), want the missing upstream %q with exit 2", i, tc.only, err, pipeline.ExitCode(err), tc.missing)
			}
			want := `--only ` + strings.Join(tc.only, ",") + `: upstream step "` + tc.missing + `" has no output in the store: no cache entry for its inputs and settings (key `
			if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "run it first (mlrun run "+g.p.File+" --only "+tc.missing+",") {
				t.Fatalf("#%d: message %q", i, err)
			}
			if rec != nil {
				t.Fatalf("#%d: a run that could not start returned a record", i)
			}
			if head, _, _ := s.AuditHead(ctx); head != head0 {
				t.Fatalf("#%d: a run that could not start committed something", i)
			}
		} else if err != nil {
			t.Fatalf("#%d --only %v: %v", i, tc.only, err)
		} else if got := statuses(rec); got != tc.want {
			t.Fatalf("#%d --only %v: %s, want %s", i, tc.only, got, tc.want)
		}
		if got := g.calls(); got != tc.calls {
			t.Fatalf("#%d --only %v: calls %s, want %s", i, tc.only, got, tc.calls)
		}
	}

	// A full run reuses what the single-step runs computed.
	full, err := exec.Run(ctx, g.p, opts(t, s))
	if err != nil || statuses(full) != "a:cached* b:cached* c:cached* d:cached* e:cached* f:cached*" || g.calls() != "1 1 1 1 1 1" {
		t.Fatalf("full run after the --only runs: %s, calls %s, %v", statuses(full), g.calls(), err)
	}
	// Its keys and outputs are those of a full run in a fresh store.
	s2 := openStore(t)
	g2 := newDiamond(filepath.Dir(g.p.File))
	ref, err := exec.Run(ctx, g2.p, opts(t, s2))
	if err != nil {
		t.Fatal(err)
	}
	for i := range ref.Steps {
		a, b := ref.Steps[i], full.Steps[i]
		if a.CacheKey != b.CacheKey || len(a.Outputs) != len(b.Outputs) {
			t.Fatalf("step %s: key %s vs %s", a.ID, a.CacheKey, b.CacheKey)
		}
		for name, o := range a.Outputs {
			if b.Outputs[name].ID != o.ID {
				t.Fatalf("step %s output %s: %s vs %s", a.ID, name, b.Outputs[name].ID, o.ID)
			}
		}
	}

	// Every --only run that ran is recorded and audited like any run.
	entries, _, err := s.AuditLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		switch e.Type {
		case lineage.AuditRunFinished:
			got = append(got, "finished only="+e.Detail["only"]+" from_store="+e.Detail["from_store"])
		case lineage.AuditStepExecuted, lineage.AuditStepCached:
			got = append(got, e.Type+" "+e.Step)
		}
	}
	want := []string{
		"step.executed a", "finished only=a from_store=",
		"step.executed b", "step.cached a", "finished only=b from_store=a",
		"step.executed c", "finished only=c from_store=",
		"step.executed d", "step.cached a", "step.cached b", "step.cached c", "finished only=d from_store=a,b,c",
		"step.cached a", "step.cached b", "step.cached c", "step.cached d", "finished only=d from_store=a,b,c",
		"step.executed e", "step.executed f", "finished only=e,f from_store=",
		"step.cached a", "step.cached b", "step.cached c", "step.cached d", "step.cached e", "step.cached f", "finished only= from_store=",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rep, err := s.Verify(ctx, lineage.VerifyOptions{}); err != nil || !rep.OK() {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
}

// TestOnlyOptions checks the selection: unknown names, --force outside
// the selection, Require, and upstream entries that cannot be used.
func TestOnlyOptions(t *testing.T) {
	s := openStore(t)
	g := newDiamond(t.TempDir())
	if _, err := exec.Run(context.Background(), g.p, opts(t, s)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		only    []string
		require []string
		force   []string
		want    string // statuses, or the error's text (a prefix) after "error: "
		code    int
	}{
		{"unknown step", []string{"x"}, nil, nil, `error: --only x: ` + g.p.File + ` has no step "x" (steps: a, b, c, d, e, f)`, 2},
		{"force outside", []string{"b"}, nil, []string{"a"}, `error: --force a: not among the --only steps (b)`, 2},
		{"force selected", []string{"b"}, nil, []string{"b"}, "a:cached* b:ok", 0},
		{"require", []string{"f"}, []string{"d"}, nil, "a:cached* b:cached* c:cached* d:cached* e:cached* f:cached*", 0},
		{"require without only", nil, []string{"d"}, nil, "error: exec: Options.Require needs Options.Only", 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := opts(t, s)
			o.Only, o.Require, o.ForceSteps = tc.only, tc.require, tc.force
			rec, err := exec.Run(context.Background(), g.p, o)
			got := ""
			if err != nil {
				got = "error: " + err.Error()
			} else {
				got = statuses(rec)
			}
			if !strings.HasPrefix(got, tc.want) || pipeline.ExitCode(err) != tc.code {
				t.Fatalf("got %q (exit %d), want %q (exit %d)", got, pipeline.ExitCode(err), tc.want, tc.code)
			}
		})
	}
	// Plan refuses Only: it plans whole pipelines.
	o := opts(t, s)
	o.Only = []string{"a"}
	if _, err := exec.Plan(context.Background(), g.p, o); err == nil {
		t.Fatal("Plan took Options.Only")
	}
}

// TestOnlyUnusableUpstream: an upstream entry whose output was removed is
// missing (its reason said), and a cached upstream whose checks failed
// skips the selected step with exit 1, as a full run would.
func TestOnlyUnusableUpstream(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	g := newDiamond(t.TempDir())
	if _, err := onlyRun(t, s, g, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	view, _ := s.View(ctx)
	runs, _ := view.ListRuns(ctx)
	id := runs[0].Steps[0].Outputs["data"].ID
	p := filepath.Join(s.Dir(), "objects", id.String()[:2], id.String())
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	_, err := onlyRun(t, s, g, []string{"b"})
	var me *exec.MissingError
	if !errors.As(err, &me) || me.Step != "a" || !strings.Contains(err.Error(), `has no output in the store: cached output "data" (`+id.Short()+`) is missing;`) {
		t.Fatalf("b after a's output was removed: %v", err)
	}

	fail := false
	g.e.pass = &fail
	if _, err := onlyRun(t, s, g, []string{"e"}); pipeline.ExitCode(err) != pipeline.ExitCheckFailed {
		t.Fatalf("e with a failed check: %v", err)
	}
	rec, err := onlyRun(t, s, g, []string{"f"})
	if pipeline.ExitCode(err) != pipeline.ExitCheckFailed || statuses(rec) != "e:check-failed* f:skipped" {
		t.Fatalf("f after e failed its checks: %s, %v", statuses(rec), err)
	}
	if g.f.calls.Load() != 0 {
		t.Fatal("f ran although e failed its checks")
	}
}

// TestOnlyVariants: a matrix sweep's written id selects every variant,
// and one variant id only that one.
func TestOnlyVariants(t *testing.T) {
	s := openStore(t)
	dir := t.TempDir()
	a, v1, v2 := step("a"), step("v1"), step("v2")
	a.kind, v1.kind, v2.kind = srcKind, addKind, addKind
	p := build(dir,
		node{"a", srcKind, a, nil},
		node{"m--d-1", addKind, v1, []string{"input=a"}},
		node{"m--d-2", addKind, v2, []string{"input=a"}},
	)
	p.Steps[1].Variant = &pipeline.Variant{Group: "m", Sweep: "m", Settings: []pipeline.VariantSetting{{Name: "d", Value: "1"}}}
	p.Steps[2].Variant = &pipeline.Variant{Group: "m", Sweep: "m", Settings: []pipeline.VariantSetting{{Name: "d", Value: "2"}}}
	run := func(only ...string) string {
		o := opts(t, s)
		o.Only = only
		rec, err := exec.Run(context.Background(), p, o)
		if err != nil {
			return "error: " + err.Error()
		}
		return statuses(rec)
	}
	if got := run("a"); got != "a:ok" {
		t.Fatal(got)
	}
	if got := run("m--d-2"); got != "a:cached* m--d-2:ok" {
		t.Fatal(got)
	}
	if got := run("m"); got != "a:cached* m--d-1:ok m--d-2:cached*" {
		t.Fatal(got)
	}
	if v1.calls.Load() != 1 || v2.calls.Load() != 1 {
		t.Fatalf("variant calls %d %d", v1.calls.Load(), v2.calls.Load())
	}
}
