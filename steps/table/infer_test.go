package table

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// parseErr parses in with every chunking and job count of the error tests
// and returns the one error they all give, failing if they differ (or if a
// schema-only parse gives another).
func parseErr(t *testing.T, in string, opts CSVOptions) error {
	t.Helper()
	opts.Name = "in.csv"
	var first error
	for _, size := range []int{0, 1, 2, 5} {
		for _, jobs := range []int{1, 3} {
			for _, schemaOnly := range []bool{false, true} {
				o := opts
				o.chunkSize, o.Jobs, o.SchemaOnly = size, jobs, schemaOnly
				_, _, err := ParseCSV([]byte(in), o)
				if err == nil {
					t.Fatalf("chunk size %d jobs %d schema only %v: no error", size, jobs, schemaOnly)
				}
				if first == nil {
					first = err
				} else if err.Error() != first.Error() {
					t.Fatalf("chunk size %d jobs %d schema only %v:\n got %v\nwant %v", size, jobs, schemaOnly, err, first)
				}
			}
		}
	}
	return first
}

// TestNonFiniteError: inf, -inf, Inf, infinity, nan and NaN in a numeric
// column are invalid by default, inferred or declared, named by row and
// column like any bad value (issue 14: they passed range rules).
func TestNonFiniteError(t *testing.T) {
	const hint = " (non_finite: missing reads such values as missing)"
	tests := []struct {
		name string
		in   string
		opts CSVOptions
		want string
	}{
		{"inf inferred", "a,b\n1.5,x\ninf,y\n", CSVOptions{}, `in.csv:3: row 2: column "a": "inf" is not a finite number` + hint},
		{"-inf after ints", "a\n1\n2\n-inf\n4\n", CSVOptions{}, `in.csv:4: row 3: column "a": "-inf" is not a finite number` + hint},
		{"Inf first", "a\nInf\n2\n", CSVOptions{}, `in.csv:2: row 1: column "a": "Inf" is not a finite number` + hint},
		{"infinity", "a\n1\n+Infinity\n", CSVOptions{}, `in.csv:3: row 2: column "a": "+Infinity" is not a finite number` + hint},
		{"nan", "a\n1.5\nnan\n", CSVOptions{}, `in.csv:3: row 2: column "a": "nan" is not a finite number` + hint},
		{"NaN declared", "a\n1\nNaN\n", CSVOptions{Types: map[string]Type{"a": Float}}, `in.csv:3: row 2: column "a": "NaN" is not a finite number` + hint},
		{"inf declared", "a,b\n1,2\n3,-Inf\n", CSVOptions{Types: map[string]Type{"a": Float, "b": Float}}, `in.csv:3: row 2: column "b": "-Inf" is not a finite number` + hint},
		{"after a quoted newline", "a,b\n\"x\ny\",1\nz,nan\n", CSVOptions{}, `in.csv:4: row 2: column "b": "nan" is not a finite number` + hint},
		{"first of two columns", "a,b\n1,2\n3,inf\ninf,4\n", CSVOptions{}, `in.csv:3: row 2: column "b": "inf" is not a finite number` + hint + "\n" +
			`in.csv:4: row 3: column "a": "inf" is not a finite number` + hint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := parseErr(t, tt.in, tt.opts)
			if err.Error() != tt.want {
				t.Errorf("\n got %s\nwant %s", err, tt.want)
			}
			var pe *ParseError
			if !errors.Is(err, ErrNonFinite) || !errors.As(err, &pe) || pe.ExitCode() != 2 {
				t.Errorf("error %v is not a ParseError wrapping ErrNonFinite", err)
			}
		})
	}
}

// TestNonFiniteText: a text column may hold "nan" or "Inf" (a name, say).
func TestNonFiniteText(t *testing.T) {
	ds, _, err := ParseCSV([]byte("name\nNan\nAlice\nInf\nBob\n"), CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkDataset(t, ds, []col{{"name", String, []string{"Nan", "Alice", "Inf", "Bob"}}})
}

// TestNonFiniteMissing: with NonFinite: NonFiniteMissing they are nulls.
func TestNonFiniteMissing(t *testing.T) {
	n := "<nil>"
	in := "a,b,c\n1.5,1,x\nNaN,inf,y\n-Infinity,3,z\n2,4,nan\n"
	for _, types := range []map[string]Type{nil, {"a": Float, "b": Float, "c": String}} {
		for _, size := range []int{0, 1, 7} {
			ds, info, err := ParseCSV([]byte(in), CSVOptions{NonFinite: NonFiniteMissing, Types: types, chunkSize: size, Jobs: 3})
			if err != nil {
				t.Fatalf("types %v chunk size %d: %v", types, size, err)
			}
			checkDataset(t, ds, []col{{"a", Float, []string{"1.5", n, n, "2"}}, {"b", Float, []string{"1", n, "3", "4"}}, {"c", String, []string{"x", "y", "z", "nan"}}})
			if info[0].Nulls != 2 || info[1].Nulls != 1 {
				t.Errorf("null counts %+v", info)
			}
		}
	}
}

// TestMixedColumn: an inferred column whose values are numbers (or bools,
// or times) except for a few is refused, naming the first offending rows
// and their count; overflow is out of range, not text; a decimal comma is
// named as such. A column declared string reads them as text.
func TestMixedColumn(t *testing.T) {
	fix := func(them, it string) string {
		return fmt.Sprintf("; fix %s, list %s under missing:, or declare the column under columns: (a: string) to read it as text", them, it)
	}
	nums := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "%d\n", i)
		}
		return b.String()
	}
	tests := []struct {
		name string
		in   string
		opts CSVOptions
		want string
	}{
		{"one word", "a,b\n1,x\n2,y\nsixty thousand,z\n4,w\n",
			CSVOptions{}, `in.csv:4: row 3: column "a": 1 of 4 values of this numeric column is not a valid number: row 3 "sixty thousand"` + fix("it", "it")},
		{"int then text", "a\n1\n2\nthree\n",
			CSVOptions{}, `in.csv:4: row 3: column "a": 1 of 3 values of this numeric column is not a valid number: row 3 "three"` + fix("it", "it")},
		{"first value", "a\nn/a\n2.5\n3\n",
			CSVOptions{}, `in.csv:2: row 1: column "a": 1 of 3 values of this numeric column is not a valid number: row 1 "n/a"` + fix("it", "it")},
		{"overflow", "a\n1\n1e400\n3\n",
			CSVOptions{}, `in.csv:3: row 2: column "a": 1 of 3 values of this numeric column is not a valid number: row 2 "1e400" (out of range for a float)` + fix("it", "it")},
		{"only overflow", "a\n-1e999\n",
			CSVOptions{}, `in.csv:2: row 1: column "a": 1 of 1 values of this numeric column is not a valid number: row 1 "-1e999" (out of range for a float)` + fix("it", "it")},
		{"quoted decimal comma", "a,b\n\"1,5\",x\n2,y\n3,z\n",
			CSVOptions{}, `in.csv:2: row 1: column "a": 1 of 3 values of this numeric column is not a valid number: row 1 "1,5" (decimal comma?)` + fix("it", "it")},
		{"all decimal commas", "a;b\n1200,50;x\n980,00;y\n",
			CSVOptions{Delimiter: ';'}, `in.csv:2: row 1: column "a": 2 of 2 values of this numeric column are not valid numbers: row 1 "1200,50" (decimal comma?), row 2 "980,00" (decimal comma?)` + fix("them", "them")},
		{"ten percent", "a\n" + nums(45) + "x\n" + nums(10) + "y\nNA\nz\n" + nums(3) + "w\nv\n",
			CSVOptions{}, `in.csv:47: row 46: column "a": 5 of 63 values of this numeric column are not valid numbers: row 46 "x", row 57 "y", row 59 "z", row 63 "w", row 64 "v"` + fix("them", "them")},
		{"more than five", "a\n" + nums(70) + "a\nb\nc\nd\ne\nf\ng\n",
			CSVOptions{}, `in.csv:72: row 71: column "a": 7 of 77 values of this numeric column are not valid numbers: row 71 "a", row 72 "b", row 73 "c", row 74 "d", row 75 "e" and 2 more` + fix("them", "them")},
		{"bool", "a\ntrue\nfalse\nyes\ntrue\n",
			CSVOptions{}, `in.csv:4: row 3: column "a": 1 of 4 values of this bool column is not a bool (true or false): row 3 "yes"` + fix("it", "it")},
		{"time", "a\n2024-01-02\n2024-13-01\n2024-01-04\n",
			CSVOptions{}, `in.csv:3: row 2: column "a": 1 of 3 values of this time column is not a time (RFC 3339 or 2006-01-02): row 2 "2024-13-01"` + fix("it", "it")},
		{"two columns", "b,a\n1,x\nno,2\n3,3\n4,4\n",
			CSVOptions{}, `in.csv:2: row 1: column "a": 1 of 4 values of this numeric column is not a valid number: row 1 "x"` + fix("it", "it") + "\n" +
				`in.csv:3: row 2: column "b": 1 of 4 values of this numeric column is not a valid number: row 2 "no"; fix it, list it under missing:, or declare the column under columns: (b: string) to read it as text`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := parseErr(t, tt.in, tt.opts)
			if err.Error() != tt.want {
				t.Errorf("\n got %s\nwant %s", err, tt.want)
			}
			var pe *ParseError
			if !errors.Is(err, ErrMixed) || !errors.As(err, &pe) || pe.ExitCode() != 2 {
				t.Errorf("error %v is not a ParseError wrapping ErrMixed", err)
			}
		})
	}
}

// TestMixedColumnKept: text with a few numbers stays text, and so does a
// numeric column declared string; more than a tenth of other values (and
// more than three) is text too.
func TestMixedColumnKept(t *testing.T) {
	tests := []struct {
		name string
		in   string
		opts CSVOptions
	}{
		{"text with numbers", "a\nx\ny\n1\nz\n2\n", CSVOptions{}},
		{"half and half", "a\n1\nx\n2\ny\n", CSVOptions{}},
		{"declared", "a\n1\n2\nsixty thousand\n4\n", CSVOptions{Types: map[string]Type{"a": String}}},
		{"many words", "a\n" + strings.Repeat("1\n", 30) + "a\nb\nc\nd\n", CSVOptions{}},
		{"bool then int", "a\ntrue\n1\n", CSVOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, schemaOnly := range []bool{false, true} {
				opts := tt.opts
				opts.SchemaOnly = schemaOnly
				ds, _, err := ParseCSV([]byte(tt.in), opts)
				if err != nil {
					t.Fatalf("schema only %v: %v", schemaOnly, err)
				}
				if got := ds.Columns[0].Type; got != String {
					t.Errorf("schema only %v: column is %s, want string", schemaOnly, got)
				}
			}
		})
	}
}

// TestOverflowDeclared: a declared float beyond float64 is out of range.
func TestOverflowDeclared(t *testing.T) {
	_, _, err := ParseCSV([]byte("a\n1\n1e400\n"), CSVOptions{Name: "in.csv", Types: map[string]Type{"a": Float}})
	if want := `in.csv:3: row 2: column "a": "1e400" is out of range for a float`; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

// TestLevels: with Levels set, each column's distinct values (as written,
// first-seen order) are in its ColumnInfo when there are at most Levels.
func TestLevels(t *testing.T) {
	in := "s,i,f,b\nbad,1,1.5,true\ngood,0,2.5,false\nbad,1,3.5,true\nNA,01,4.5,\n"
	for _, schemaOnly := range []bool{false, true} {
		for _, size := range []int{0, 1, 9} {
			_, info, err := ParseCSV([]byte(in), CSVOptions{Levels: 3, SchemaOnly: schemaOnly, chunkSize: size, Jobs: 3, Types: map[string]Type{"b": Bool}})
			if err != nil {
				t.Fatal(err)
			}
			want := [][]string{{"bad", "good"}, {"1", "0", "01"}, nil, {"true", "false"}}
			for j, w := range want {
				if !slices.Equal(info[j].Levels, w) || (w == nil) != (info[j].Levels == nil) {
					t.Errorf("schema only %v chunk size %d: column %q levels %q, want %q", schemaOnly, size, info[j].Name, info[j].Levels, w)
				}
			}
		}
	}
}

// TestLevelsChunking: a chunk holding only dates does not drop the levels
// of a column that is text in all (the levels do not depend on chunks);
// a time column has none.
func TestLevelsChunking(t *testing.T) {
	for _, so := range []bool{false, true} {
		for _, size := range []int{0, 1, 3} {
			_, info, err := ParseCSV([]byte("a,d\n0,2024-01-01\n2000-01-01,2024-01-02\n"), CSVOptions{Levels: 4, SchemaOnly: so, chunkSize: size, Jobs: 2})
			if err != nil {
				t.Fatal(err)
			}
			if got := info[0].Levels; !slices.Equal(got, []string{"0", "2000-01-01"}) || info[1].Levels != nil {
				t.Errorf("schema only %v chunk size %d: levels %q and %q, want [0 2000-01-01] and none", so, size, got, info[1].Levels)
			}
		}
	}
}

// TestLevelSet: values sharing their first eight bytes, values of every
// length around a word, and the limit (at most 32 whatever Levels says).
func TestLevelSet(t *testing.T) {
	var b strings.Builder
	b.WriteString("a,b\n")
	var want []string
	for i := range 40 {
		v := fmt.Sprintf("category_%c", 'a'+i%3)
		if i%3 == 0 {
			v = strings.Repeat("x", i%12)
		}
		if !slices.Contains(want, v) && v != "" {
			want = append(want, v)
		}
		fmt.Fprintf(&b, "%s,%d\n", v, i)
	}
	for _, size := range []int{0, 5, 100} {
		_, info, err := ParseCSV([]byte(b.String()), CSVOptions{Levels: 40, chunkSize: size, Jobs: 2, Types: map[string]Type{"a": String}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(info[0].Levels, want) {
			t.Errorf("chunk size %d: levels %q, want %q", size, info[0].Levels, want)
		}
		if info[1].Levels != nil {
			t.Errorf("chunk size %d: %d levels of 40 values, want none (more than 32)", size, len(info[1].Levels))
		}
	}
}
