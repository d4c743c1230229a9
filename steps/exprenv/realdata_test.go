package exprenv

import (
	"os"
	"testing"

	"github.com/mlrun-cli/mlrun/steps/table"
)

// TestRealData evaluates typical rules and features over the credit data
// set: the column kernels must agree with the VM, and a few counts are
// checked against independent loops.
func TestRealData(t *testing.T) {
	const path = "../../../shared/data/credit_data.csv"
	if _, err := os.Stat(path); err != nil {
		t.Skip("credit_data.csv: ../shared/data absent")
	}
	ds, _, err := table.ReadCSVFile(path, table.CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{
		"Debt / (Income + 0.01)",
		"Amount / Price * 100",
		`Home in ["rent", "owner"] && Age >= 25`,
		`Status == "bad" ? 1 : 0`,
		"coalesce(Income, 0) - Expenses",
		`is_null(Income) || Income > 300`,
		`upper(Marital) == "MARRIED"`,
		"log(Assets + 1) > 8",
	} {
		p, err := Compile(src, ds.Schema(), nil)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if err := checkAgree(p, ds); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
	}

	// An independent count of rows with Income > 300 (nulls excluded).
	p, err := Compile("Income > 300", ds.Schema(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Eval(ds, 2)
	if err != nil {
		t.Fatal(err)
	}
	income := ds.Column("Income")
	want, got, nulls := 0, 0, 0
	for i := 0; i < ds.Rows; i++ {
		if !income.IsNull(i) && income.Float(i) > 300 {
			want++
		}
		if c.IsNull(i) {
			nulls++
		} else if c.Bools[i] {
			got++
		}
	}
	if got != want || nulls != income.NullCount() {
		t.Errorf("Income > 300: %d true, %d null; want %d true, %d null", got, nulls, want, income.NullCount())
	}
}
