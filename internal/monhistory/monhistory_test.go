package monhistory

import (
	"context"
	"crypto/sha256"
	"slices"
	"testing"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

func TestCondense(t *testing.T) {
	for _, tc := range []struct {
		name   string
		checks []pipeline.Check
		failed bool
		want   []Check
	}{
		{"none", nil, false, nil},
		{"pass and warn", []pipeline.Check{
			{Name: "psi", Passed: true, Severity: "error", Values: map[string]float64{"psi": 0.02}},
			{Name: "ks", Passed: false, Severity: "warn", Values: map[string]float64{"z": 2, "a": 1}},
		}, false, []Check{{Name: "psi", Passed: true, Severity: "error", Value: 0.02, Defined: true}, {Name: "ks", Severity: "warn", Value: 1, Defined: true}}},
		{"critical failure", []pipeline.Check{{Name: "auc", Severity: "error"}}, true, []Check{{Name: "auc", Severity: "error"}}},
		{"not evaluated", []pipeline.Check{{Name: "auc", Severity: "error", Message: "not evaluated: no labels"}}, true,
			[]Check{{Name: "auc", Severity: "error", NotEvaluated: true}}},
	} {
		failed, got := Condense(tc.checks)
		if failed != tc.failed || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v %+v, want %v %+v", tc.name, failed, got, tc.failed, tc.want)
		}
	}
}

// TestList: a run's batches are those monitored by its run and step or on
// its model object, oldest first; others are left out.
func TestList(t *testing.T) {
	ctx := context.Background()
	st, err := lineage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	obj := lineage.ID(sha256.Sum256([]byte("model")))
	other := lineage.ID(sha256.Sum256([]byte("other")))
	run := &lineage.RunRecord{ID: "r1", Steps: []lineage.StepRecord{{ID: "model", Outputs: map[string]lineage.ObjectRef{"model": {ID: obj, Type: "model"}}}}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := map[string]Record{
		"a": {Time: t0.Add(2 * time.Hour), Run: "r1", Step: "model", Data: "late.csv"},
		"b": {Time: t0, Run: "r9", Step: "model", ModelObject: obj, Data: "cached.csv"},
		"c": {Time: t0.Add(time.Hour), Run: "r9", Step: "model", ModelObject: other, Data: "other.csv"},
		"d": {Time: t0.Add(time.Hour), Run: "r1", Step: "train2", Data: "other-step.csv"},
	}
	if _, err := st.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
		for name, r := range recs {
			if _, err := tx.PutJSON(ctx, NS, name, r); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	v, err := st.View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := List(ctx, v, ForRun(run, "model"))
	if err != nil {
		t.Fatal(err)
	}
	var data []string
	for _, r := range got {
		data = append(data, r.Data)
	}
	if want := []string{"cached.csv", "late.csv"}; !slices.Equal(data, want) {
		t.Errorf("batches %v, want %v", data, want)
	}
}
