package derive

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// exampleColumns are the derive settings of examples/pipelines/credit-risk.yaml:
// the workshop's three features.
const exampleColumns = `
columns:
  debt_to_income_ratio: total_debt / (annual_income + 0.01)
  credit_utilization: credit_card_balance / (credit_limit + 0.01)
  payment_score: on_time_payments / (total_payments + 1) * 100
`

// BenchmarkDeriveStep is the example pipeline's derive step (three
// expressions) on the files bench/run.sh generates (MLRUN_BENCH_CSV_<rows>),
// read as the load step reads them; the read is not timed. It is what
// `mlrun run` does for the step, --jobs at its default (GOMAXPROCS). Skipped
// without those files.
func BenchmarkDeriveStep(b *testing.B) {
	byRows := map[int]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if s, ok := strings.CutPrefix(k, "MLRUN_BENCH_CSV_"); ok {
			if n, err := strconv.Atoi(s); err == nil {
				byRows[n] = v
			}
		}
	}
	if len(byRows) == 0 {
		b.Skip("no MLRUN_BENCH_CSV_<rows> files: run bench/run.sh")
	}
	rows := make([]int, 0, len(byRows))
	for n := range byRows {
		rows = append(rows, n)
	}
	sort.Ints(rows)
	for _, n := range rows {
		name := fmt.Sprintf("rows=%d", n)
		switch {
		case n%1_000_000 == 0:
			name = fmt.Sprintf("rows=%dM", n/1_000_000)
		case n%1000 == 0:
			name = fmt.Sprintf("rows=%dk", n/1000)
		}
		b.Run(name, func(b *testing.B) {
			ds, _, err := table.ReadCSVFile(byRows[n], table.CSVOptions{
				Missing: []string{"", "NA"},
				Types:   map[string]table.Type{"loan_default": table.Int, "application_date": table.Time},
			})
			if err != nil {
				b.Fatal(err)
			}
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(exampleColumns), &doc); err != nil {
				b.Fatal(err)
			}
			step := &pipeline.StepSpec{ID: "features", Kind: "derive", Node: doc.Content[0], Pos: diag.Pos{File: "bench.yaml", Line: 1, Col: 1}}
			var diags diag.List
			c := Kind().Compile(&pipeline.CompileRequest{
				Step: step, Pipeline: &pipeline.Pipeline{File: "bench.yaml", Dir: ".", Source: []byte(exampleColumns)},
				Diags: &diags, Params: map[string]any{},
				Inputs: map[string]pipeline.Type{"input": ds.Schema()},
			})
			if c == nil {
				b.Fatalf("compile: %v", diags.Items())
			}
			req := &pipeline.RunRequest{Inputs: map[string]pipeline.Object{"input": ds}, Jobs: runtime.GOMAXPROCS(0)}
			b.ResetTimer()
			for b.Loop() {
				if _, err := c.Run(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
