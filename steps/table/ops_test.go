package table

import (
	"math"
	"testing"
)

func TestTake(t *testing.T) {
	ds := sampleDataset(t)
	got := ds.Take([]int{4, 1, 1, 0})
	if got.Rows != 4 || len(got.Columns) != 5 {
		t.Fatalf("got %d rows %d columns", got.Rows, len(got.Columns))
	}
	want := map[string][]string{
		"f": {"2", "<nil>", "<nil>", "1.5"},
		"i": {"-9223372036854775808", "<nil>", "<nil>", "1"},
		"b": {"false", "<nil>", "<nil>", "true"},
		"s": {"zoë", "<nil>", "<nil>", "x"},
	}
	for name, vals := range want {
		c := got.Column(name)
		for i, v := range vals {
			if r := render(c, i); r != v {
				t.Errorf("%s[%d] = %q, want %q", name, i, r, v)
			}
		}
	}
	if &got.Column("s").Dict[0] != &ds.Column("s").Dict[0] {
		t.Error("Take copied the dictionary")
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
	// A take without nulls has a nil bitmap.
	if v := ds.Take([]int{0, 2}).Column("i").Valid; v != nil {
		t.Errorf("bitmap %v, want nil", v)
	}
	if e := ds.Take(nil); e.Rows != 0 || e.Validate() != nil {
		t.Error("empty take")
	}
}

func TestWithColumnSelect(t *testing.T) {
	ds := sampleDataset(t)
	repl := NewFloatColumn("i", []float64{1, 2, 3, 4, 5})
	got := ds.WithColumn(repl)
	if got.Columns[1] != repl || len(got.Columns) != 5 || ds.Columns[1].Type != Int {
		t.Error("replace")
	}
	added := ds.WithColumn(NewIntColumn("new", make([]int64, 5), nil))
	if len(added.Columns) != 6 || added.Columns[0] != ds.Columns[0] || len(ds.Columns) != 5 {
		t.Error("append")
	}
	if (&Dataset{}).WithColumn(repl).Rows != 5 {
		t.Error("empty dataset takes the column's length")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("no panic on a length mismatch")
			}
		}()
		ds.WithColumn(NewIntColumn("x", []int64{1}, nil))
	}()
	sel, err := ds.Select("s", "f")
	if err != nil || sel.Rows != 5 || sel.Columns[0] != ds.Columns[3] || sel.Columns[1] != ds.Columns[0] {
		t.Errorf("select: %v", err)
	}
	if _, err := ds.Select("nope"); err == nil {
		t.Error("select of a missing column")
	}
}

func TestColumnEqual(t *testing.T) {
	a := NewFloatColumn("x", []float64{1, math.NaN()})
	tests := []struct {
		name string
		b    *Column
		want bool
	}{
		{"same", NewFloatColumn("x", []float64{1, math.NaN()}), true},
		{"name", NewFloatColumn("y", []float64{1, math.NaN()}), false},
		{"value", NewFloatColumn("x", []float64{2, math.NaN()}), false},
		{"null", NewFloatColumn("x", []float64{1, 0}), false},
		{"negative zero", NewFloatColumn("x", []float64{math.Copysign(0, -1), math.NaN()}), false},
		{"type", NewIntColumn("x", []int64{1, 0}, nil), false},
		{"length", NewFloatColumn("x", []float64{1}), false},
	}
	for _, tt := range tests {
		if got := a.Equal(tt.b); got != tt.want {
			t.Errorf("%s: got %v", tt.name, got)
		}
	}
	if NewFloatColumn("z", []float64{0}).Equal(NewFloatColumn("z", []float64{math.Copysign(0, -1)})) {
		t.Error("0 and -0 are different values")
	}
}

func TestNewDataset(t *testing.T) {
	if _, err := NewDataset(NewIntColumn("a", []int64{1}, nil), NewIntColumn("b", []int64{1, 2}, nil)); err == nil {
		t.Error("mismatched lengths accepted")
	}
	if ds, err := NewDataset(); err != nil || ds.Rows != 0 {
		t.Error("empty")
	}
}
