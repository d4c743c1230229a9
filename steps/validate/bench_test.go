package validate

import (
	"context"
	"fmt"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/steps/table"
)

const benchRules = `rules:
  age_plausible:
    range: {column: age, min: 18, max: 100}
  income_known:
    not_null: income
  dti:
    expr: debt / (income + 0.01) < 5
  home:
    allowed: {column: home, values: [own, rent, mortgage]}
`

// BenchmarkValidate runs four row rules over 1 row (a record of mlrun
// serve, on the caller's goroutine) and 200k rows (a rule per goroutine).
func BenchmarkValidate(b *testing.B) {
	for _, rows := range []int{1, 200_000} {
		age, income, debt := make([]int64, rows), make([]float64, rows), make([]float64, rows)
		home := make([]string, rows)
		for i := range rows {
			age[i], income[i], debt[i] = int64(18+i%80), float64(20000+i%50000), float64(i%30000)
			home[i] = []string{"own", "rent", "mortgage", "other"}[i%4]
		}
		ds, err := table.NewDataset(table.NewIntColumn("age", age, nil), table.NewFloatColumn("income", income),
			table.NewFloatColumn("debt", debt), table.NewStringColumn("home", home, nil))
		if err != nil {
			b.Fatal(err)
		}
		c, diags := compileStep(b, benchRules, ds.Schema(), nil)
		if len(diags) > 0 {
			b.Fatal(diags)
		}
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Run(context.Background(), &pipeline.RunRequest{Inputs: map[string]pipeline.Object{"input": ds}, Jobs: 2}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
