package split

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// compileStep compiles a step whose settings are the YAML mapping src
// against schema, returning the compiled step and its diagnostics.
func compileStep(t *testing.T, src string, schema *table.Schema) (pipeline.Compiled, []string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	node := doc.Content[0]
	p := &pipeline.Pipeline{File: "p.yaml", Dir: t.TempDir()}
	step := &pipeline.StepSpec{ID: "s", Kind: "split", Node: node, Pos: diag.Pos{File: "p.yaml", Line: 1, Col: 1}}
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
	{Name: "id", Type: table.Int},
	{Name: "label", Type: table.String},
	{Name: "score", Type: table.Float},
	{Name: "applied", Type: table.Time},
	{Name: "flag", Type: table.Bool},
}}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		src  string
		want []string
	}{
		{"method: bogus", []string{`p.yaml:1:9: unknown split method "bogus" (want random, stratified or time)`}},
		{"method: [random]", []string{`p.yaml:1:9: method must be a string (random, stratified or time), got a list`}},
		{"test: 1.5", []string{`p.yaml:1:7: test must be a fraction between 0 and 1 (exclusive), got 1.5`}},
		{"test: 0", []string{`p.yaml:1:7: test must be a fraction between 0 and 1 (exclusive), got 0`}},
		{"test: abc", []string{`p.yaml:1:7: test must be a number, got a string`}},
		{"valid: -0.1", []string{`p.yaml:1:8: valid must be a fraction in [0, 1), got -0.1`}},
		{"test: 0.6\nvalid: 0.4", []string{`p.yaml:2:8: test + valid must be below 1 to leave rows for train, got 0.6 + 0.4`}},
		{"valid: 0.8", []string{`p.yaml:1:8: test + valid must be below 1 to leave rows for train, got 0.2 + 0.8`}},
		{"seed: 1.5", []string{`p.yaml:1:7: seed must be an integer, got a number`}},
		{"stratify: label", []string{`p.yaml:1:11: stratify applies only to method stratified`}},
		{"method: stratified", []string{`p.yaml:1:9: method stratified needs a stratify column`}},
		{"method: stratified\nstratify: lable", []string{`p.yaml:2:11: unknown column "lable"; did you mean "label"?`}},
		{"method: stratified\nstratify: score", []string{`p.yaml:2:11: stratify column "score" is float; stratify by a class column (string, int or bool)`}},
		{"method: time", []string{`p.yaml:1:9: method time needs time: {column, test_from}`}},
		{"time: {column: applied, test_from: 2024-01-01}", []string{`p.yaml:1:7: time applies only to method time`}},
		{"method: time\ntest: 0.3\ntime: {column: applied, test_from: 2024-01-01}", []string{
			`p.yaml:2:7: fractions do not apply to method time: rows are assigned by time.test_from and time.valid_from`}},
		{"method: time\ntime: {column: label, test_from: 2024-01-01, extra: 1}", []string{
			`p.yaml:2:16: time column "label" is string; want a time or numeric column`,
			`p.yaml:2:46: unknown key "extra" in time (want column, test_from, valid_from)`}},
		{"method: time\ntime: {column: applied}", []string{`p.yaml:2:7: time needs test_from`}},
		{"method: time\ntime: {column: applied, test_from: soon}", []string{
			`p.yaml:2:36: time.test_from must be a date or timestamp (2006-01-02, 2006-01-02T15:04:05Z07:00) for time column "applied", got "soon"`}},
		{"method: time\ntime: {column: score, test_from: 2024-01-01}", []string{
			`p.yaml:2:34: time.test_from must be a number for float column "score", got a timestamp`}},
		{"method: time\ntime: {column: id, test_from: 10, valid_from: 10}", []string{
			`p.yaml:2:47: time.valid_from must be before time.test_from`}},
		{"method: time\ntime: {column: applied, test_from: 2024-01-01, valid_from: '2024-06-01'}", []string{
			`p.yaml:2:60: time.valid_from must be before time.test_from`}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			c, got := compileStep(t, tt.src, testSchema)
			if !slices.Equal(got, tt.want) {
				t.Errorf("diagnostics:\n got %q\nwant %q", got, tt.want)
			}
			if c != nil {
				t.Errorf("compiled despite errors")
			}
		})
	}
}

func TestCompileOK(t *testing.T) {
	tests := []struct {
		src  string
		want string // CacheConfig as JSON
	}{
		{"kind: split\ninput: x", `{"method":"random","test":0.2,"valid":0,"seed":0}`},
		{"method: stratified\nstratify: label\ntest: 0.25\nvalid: 0.25\nseed: 42",
			`{"method":"stratified","test":0.25,"valid":0.25,"seed":42,"stratify":"label"}`},
		{"method: time\ntime: {column: id, test_from: 100, valid_from: 50.5}",
			`{"method":"time","test":0,"valid":0,"seed":0,"time":{"column":"id","is_time":false,"test_from":100,"valid_from":50.5}}`},
		{"method: time\ntime: {column: applied, test_from: '2024-01-01T00:00:01Z'}",
			`{"method":"time","test":0,"valid":0,"seed":0,"time":{"column":"applied","is_time":true,"test_from":1704067201000000000,"test_from_ns":1704067201000000000}}`},
	}
	for _, tt := range tests {
		c, diags := compileStep(t, tt.src, testSchema)
		if len(diags) > 0 || c == nil {
			t.Fatalf("%s: unexpected diagnostics %q", tt.src, diags)
		}
		b, err := json.Marshal(c.CacheConfig())
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.want {
			t.Errorf("%s: cache config\n got %s\nwant %s", tt.src, b, tt.want)
		}
		types := c.OutputTypes()
		for _, o := range Kind().Outputs() {
			if types[o] != testSchema {
				t.Errorf("%s: output %s type = %v, want the input schema", tt.src, o, types[o])
			}
		}
	}
}

// dataset builds a dataset of n rows: id = row index, label from labels
// (cycled; "" is null), day = 2024-01-01 + id days.
func dataset(n int, labels []string) *table.Dataset {
	id := &table.Column{Name: "id", Type: table.Int, Ints: make([]int64, n)}
	label := &table.Column{Name: "label", Type: table.String, Codes: make([]uint32, n), Valid: table.NewBitmap(n)}
	day := &table.Column{Name: "applied", Type: table.Time, Ints: make([]int64, n)}
	codes := map[string]uint32{}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		id.Ints[i] = int64(i)
		day.Ints[i] = start.AddDate(0, 0, i).UnixNano()
		l := labels[i%len(labels)]
		if l == "" {
			label.Valid.SetNull(i)
			continue
		}
		c, ok := codes[l]
		if !ok {
			c = uint32(len(label.Dict))
			codes[l] = c
			label.Dict = append(label.Dict, l)
		}
		label.Codes[i] = c
	}
	return &table.Dataset{Columns: []*table.Column{id, label, day}, Rows: n}
}

func run(t *testing.T, src string, ds *table.Dataset, jobs int) *pipeline.Result {
	t.Helper()
	c, diags := compileStep(t, src, ds.Schema())
	if len(diags) > 0 {
		t.Fatalf("diagnostics: %q", diags)
	}
	res, err := c.Run(context.Background(), &pipeline.RunRequest{
		Inputs: map[string]pipeline.Object{"input": ds}, Jobs: jobs, Progress: pipeline.NoProgress{},
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// ids returns the id column of an output.
func ids(t *testing.T, res *pipeline.Result, name string) []int64 {
	t.Helper()
	ds, ok := res.Outputs[name].(*table.Dataset)
	if !ok {
		t.Fatalf("output %s is %T", name, res.Outputs[name])
	}
	if got := ds.Schema().Names(); !slices.Equal(got, []string{"id", "label", "applied"}) {
		t.Fatalf("output %s columns %v", name, got)
	}
	col := ds.Column("id")
	if col.Len() != ds.Rows {
		t.Fatalf("output %s: id has %d rows, dataset %d", name, col.Len(), ds.Rows)
	}
	return append([]int64{}, col.Ints...)
}

// checkPartition checks the outputs are sorted, disjoint and cover 0..n-1.
func checkPartition(t *testing.T, res *pipeline.Result, n int) (train, test, valid []int64) {
	t.Helper()
	train, test, valid = ids(t, res, "train"), ids(t, res, "test"), ids(t, res, "valid")
	seen := make([]bool, n)
	for _, part := range [][]int64{train, test, valid} {
		if !slices.IsSorted(part) {
			t.Errorf("output rows not in original order: %v", part)
		}
		for _, id := range part {
			if seen[id] {
				t.Fatalf("row %d in two outputs", id)
			}
			seen[id] = true
		}
	}
	for i, s := range seen {
		if !s {
			t.Fatalf("row %d in no output", i)
		}
	}
	return train, test, valid
}

func TestRandom(t *testing.T) {
	ds := dataset(1000, []string{"a"})
	res := run(t, "seed: 7\ntest: 0.25\nvalid: 0.1", ds, 1)
	train, test, valid := checkPartition(t, res, 1000)
	if len(train) != 650 || len(test) != 250 || len(valid) != 100 {
		t.Errorf("sizes train %d test %d valid %d, want 650 250 100", len(train), len(test), len(valid))
	}
	wantMetrics := map[string]float64{"rows.train": 650, "rows.test": 250, "rows.valid": 100}
	for k, v := range wantMetrics {
		if res.Metrics[k] != v {
			t.Errorf("metric %s = %v, want %v", k, res.Metrics[k], v)
		}
	}
	if want := "train 650 · test 250 · valid 100 rows (random, seed 7)"; res.Notes[0] != want {
		t.Errorf("note %q, want %q", res.Notes[0], want)
	}
	// Not the first rows: the shuffle is effective.
	if test[len(test)-1] < 500 || test[0] > 500 {
		t.Errorf("test rows %v.. not spread over the data", test[:5])
	}

	// Same seed: same split, whatever the jobs; another seed: another split.
	res4 := run(t, "seed: 7\ntest: 0.25\nvalid: 0.1", ds, 4)
	for _, o := range []string{"train", "test", "valid"} {
		if !slices.Equal(ids(t, res, o), ids(t, res4, o)) {
			t.Errorf("output %s differs between jobs 1 and 4", o)
		}
	}
	other := run(t, "seed: 8\ntest: 0.25\nvalid: 0.1", ds, 1)
	if slices.Equal(ids(t, other, "test"), test) {
		t.Errorf("seeds 7 and 8 gave the same test rows")
	}
}

func TestValidEmptyByDefault(t *testing.T) {
	ds := dataset(11, []string{"a"})
	res := run(t, "kind: split", ds, 1)
	_, test, valid := checkPartition(t, res, 11)
	if len(test) != 2 || len(valid) != 0 {
		t.Errorf("test %d valid %d rows, want 2 and 0", len(test), len(valid))
	}
	v := res.Outputs["valid"].(*table.Dataset)
	if v.Rows != 0 || len(v.Columns) != 3 {
		t.Errorf("valid: %d rows %d columns, want an empty dataset with 3 columns", v.Rows, len(v.Columns))
	}
}

func TestStratified(t *testing.T) {
	// Classes: a 50%, b 30%, null 13.3%, c 6.7% of 1,500 rows (not multiples
	// that make rounding trivial).
	labels := []string{"a", "b", "a", "", "a", "b", "a", "b", "a", "c", "a", "b", "", "a", "b"}
	ds := dataset(1501, labels)
	src := "method: stratified\nstratify: label\ntest: 0.23\nvalid: 0.11\nseed: 3"
	res := run(t, src, ds, 1)
	train, test, valid := checkPartition(t, res, ds.Rows)
	if want := int(math.Round(0.23 * 1501)); len(test) != want {
		t.Errorf("test has %d rows, want %d", len(test), want)
	}
	if want := int(math.Round(0.11 * 1501)); len(valid) != want {
		t.Errorf("valid has %d rows, want %d", len(valid), want)
	}
	class := func(id int64) string { return labels[id%int64(len(labels))] }
	total := map[string]int{}
	for i := range ds.Rows {
		total[class(int64(i))]++
	}
	for name, part := range map[string]struct {
		rows []int64
		frac float64
	}{"test": {test, 0.23}, "valid": {valid, 0.11}, "train": {train, 0.66}} {
		got := map[string]int{}
		for _, id := range part.rows {
			got[class(id)]++
		}
		for c, n := range total {
			exact := part.frac * float64(n)
			if math.Abs(float64(got[c])-exact) > 1+1e-9 {
				t.Errorf("%s: class %q has %d rows, want %.2f ± 1", name, c, got[c], exact)
			}
			label := c
			if c == "" {
				label = "null"
			}
			share := res.Metrics["share."+name+"."+label]
			if want := float64(got[c]) / float64(len(part.rows)); share != want {
				t.Errorf("metric share.%s.%s = %v, want %v", name, label, share, want)
			}
		}
	}
	again := run(t, src, ds, 8)
	if !slices.Equal(ids(t, again, "test"), test) {
		t.Errorf("stratified split not deterministic")
	}
}

func TestAllocate(t *testing.T) {
	tests := []struct {
		sizes []int
		frac  float64
		total int
		want  []int
	}{
		{[]int{10, 10, 10}, 0.5, 15, []int{5, 5, 5}},
		{[]int{3, 3, 3}, 0.5, 5, []int{2, 2, 1}}, // ties: first classes
		{[]int{1, 7, 2}, 0.3, 3, []int{0, 2, 1}}, // remainders .3 .1 .6
		{[]int{5}, 0.99, 5, []int{5}},            // never above the class size
		{[]int{0, 4}, 0.25, 1, []int{0, 1}},      // empty class
		{[]int{1, 1, 1, 1}, 0.5, 2, []int{1, 1, 0, 0}},
	}
	for _, tt := range tests {
		if got := allocate(tt.sizes, tt.frac, tt.total); !slices.Equal(got, tt.want) {
			t.Errorf("allocate(%v, %v, %d) = %v, want %v", tt.sizes, tt.frac, tt.total, got, tt.want)
		}
	}
}

func TestTime(t *testing.T) {
	ds := dataset(100, []string{"a"}) // applied = 2024-01-01 + id days
	ds.Columns[2].Valid = table.NewBitmap(100)
	ds.Columns[2].Valid.SetNull(95) // dropped
	res := run(t, "method: time\ntime: {column: applied, test_from: 2024-03-01, valid_from: '2024-02-01'}", ds, 1)
	train, test, valid := ids(t, res, "train"), ids(t, res, "test"), ids(t, res, "valid")
	// Jan has 31 days (ids 0-30), Feb 29 (31-59), from Mar 1 = id 60.
	if len(train) != 31 || train[30] != 30 || len(valid) != 29 || valid[0] != 31 || len(test) != 39 || test[0] != 60 {
		t.Errorf("train %d..%d (%d), valid %d.. (%d), test %d.. (%d)", train[0], train[len(train)-1], len(train), valid[0], len(valid), test[0], len(test))
	}
	if slices.Contains(test, 95) || res.Metrics["rows.dropped"] != 1 {
		t.Errorf("null time row not dropped: metrics %v", res.Metrics)
	}
	if want := "1 rows dropped: applied is null"; !slices.Contains(res.Notes, want) {
		t.Errorf("notes %q lack %q", res.Notes, want)
	}

	// A numeric column.
	res = run(t, "method: time\ntime: {column: id, test_from: 90}", ds, 1)
	if got := ids(t, res, "test"); len(got) != 10 || got[0] != 90 {
		t.Errorf("numeric time split: test %v", got)
	}
	if got := ids(t, res, "valid"); len(got) != 0 {
		t.Errorf("valid %v, want empty", got)
	}
}

func TestSettingsSchema(t *testing.T) {
	k := Kind()
	b, err := json.Marshal(k.Settings())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"method"`, `"test"`, `"valid"`, `"seed"`, `"stratify"`, `"time"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("settings schema lacks %s", want)
		}
	}
	if k.Name() != "split" || k.Version() != 1 || fmt.Sprint(k.Outputs()) != "[train test valid]" {
		t.Errorf("kind %s v%d outputs %v", k.Name(), k.Version(), k.Outputs())
	}
}
