package tree

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/mlrun-cli/mlrun/internal/synth"
	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// workshopFeatures are the workshop's four features.
var workshopFeatures = []string{"debt_to_income_ratio", "credit_utilization", "payment_score", "annual_income"}

var target = model.Target{Name: "loan_default", Type: table.Int}

// synthData generates rows of synthetic applications (seed 42), derives
// the workshop's features as the example pipeline does, and splits them:
// row i goes to test when i%5 == 4 (bench/trees.py splits the same way).
func synthData(tb testing.TB, rows int) (train, test *table.Dataset) {
	tb.Helper()
	key := strconv.Itoa(rows)
	synthMu.Lock()
	defer synthMu.Unlock()
	if c, ok := synthCache[key]; ok {
		return c[0], c[1]
	}
	train, test, all := synthSplit(tb, rows)
	synthCache[key] = [2]*table.Dataset{train, test}
	synthAllCache[key] = all
	return train, test
}

// synthAll is every row of synthData's data, train and test, in file order.
func synthAll(tb testing.TB, rows int) *table.Dataset {
	tb.Helper()
	synthData(tb, rows)
	synthMu.Lock()
	defer synthMu.Unlock()
	return synthAllCache[strconv.Itoa(rows)]
}

func synthSplit(tb testing.TB, rows int) (train, test, all *table.Dataset) {
	key := strconv.Itoa(rows)
	var buf bytes.Buffer
	if p := os.Getenv("MLRUN_BENCH_CSV_" + key); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		buf.Write(b)
	} else if err := synth.Write(&buf, synth.Options{Rows: rows, Seed: 42}); err != nil {
		tb.Fatal(err)
	}
	ds, _, err := table.ParseCSV(buf.Bytes(), table.CSVOptions{Types: map[string]table.Type{"loan_default": table.Int}})
	if err != nil {
		tb.Fatal(err)
	}
	n := ds.Rows
	col := func(name string) *table.Column { return ds.Column(name) }
	dti, cu, ps := make([]float64, n), make([]float64, n), make([]float64, n)
	inc := make([]float64, n)
	for i := range n {
		income := col("annual_income").Float(i)
		dti[i] = col("total_debt").Float(i) / (income + 0.01)
		cu[i] = col("credit_card_balance").Float(i) / (col("credit_limit").Float(i) + 0.01)
		ps[i] = col("on_time_payments").Float(i) / (col("total_payments").Float(i) + 1) * 100
		inc[i] = income
	}
	all, err = table.NewDataset(
		table.NewFloatColumn("debt_to_income_ratio", dti), table.NewFloatColumn("credit_utilization", cu),
		table.NewFloatColumn("payment_score", ps), table.NewFloatColumn("annual_income", inc),
		col("loan_default"), col("home_ownership"), col("purpose"))
	if err != nil {
		tb.Fatal(err)
	}
	var tr, te []int
	for i := range n {
		if i%5 == 4 {
			te = append(te, i)
		} else {
			tr = append(tr, i)
		}
	}
	return all.Take(tr), all.Take(te), all
}

var (
	synthMu       sync.Mutex
	synthCache    = map[string][2]*table.Dataset{}
	synthAllCache = map[string]*table.Dataset{}
)
