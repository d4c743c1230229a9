package retrain_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlrun-cli/mlrun/internal/retrain"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/steps"
)

const head = `mlrun: 1
name: m
params:
  batch: b.csv
steps:
  data:
    kind: load
    path: a.csv
  model:
    kind: train
    input: data
    algorithm: logistic_regression
    target: y
    features: [x]
  batch:
    kind: load
    path: ${params.batch}
  monitoring:
    kind: monitor
    reference: model.profile
    model: model
    current: batch
`

func load(t *testing.T, src string) (*pipeline.Pipeline, error) {
	t.Helper()
	dir := t.TempDir()
	csv := "x,y\n" + strings.Repeat("1,0\n2,1\n3,0\n4,1\n", 10)
	os.WriteFile(filepath.Join(dir, "a.csv"), []byte(csv), 0o644)
	os.WriteFile(filepath.Join(dir, "b.csv"), []byte(csv), 0o644)
	os.WriteFile(filepath.Join(dir, "p.yaml"), []byte(src), 0o644)
	reg, err := steps.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return pipeline.Load(filepath.Join(dir, "p.yaml"), pipeline.LoadOptions{Registry: reg})
}

// TestFromMonitor reads the declared retraining, with the monitor
// pipeline's params substituted and the path resolved.
func TestFromMonitor(t *testing.T) {
	p, err := load(t, head+`    on_critical:
      retrain:
        pipeline: ../train/t.yaml
        params: {data: "${params.batch}", seed: 3}
        model: pd
        gates: ["auc >= current.auc"]
`)
	if err != nil {
		t.Fatal(err)
	}
	spec, ok := retrain.FromMonitor(p, "monitoring")
	if !ok {
		t.Fatal("no retrain")
	}
	if spec.Pipeline != filepath.Join(p.Dir, "..", "train", "t.yaml") || strings.Join(spec.Params, " ") != "data=b.csv seed=3" ||
		spec.Model != "pd" || spec.Alias != "champion" || strings.Join(spec.Gates, ";") != "auc >= current.auc" {
		t.Errorf("spec %+v", spec)
	}
	if _, ok := retrain.FromMonitor(p, "model"); ok {
		t.Error("a train step declares no retraining")
	}
	rec := &lineage.RunRecord{Steps: []lineage.StepRecord{{ID: "monitoring", Kind: "monitor", Status: lineage.StepOK}}}
	if got := retrain.Triggered(p, rec); len(got) != 0 {
		t.Errorf("a passing monitor triggered %v", got)
	}
	rec.Steps[0].Status = lineage.StepCheckFailed
	if got := retrain.Triggered(p, rec); got["monitoring"].Model != "pd" {
		t.Errorf("a failed monitor triggered %v", got)
	}
}

// TestOnCriticalErrors checks the problems reported with their positions
// (by the step's schema, before its own checks).
func TestOnCriticalErrors(t *testing.T) {
	tests := []struct{ block, want string }{
		{"    on_critical: retrain\n", `p.yaml:23:18: setting "on_critical": got string, want object`},
		{"    on_critical: {retrian: {}}\n", `p.yaml:23:19: setting "on_critical": unknown key "retrian"; did you mean "retrain"?`},
		{"    on_critical: {retrain: {pipeline: t.yaml}}\n", `p.yaml:23:19: setting "on_critical.retrain": missing required key "model"`},
		{"    on_critical: {retrain: {pipeline: t.yaml, model: pd, aliases: x}}\n", `p.yaml:23:58: setting "on_critical.retrain": unknown key "aliases"; did you mean "alias"?`},
		{"    on_critical: {retrain: {pipeline: t.yaml, model: pd, gates: x}}\n", `p.yaml:23:65: setting "on_critical.retrain.gates": got string, want array`},
	}
	for _, tt := range tests {
		_, err := load(t, head+tt.block)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v\nwant %s", tt.block, err, tt.want)
		}
	}
}
