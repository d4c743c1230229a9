package pipeline

import (
	"strings"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline/diag"
)

// sweepKind is a fake train kind that takes a matrix.
type sweepKind struct{ *fakeKind }

func (sweepKind) Sweepable() bool { return true }

// matrixRegistry is the fake registry with a sweepable "fit" kind (input
// → model) and a "score" kind (model, data → metrics).
func matrixRegistry(t *testing.T) *Registry {
	t.Helper()
	reg := fakeRegistry()
	anyCompiled := func(outs ...string) func(req *CompileRequest) Compiled {
		return func(req *CompileRequest) Compiled {
			o := map[string]Type{}
			for _, n := range outs {
				o[n] = &fakeType{n, nil}
			}
			return &fakeCompiled{outputs: o, config: config(req)}
		}
	}
	fit := sweepKind{&fakeKind{
		name: "fit", inputs: []Port{{Name: "input", Required: true}}, outputs: []string{"model"},
		settings: map[string]any{
			"depth": map[string]any{"type": "integer", "minimum": 1},
			"algo":  map[string]any{"enum": []any{"rf", "gb"}},
			"rate":  map[string]any{"type": "number"},
		},
		compile: anyCompiled("model"),
	}}
	score := &fakeKind{
		name: "score", inputs: []Port{{Name: "model", Required: true}, {Name: "data"}}, outputs: []string{"metrics"},
		settings: map[string]any{"min": map[string]any{"type": "number"}}, compile: anyCompiled("metrics"),
	}
	for _, k := range []Kind{fit, score} {
		if err := reg.Register(k); err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

const matrixHead = "mlrun: 1\nname: m\nsteps:\n  src: {kind: source, path: p}\n"

func TestMatrixExpansion(t *testing.T) {
	reg := matrixRegistry(t)
	src := matrixHead + `  report:
    kind: score
    model: eval.metrics
  eval:
    kind: score
    model: model.model
    data: src
  model:
    kind: fit
    input: src
    rate: 0.1
    matrix:
      depth: [6, 10]
      algo: [rf, gb]
  other:
    kind: score
    model: src
`
	p, err := Parse("p.yaml", []byte(src), LoadOptions{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range p.Steps {
		ids = append(ids, s.ID)
	}
	want := "eval--depth-10--algo-gb eval--depth-10--algo-rf eval--depth-6--algo-gb eval--depth-6--algo-rf " +
		"model--depth-10--algo-gb model--depth-10--algo-rf model--depth-6--algo-gb model--depth-6--algo-rf other " +
		"report--depth-10--algo-gb report--depth-10--algo-rf report--depth-6--algo-gb report--depth-6--algo-rf src"
	// The order is topological; compare as sets, then check details.
	if got := sortedJoin(ids); got != want {
		t.Fatalf("steps:\n got %s\nwant %s", got, want)
	}
	step := func(id string) *StepSpec {
		for _, s := range p.Steps {
			if s.ID == id {
				return s
			}
		}
		t.Fatalf("no step %q", id)
		return nil
	}
	m := step("model--depth-10--algo-rf")
	if m.Variant == nil || m.Variant.Group != "model" || m.Variant.Sweep != "model" || m.Variant.String() != "depth=10, algo=rf" {
		t.Errorf("variant %+v", m.Variant)
	}
	if d := m.Setting("depth"); d == nil || d.Value != "10" || d.Line != 17 || d.Column != 18 {
		t.Errorf("depth setting %+v: want 10 at the matrix value 17:18", d)
	}
	if m.Setting("matrix") != nil || m.Setting("rate").Value != "0.1" {
		t.Errorf("matrix kept or rate lost")
	}
	if m.Pos.Line != 12 {
		t.Errorf("variant position %v, want the key's line 12", m.Pos)
	}
	e := step("eval--depth-6--algo-gb")
	if e.Variant == nil || e.Variant.Group != "eval" || e.Variant.Sweep != "model" || e.Variant.String() != "depth=6, algo=gb" {
		t.Errorf("eval variant %+v", e.Variant)
	}
	if got := e.Inputs[0].Step + " " + e.Inputs[1].Step; got != "src model--depth-6--algo-gb" {
		t.Errorf("eval inputs %s", got)
	}
	if r := step("report--depth-6--algo-gb"); r.Inputs[0].Step != "eval--depth-6--algo-gb" || r.Inputs[0].Output != "metrics" {
		t.Errorf("report input %+v", r.Inputs[0])
	}
	if step("other").Variant != nil || step("src").Variant != nil {
		t.Errorf("steps outside the sweep have a variant")
	}
	for _, id := range []string{"model--depth-6--algo-rf", "eval--depth-6--algo-rf"} {
		if why := stepIDProblem(id); why != "" {
			t.Errorf("%s: %s", id, why)
		}
	}
	if got := idPart("0.05"); got != "0_05" {
		t.Errorf("idPart(0.05) = %q", got)
	}
}

func sortedJoin(ids []string) string {
	s := append([]string(nil), ids...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return strings.Join(s, " ")
}

func TestMatrixErrors(t *testing.T) {
	reg := matrixRegistry(t)
	tests := []struct {
		name, steps string
		want        []string
	}{
		{"empty list", `  model: {kind: fit, input: src, matrix: {depth: []}}`,
			[]string{`p.yaml:5:50: matrix: setting "depth" needs a non-empty list of values`}},
		{"not a list", `  model: {kind: fit, input: src, matrix: {depth: 3}}`,
			[]string{`p.yaml:5:50: matrix: setting "depth" needs a non-empty list of values`}},
		{"empty matrix", `  model: {kind: fit, input: src, matrix: {}}`,
			[]string{`p.yaml:5:42: matrix must be a mapping of setting name to a list of values`}},
		{"unknown setting", `  model: {kind: fit, input: src, matrix: {dept: [1, 2], algo: [rf]}}`,
			[]string{`p.yaml:5:43: matrix: unknown setting "dept" for kind fit; did you mean "depth"?`}},
		{"port in matrix", `  model: {kind: fit, input: src, matrix: {input: [src]}}`,
			[]string{`p.yaml:5:43: matrix: unknown setting "input" for kind fit`}},
		{"set twice", `  model: {kind: fit, input: src, depth: 3, matrix: {depth: [1, 2]}}`,
			[]string{`p.yaml:5:53: matrix: setting "depth" is also set on step "model"; set it in one place`}},
		{"too many", `  model: {kind: fit, input: src, matrix: {depth: [1,2,3,4,5,6,7,8,9], rate: [1,2,3,4,5,6,7,8]}}`,
			[]string{`p.yaml:5:34: matrix: 72 combinations, at most 64`}},
		{"same id part", `  model: {kind: fit, input: src, matrix: {rate: [0.5, "0-5"]}}`,
			[]string{`p.yaml:5:55: matrix: values 0.5 and "0-5" of "rate" give the same variant id part "0_5"`}},
		{"not a train kind", `  model: {kind: score, model: src, matrix: {min: [1, 2]}}`,
			[]string{`p.yaml:5:36: step "model": kind score takes no matrix (only train steps do)`}},
		{"bad value", `  model: {kind: fit, input: src, matrix: {algo: [rf, xgb]}}`,
			[]string{`p.yaml:5:54: setting "algo": value must be one of 'rf', 'gb'`}},
		{"two sweeps", "  a: {kind: fit, input: src, matrix: {depth: [1, 2]}}\n  b: {kind: fit, input: src, matrix: {depth: [3, 4]}}\n  e: {kind: score, model: a, data: b}",
			[]string{`p.yaml:7:36: step "e" reads from two matrix sweeps, "a" and "b"`}},
		{"id taken", "  model: {kind: fit, input: src, matrix: {depth: [1, 2]}}\n  model--depth-1: {kind: score, model: src}",
			[]string{`p.yaml:5:3: step "model": variant id "model--depth-1" is already a step id`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(matrixHead+tt.steps+"\n"), LoadOptions{Registry: reg})
			de, ok := diag.AsErrors(err)
			if !ok {
				t.Fatalf("err = %v, want diagnostics", err)
			}
			var got []string
			for _, d := range de.Diagnostics {
				got = append(got, d.Pos.String()+": "+d.Message)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
