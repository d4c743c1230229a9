package train

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// compileStep compiles a train step whose settings are the YAML mapping
// src against schema, returning the compiled step and its diagnostics.
func compileStep(t *testing.T, src string, schema *table.Schema) (pipeline.Compiled, []string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	p := &pipeline.Pipeline{File: "p.yaml", Dir: t.TempDir(), Source: []byte(src)}
	step := &pipeline.StepSpec{ID: "m", Kind: "train", Node: doc.Content[0], Pos: diag.Pos{File: "p.yaml", Line: 1, Col: 1}}
	var diags diag.List
	req := &pipeline.CompileRequest{
		Step: step, Pipeline: p, Params: map[string]any{}, Diags: &diags,
		Inputs: map[string]pipeline.Type{"input": schema},
	}
	c := Kind().Compile(req)
	var msgs []string
	for _, d := range diags.Items() {
		msgs = append(msgs, d.String())
	}
	return c, msgs
}

var testSchema = &table.Schema{Fields: []table.Field{
	{Name: "income", Type: table.Float},
	{Name: "age", Type: table.Int},
	{Name: "home", Type: table.String},
	{Name: "applied", Type: table.Time},
	{Name: "status", Type: table.String},
	{Name: "default", Type: table.Int},
	{Name: "flag", Type: table.Bool},
}}

const base = "algorithm: logistic_regression\n"

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		src  string
		want []string
	}{
		{"target: default\nfeatures: [age]", []string{`p.yaml:1:1: train needs algorithm (gradient_boosting, logistic_regression, random_forest)`}},
		{"algorithm: logistic\ntarget: default\nfeatures: [age]", []string{
			`p.yaml:1:12: unknown algorithm "logistic" (want gradient_boosting, logistic_regression, random_forest)`}},
		{"algorithm: logistic_regresion\ntarget: default\nfeatures: [age]", []string{
			`p.yaml:1:12: unknown algorithm "logistic_regresion"; did you mean "logistic_regression"?`}},
		{base + "features: [age]", []string{`p.yaml:1:1: train needs target: the column to predict`}},
		{base + "target: defualt\nfeatures: [age]", []string{`p.yaml:2:9: unknown target column "defualt"; did you mean "default"?`}},
		{base + "target: status\nfeatures: [age]", []string{
			`p.yaml:2:9: target "status" is a string column: set positive to the value that counts as 1`}},
		{base + "target: default\npositive: bad\nfeatures: [age]", []string{
			`p.yaml:3:11: target "default" is an int column: positive "bad" is not an integer`}},
		{base + "target: applied\nfeatures: [age]", []string{
			`p.yaml:2:9: target "applied" is a time column: a target must be int, float, bool or string`}},
		{base + "target: default", []string{`p.yaml:1:1: train needs features (a list of columns) or exclude (columns to leave out of all)`}},
		{base + "target: default\nfeatures: [age]\nexclude: [home]", []string{
			`p.yaml:4:10: exclude and features are exclusive: list the features, or exclude columns from all`}},
		{base + "target: default\nfeatures: [age, incme, default, age, applied]", []string{
			`p.yaml:3:17: unknown column "incme"; did you mean "income"?`,
			`p.yaml:3:24: feature "default" is the target`,
			`p.yaml:3:33: feature "age" is listed twice`,
			`p.yaml:3:38: feature "applied" is a time column: derive a numeric feature from it`}},
		{base + "target: default\nfeatures: age", []string{`p.yaml:3:11: features must be a list of column names, got a string`}},
		{base + "target: default\nfeatures: []", []string{`p.yaml:3:11: features is empty`}},
		{base + "target: default\nexclude: [nope]", []string{
			`p.yaml:3:10: warning: time column "applied" is not used as a feature (derive a numeric feature from it)`,
			`p.yaml:3:11: unknown column "nope"; did you mean "home"?`}},
		{base + "target: default\nfeatures: [age]\nl2: -1\nmax_iter: 0\ntol: 0\nstandardize: maybe\nseed: x", []string{
			`p.yaml:4:5: l2 must be a finite number >= 0, got -1`,
			`p.yaml:5:11: max_iter must be between 1 and 2147483647, got 0`,
			`p.yaml:6:6: tol must be a finite number > 0, got 0`,
			`p.yaml:7:14: standardize must be true or false, got a string`,
			`p.yaml:8:7: seed must be an integer, got a string`}},
		{base + "target: default\nfeatures: [age]\nclass_weight: balance", []string{
			`p.yaml:4:15: class_weight must be balanced, none or a mapping target value -> weight, got "balance"`}},
		{base + "target: default\nfeatures: [age]\nclass_weight: {one: 2, 1: -3}", []string{
			`p.yaml:4:16: class_weight: "one" is not a value of int target "default"`,
			`p.yaml:4:27: class_weight of "1" must be a finite number > 0, got -3`}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			c, got := compileStep(t, tt.src, testSchema)
			if !slices.Equal(got, tt.want) {
				t.Errorf("diagnostics:\n got %q\nwant %q", got, tt.want)
			}
			hasErr := false
			for _, g := range got {
				hasErr = hasErr || !strings.Contains(g, "warning:")
			}
			if hasErr && c != nil {
				t.Errorf("compiled despite errors")
			}
		})
	}
}

func TestCompileOK(t *testing.T) {
	c, diags := compileStep(t, base+"target: status\npositive: bad\nexclude: [default]\nl2: 0.5\nclass_weight: {bad: 3}\nseed: 7", testSchema)
	if c == nil {
		t.Fatalf("not compiled: %q", diags)
	}
	typ := c.OutputTypes()["model"].(*model.Type)
	if got := strings.Join(featureNames(typ), ","); got != "income,age,home,flag" {
		t.Errorf("features %s", got)
	}
	if typ.Target != (model.Target{Name: "status", Type: table.String, Positive: "bad"}) {
		t.Errorf("target %+v", typ.Target)
	}
	b, err := json.Marshal(c.CacheConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"algorithm":"logistic_regression","target":"status","positive":"bad","features":["income","age","home","flag"],"seed":7,` +
		`"params":{"l2":0.5,"class_weight":{"values":{"bad":3}},"max_iter":1000,"tol":1e-8,"standardize":true}}`
	if string(b) != want {
		t.Errorf("cache config\n got %s\nwant %s", b, want)
	}
	settings := Kind().Settings()
	for _, k := range []string{"algorithm", "target", "positive", "features", "exclude", "seed", "l2", "class_weight", "max_iter", "tol", "standardize"} {
		s, ok := settings[k].(map[string]any)
		if !ok || s["description"] == "" {
			t.Errorf("setting %s lacks a schema with a description", k)
		}
	}
}

func featureNames(t *model.Type) []string {
	var out []string
	for _, f := range t.Features {
		out = append(out, f.Name)
	}
	return out
}

// synthetic builds n rows of income, age, home and a 0/1 default that
// depends on them.
func synthetic(n int, seed uint64) *table.Dataset {
	r := rand.New(rand.NewPCG(seed, 2))
	income, age, def := make([]float64, n), make([]int64, n), make([]int64, n)
	home := &table.Column{Name: "home", Type: table.String, Codes: make([]uint32, n), Dict: []string{"rent", "own"}}
	for i := range n {
		income[i] = 3000 + 1000*r.NormFloat64()
		age[i] = 20 + int64(r.IntN(50))
		home.Codes[i] = uint32(r.IntN(2))
		t := -0.002*(income[i]-3000) - 0.05*float64(age[i]-45) + 1.2*float64(1-home.Codes[i]) - 0.5
		if r.Float64() < 1/(1+math.Exp(-t)) {
			def[i] = 1
		}
	}
	return &table.Dataset{Rows: n, Columns: []*table.Column{
		{Name: "income", Type: table.Float, Floats: income},
		{Name: "age", Type: table.Int, Ints: age},
		home,
		{Name: "default", Type: table.Int, Ints: def},
	}}
}

func TestRun(t *testing.T) {
	ds := synthetic(2000, 1)
	c, diags := compileStep(t, base+"target: default\nfeatures: [income, age, home]\nclass_weight: balanced", ds.Schema())
	if c == nil {
		t.Fatalf("not compiled: %q", diags)
	}
	var encodings []string
	for _, jobs := range []int{1, 3} {
		res, err := c.Run(context.Background(), &pipeline.RunRequest{
			Inputs: map[string]pipeline.Object{"input": ds}, Jobs: jobs, Progress: pipeline.NoProgress{},
		})
		if err != nil {
			t.Fatal(err)
		}
		m, ok := res.Outputs["model"].(model.Model)
		if !ok {
			t.Fatalf("outputs %v", res.Outputs)
		}
		var b strings.Builder
		if err := m.Encode(&b); err != nil {
			t.Fatal(err)
		}
		encodings = append(encodings, b.String())
		if res.Metrics["train_rows"] != 2000 || res.Metrics["iterations"] < 1 || res.Metrics["train_auc"] < 0.8 ||
			!(res.Metrics["train_log_loss"] > 0 && res.Metrics["train_log_loss"] < 0.6) {
			t.Errorf("metrics %v", res.Metrics)
		}
		if len(res.Notes) == 0 || !strings.HasPrefix(res.Notes[0], "logistic_regression on 2000 rows") {
			t.Errorf("notes %q", res.Notes)
		}
	}
	if encodings[0] != encodings[1] {
		t.Error("model differs between jobs 1 and 3")
	}
}

func TestRunNullTarget(t *testing.T) {
	ds := synthetic(100, 2)
	tc := ds.Column("default")
	tc.Valid = table.NewBitmap(100)
	tc.Valid.SetNull(10)
	c, diags := compileStep(t, base+"target: default\nexclude: []", ds.Schema())
	if c == nil {
		t.Fatalf("not compiled: %q", diags)
	}
	_, err := c.Run(context.Background(), &pipeline.RunRequest{Inputs: map[string]pipeline.Object{"input": ds}, Jobs: 1})
	if err == nil || err.Error() != `train logistic_regression: target "default" has 1 null values of 100 rows` || pipeline.ExitCode(err) != 2 {
		t.Errorf("err = %v (exit %d)", err, pipeline.ExitCode(err))
	}
}
