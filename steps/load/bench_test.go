package load

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
)

// exampleSettings are the load settings of examples/pipelines/credit-risk.yaml.
const exampleSettings = `
path: %s
columns:
  loan_default: int
  application_date: date
missing: ["", NA]
`

// benchFiles returns the CSV files bench/run.sh generated, from its
// MLRUN_BENCH_CSV_<rows> variables, sorted by row count.
func benchFiles() (rows []int, paths []string) {
	byRows := map[int]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if n, err := strconv.Atoi(strings.TrimPrefix(k, "MLRUN_BENCH_CSV_")); err == nil && strings.HasPrefix(k, "MLRUN_BENCH_CSV_") {
			byRows[n] = v
		}
	}
	for n := range byRows {
		rows = append(rows, n)
	}
	sort.Ints(rows)
	for _, n := range rows {
		paths = append(paths, byRows[n])
	}
	return rows, paths
}

// rowsName names a row count as bench/report.py expects ("100k", "1M").
func rowsName(n int) string {
	switch {
	case n%1_000_000 == 0:
		return fmt.Sprintf("rows=%dM", n/1_000_000)
	case n%1000 == 0:
		return fmt.Sprintf("rows=%dk", n/1000)
	}
	return fmt.Sprintf("rows=%d", n)
}

func compileBench(b *testing.B, path string) *Compiled {
	b.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(fmt.Appendf(nil, exampleSettings, path), &doc); err != nil {
		b.Fatal(err)
	}
	p := &pipeline.Pipeline{File: "bench.yaml", Dir: filepath.Dir(path)}
	step := &pipeline.StepSpec{ID: "applications", Kind: "load", Node: doc.Content[0], Pos: diag.Pos{File: "bench.yaml", Line: 1, Col: 1}}
	var diags diag.List
	c := Kind().Compile(&pipeline.CompileRequest{Step: step, Pipeline: p, Diags: &diags, Params: map[string]any{}})
	if c == nil {
		b.Fatalf("compile: %v", diags.Items())
	}
	return c.(*Compiled)
}

// BenchmarkLoadStep is the load step of the example pipeline running on the
// files bench/run.sh generates (MLRUN_BENCH_CSV_<rows>): read the file,
// SHA-256 its bytes while reading, parse every column to its compiled type.
// It is exactly what `mlrun run` does for a load step that is not cached,
// with --jobs at its default (GOMAXPROCS). Skipped without those files.
func BenchmarkLoadStep(b *testing.B) {
	rows, paths := benchFiles()
	if len(rows) == 0 {
		b.Skip("no MLRUN_BENCH_CSV_<rows> files: run bench/run.sh")
	}
	for i, n := range rows {
		b.Run(rowsName(n), func(b *testing.B) {
			c := compileBench(b, paths[i])
			st, err := os.Stat(paths[i])
			if err != nil {
				b.Fatal(err)
			}
			req := &pipeline.RunRequest{Jobs: runtime.GOMAXPROCS(0)}
			b.SetBytes(st.Size())
			b.ResetTimer()
			for b.Loop() {
				res, err := c.Run(context.Background(), req)
				if err != nil {
					b.Fatal(err)
				}
				if got := int(res.Metrics["rows"]); got != n {
					b.Fatalf("read %d rows, want %d", got, n)
				}
			}
		})
	}
}

// BenchmarkLoadCompile is the load step's compile on the same files: the
// pass that learns the column types before anything runs. `mlrun run`,
// `plan` and `validate` pay it on every invocation, cached or not.
func BenchmarkLoadCompile(b *testing.B) {
	rows, paths := benchFiles()
	if len(rows) == 0 {
		b.Skip("no MLRUN_BENCH_CSV_<rows> files: run bench/run.sh")
	}
	for i, n := range rows {
		b.Run(rowsName(n), func(b *testing.B) {
			st, err := os.Stat(paths[i])
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(st.Size())
			for b.Loop() {
				compileBench(b, paths[i])
			}
		})
	}
}
