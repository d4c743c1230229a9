package monitor

import (
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// TestCheckFeatures: `features:` restricts a drift check to the named
// features (a built-in one, or a new check, which is then evaluated per
// feature over the feature variables); a name the model does not have, or
// a feature of a kind the check does not apply to, is not evaluated.
func TestCheckFeatures(t *testing.T) {
	m, prof := fixture(t, batchSpec{rows: 800, seed: 1})
	batch := gen(t, batchSpec{rows: 400, seed: 2, shift: 1})
	cfg, err := ParseConfig("m.yaml", []byte(`checks:
  psi: {features: [x1]}
  shift: {expr: abs(mean_change) < 0.5, features: [x2, x1]}
  ks: {features: [channel, x9]}
  small_js: {expr: js < 0.5, severity: warn, features: [channel]}
`))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Compute(Input{Profile: prof, Model: m, Current: batch}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range r.Checks {
		if c.Kind == "drift" && strings.Contains(c.Name, ":") {
			got = append(got, c.Name)
		}
	}
	slices.Sort(got)
	want := []string{"chi2:channel", "ks:channel", "ks:x9", "missing:channel", "missing:x1", "missing:x2",
		"psi:x1", "psi_moderate:channel", "psi_moderate:x1", "psi_moderate:x2", "shift:x1", "shift:x2",
		"small_js:channel", "unseen:channel"}
	if !slices.Equal(got, want) {
		t.Errorf("feature checks %v, want %v", got, want)
	}
	for name, w := range map[string]struct {
		passed, failed bool
		msg            string
	}{
		"shift:x1":         {false, true, "x1: mean_change = 0.99"},
		"shift:x2":         {true, false, "x2: mean_change = "},
		"ks:x9":            {false, false, `not evaluated: "x9" is not a feature of the model (x1, x2, channel)`},
		"ks:channel":       {false, false, "not evaluated: channel: ks applies to numeric features, channel is categorical"},
		"small_js:channel": {true, false, "channel: js = "},
	} {
		c := findCheck(r, name)
		if c == nil || c.Passed != w.passed || c.Failed() != w.failed || !strings.Contains(c.Message, w.msg) {
			t.Errorf("%s = %+v, want passed %v failed %v %q", name, c, w.passed, w.failed, w.msg)
		}
	}

	for _, tc := range []struct{ src, want string }{
		{"checks:\n  rows: {features: [x1]}\n", `m.yaml:2:9: check "rows" is a dataset check: features apply to drift checks (psi, psi_moderate, ks, chi2, unseen, missing, or a new check)`},
		{"checks:\n  psi: {features: x1}\n", `m.yaml:2:19: check "psi": features must be a list of column names, got a string`},
		{"checks:\n  psi: {features: []}\n", `m.yaml:2:19: check "psi": features must name at least one feature`},
		{"checks:\n  psi: {features: [x1, x1]}\n", `m.yaml:2:24: check "psi": feature "x1" is listed twice`},
		{"checks:\n  new: {expr: rows > 1, features: [x1]}\n", `m.yaml:2:15: check "new": 1:1: unknown metric "rows"`},
	} {
		if _, err := ParseConfig("m.yaml", []byte(tc.src)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.src, err, tc.want)
		}
	}

	// In a pipeline the model's features are known: an unknown one is an
	// error at its position.
	src := "checks:\n  psi: {features: [x1, income]}\n"
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	p := &pipeline.Pipeline{File: "p.yaml", Source: []byte(src)}
	d := new(diag.List)
	mt := &model.Type{Features: []table.Field{{Name: "x1", Type: table.Float}, {Name: "x2", Type: table.Float}}}
	Kind().Compile(&pipeline.CompileRequest{Step: &pipeline.StepSpec{ID: "m", Kind: "monitor", Node: doc.Content[0], Pos: p.Pos(doc.Content[0])},
		Pipeline: p, Inputs: map[string]pipeline.Type{"model": mt}, Diags: d})
	if err := d.Err(); err == nil || !strings.Contains(err.Error(), `p.yaml:2:24: check "psi": "income" is not a feature of the model (x1, x2)`) {
		t.Errorf("unknown feature: %v", err)
	}
}

// TestCheckVariablesDocumented: the schema's description of checks lists
// every variable a check can use, feature and dataset ones.
func TestCheckVariablesDocumented(t *testing.T) {
	desc := Kind().Settings()["checks"].(map[string]any)["description"].(string)
	for _, v := range append(FeatureVars(), DatasetVars()...) {
		if !strings.Contains(desc, v) {
			t.Errorf("the checks description does not list %q", v)
		}
	}
	if d := Kind().Settings()["drift"].(map[string]any)["description"].(string); !strings.Contains(d, "wasserstein_norm") {
		t.Errorf("the drift description does not list the feature variables: %s", d)
	}
}
