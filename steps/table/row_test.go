package table

import (
	"bytes"
	"encoding/csv"
	"errors"
	"sync"
	"testing"
)

// rowHeader is the header of the row tests: a column of each type.
var rowHeader = []string{"f", "i", "b", "s", "t"}

var rowTypes = map[string]Type{"f": Float, "i": Int, "b": Bool, "s": String, "t": Time}

// rowCases are rows of rowHeader: values that convert, missing tokens,
// values that do not convert, and fields that need quoting.
var rowCases = [][]string{
	{"1.5", "42", "true", "car", "2024-01-31"},
	{"-0", "-0", "0", "", "2024-01-31T10:20:30Z"},
	{"NA", "NA", "NA", "NA", "NA"},
	{"", "", "", "", ""},
	{"1e400", "1", "1", "x", "2024-01-01"},
	{"NaN", "1", "1", "x", "2024-01-01"},
	{"inf", "1", "1", "x", "2024-01-01"},
	{"12,5", "1", "1", "x", "2024-01-01"},
	{"1", "1.5", "1", "x", "2024-01-01"},
	{"1", "x", "yes", "x", "2024-13-01"},
	{"1", "1", "TRUE", "ünï ✓", "2024-01-01"},
	{"1", "1", "1", "\xff", "2024-01-01"},
	{"1", "1", "1", "a,b", "2024-01-01"},
	{"1", "1", "1", `say "hi"`, "2024-01-01"},
	{"1", "1", "1", " lead", "2024-01-01"},
	{"1", "1", "1", "trail ", "2024-01-01"},
	{"1", "1", "1", "two\nlines", "2024-01-01"},
	{"1", "1", "1", "cr\r", "2024-01-01"},
	{"1", "1", "1", `\.`, "2024-01-01"},
	{" 1", "1", "1", "x", "2024-01-01"},
	{"1", "1", "1", "\u00a0nbsp", "2024-01-01"},
	{"1", "1", "1", "x"},
	{"1", "1", "1", "x", "2024-01-01", "extra"},
}

func rowParser(t testing.TB, header []string, opts CSVOptions) *RowParser {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if opts.Delimiter != 0 {
		w.Comma = rune(opts.Delimiter)
	}
	_ = w.Write(header)
	w.Flush()
	return NewRowParser(b.Bytes(), opts)
}

// checkRow compares RowParser.Parse with ParseCSV of the header and the
// row as encoding/csv writes them.
func checkRow(t *testing.T, rp *RowParser, header, fields []string) {
	t.Helper()
	var want bytes.Buffer
	w := csv.NewWriter(&want)
	if rp.opts.Delimiter != 0 {
		w.Comma = rune(rp.opts.Delimiter)
	}
	_ = w.Write(header)
	_ = w.Write(fields)
	w.Flush()
	if got := rp.CSV(fields); !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("CSV(%q) = %q, encoding/csv writes %q", fields, got, want.Bytes())
	}
	ref, refInfo, refErr := ParseCSV(want.Bytes(), rp.opts)
	ds, info, err := rp.Parse(fields)
	if (err == nil) != (refErr == nil) {
		t.Fatalf("Parse(%q): %v; ParseCSV: %v", fields, err, refErr)
	}
	if err != nil {
		var pe, rpe *ParseError
		if err.Error() != refErr.Error() || errors.As(err, &pe) != errors.As(refErr, &rpe) || (pe != nil && (*pe != *rpe)) {
			t.Fatalf("Parse(%q): error %#v, ParseCSV: %#v", fields, err, refErr)
		}
		return
	}
	if !ds.Equal(ref) || ds.Rows != ref.Rows || !equalInfos(info, refInfo) {
		t.Fatalf("Parse(%q) = %+v %+v, ParseCSV: %+v %+v", fields, ds, info, ref, refInfo)
	}
	var a, b bytes.Buffer
	if err := ref.Encode(&a); err != nil {
		t.Fatal(err)
	}
	if err := ds.Encode(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatalf("Parse(%q): encodings differ", fields)
	}
}

// TestRowParser: a row reads as ParseCSV reads it after the header, with
// default and custom missing tokens, non-finite values as missing, a
// semicolon, an inferred column (always ParseCSV), a single column.
func TestRowParser(t *testing.T) {
	for _, opts := range []CSVOptions{
		{Name: "record", Types: rowTypes, Jobs: 1},
		{Name: "record", Types: rowTypes, Missing: []string{"?", "n/a"}},
		{Name: "record", Types: rowTypes, Missing: []string{""}, NonFinite: NonFiniteMissing},
		{Name: "record", Types: rowTypes, Delimiter: ';'},
		{Name: "record", Types: map[string]Type{"f": Float, "i": Int, "b": Bool, "s": String}},
		{Name: "record", Types: map[string]Type{"f": Float, "nope": Int}},
	} {
		rp := rowParser(t, rowHeader, opts)
		for _, fields := range rowCases {
			checkRow(t, rp, rowHeader, fields)
		}
	}
	one := rowParser(t, []string{"s"}, CSVOptions{Types: map[string]Type{"s": String}})
	for _, f := range []string{"", "x", "NA", "a;b"} {
		checkRow(t, one, []string{"s"}, []string{f})
	}
	if rp := rowParser(t, rowHeader, CSVOptions{Types: rowTypes}); rp.p == nil {
		t.Error("a header of declared columns is not parsed directly")
	}
}

// TestRowParserConcurrent parses rows on several goroutines (go test
// -race).
func TestRowParserConcurrent(t *testing.T) {
	rp := rowParser(t, rowHeader, CSVOptions{Types: rowTypes})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				for _, fields := range rowCases[:4] {
					if _, _, err := rp.Parse(fields); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
}

// FuzzRowParser compares RowParser.Parse with ParseCSV of the header and
// the row, for a row of each type's column (the high bits of opt choose
// the missing tokens, non-finite values as missing and the delimiter).
func FuzzRowParser(f *testing.F) {
	for _, r := range rowCases {
		if len(r) == 5 {
			f.Add(r[0], r[1], r[2], r[3], r[4], uint8(0))
			f.Add(r[0], r[1], r[2], r[3], r[4], uint8(7))
		}
	}
	f.Fuzz(func(t *testing.T, fl, in, bo, st, tm string, opt uint8) {
		opts := CSVOptions{Name: "record", Types: rowTypes}
		if opt&1 != 0 {
			opts.Missing = []string{"", "?"}
		}
		if opt&2 != 0 {
			opts.NonFinite = NonFiniteMissing
		}
		if opt&4 != 0 {
			opts.Delimiter = ';'
		}
		checkRow(t, rowParser(t, rowHeader, opts), rowHeader, []string{fl, in, bo, st, tm})
	})
}

// BenchmarkRowParser parses one row of five typed columns.
func BenchmarkRowParser(b *testing.B) {
	rp := rowParser(b, rowHeader, CSVOptions{Types: rowTypes, Jobs: 1})
	row := []string{"1.5", "42", "true", "car", "2024-01-31"}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := rp.Parse(row); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRowParserCSV is BenchmarkRowParser through ParseCSV.
func BenchmarkRowParserCSV(b *testing.B) {
	rp := rowParser(b, rowHeader, CSVOptions{Types: rowTypes, Jobs: 1})
	row := []string{"1.5", "42", "true", "car", "2024-01-31"}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := rp.parseCSV(row); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAppendCSVField: a field is written exactly as encoding/csv writes
// it (moved from internal/predict's TestAppendField with its cases).
func TestAppendCSVField(t *testing.T) {
	for _, f := range []string{"", "1", "-2.5e3", "a b", " lead", "\tlead", "\u00a0nbsp", "trail ", "a,b", `say "hi"`, "two\nlines", "cr\r", `\.`, "NA", "ünï", "a;b"} {
		for _, delim := range []byte{',', ';'} {
			var want bytes.Buffer
			w := csv.NewWriter(&want)
			w.Comma = rune(delim)
			_ = w.Write([]string{f})
			w.Flush()
			if got := string(appendCSVField(nil, f, delim)) + "\n"; got != want.String() {
				t.Errorf("appendCSVField(%q, %q) = %q, encoding/csv writes %q", f, delim, got, want.String())
			}
		}
	}
}
