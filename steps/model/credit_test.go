package model

import (
	"encoding/csv"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/mlrun-cli/mlrun/steps/stats"
	"github.com/mlrun-cli/mlrun/steps/table"
)

const creditPath = "../../../shared/data/credit_data.csv"

// readCredit reads credit_data.csv with encoding/csv: Status and the four
// categoricals as strings, Income/Assets/Debt as floats, the rest as ints;
// empty fields are nulls.
func readCredit(t *testing.T) *table.Dataset {
	t.Helper()
	f, err := os.Open(creditPath)
	if os.IsNotExist(err) {
		t.Skip("credit_data.csv: ../shared/data absent")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head, rows := recs[0], recs[1:]
	types := map[string]table.Type{"Status": table.String, "Home": table.String, "Marital": table.String,
		"Records": table.String, "Job": table.String, "Income": table.Float, "Assets": table.Float, "Debt": table.Float}
	ds := &table.Dataset{Rows: len(rows)}
	for j, name := range head {
		ty, ok := types[name]
		if !ok {
			ty = table.Int
		}
		vals, null := make([]string, len(rows)), make([]bool, len(rows))
		for i, r := range rows {
			vals[i], null[i] = r[j], r[j] == ""
		}
		var c *table.Column
		switch ty {
		case table.String:
			c = strCol(name, vals, null)
		case table.Float:
			v := make([]float64, len(rows))
			for i, s := range vals {
				v[i] = math.NaN()
				if !null[i] {
					if v[i], err = strconv.ParseFloat(s, 64); err != nil {
						t.Fatal(err)
					}
				}
			}
			c = floatCol(name, v)
		default:
			v := make([]int64, len(rows))
			for i, s := range vals {
				if !null[i] {
					if v[i], err = strconv.ParseInt(s, 10, 64); err != nil {
						t.Fatal(err)
					}
				}
			}
			c = intCol(name, v, null)
		}
		ds.Columns = append(ds.Columns, c)
	}
	return ds
}

// stratified splits row indexes 80/20 within each class, seeded.
func stratified(y []float64, seed uint64) (train, test []int) {
	r := rand.New(rand.NewPCG(seed, 0))
	for _, class := range []float64{0, 1} {
		var idx []int
		for i, v := range y {
			if v == class {
				idx = append(idx, i)
			}
		}
		r.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
		k := int(math.Round(0.2 * float64(len(idx))))
		test = append(test, idx[:k]...)
		train = append(train, idx[k:]...)
	}
	return train, test
}

// TestCreditData fits every column but Status (numeric plus one-hot
// categoricals, medians imputed, standardised, l2 = 1) on a stratified 80%
// and checks the test AUC against scikit-learn's 0.838 on its own split
// (shared/bench/baselines.md).
func TestCreditData(t *testing.T) {
	ds := readCredit(t)
	target := Target{Name: "Status", Type: table.String, Positive: "bad"}
	y, err := target.Labels(ds)
	if err != nil {
		t.Fatal(err)
	}
	tr, te := stratified(y, 42)
	train, test := take(ds, tr), take(ds, te)
	cfg := DefaultLogisticConfig()
	cfg.Target = target
	cfg.Features = []string{"Seniority", "Home", "Time", "Age", "Marital", "Records", "Job", "Expenses", "Income", "Assets", "Debt", "Amount", "Price"}
	m, err := FitLogistic(train, cfg, 2)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(m.Columns()); n != 9+6+5+2+4 {
		t.Errorf("%d design columns, want 26", n)
	}
	p, err := m.Predict(test, 2)
	if err != nil {
		t.Fatal(err)
	}
	yt, _ := target.Labels(test)
	auc, err := stats.AUC(p, yt, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("test AUC %.4f (sklearn 0.8384 on its split), %d iterations, status %s", auc, m.Training().Iterations, m.Training().Status)
	if auc < 0.80 {
		t.Errorf("test AUC = %.4f, want >= 0.80", auc)
	}
}
