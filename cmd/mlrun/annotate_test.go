package main

import (
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
)

// TestCheckPos: a failed check is annotated at the line that defines it.
func TestCheckPos(t *testing.T) {
	src := `quality:
  kind: validate
  rules:
    positive: {expr: x > 0}
    few_missing: {max_missing: 0.1}
drift:
  kind: monitor
  checks:
    psi: {expr: psi < 0.2}
promote:
  kind: register
  gates: ["auc >= 0.75", "auc >= current.auc"]
plain:
  kind: derive
`
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	p := &pipeline.Pipeline{File: "p.yaml"}
	steps := map[string]*pipeline.StepSpec{}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		id := m.Content[i].Value
		steps[id] = &pipeline.StepSpec{ID: id, Pos: p.Pos(m.Content[i]), Node: m.Content[i+1]}
	}
	for _, c := range []struct {
		step  string
		check pipeline.Check
		want  diag.Pos
	}{
		{"quality", pipeline.Check{Name: "few_missing", Kind: "rule"}, diag.Pos{File: "p.yaml", Line: 5, Col: 5}},
		{"drift", pipeline.Check{Name: "psi:income", Kind: "drift"}, diag.Pos{File: "p.yaml", Line: 9, Col: 5}},
		{"drift", pipeline.Check{Name: "dataset_drift", Kind: "drift"}, diag.Pos{File: "p.yaml", Line: 9, Col: 5}}, // built in: the block
		{"promote", pipeline.Check{Name: "gate 2", Kind: "gate", Expr: "auc >= current.auc"}, diag.Pos{File: "p.yaml", Line: 12, Col: 26}},
		{"plain", pipeline.Check{Name: "x"}, diag.Pos{File: "p.yaml", Line: 13, Col: 1}},
	} {
		if got := checkPos(p, steps[c.step], c.check); got != c.want {
			t.Errorf("%s/%s: at %s, want %s", c.step, c.check.Name, got, c.want)
		}
	}
}
