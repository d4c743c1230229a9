package load

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// compileStep compiles a load step whose settings are the YAML mapping src,
// in a pipeline file p.yaml of directory dir.
func compileStep(t *testing.T, dir, src string) (*Compiled, []string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	p := &pipeline.Pipeline{File: "p.yaml", Dir: dir}
	step := &pipeline.StepSpec{ID: "s", Kind: "load", Node: doc.Content[0], Pos: diag.Pos{File: "p.yaml", Line: 1, Col: 1}}
	var diags diag.List
	c := Kind().Compile(&pipeline.CompileRequest{Step: step, Pipeline: p, Diags: &diags, Params: map[string]any{}})
	var msgs []string
	for _, d := range diags.Items() {
		msgs = append(msgs, d.String())
	}
	if c == nil {
		return nil, msgs
	}
	return c.(*Compiled), msgs
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const sample = "id,amount,home,applied,flag\n1,100.5,own,2024-01-02,true\n2,NA,rent,2024-02-03,false\n3,7,,2024-03-04,true\n"

func setup(t *testing.T) string {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "data", "a.csv"), sample)
	writeFile(t, filepath.Join(dir, "data", "semi.csv"), "x;y\n1;a\n-;b\n")
	writeFile(t, filepath.Join(dir, "data", "bad.csv"), "x,y\n1,2\nthree,4\n")
	writeFile(t, filepath.Join(dir, "data", "header.csv"), "x,y\r\n")
	return dir
}

func TestCompileErrors(t *testing.T) {
	dir := setup(t)
	tests := []struct {
		src  string
		want []string
	}{
		{"path: data/nope.csv", []string{"p.yaml:1:7: file " + filepath.Join(dir, "data/nope.csv") + " not found"}},
		{"path: data", []string{"p.yaml:1:7: " + filepath.Join(dir, "data") + " is a directory, not a CSV file"}},
		{"path: [a]", []string{"p.yaml:1:7: path must be a file path, got a list"}},
		{"kind: load", []string{"p.yaml:1:1: load step needs a path"}},
		{"path: data/a.csv\ncolumns: {amount: flot, home: string}", []string{
			`p.yaml:2:19: unknown type "flot" for column "amount" (want float, int, bool, string, date or time)`}},
		{"path: data/a.csv\ncolumns: {amont: float, Home: string, zzz: int}", []string{
			`p.yaml:2:11: column "amont" is not in the header of data/a.csv; did you mean "amount"?`,
			`p.yaml:2:25: column "Home" is not in the header of data/a.csv; did you mean "home"?`,
			`p.yaml:2:39: column "zzz" is not in the header of data/a.csv`}},
		{"path: data/a.csv\ncolumns: [amount]", []string{"p.yaml:2:10: columns must be a mapping of column name to type, got a list"}},
		{"path: data/a.csv\nmissing: NA", []string{"p.yaml:2:10: missing must be a list of tokens, got a string"}},
		{"path: data/a.csv\ndelimiter: ';;'", []string{`p.yaml:2:12: delimiter must be one ASCII character other than a quote or a line break, got ";;"`}},
		{"path: data/a.csv\ndelimiter: '\"'", []string{`p.yaml:2:12: delimiter must be one ASCII character other than a quote or a line break, got "\""`}},
		{"path: data/bad.csv\ncolumns: {x: int}", []string{`p.yaml:1:7: data/bad.csv:3: row 2: column "x": "three" is not an int`}},
		{"path: data/header.csv", []string{`p.yaml:1:7: data/header.csv: header only, no data rows`}},
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

func fields(s *table.Schema) string {
	var parts []string
	for _, f := range s.Fields {
		parts = append(parts, f.Name+":"+f.Type.String())
	}
	return strings.Join(parts, " ")
}

func TestCompileAndRun(t *testing.T) {
	dir := setup(t)
	c, diags := compileStep(t, dir, "path: data/a.csv\ncolumns: {id: float, applied: date}")
	if len(diags) > 0 {
		t.Fatalf("diagnostics %q", diags)
	}
	if got, want := fields(c.Schema()), "id:float amount:float home:string applied:time flag:bool"; got != want {
		t.Errorf("schema %s, want %s", got, want)
	}
	if got := c.OutputTypes()["data"]; got != c.Schema() {
		t.Errorf("output type %v", got)
	}
	path := filepath.Join(dir, "data", "a.csv")
	var fr pipeline.FileReader = c
	if got := fr.Files(); !slices.Equal(got, []string{path}) {
		t.Errorf("Files() = %v, want [%s]", got, path)
	}
	b, _ := json.Marshal(c.CacheConfig())
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(m) // sorted keys
	want, _ := json.Marshal(map[string]any{"path": path, "columns": map[string]string{"id": "float", "applied": "time"}, "missing": []string{"", "NA"}, "delimiter": ","})
	if string(b) != string(want) {
		t.Errorf("cache config\n got %s\nwant %s", b, want)
	}

	sum, err := fileSHA256(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]pipeline.FileInfo{path: {Path: path, SHA256: sum, Size: int64(len(sample))}}
	for _, jobs := range []int{1, 4} {
		res, err := c.Run(context.Background(), &pipeline.RunRequest{Files: files, Jobs: jobs, Progress: pipeline.NoProgress{}})
		if err != nil {
			t.Fatal(err)
		}
		ds := res.Outputs["data"].(*table.Dataset)
		if ds.Rows != 3 || fields(ds.Schema()) != fields(c.Schema()) {
			t.Errorf("read %d rows, schema %s", ds.Rows, fields(ds.Schema()))
		}
		if n := ds.Column("amount").NullCount(); n != 1 {
			t.Errorf("amount has %d nulls, want 1 (NA)", n)
		}
		if n := ds.Column("home").NullCount(); n != 1 {
			t.Errorf("home has %d nulls, want 1 (empty)", n)
		}
		if res.Metrics["rows"] != 3 || res.Metrics["columns"] != 5 {
			t.Errorf("metrics %v", res.Metrics)
		}
		if want := "3 rows × 5 columns, sha256 " + sum[:12] + "…"; !slices.Equal(res.Notes, []string{want}) {
			t.Errorf("notes %q, want %q", res.Notes, want)
		}
	}

	// The fingerprint differs from the bytes read.
	files[path] = pipeline.FileInfo{Path: path, SHA256: strings.Repeat("0", 64)}
	_, err = c.Run(context.Background(), &pipeline.RunRequest{Files: files, Jobs: 1})
	if !errors.Is(err, ErrFileChanged) {
		t.Errorf("run with another fingerprint: err %v, want ErrFileChanged", err)
	}
}

func TestOptions(t *testing.T) {
	dir := setup(t)
	c, diags := compileStep(t, dir, "path: data/semi.csv\ndelimiter: ';'\nmissing: ['-']")
	if len(diags) > 0 {
		t.Fatalf("diagnostics %q", diags)
	}
	if got, want := fields(c.Schema()), "x:int y:string"; got != want {
		t.Errorf("schema %s, want %s", got, want)
	}
	res, err := c.Run(context.Background(), &pipeline.RunRequest{Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if ds := res.Outputs["data"].(*table.Dataset); ds.Column("x").NullCount() != 1 {
		t.Errorf("'-' not read as missing")
	}
}

func TestRunErrors(t *testing.T) {
	dir := setup(t)
	path := filepath.Join(dir, "data", "a.csv")
	c, diags := compileStep(t, dir, "path: data/a.csv")
	if len(diags) > 0 {
		t.Fatalf("diagnostics %q", diags)
	}
	sum, _ := fileSHA256(path, 0)

	// The file changes after compile so that it no longer parses with the
	// compiled types: without a fingerprint it is a data error (exit 2)
	// naming file, row and column.
	writeFile(t, path, strings.Replace(sample, "100.5", "lots", 1))
	_, err := c.Run(context.Background(), &pipeline.RunRequest{Jobs: 1})
	if err == nil || pipeline.ExitCode(err) != pipeline.ExitInvalid {
		t.Fatalf("err %v (exit %d), want exit 2", err, pipeline.ExitCode(err))
	}
	if want := `load data/a.csv: data/a.csv:2: row 1: column "amount": "lots" is not a float`; err.Error() != want {
		t.Errorf("err %q\nwant %q", err, want)
	}
	// With the fingerprint of the old bytes, it is a changed file.
	_, err = c.Run(context.Background(), &pipeline.RunRequest{Jobs: 1, Files: map[string]pipeline.FileInfo{path: {SHA256: sum}}})
	if !errors.Is(err, ErrFileChanged) {
		t.Errorf("err %v, want ErrFileChanged", err)
	}

	// Gone: exit 2.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	_, err = c.Run(context.Background(), &pipeline.RunRequest{Jobs: 1})
	if err == nil || pipeline.ExitCode(err) != pipeline.ExitInvalid {
		t.Errorf("missing file: err %v (exit %d), want exit 2", err, pipeline.ExitCode(err))
	}
}

func TestCreditData(t *testing.T) {
	src := "../../../shared/data/credit_data.csv"
	if _, err := os.Stat(src); err != nil {
		t.Skip("credit_data.csv: ../shared/data absent")
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		t.Fatal(err)
	}
	c, diags := compileStep(t, t.TempDir(), "path: "+abs)
	if len(diags) > 0 {
		t.Fatalf("diagnostics %q", diags)
	}
	want := "Status:string Seniority:int Home:string Time:int Age:int Marital:string Records:string Job:string Expenses:int Income:int Assets:int Debt:int Amount:int Price:int"
	if got := fields(c.Schema()); got != want {
		t.Errorf("schema\n got %s\nwant %s", got, want)
	}
	res, err := c.Run(context.Background(), &pipeline.RunRequest{Jobs: 4})
	if err != nil {
		t.Fatal(err)
	}
	ds := res.Outputs["data"].(*table.Dataset)
	nulls := 0
	for _, col := range ds.Columns {
		nulls += col.NullCount()
	}
	if ds.Rows != 4454 || len(ds.Columns) != 14 || nulls != 455 {
		t.Errorf("%d rows × %d columns, %d nulls; want 4454 × 14, 455", ds.Rows, len(ds.Columns), nulls)
	}
	if !strings.HasPrefix(res.Notes[0], "4,454 rows × 14 columns, sha256 ") {
		t.Errorf("note %q", res.Notes[0])
	}
}

// countProgress records progress reports.
type countProgress struct {
	mu          sync.Mutex
	total, done int64
}

func (p *countProgress) Total(n int64) { p.mu.Lock(); p.total = n; p.mu.Unlock() }
func (p *countProgress) Add(n int64)   { p.mu.Lock(); p.done += n; p.mu.Unlock() }

func TestRunReportsBytesRead(t *testing.T) {
	dir := setup(t)
	c, diags := compileStep(t, dir, "path: data/a.csv")
	if len(diags) > 0 {
		t.Fatalf("diagnostics %q", diags)
	}
	prog := &countProgress{}
	if _, err := c.Run(context.Background(), &pipeline.RunRequest{Jobs: 1, Progress: prog}); err != nil {
		t.Fatal(err)
	}
	if n := int64(len(sample)); prog.total != n || prog.done != n {
		t.Errorf("progress total %d, done %d; want both %d (the file's bytes)", prog.total, prog.done, n)
	}
}
