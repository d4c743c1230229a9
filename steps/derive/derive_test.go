package derive

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// compileStep compiles a derive step whose settings are the YAML mapping
// src against schema.
func compileStep(t *testing.T, src string, schema *table.Schema, params map[string]any) (pipeline.Compiled, []string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	p := &pipeline.Pipeline{File: "p.yaml", Dir: ".", Source: []byte(src)}
	step := &pipeline.StepSpec{ID: "s", Kind: "derive", Node: doc.Content[0], Pos: diag.Pos{File: "p.yaml", Line: 1, Col: 1}}
	var diags diag.List
	c := Kind().Compile(&pipeline.CompileRequest{
		Step: step, Pipeline: p, Diags: &diags, Params: params,
		Inputs: map[string]pipeline.Type{"input": schema},
	})
	var msgs []string
	for _, d := range diags.Items() {
		msgs = append(msgs, d.String())
	}
	return c, msgs
}

func sample(t *testing.T) *table.Dataset {
	t.Helper()
	ds, err := table.NewDataset(
		table.NewFloatColumn("debt", []float64{100, 50, math.NaN(), 0}),
		table.NewFloatColumn("income", []float64{1000, 0, 10, 20}),
		table.NewStringColumn("home", []string{"own", "rent", "own", "other"}, nil),
	)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestCompileErrors(t *testing.T) {
	schema := sample(t).Schema()
	tests := []struct {
		src  string
		want []string
	}{
		{"kind: derive", []string{`p.yaml:1:1: derive step needs columns`}},
		{"columns: [a]", []string{`p.yaml:1:10: columns must be a mapping of column name to expression, got a list`}},
		{"columns: {}", []string{`p.yaml:1:10: columns is empty: declare at least one column`}},
		{"columns:\n  a: debt\n  a: income", []string{`p.yaml:3:3: column "a" derived twice`}},
		{"columns:\n  a: [debt]", []string{`p.yaml:2:6: column "a": want an expression, got a list`}},
		{"columns:\n  a: ~", []string{`p.yaml:2:6: column "a": want an expression, got null`}},
		{"columns:\n  ratio: debt / incme", []string{`p.yaml:2:17: column "ratio": unknown column "incme"; did you mean "income"?`}},
		// A column may not use a later one.
		{"columns:\n  b: a * 2\n  a: debt + 1", []string{`p.yaml:2:6: column "b": unknown column "a"`}},
		// Every bad column is reported, not only the first.
		{"columns:\n  a: debt +\n  b: nope\n  c: a + 1", []string{
			`p.yaml:2:11: column "a": unexpected end of expression`,
			`p.yaml:3:6: column "b": unknown column "nope"`,
			`p.yaml:4:6: column "c": unknown column "a"`}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			c, got := compileStep(t, tt.src, schema, nil)
			if !slices.Equal(got, tt.want) {
				t.Errorf("diagnostics:\n got %q\nwant %q", got, tt.want)
			}
			if c != nil {
				t.Errorf("compiled despite errors")
			}
		})
	}
}

func TestRun(t *testing.T) {
	ds := sample(t)
	src := "columns:\n  ratio: debt / income\n  high: ratio > params.cut\n  income: income * 12\n  scaled: ratio * 100"
	c, diags := compileStep(t, src, ds.Schema(), map[string]any{"cut": 0.5})
	if len(diags) > 0 {
		t.Fatalf("diagnostics %q", diags)
	}
	out := c.OutputTypes()["data"].(*table.Schema)
	var got []string
	for _, f := range out.Fields {
		got = append(got, f.Name+":"+f.Type.String())
	}
	if want := []string{"debt:float", "income:float", "home:string", "ratio:float", "high:bool", "scaled:float"}; !slices.Equal(got, want) {
		t.Errorf("output schema %v, want %v", got, want)
	}
	b, _ := json.Marshal(c.CacheConfig())
	wantCfg := `{"columns":[{"name":"ratio","expr":"debt / income","type":"float"},{"name":"high","expr":"ratio \u003e params.cut","type":"bool"},{"name":"income","expr":"income * 12","type":"float"},{"name":"scaled","expr":"ratio * 100","type":"float"}],"params":{"cut":0.5}}`
	if string(b) != wantCfg {
		t.Errorf("cache config\n got %s\nwant %s", b, wantCfg)
	}

	var encodings [][]byte
	for _, jobs := range []int{1, 4} {
		res, err := c.Run(context.Background(), &pipeline.RunRequest{Inputs: map[string]pipeline.Object{"input": ds}, Jobs: jobs})
		if err != nil {
			t.Fatal(err)
		}
		o := res.Outputs["data"].(*table.Dataset)
		if names := o.Schema().Names(); !slices.Equal(names, []string{"debt", "income", "home", "ratio", "high", "scaled"}) {
			t.Fatalf("columns %v", names)
		}
		ratio := o.Column("ratio")
		// 100/1000, 50/0 (non-finite: null), null/10, 0/20.
		if ratio.Float(0) != 0.1 || !ratio.IsNull(1) || !ratio.IsNull(2) || ratio.Float(3) != 0 {
			t.Errorf("ratio %v valid %v", ratio.Floats, []bool{!ratio.IsNull(0), !ratio.IsNull(1), !ratio.IsNull(2), !ratio.IsNull(3)})
		}
		high := o.Column("high")
		if high.Bools[0] || !high.IsNull(1) || high.Bools[3] {
			t.Errorf("high %v", high.Bools)
		}
		// income was replaced after ratio used the original values.
		if inc := o.Column("income"); inc.Floats[0] != 12000 || ds.Column("income").Floats[0] != 1000 {
			t.Errorf("income %v (input %v)", inc.Floats, ds.Column("income").Floats)
		}
		if s := o.Column("scaled"); s.Float(0) != 10 {
			t.Errorf("scaled %v", s.Floats)
		}
		wantMetrics := map[string]float64{"nulls.ratio": 2, "nulls.high": 2, "nulls.income": 0, "nulls.scaled": 2}
		if len(res.Metrics) != len(wantMetrics) {
			t.Errorf("metrics %v, want %v", res.Metrics, wantMetrics)
		}
		for k, v := range wantMetrics {
			if res.Metrics[k] != v {
				t.Errorf("metric %s = %v, want %v", k, res.Metrics[k], v)
			}
		}
		if want := "4 columns derived; replaced income"; !slices.Equal(res.Notes, []string{want}) {
			t.Errorf("notes %q, want %q", res.Notes, want)
		}
		var buf bytes.Buffer
		if err := o.Encode(&buf); err != nil {
			t.Fatal(err)
		}
		encodings = append(encodings, buf.Bytes())
	}
	if !bytes.Equal(encodings[0], encodings[1]) {
		t.Errorf("output differs between jobs 1 and 4")
	}
}

func TestNoParamsInCacheConfigUnlessUsed(t *testing.T) {
	c, diags := compileStep(t, "columns:\n  x: debt * 2", sample(t).Schema(), map[string]any{"cut": 1})
	if len(diags) > 0 {
		t.Fatalf("diagnostics %q", diags)
	}
	b, _ := json.Marshal(c.CacheConfig())
	if strings.Contains(string(b), "params") {
		t.Errorf("cache config %s holds params no expression reads", b)
	}
}
