package train

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// loadedSchema is a schema as a load step compiles it: which columns were
// declared, and the values of those with few.
var loadedSchema = &table.Schema{Fields: []table.Field{
	{Name: "income", Type: table.Float, Info: &table.FieldInfo{}},
	{Name: "status", Type: table.String, Info: &table.FieldInfo{Levels: []string{"good", "bad"}}},
	{Name: "grade", Type: table.Int, Info: &table.FieldInfo{Levels: []string{"1", "2", "03"}}},
	{Name: "default", Type: table.Int, Info: &table.FieldInfo{Levels: []string{"0", "1"}}},
	{Name: "ratio", Type: table.Float, Info: &table.FieldInfo{Levels: []string{"0", "0.5", "1"}}},
	{Name: "flag", Type: table.Bool, Info: &table.FieldInfo{Declared: true, Levels: []string{"1", "0"}}},
	{Name: "yes", Type: table.Bool, Info: &table.FieldInfo{Levels: []string{"true"}}},
	{Name: "ones", Type: table.Int, Info: &table.FieldInfo{Levels: []string{"1"}}},
	{Name: "many", Type: table.String, Info: &table.FieldInfo{}},
	{Name: "derived", Type: table.String},
}}

// TestPositiveNeverOccurs: a positive value that is not among the target's
// values (known from the load step's read) is an error at compile time, at
// the setting; so is a 0/1 target holding other values, or one class only
// (issue 14: it passed validate and failed the run).
func TestPositiveNeverOccurs(t *testing.T) {
	tests := []struct {
		src  string
		want []string
	}{
		{"target: status\npositive: Bad", []string{`p.yaml:3:11: positive "Bad" never occurs in target "status" (its values: "good", "bad"); did you mean "bad"?`}},
		{"target: status\npositive: fair", []string{`p.yaml:3:11: positive "fair" never occurs in target "status" (its values: "good", "bad")`}},
		{"target: grade\npositive: 4", []string{`p.yaml:3:11: positive 4 never occurs in target "grade" (its values: 1, 2, 03)`}},
		{"target: grade", []string{`p.yaml:2:9: target "grade" holds values other than 0 and 1 (its values: 1, 2, 03): set positive to the value that counts as 1`}},
		{"target: ratio", []string{`p.yaml:2:9: target "ratio" holds values other than 0 and 1 (its values: 0, 0.5, 1): set positive to the value that counts as 1`}},
		{"target: ratio\npositive: 0.25", []string{`p.yaml:3:11: positive 0.25 never occurs in target "ratio" (its values: 0, 0.5, 1)`}},
		{"target: yes", []string{`p.yaml:2:9: target "yes" holds only true: training needs both classes`}},
		{"target: yes\npositive: false", []string{`p.yaml:3:11: positive false never occurs in target "yes" (its values: true)`}},
		{"target: ones", []string{`p.yaml:2:9: target "ones" holds only 1: training needs both classes`}},
		{"target: status\npositive: bad", nil},
		{"target: grade\npositive: 3", nil},
		{"target: grade\npositive: '+2'", nil},
		{"target: default", nil},
		{"target: default\npositive: 0", nil},
		{"target: ratio\npositive: 0.5", nil},
		{"target: flag", nil},
		{"target: flag\npositive: false", nil},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, got := compileStep(t, base+tt.src+"\nfeatures: [income]", loadedSchema)
			if !slices.Equal(got, tt.want) {
				t.Errorf("diagnostics:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestTargetLabelsAtRun: when compile could not know (too many values
// when loaded, or a split that left no positive row), the run fails with
// a clear message and exit code 2.
func TestTargetLabelsAtRun(t *testing.T) {
	schema := &table.Schema{Fields: []table.Field{{Name: "income", Type: table.Float}, {Name: "status", Type: table.String}}}
	c, diags := compileStep(t, base+"target: status\npositive: bad\nfeatures: [income]", schema)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	ds, err := table.NewDataset(table.NewFloatColumn("income", []float64{1, 2, 3, 4}),
		&table.Column{Name: "status", Type: table.String, Dict: []string{"good", "Bad"}, Codes: []uint32{0, 1, 0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Run(context.Background(), &pipeline.RunRequest{Inputs: map[string]pipeline.Object{"input": ds}, Jobs: 1})
	want := `train: target "status": positive "bad" never occurs in the 4 training rows (its values: "good", "Bad")`
	if err == nil || err.Error() != want || pipeline.ExitCode(err) != pipeline.ExitInvalid {
		t.Fatalf("err %v (exit %d)\nwant %s (exit 2)", err, pipeline.ExitCode(err), want)
	}
}

// TestLevelsLimit: an inferred string feature with more distinct values
// than the limit is refused at run (exit 2), unless declared string or
// max_levels raised; the limit defaults to 100, or half the training rows
// when fewer, at least 10.
func TestLevelsLimit(t *testing.T) {
	rows := 40
	income := make([]float64, rows)
	codes := make([]uint32, rows)
	y := make([]int64, rows)
	dict := make([]string, rows)
	for i := range rows {
		income[i], codes[i], y[i], dict[i] = float64(i), uint32(i), int64(i%2), fmt.Sprintf("c%02d", i)
	}
	ds, err := table.NewDataset(table.NewFloatColumn("income", income),
		&table.Column{Name: "many", Type: table.String, Dict: dict, Codes: codes},
		&table.Column{Name: "derived", Type: table.String, Dict: dict, Codes: codes},
		table.NewIntColumn("default", y, nil))
	if err != nil {
		t.Fatal(err)
	}
	run := func(src string) error {
		t.Helper()
		c, diags := compileStep(t, base+"target: default\n"+src, loadedSchema)
		if len(diags) > 0 {
			t.Fatal(diags)
		}
		_, err := c.Run(context.Background(), &pipeline.RunRequest{Inputs: map[string]pipeline.Object{"input": ds}, Jobs: 1})
		return err
	}
	want := `train: feature "many" is an inferred string column with 40 distinct values in 40 training rows, more than the limit of 20 (max_levels): ` +
		`a model would learn a category per value; declare it under the load step's columns: (many: string) to use it as it is, set max_levels, or leave it out`
	if err := run("features: [income, many]"); err == nil || err.Error() != want || pipeline.ExitCode(err) != pipeline.ExitInvalid {
		t.Errorf("err %v\nwant %s", err, want)
	}
	want = `train: feature "many" is an inferred string column with 40 distinct values in 40 training rows, more than the limit of 39 (max_levels): ` +
		`a model would learn a category per value; declare it under the load step's columns: (many: string) to use it as it is, set max_levels, or leave it out`
	if err := run("features: [income, many]\nmax_levels: 39"); err == nil || err.Error() != want {
		t.Errorf("err %v\nwant %s", err, want)
	}
	for _, src := range []string{"features: [income, many]\nmax_levels: 40", "features: [income, derived]"} {
		if err := run(src); err != nil {
			t.Errorf("%q: %v", src, err)
		}
	}
	_, diags := compileStep(t, base+"target: default\nfeatures: [income]\nmax_levels: 0", loadedSchema)
	if want := []string{"p.yaml:4:13: max_levels must be an integer >= 1, got 0"}; !slices.Equal(diags, want) {
		t.Errorf("diagnostics %q, want %q", diags, want)
	}
}

// TestHugeFeature: a float feature beyond ±1e150 is refused with exit 2
// (its squares overflow: the profile and the logistic model held +Inf and
// failed to encode, exit 3).
func TestHugeFeature(t *testing.T) {
	schema := &table.Schema{Fields: []table.Field{{Name: "income", Type: table.Float}, {Name: "default", Type: table.Int}}}
	c, diags := compileStep(t, base+"target: default\nfeatures: [income]", schema)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	ds, err := table.NewDataset(table.NewFloatColumn("income", []float64{1, 2e200, 3, 4}), table.NewIntColumn("default", []int64{0, 1, 0, 1}, nil))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Run(context.Background(), &pipeline.RunRequest{Inputs: map[string]pipeline.Object{"input": ds}, Jobs: 1})
	want := `train: feature "income" holds 2e+200 (row 2): numbers beyond ±1e+150 overflow the statistics of training and monitoring; rescale the column (a derive step: income / 1e6)`
	if err == nil || err.Error() != want || pipeline.ExitCode(err) != pipeline.ExitInvalid {
		t.Fatalf("err %v (exit %d)\nwant %s (exit 2)", err, pipeline.ExitCode(err), want)
	}
}
