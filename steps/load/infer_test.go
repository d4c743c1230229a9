package load

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// compileStepMemo is compileStep with a schema memo.
func compileStepMemo(t *testing.T, dir, src string, memo pipeline.SchemaMemo) (*Compiled, []string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	p := &pipeline.Pipeline{File: "p.yaml", Dir: dir}
	step := &pipeline.StepSpec{ID: "s", Kind: "load", Node: doc.Content[0], Pos: diag.Pos{File: "p.yaml", Line: 1, Col: 1}}
	var diags diag.List
	c := Kind().Compile(&pipeline.CompileRequest{Step: step, Pipeline: p, Diags: &diags, Params: map[string]any{}, Memo: memo})
	var msgs []string
	for _, d := range diags.Items() {
		msgs = append(msgs, d.String())
	}
	if c == nil {
		return nil, msgs
	}
	return c.(*Compiled), msgs
}

// TestInferenceErrors: NaN and infinities, and a numeric column spoiled by
// a few values, are errors of the pipeline at the path's place, one
// diagnostic per column (issue 14); non_finite is checked at its place.
func TestInferenceErrors(t *testing.T) {
	dir := setup(t)
	writeFile(t, filepath.Join(dir, "data", "inf.csv"), "id,amount,score\n1,10,1.5\n2,-Inf,nan\n3,30,2\n")
	writeFile(t, filepath.Join(dir, "data", "mixed.csv"), "id,amount\n1,10\n2,sixty\n3,30\n4,40\n")
	const hint = " is not a finite number (non_finite: missing reads such values as missing)"
	tests := []struct {
		src  string
		want []string
	}{
		{"path: data/inf.csv", []string{
			`p.yaml:1:7: data/inf.csv:3: row 2: column "amount": "-Inf"` + hint,
			`p.yaml:1:7: data/inf.csv:3: row 2: column "score": "nan"` + hint}},
		{"path: data/inf.csv\ncolumns: {score: float}", []string{`p.yaml:1:7: data/inf.csv:3: row 2: column "score": "nan"` + hint}},
		{"path: data/inf.csv\nnon_finite: error", []string{
			`p.yaml:1:7: data/inf.csv:3: row 2: column "amount": "-Inf"` + hint,
			`p.yaml:1:7: data/inf.csv:3: row 2: column "score": "nan"` + hint}},
		{"path: data/inf.csv\nnon_finite: null", []string{`p.yaml:2:13: non_finite must be error or missing, got "null"`}},
		{"path: data/inf.csv\nnon_finite: [missing]", []string{`p.yaml:2:13: non_finite must be error or missing, got a list`}},
		{"path: data/inf.csv\nnon_finite: Missing", []string{`p.yaml:2:13: non_finite must be error or missing, got "Missing"`}},
		{"path: data/mixed.csv", []string{`p.yaml:1:7: data/mixed.csv:3: row 2: column "amount": 1 of 4 values of this numeric column is not a valid number: row 2 "sixty"; ` +
			`fix it, list it under missing:, or declare the column under columns: (amount: string) to read it as text`}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			c, got := compileStep(t, dir, tt.src)
			if !slices.Equal(got, tt.want) {
				t.Errorf("diagnostics:\n got %q\nwant %q", got, tt.want)
			}
			if c != nil {
				t.Errorf("compiled despite errors")
			}
		})
	}
}

// TestNonFiniteMissing: non_finite: missing reads NaN and infinities as
// nulls, and is in the cache config; the default is not (the cache keys
// of existing steps do not change).
func TestNonFiniteMissing(t *testing.T) {
	dir := setup(t)
	path := filepath.Join(dir, "data", "inf.csv")
	writeFile(t, path, "id,amount,score\n1,10,1.5\n2,-Inf,nan\n3,30,2\n")
	config := func(c *Compiled) string {
		b, err := json.Marshal(c.CacheConfig())
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	c, diags := compileStep(t, dir, "path: data/inf.csv\nnon_finite: missing")
	if len(diags) > 0 {
		t.Fatalf("diagnostics %q", diags)
	}
	if got, want := config(c), `{"path":"`+path+`","missing":["","NA"],"delimiter":",","non_finite":"missing"}`; got != want {
		t.Errorf("cache config\n got %s\nwant %s", got, want)
	}
	res, err := c.Run(context.Background(), &pipeline.RunRequest{Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	ds := res.Outputs["data"].(*table.Dataset)
	if a, s := ds.Column("amount"), ds.Column("score"); a.Type != table.Float || s.Type != table.Float ||
		!a.IsNull(1) || !s.IsNull(1) || a.NullCount() != 1 || s.NullCount() != 1 {
		t.Errorf("amount %v, score %v: want row 2 null", a.Floats, s.Floats)
	}

	// Without the setting, or with the default, the config is that of
	// before the setting existed.
	good := filepath.Join(dir, "data", "a.csv")
	for _, src := range []string{"path: data/a.csv", "path: data/a.csv\nnon_finite: error"} {
		c, diags := compileStep(t, dir, src)
		if len(diags) > 0 {
			t.Fatalf("diagnostics %q", diags)
		}
		if got, want := config(c), `{"path":"`+good+`","missing":["","NA"],"delimiter":","}`; got != want {
			t.Errorf("%q: cache config\n got %s\nwant %s", src, got, want)
		}
	}
}

// TestFieldInfo: the compiled schema says which columns were declared and
// holds the values of the columns with few of them.
func TestFieldInfo(t *testing.T) {
	dir := setup(t)
	c, diags := compileStep(t, dir, "path: data/a.csv\ncolumns: {flag: bool}")
	if len(diags) > 0 {
		t.Fatalf("diagnostics %q", diags)
	}
	want := []table.FieldInfo{
		{Levels: []string{"1", "2", "3"}}, {Levels: []string{"100.5", "7"}}, {Levels: []string{"own", "rent"}},
		{}, {Declared: true, Levels: []string{"true", "false"}}, // no levels for time columns
	}
	for i, f := range c.Schema().Fields {
		if f.Info == nil || f.Info.Declared != want[i].Declared || !slices.Equal(f.Info.Levels, want[i].Levels) || (f.Info.Levels == nil) != (want[i].Levels == nil) {
			t.Errorf("column %q: info %+v, want %+v", f.Name, f.Info, want[i])
		}
	}
	// A column with more than MaxLevels values has none.
	var b []byte
	b = append(b, "id,k\n"...)
	for i := range MaxLevels + 1 {
		b = append(b, byte('a'+i), ',', '1', '\n')
	}
	writeFile(t, filepath.Join(dir, "data", "many.csv"), string(b))
	c, diags = compileStep(t, dir, "path: data/many.csv")
	if len(diags) > 0 {
		t.Fatalf("diagnostics %q", diags)
	}
	if f := c.Schema().Fields; f[0].Info.Levels != nil || !slices.Equal(f[1].Info.Levels, []string{"1"}) {
		t.Errorf("levels %q and %q, want none and [1]", f[0].Info.Levels, f[1].Info.Levels)
	}
}
