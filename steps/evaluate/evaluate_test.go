package evaluate

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/table"
	"github.com/mlrun-cli/mlrun/steps/train"
)

// compile compiles a step of kind k from the YAML mapping src with the
// given input types and params.
func compile(t *testing.T, k pipeline.Kind, src string, inputs map[string]pipeline.Type, params map[string]any) (pipeline.Compiled, []string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	p := &pipeline.Pipeline{File: "p.yaml", Dir: t.TempDir(), Source: []byte(src)}
	step := &pipeline.StepSpec{ID: "s", Kind: k.Name(), Node: doc.Content[0], Pos: diag.Pos{File: "p.yaml", Line: 1, Col: 1}}
	var diags diag.List
	req := &pipeline.CompileRequest{Step: step, Pipeline: p, Params: params, Diags: &diags, Inputs: inputs}
	c := k.Compile(req)
	var msgs []string
	for _, d := range diags.Items() {
		msgs = append(msgs, d.String())
	}
	return c, msgs
}

var modelType = &model.Type{
	Algorithm: model.LogisticRegression,
	Features:  []table.Field{{Name: "income", Type: table.Float}, {Name: "home", Type: table.String}},
	Target:    model.Target{Name: "default", Type: table.Int},
}

func TestCompileErrors(t *testing.T) {
	good := &table.Schema{Fields: []table.Field{{Name: "income", Type: table.Int}, {Name: "home", Type: table.String}, {Name: "default", Type: table.Int}}}
	bad := &table.Schema{Fields: []table.Field{{Name: "home", Type: table.Float}, {Name: "default", Type: table.String}}}
	params := map[string]any{"min_auc": 0.7}
	tests := []struct {
		src    string
		schema *table.Schema
		want   []string
	}{
		{"model: m\ndata: d", bad, []string{
			`p.yaml:2:7: data does not fit the model: feature column "income" is missing`,
			`p.yaml:2:7: data does not fit the model: feature column "home" is float, the model was trained on string`,
			`p.yaml:2:7: data does not fit the model: target column "default" is string, the model was trained on int`}},
		{"threshold: 1.5", good, []string{`p.yaml:1:12: threshold must be between 0 and 1, got 1.5`}},
		{"threshold: high", good, []string{`p.yaml:1:12: threshold must be a number, got a string`}},
		{"gates: [auc]", good, []string{`p.yaml:1:8: gates must be a mapping of gate name -> expression, got a list`}},
		{"gates:\n  floor: aucc >= params.min_auc", good, []string{
			`p.yaml:2:10: gate "floor": unknown metric "aucc"; did you mean "auc"?`}},
		{"gates:\n  floor: auc >= 0.7 && kss > 0.3", good, []string{
			`p.yaml:2:24: gate "floor": unknown metric "kss"; did you mean "ks"?`}},
		{"gates:\n  floor: auc + 1", good, []string{`p.yaml:2:10: gate "floor": gate must be a bool expression, got float`}},
		{"gates:\n  floor: {auc: 1}", good, []string{`p.yaml:2:10: gate "floor" needs expr: a boolean expression`, `p.yaml:2:11: gate "floor": unknown key "auc" (want expr, severity)`}},
		{"gates:\n  floor: [auc]", good, []string{`p.yaml:2:10: gate "floor" must be an expression string (or {expr, severity}), got a list`}},
		{"gates:\n  floor: {expr: auc >= 0.5, severity: maybe}", good, []string{`p.yaml:2:39: gate "floor": severity must be error or warn, got "maybe"`}},
		{"fairness:\n  attributes: [nope]", good, []string{`p.yaml:2:16: fairness attribute "nope" is not a column of data; did you mean "home"?`}},
		{"fairness:\n  attributes: {income: {bins: [3, 1]}}", good, []string{`p.yaml:2:24: fairness attribute "income": bins must be ascending, got 1 after 3`}},
		{"fairness:\n  attributes: {home: {quantiles: 4}}", good, []string{`p.yaml:2:22: fairness attribute "home" is a string column: bins and quantiles need a numeric one`}},
		{"fairness:\n  min_group: 0", good, []string{`p.yaml:2:14: fairness.min_group must be a positive integer, got 0`}},
		{"gates:\n  fair: disparate_impact >= 0.8", good, []string{`p.yaml:2:9: gate "fair": unknown metric "disparate_impact"`}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			c, got := compile(t, Kind(), tt.src, map[string]pipeline.Type{"model": modelType, "data": tt.schema}, params)
			if !slices.Equal(got, tt.want) {
				t.Errorf("diagnostics:\n got %q\nwant %q", got, tt.want)
			}
			if c != nil {
				t.Error("compiled despite errors")
			}
		})
	}
}

// synthetic builds n rows of income, home and a 0/1 default.
func synthetic(n int, seed uint64) *table.Dataset {
	r := rand.New(rand.NewPCG(seed, 3))
	income, def := make([]float64, n), make([]int64, n)
	home := &table.Column{Name: "home", Type: table.String, Codes: make([]uint32, n), Dict: []string{"rent", "own"}}
	for i := range n {
		income[i] = 3000 + 1000*r.NormFloat64()
		home.Codes[i] = uint32(r.IntN(2))
		t := -0.002*(income[i]-3000) + 1.5*float64(1-home.Codes[i]) - 1
		if r.Float64() < 1/(1+math.Exp(-t)) {
			def[i] = 1
		}
	}
	return &table.Dataset{Rows: n, Columns: []*table.Column{
		{Name: "income", Type: table.Float, Floats: income}, home, {Name: "default", Type: table.Int, Ints: def},
	}}
}

// fit trains through the train kind and returns the model.
func fit(t *testing.T, src string, ds *table.Dataset) model.Model {
	t.Helper()
	c, diags := compile(t, train.Kind(), src, map[string]pipeline.Type{"input": ds.Schema()}, nil)
	if c == nil {
		t.Fatalf("train not compiled: %q", diags)
	}
	res, err := c.Run(context.Background(), &pipeline.RunRequest{Inputs: map[string]pipeline.Object{"input": ds}, Jobs: 2, Progress: pipeline.NoProgress{}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Outputs["model"].(model.Model)
}

// compileProtected compiles an evaluate step of a pipeline whose
// protected: attributes are protected.
func compileProtected(t *testing.T, src string, m model.Model, ds *table.Dataset, protected []string) (pipeline.Compiled, []string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	p := &pipeline.Pipeline{File: "p.yaml", Dir: t.TempDir(), Source: []byte(src), Protected: protected}
	step := &pipeline.StepSpec{ID: "s", Kind: "evaluate", Node: doc.Content[0], Pos: diag.Pos{File: "p.yaml", Line: 1, Col: 1}}
	var diags diag.List
	c := Kind().Compile(&pipeline.CompileRequest{Step: step, Pipeline: p, Diags: &diags,
		Inputs: map[string]pipeline.Type{"model": m.Type(), "data": ds.Schema()}})
	var msgs []string
	for _, d := range diags.Items() {
		msgs = append(msgs, d.String())
	}
	return c, msgs
}

// runCompiled runs a compiled evaluate step.
func runCompiled(t *testing.T, c pipeline.Compiled, m model.Model, ds *table.Dataset) *pipeline.Result {
	t.Helper()
	res, err := c.Run(context.Background(), &pipeline.RunRequest{
		Inputs: map[string]pipeline.Object{"model": m, "data": ds}, Jobs: 2, Progress: pipeline.NoProgress{}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func run(t *testing.T, src string, m model.Model, ds *table.Dataset, params map[string]any) *pipeline.Result {
	t.Helper()
	c, diags := compile(t, Kind(), src, map[string]pipeline.Type{"model": m.Type(), "data": ds.Schema()}, params)
	if c == nil {
		t.Fatalf("evaluate not compiled: %q", diags)
	}
	res, err := c.Run(context.Background(), &pipeline.RunRequest{
		Inputs: map[string]pipeline.Object{"model": m, "data": ds}, Jobs: 2, Progress: pipeline.NoProgress{}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestRunGates(t *testing.T) {
	m := fit(t, "algorithm: logistic_regression\ntarget: default\nfeatures: [income, home]", synthetic(2000, 1))
	test := synthetic(1000, 2)
	res := run(t, `
threshold: 0.4
gates:
  auc_floor: auc >= params.min_auc
  impossible: auc >= params.max_auc
  literal: ks > 0.1
  combined: auc > 0.5 && recall >= 0.1
  rows_ok: rows == 1000
`, m, test, map[string]any{"min_auc": 0.7, "max_auc": 0.999})
	mt := res.Metrics
	if len(mt) != len(MetricNames()) {
		t.Errorf("metrics %v, want all of %v", mt, MetricNames())
	}
	if mt["rows"] != 1000 || mt["tp"]+mt["fp"]+mt["tn"]+mt["fn"] != 1000 || mt["threshold"] != 0.4 ||
		mt["positives"] != mt["tp"]+mt["fn"] || mt["positive_rate"] != mt["positives"]/1000 ||
		math.Abs(mt["gini"]-(2*mt["auc"]-1)) > 1e-15 || mt["auc"] < 0.75 {
		t.Errorf("metrics %v", mt)
	}
	got := map[string]pipeline.Check{}
	var names []string
	for _, c := range res.Checks {
		got[c.Name] = c
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"auc_floor", "combined", "impossible", "literal", "rows_ok"}) {
		t.Errorf("checks %v", names)
	}
	auc := num(mt["auc"])
	want := map[string]struct {
		passed bool
		msg    string
	}{
		"auc_floor":  {true, "auc = " + auc + " >= 0.7"},
		"impossible": {false, "auc = " + auc + ", needs auc >= params.max_auc (max_auc = 0.999)"},
		"literal":    {true, "ks = " + num(mt["ks"]) + " > 0.1"},
		"combined":   {true, "auc = " + auc + ", recall = " + num(mt["recall"]) + ": auc > 0.5 && recall >= 0.1 holds"},
		"rows_ok":    {true, "rows = 1000 == 1000"},
	}
	for name, w := range want {
		c := got[name]
		if c.Passed != w.passed || c.Message != w.msg || c.Kind != "gate" || c.Severity != pipeline.SeverityError {
			t.Errorf("%s: passed %v %q, want %v %q", name, c.Passed, c.Message, w.passed, w.msg)
		}
	}
	if v := got["combined"].Values; len(v) != 2 || v["auc"] != mt["auc"] || v["recall"] != mt["recall"] {
		t.Errorf("combined values %v", v)
	}
	if !res.Failed() {
		t.Error("result with a failed gate does not fail")
	}
	// The document holds the metrics, the confusion matrix and the threshold.
	var b strings.Builder
	if err := res.Outputs["metrics"].Encode(&b); err != nil {
		t.Fatal(err)
	}
	var doc Report
	if err := json.Unmarshal([]byte(b.String()), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Threshold != 0.4 || float64(doc.Confusion.TP) != mt["tp"] || doc.Metrics["auc"] != mt["auc"] || doc.Model.Target != "default" {
		t.Errorf("document %s", b.String())
	}
}

// TestOneClass: AUC is undefined, left out, and a gate reading it fails.
func TestOneClass(t *testing.T) {
	m := fit(t, "algorithm: logistic_regression\ntarget: default\nfeatures: [income, home]", synthetic(500, 3))
	test := synthetic(50, 4)
	clear(test.Column("default").Ints)
	res := run(t, "gates:\n  floor: auc >= 0.7\n  calib: brier < 0.5", m, test, nil)
	if _, ok := res.Metrics["auc"]; ok {
		t.Errorf("auc reported for one class: %v", res.Metrics)
	}
	c := res.Checks[1]
	if c.Name != "floor" || c.Passed || c.Message != "auc is undefined (the data holds only negatives), needs auc >= 0.7" {
		t.Errorf("check %+v", c)
	}
	if !res.Checks[0].Passed {
		t.Errorf("check %+v", res.Checks[0])
	}
	if !slices.Contains(res.Notes, "auc undefined: the data holds only negatives") {
		t.Errorf("notes %q", res.Notes)
	}
}

// TestCreditData trains and evaluates through the step kinds on the real
// credit data: every column but Status, stratified 80/20.
func TestCreditData(t *testing.T) {
	const path = "../../../shared/data/credit_data.csv"
	if _, err := os.Stat(path); err != nil {
		t.Skip("credit_data.csv: ../shared/data absent")
	}
	ds, _, err := table.ReadCSVFile(path, table.CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	status := ds.Column("Status")
	r := rand.New(rand.NewPCG(42, 0))
	var tr, te []int
	for _, class := range []string{"bad", "good"} {
		var idx []int
		for i := range ds.Rows {
			if status.Str(i) == class {
				idx = append(idx, i)
			}
		}
		r.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
		k := int(math.Round(0.2 * float64(len(idx))))
		te, tr = append(te, idx[:k]...), append(tr, idx[k:]...)
	}
	slices.Sort(tr)
	slices.Sort(te)
	m := fit(t, "algorithm: logistic_regression\ntarget: Status\npositive: bad\nexclude: []", ds.Take(tr))
	res := run(t, "gates:\n  floor: auc >= 0.8", m, ds.Take(te), nil)
	t.Logf("test AUC %.4f (scikit-learn 0.8384 on its own split), KS %.4f; %s", res.Metrics["auc"], res.Metrics["ks"], res.Checks[0].Message)
	if !res.Checks[0].Passed {
		t.Errorf("test AUC %.4f, want >= 0.80", res.Metrics["auc"])
	}
}

func TestKindContract(t *testing.T) {
	k := Kind()
	if k.Name() != "evaluate" || !slices.Equal(k.Outputs(), []string{"metrics"}) || len(k.Required()) != 0 {
		t.Errorf("kind %s outputs %v required %v", k.Name(), k.Outputs(), k.Required())
	}
	var ports []string
	for _, p := range k.Inputs() {
		if !p.Required || p.Doc == "" {
			t.Errorf("port %+v", p)
		}
		ports = append(ports, p.Name)
	}
	if !slices.Equal(ports, []string{"model", "data"}) {
		t.Errorf("ports %v", ports)
	}
	for _, name := range []string{"threshold", "gates"} {
		s, ok := k.Settings()[name].(map[string]any)
		if !ok || s["description"] == "" {
			t.Errorf("setting %s lacks a schema with a description", name)
		}
	}
}

func TestNum(t *testing.T) {
	for _, tt := range []struct {
		v    float64
		want string
	}{{0.81234, "0.8123"}, {0.7, "0.7"}, {1000, "1000"}, {0.00012345, "0.000123"}, {0, "0"}, {0.5, "0.5"}} {
		if got := num(tt.v); got != tt.want {
			t.Errorf("num(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
