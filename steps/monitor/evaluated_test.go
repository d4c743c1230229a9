package monitor

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline"
)

// TestNotEvaluated: a check that cannot be evaluated is "not evaluated":
// never passed, failing the batch when critical, listed in the report.
// Built-in checks whose input is absent by design (no target column in
// the batch, no group) stay out, with a note, as before; a check declared
// in `checks:` is the user's and must not vanish; with labels turned off
// (labels: false, --no-labels) checks on labels are not applicable.
func TestNotEvaluated(t *testing.T) {
	m, prof := fixture(t, batchSpec{rows: 800, seed: 1})
	labelled := gen(t, batchSpec{rows: 400, seed: 2})
	unlabelled := gen(t, batchSpec{rows: 400, seed: 2, drop: "y"})
	auc := CheckSpec{Name: "auc_floor", Expr: "auc >= 0.6", Severity: Critical, Scope: ScopeDataset, Declared: true}
	fair := CheckSpec{Name: "fair", Expr: "disparate_impact >= 0.8", Severity: Warn, Scope: ScopeDataset, Declared: true}
	tests := []struct {
		name     string
		batch    bool // labelled
		noLabels bool
		checks   []CheckSpec
		// want: check name -> "" when passed, else a substring of the
		// not-evaluated message; absent lists checks that do not apply.
		want   map[string]string
		absent []string
		note   string
	}{
		{name: "labels read when the target column is there", batch: true,
			checks: []CheckSpec{auc}, want: map[string]string{"auc_floor": ""}},
		{name: "declared check without labels", checks: []CheckSpec{auc},
			want: map[string]string{"auc_floor": `not evaluated: auc: the batch has no labels (no column "y")`}},
		{name: "built-in checks without labels", checks: DefaultChecks(),
			absent: []string{"performance", "calibration", "fairness"}, note: `performance not checked: the batch has no labels (no column "y")`},
		{name: "labels off", batch: true, noLabels: true, checks: append(DefaultChecks(), auc),
			absent: []string{"performance", "calibration", "auc_floor"}, note: "performance not checked: labels are off"},
		{name: "declared fairness check without a group", batch: true, checks: []CheckSpec{fair},
			want: map[string]string{"fair": "not evaluated: disparate_impact: no group column is set (group, or --group)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Checks, cfg.NoLabels = tt.checks, tt.noLabels
			ds := unlabelled
			if tt.batch {
				ds = labelled
			}
			r, err := Compute(Input{Profile: prof, Model: m, Current: ds}, mustCompile(t, cfg))
			if err != nil {
				t.Fatal(err)
			}
			var notEval []string
			for name, msg := range tt.want {
				c := findCheck(r, name)
				if c == nil {
					t.Errorf("no check %q in %v", name, checkNames(r))
					continue
				}
				if msg == "" {
					if !c.Passed || NotEvaluated(*c) {
						t.Errorf("%s = %+v, want passed", name, c)
					}
					continue
				}
				notEval = append(notEval, name)
				if c.Passed || !NotEvaluated(*c) || !strings.Contains(c.Message, msg) || c.Failed() != (c.Severity == pipeline.SeverityError) {
					t.Errorf("%s = %+v, want not evaluated %q", name, c, msg)
				}
			}
			slices.Sort(notEval)
			if !slices.Equal(r.NotEvaluated, notEval) {
				t.Errorf("report not_evaluated %v, want %v", r.NotEvaluated, notEval)
			}
			for _, name := range tt.absent {
				if c := findCheck(r, name); c != nil {
					t.Errorf("%s applies: %+v", name, c)
				}
			}
			if !strings.Contains(strings.Join(r.Notes, "\n"), tt.note) {
				t.Errorf("notes %q, want %q", r.Notes, tt.note)
			}
		})
	}
}

// TestNotEvaluatedUndefined: a check on a value that was computed but is
// undefined (the AUC of labels of one class, a feature missing from the
// batch) is not evaluated too, and the step's note counts it.
func TestNotEvaluatedUndefined(t *testing.T) {
	m, prof := fixture(t, batchSpec{rows: 800, seed: 1})
	for _, tc := range []struct {
		batch      batchSpec
		name, want string
	}{
		{batchSpec{rows: 300, seed: 7, oneClass: ptr(int64(0))}, "performance",
			"not evaluated: auc_drop = undefined, so accuracy_drop <= 0.05 && auc_drop <= 0.05 cannot be decided"},
		{batchSpec{rows: 300, seed: 7, drop: "x2"}, "psi:x2", "not evaluated: x2: column is missing from the batch"},
		{batchSpec{rows: 300, seed: 7, drop: "x2"}, "score_psi", "not evaluated: score_psi: the batch does not fit the model"},
		{batchSpec{rows: 0, seed: 7}, "dataset_drift", "not evaluated: drift_share = undefined, so drift_share < 0.5 cannot be decided"},
	} {
		r, err := Compute(Input{Profile: prof, Model: m, Current: gen(t, tc.batch)}, mustCompile(t, DefaultConfig()))
		if err != nil {
			t.Fatal(err)
		}
		c := findCheck(r, tc.name)
		if c == nil || !NotEvaluated(*c) || !c.Failed() || !strings.HasPrefix(c.Message, tc.want) || !slices.Contains(r.NotEvaluated, tc.name) {
			t.Errorf("%s = %+v, want %q", tc.name, c, tc.want)
		}
		res := Result(r)
		if !strings.Contains(res.Notes[0], " not evaluated") {
			t.Errorf("note %q does not count the checks not evaluated", res.Notes[0])
		}
		b, _ := json.Marshal(r)
		if !strings.Contains(string(b), `"not_evaluated":["`) {
			t.Errorf("JSON has no not_evaluated list")
		}
	}
}

// TestDeclaredChecks: the checks a step's `checks:` names are marked
// declared (they must be evaluated), the untouched built-ins are not, and
// the mark survives the run record.
func TestDeclaredChecks(t *testing.T) {
	cfg, err := ParseConfig("m.yaml", []byte("checks:\n  performance: {severity: warn}\n  auc_floor: auc >= 0.7\n  ks: off\n"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(cfg)
	back, err := ConfigFromRecord(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range back.Checks {
		if want := c.Name == "performance" || c.Name == "auc_floor"; c.Declared != want {
			t.Errorf("%s: declared %v, want %v", c.Name, c.Declared, want)
		}
	}
}
