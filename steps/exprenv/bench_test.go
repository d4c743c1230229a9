package exprenv

import (
	"math/rand/v2"
	"testing"

	"github.com/mlrun-cli/mlrun/steps/table"
)

// benchData is 1M rows of the example pipeline's derive inputs, 1% null.
func benchData(rows int) *table.Dataset {
	r := rand.New(rand.NewPCG(7, 8))
	ds := &table.Dataset{Rows: rows}
	for _, name := range []string{"total_debt", "annual_income", "credit_card_balance", "credit_limit", "on_time_payments", "total_payments"} {
		c := &table.Column{Name: name, Type: table.Float, Floats: make([]float64, rows), Valid: table.NewBitmap(rows)}
		for i := range c.Floats {
			c.Floats[i] = r.Float64() * 1e5
			if r.IntN(100) == 0 {
				c.Floats[i] = nan
				c.Valid.SetNull(i)
			}
		}
		ds.Columns = append(ds.Columns, c)
	}
	return ds
}

// BenchmarkEval is the example pipeline's derive step: three expressions
// over 1M rows with 2 jobs. It reports ns/row for all three together.
func BenchmarkEval(b *testing.B) {
	const rows = 1 << 20
	ds := benchData(rows)
	var progs []*Program
	for _, src := range []string{
		"total_debt / (annual_income + 0.01)",
		"credit_card_balance / (credit_limit + 0.01)",
		"on_time_payments / (total_payments + 1) * 100",
	} {
		p, err := Compile(src, ds.Schema(), nil)
		if err != nil {
			b.Fatal(err)
		}
		progs = append(progs, p)
	}
	b.ResetTimer()
	for b.Loop() {
		for _, p := range progs {
			if _, err := p.Eval(ds, 2); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/rows, "ns/row")
}

// BenchmarkEvalCategorical compares a string column with constants over 1M
// rows (evaluated once per dictionary value).
func BenchmarkEvalCategorical(b *testing.B) {
	const rows = 1 << 20
	r := rand.New(rand.NewPCG(9, 10))
	c := &table.Column{Name: "home", Type: table.String, Codes: make([]uint32, rows), Dict: []string{"own", "rent", "mortgage", "other"}}
	for i := range c.Codes {
		c.Codes[i] = uint32(r.IntN(4))
	}
	ds := &table.Dataset{Rows: rows, Columns: []*table.Column{c}}
	p, err := Compile(`home in ["own", "mortgage"] || home matches "^ot"`, ds.Schema(), nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := p.Eval(ds, 2); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/rows, "ns/row")
}
