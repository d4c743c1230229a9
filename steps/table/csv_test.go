package table

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// col describes an expected column: type, values as strings ("<nil>" for a
// null) rendered by render.
type col struct {
	name string
	typ  Type
	vals []string
}

// render shows row i of c as a string, "<nil>" for a null.
func render(c *Column, i int) string {
	if c.IsNull(i) {
		return "<nil>"
	}
	switch c.Type {
	case Float:
		return formatFloat(c.Floats[i])
	case Int:
		return formatInt(c.Ints[i])
	case Time:
		return time.Unix(0, c.Ints[i]).UTC().Format(time.RFC3339Nano)
	case Bool:
		if c.Bools[i] {
			return "true"
		}
		return "false"
	case String:
		return c.Dict[c.Codes[i]]
	}
	return "?"
}

func formatFloat(f float64) string {
	if f == 0 && math.Signbit(f) {
		return "-0"
	}
	return string(appendFloat(nil, f))
}

func checkDataset(t *testing.T, ds *Dataset, want []col) {
	t.Helper()
	if len(ds.Columns) != len(want) {
		t.Fatalf("got %d columns %v, want %d", len(ds.Columns), ds.Schema().Names(), len(want))
	}
	if err := ds.Validate(); err != nil {
		t.Fatal(err)
	}
	for j, w := range want {
		c := ds.Columns[j]
		if c.Name != w.name || c.Type != w.typ {
			t.Errorf("column %d: got %q %s, want %q %s", j, c.Name, c.Type, w.name, w.typ)
			continue
		}
		if ds.Rows != len(w.vals) {
			t.Fatalf("got %d rows, want %d", ds.Rows, len(w.vals))
		}
		for i, v := range w.vals {
			if got := render(c, i); got != v {
				t.Errorf("column %q row %d: got %q, want %q", c.Name, i+1, got, v)
			}
		}
	}
}

func TestParseCSV(t *testing.T) {
	n := "<nil>"
	tests := []struct {
		name string
		in   string
		opts CSVOptions
		want []col
	}{
		{"inference", "a,b,c,d,e,f\n1,1.5,true,2024-01-02,x,\n-2,2,FALSE,2024-02-29T10:00:00+02:00,y,\n", CSVOptions{},
			[]col{{"a", Int, []string{"1", "-2"}}, {"b", Float, []string{"1.5", "2"}}, {"c", Bool, []string{"true", "false"}},
				{"d", Time, []string{"2024-01-02T00:00:00Z", "2024-02-29T08:00:00Z"}}, {"e", String, []string{"x", "y"}}, {"f", Float, []string{n, n}}}},
		{"bom crlf", "\xEF\xBB\xBFid,name\r\n1,a\r\n2,b\r\n", CSVOptions{},
			[]col{{"id", Int, []string{"1", "2"}}, {"name", String, []string{"a", "b"}}}},
		{"no final newline", "a,b\n1,x\n2,y", CSVOptions{},
			[]col{{"a", Int, []string{"1", "2"}}, {"b", String, []string{"x", "y"}}}},
		{"no final newline crlf", "a,b\r\n1,x\r\n2,y\r", CSVOptions{},
			[]col{{"a", Int, []string{"1", "2"}}, {"b", String, []string{"x", "y"}}}},
		{"quoted", "a,b\n\"x, y\",\"say \"\"hi\"\"\"\n\"line\nbreak\",\"\"\r\n\"crlf\r\nin\",\"z\"\n", CSVOptions{},
			[]col{{"a", String, []string{"x, y", "line\nbreak", "crlf\r\nin"}}, {"b", String, []string{"say \"hi\"", n, "z"}}}},
		{"quoted header", "\"a,1\",\"b\"\"\"\n1,2\n", CSVOptions{},
			[]col{{"a,1", Int, []string{"1"}}, {"b\"", Int, []string{"2"}}}},
		{"header only", "a,b\n", CSVOptions{Types: map[string]Type{"b": String}},
			[]col{{"a", Float, []string{}}, {"b", String, []string{}}}},
		{"header only no newline", "a", CSVOptions{}, []col{{"a", Float, []string{}}}},
		{"blank lines skipped", "a,b\n\n1,2\r\n\r\n3,4\n\n", CSVOptions{},
			[]col{{"a", Int, []string{"1", "3"}}, {"b", Int, []string{"2", "4"}}}},
		{"missing defaults", "a,b,c\nNA,,x\n1,NA,\n", CSVOptions{},
			[]col{{"a", Int, []string{n, "1"}}, {"b", Float, []string{n, n}}, {"c", String, []string{"x", n}}}},
		{"missing custom", "a,b\n-,NA\n1,x\n", CSVOptions{Missing: []string{"-"}},
			[]col{{"a", Int, []string{n, "1"}}, {"b", String, []string{"NA", "x"}}}},
		{"missing none", "a\n\"\"\nx\n", CSVOptions{Missing: []string{}},
			[]col{{"a", String, []string{"", "x"}}}},
		{"int widens to float", "a\n1\n2\n2.5\nNA\n-7\n", CSVOptions{},
			[]col{{"a", Float, []string{"1", "2", "2.5", n, "-7"}}}},
		{"negative zero widens exactly", "a\n-0\n1.5\n", CSVOptions{},
			[]col{{"a", Float, []string{"-0", "1.5"}}}},
		{"negative zero then repeats", "a\n-0\n1\n1.5\n1\n-0\n", CSVOptions{},
			[]col{{"a", Float, []string{"-0", "1", "1.5", "1", "-0"}}}},
		{"int then more text is string", "a\n1\nthree\nfour\n", CSVOptions{},
			[]col{{"a", String, []string{"1", "three", "four"}}}},
		{"bool then int is string", "a\ntrue\n1\n", CSVOptions{},
			[]col{{"a", String, []string{"true", "1"}}}},
		{"int overflow is float", "a\n9223372036854775807\n9223372036854775808\n", CSVOptions{},
			[]col{{"a", Float, []string{"9223372036854776000", "9223372036854776000"}}}},
		{"nan is null when missing", "a\n1.5\nNaN\n-inf\n", CSVOptions{NonFinite: NonFiniteMissing},
			[]col{{"a", Float, []string{"1.5", n, n}}}},
		{"declared", "a,b,c,d,e\n1,2,1,2024-01-02,7\n3,4.5,false,2024-01-03,x\n",
			CSVOptions{Types: map[string]Type{"a": Float, "b": Float, "c": Bool, "d": Time, "e": String}},
			[]col{{"a", Float, []string{"1", "3"}}, {"b", Float, []string{"2", "4.5"}}, {"c", Bool, []string{"true", "false"}},
				{"d", Time, []string{"2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"}}, {"e", String, []string{"7", "x"}}}},
		{"semicolon", "a;b\n\"1;2\";3,5\n", CSVOptions{Delimiter: ';', Types: map[string]Type{"b": String}},
			[]col{{"a", String, []string{"1;2"}}, {"b", String, []string{"3,5"}}}},
		{"time layouts", "d\n02/01/2024\n", CSVOptions{TimeLayouts: []string{"02/01/2006"}},
			[]col{{"d", Time, []string{"2024-01-02T00:00:00Z"}}}},
		{"trailing empty field", "a,b\n1,", CSVOptions{},
			[]col{{"a", Int, []string{"1"}}, {"b", Float, []string{n}}}},
		{"utf8 strings", "name\nZoë\n日本\nZoë\n", CSVOptions{},
			[]col{{"name", String, []string{"Zoë", "日本", "Zoë"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{0, 1, 3, 7} {
				// Collecting levels changes nothing else.
				for _, levels := range []int{0, 2, 16} {
					opts := tt.opts
					opts.chunkSize = size
					opts.Jobs = 3
					opts.Levels = levels
					ds, _, err := ParseCSV([]byte(tt.in), opts)
					if err != nil {
						t.Fatalf("chunk size %d levels %d: %v", size, levels, err)
					}
					checkDataset(t, ds, tt.want)
					opts.SchemaOnly = true
					if so, _, err := ParseCSV([]byte(tt.in), opts); err != nil || !slices.Equal(so.Schema().Fields, ds.Schema().Fields) {
						t.Fatalf("chunk size %d levels %d: schema only %v, %v", size, levels, so.Schema().Fields, err)
					}
				}
			}
		})
	}
}

func TestParseCSVErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		opts CSVOptions
		want string
		is   error
	}{
		{"empty", "", CSVOptions{}, "in.csv: empty file: no header line", ErrEmpty},
		{"bom only", "\xEF\xBB\xBF", CSVOptions{}, "in.csv: empty file: no header line", ErrEmpty},
		{"duplicate header", "a,b,a\n1,2,3\n", CSVOptions{}, `in.csv:1: duplicate column name "a" (fields 1 and 3)`, ErrHeader},
		{"empty header", "a,,c\n", CSVOptions{}, `in.csv:1: field 2: empty column name`, ErrHeader},
		{"blank header", "\n1\n", CSVOptions{}, `in.csv:1: field 1: empty column name`, ErrHeader},
		{"undeclared", "a\n1\n", CSVOptions{Types: map[string]Type{"b": Int}}, `in.csv:1: declared column "b" is not in the header`, ErrHeader},
		{"ragged short", "a,b\n1,2\n3\n", CSVOptions{}, `in.csv:3: row 2: row has 1 fields, want 2`, ErrSyntax},
		{"ragged long", "a,b\n1,2\n3,4\n5,6,7\n", CSVOptions{}, `in.csv:4: row 3: row has 3 fields, want 2`, ErrSyntax},
		{"unterminated", "a,b\n1,\"abc\n2,3\n", CSVOptions{}, `in.csv:2: row 1: column "b": unterminated quoted field`, ErrSyntax},
		{"bare quote", "a,b\n1,ab\"c\n", CSVOptions{}, `in.csv:2: row 1: column "b": bare quote in unquoted field`, ErrSyntax},
		{"text after quote", "a,b\n1,\"ab\"c\n", CSVOptions{}, `in.csv:2: row 1: column "b": unexpected 'c' after closing quote`, ErrSyntax},
		{"decimal comma", "id;annual_income\n1;12.5\n2;12,5\n", CSVOptions{Delimiter: ';', Types: map[string]Type{"annual_income": Float}},
			`in.csv:3: row 2: column "annual_income": "12,5" is not a float (decimal comma?)`, ErrType},
		{"text in float", "a\n1\nabc\n", CSVOptions{Types: map[string]Type{"a": Float}}, `in.csv:3: row 2: column "a": "abc" is not a float`, ErrType},
		{"float in int", "a\n1\n1.5\n", CSVOptions{Types: map[string]Type{"a": Int}}, `in.csv:3: row 2: column "a": "1.5" is not an int (declare the column float?)`, ErrType},
		{"bad bool", "a\nyes\n", CSVOptions{Types: map[string]Type{"a": Bool}}, `in.csv:2: row 1: column "a": "yes" is not a bool (want true, false, 1 or 0)`, ErrType},
		{"bad time", "a\n2024-13-01\n", CSVOptions{Types: map[string]Type{"a": Time}}, `in.csv:2: row 1: column "a": "2024-13-01" is not a time (want RFC 3339 or 2006-01-02)`, ErrType},
		{"line after quoted newline", "a,b\n\"x\ny\",1\n\"z\",w\n", CSVOptions{Types: map[string]Type{"b": Int}}, `in.csv:4: row 2: column "b": "w" is not an int`, ErrType},
		{"invalid utf8 string", "a,b\n1,ok\n2,b\xffd\n", CSVOptions{}, `in.csv:3: row 2: column "b": invalid UTF-8 at byte 2 of value "b\xffd"`, ErrUTF8},
		{"invalid utf8 declared", "a\n\xfe\n", CSVOptions{Types: map[string]Type{"a": Int}}, `in.csv:2: row 1: column "a": invalid UTF-8 at byte 1 of value "\xfe"`, ErrUTF8},
		{"invalid utf8 after speculation", "a\n1\n2\n\xff\n", CSVOptions{}, `in.csv:4: row 3: column "a": invalid UTF-8 at byte 1 of value "\xff"`, ErrUTF8},
		{"invalid utf8 header", "a,\xffb\n", CSVOptions{}, `in.csv:1: field 2: column name: invalid UTF-8 at byte 1 of value "\xffb"`, ErrUTF8},
		{"first error wins", "a,b\n1,2\n3,x\"\n4\n", CSVOptions{}, `in.csv:3: row 2: column "b": bare quote in unquoted field`, ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{0, 1, 2, 5} {
				for _, jobs := range []int{1, 3} {
					opts := tt.opts
					opts.Name = "in.csv"
					opts.chunkSize = size
					opts.Jobs = jobs
					_, _, err := ParseCSV([]byte(tt.in), opts)
					if err == nil {
						t.Fatalf("chunk size %d jobs %d: no error", size, jobs)
					}
					if err.Error() != tt.want {
						t.Errorf("chunk size %d jobs %d:\n got %s\nwant %s", size, jobs, err, tt.want)
					}
					if !errors.Is(err, tt.is) {
						t.Errorf("error %v is not %v", err, tt.is)
					}
				}
			}
		})
	}
}

func TestParseErrorFields(t *testing.T) {
	_, _, err := ParseCSV([]byte("x,annual_income\na,1\n\"b\nb\",2\nc,\"12,5\"\n"), CSVOptions{Name: "applications.csv", Types: map[string]Type{"annual_income": Float}})
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v, want a *ParseError", err)
	}
	if pe.Line != 5 || pe.Row != 3 || pe.Column != "annual_income" || pe.Field != 2 || !strings.HasSuffix(pe.Msg, "(decimal comma?)") || pe.ExitCode() != 2 {
		t.Errorf("got %+v", pe)
	}
}

// TestDeterministicAcrossJobs parses generated data with many chunkings
// and job counts; every result must encode to the same bytes.
func TestDeterministicAcrossJobs(t *testing.T) {
	data := genCSV(3000, 7)
	// Add rows with quoted newlines and a late type change.
	data = append(data, "\"APP-x\n\"\"y\"\"\",2020-01-01,40,NA,1000,\"new\nhome\",3,700,1.5,2,3000,4,5,\"a\nb\",12,1\n"...)
	ref, _, err := ParseCSV(data, CSVOptions{Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	refFP := mustFingerprint(t, ref)
	for _, size := range []int{1, 97, 1000, 65536} {
		for _, jobs := range []int{1, 2, 8} {
			ds, _, err := ParseCSV(data, CSVOptions{Jobs: jobs, chunkSize: size})
			if err != nil {
				t.Fatal(err)
			}
			if !ds.Equal(ref) {
				t.Fatalf("chunk size %d jobs %d: dataset differs", size, jobs)
			}
			if fp := mustFingerprint(t, ds); fp != refFP {
				t.Fatalf("chunk size %d jobs %d: fingerprint %s, want %s", size, jobs, fp, refFP)
			}
			for j, c := range ds.Columns {
				if strings.Join(c.Dict, "\x00") != strings.Join(ref.Columns[j].Dict, "\x00") {
					t.Fatalf("chunk size %d jobs %d: column %q dictionary order differs", size, jobs, c.Name)
				}
			}
		}
	}
	if got := ref.Column("home_ownership").Dict; len(got) != 5 || got[4] != "new\nhome" {
		t.Errorf("home_ownership dictionary %q", got)
	}
}

// TestLateTypeChange makes only a late chunk see the value that decides
// the type, so earlier chunks' speculation must be redone.
func TestLateTypeChange(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("a,b,c,d\n")
	for i := range 500 {
		b.WriteString(formatInt(int64(i)) + ",true,2024-01-01," + formatInt(int64(i%3)) + "\n")
	}
	// More than a tenth of other values: text (a few would be an error).
	for i := range 60 {
		b.WriteString("x" + formatInt(int64(i)) + ",maybe,soon,1.25\n")
	}
	for _, size := range []int{0, 64, 1000} {
		ds, _, err := ParseCSV(b.Bytes(), CSVOptions{Jobs: 2, chunkSize: size})
		if err != nil {
			t.Fatal(err)
		}
		want := []Type{String, String, String, Float}
		for j, c := range ds.Columns {
			if c.Type != want[j] {
				t.Errorf("chunk size %d: column %q is %s, want %s", size, c.Name, c.Type, want[j])
			}
		}
		if got := render(ds.Column("a"), 499); got != "499" {
			t.Errorf("a[499] = %q", got)
		}
		if got := render(ds.Column("c"), 0); got != "2024-01-01" {
			t.Errorf("c[0] = %q", got)
		}
		if got := render(ds.Column("d"), 500); got != "1.25" {
			t.Errorf("d[500] = %q", got)
		}
	}
}

func TestReadCSVFileInfo(t *testing.T) {
	data := []byte("a,b\n1,x\nNA,y\n")
	path := t.TempDir() + "/t.csv"
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ds, info, err := ReadCSVFile(path, CSVOptions{Types: map[string]Type{"b": String}})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if info.SHA256 != hex.EncodeToString(sum[:]) || info.Size != int64(len(data)) || info.Rows != 2 || ds.Rows != 2 {
		t.Errorf("info %+v", info)
	}
	want := []ColumnInfo{{Name: "a", Type: Int, Nulls: 1}, {Name: "b", Type: String, Declared: true}}
	for i, w := range want {
		if !equalInfo(info.Columns[i], w) {
			t.Errorf("column %d: got %+v, want %+v", i, info.Columns[i], w)
		}
	}
	if _, _, err := ReadCSVFile(path+".missing", CSVOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	// The reader path hashes the same bytes.
	_, info2, err := ReadCSV(bytes.NewReader(data), CSVOptions{})
	if err != nil || info2.SHA256 != info.SHA256 {
		t.Errorf("ReadCSV: %v %+v", err, info2)
	}
	// An error still reports the hash.
	_, info3, err := ReadCSV(strings.NewReader("a\n\"x"), CSVOptions{})
	if err == nil || info3.Size != 4 {
		t.Errorf("got %v %+v", err, info3)
	}
}

func TestCreditData(t *testing.T) {
	const path = "../../../shared/data/credit_data.csv"
	if _, err := os.Stat(path); err != nil {
		t.Skip("credit_data.csv: ../shared/data absent")
	}
	ds, info, err := ReadCSVFile(path, CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Rows != 4454 || len(ds.Columns) != 14 {
		t.Fatalf("got %d rows, %d columns", ds.Rows, len(ds.Columns))
	}
	if n := ds.Column("Income").NullCount(); n != 381 {
		t.Errorf("Income has %d nulls, want 381", n)
	}
	st := ds.Column("Status")
	if st.Type != String || len(st.Dict) != 2 {
		t.Errorf("Status: %s with dictionary %q", st.Type, st.Dict)
	}
	if info.Columns[9].Name != "Income" || info.Columns[9].Nulls != 381 {
		t.Errorf("info %+v", info.Columns[9])
	}
	for _, jobs := range []int{1, 2, 8} {
		ds2, _, err := ReadCSVFile(path, CSVOptions{Jobs: jobs, chunkSize: 4096})
		if err != nil {
			t.Fatal(err)
		}
		if mustFingerprint(t, ds2) != mustFingerprint(t, ds) {
			t.Errorf("jobs %d: fingerprint differs", jobs)
		}
	}
}

func mustFingerprint(t *testing.T, ds *Dataset) string {
	t.Helper()
	fp, err := Fingerprint(ds)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// TestDirectParse compares the parse straight into the final columns (every
// type declared, no quotes) with the buffered one, for many chunkings:
// blank lines (rows moved down), CRLF, a last line without a newline,
// nulls and strings.
func TestDirectParse(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,x,n,flag,d,s\n")
	for i := range 200 {
		switch i % 17 {
		case 3:
			b.WriteString("\n")
		case 5:
			b.WriteString("\r\n\r\n")
		}
		x := fmt.Sprintf("%d.5", i)
		if i%7 == 0 {
			x = "NA"
		}
		s := fmt.Sprintf("s%d", i%5)
		if i%11 == 0 {
			s = ""
		}
		eol := "\n"
		if i%3 == 0 {
			eol = "\r\n"
		}
		fmt.Fprintf(&b, "id%03d,%s,%d,%v,2024-01-%02d,%s%s", i, x, i-100, i%2 == 0, 1+i%28, s, eol)
	}
	b.WriteString("last,1,2,true,2024-02-01,z") // no final newline
	data := []byte(b.String())
	types := map[string]Type{"id": String, "x": Float, "n": Int, "flag": Bool, "d": Time, "s": String}
	for _, size := range []int{0, 1, 13, 100, 1000} {
		for _, jobs := range []int{1, 3} {
			opts := CSVOptions{Types: types, Jobs: jobs, chunkSize: size}
			ds, info, err := ParseCSV(data, opts)
			if err != nil {
				t.Fatalf("size %d jobs %d: %v", size, jobs, err)
			}
			opts.buffered = true
			ref, refInfo, err := ParseCSV(data, opts)
			if err != nil {
				t.Fatal(err)
			}
			if ds.Rows != 201 || !ds.Equal(ref) || !equalInfos(info, refInfo) {
				t.Fatalf("size %d jobs %d: direct parse differs (%d rows)", size, jobs, ds.Rows)
			}
			var x, y bytes.Buffer
			if ds.Encode(&x) != nil || ref.Encode(&y) != nil || !bytes.Equal(x.Bytes(), y.Bytes()) {
				t.Fatalf("size %d jobs %d: encodings differ", size, jobs)
			}
		}
	}
	// An error in a late chunk names the same row either way.
	bad := append(bytes.Clone(data), "\nx,oops,1,true,2024-01-01,a\n"...)
	_, _, err1 := ParseCSV(bad, CSVOptions{Types: types, Jobs: 3, chunkSize: 50})
	_, _, err2 := ParseCSV(bad, CSVOptions{Types: types, Jobs: 1, buffered: true})
	if err1 == nil || err2 == nil || err1.Error() != err2.Error() {
		t.Fatalf("errors: direct %v, buffered %v", err1, err2)
	}
}

// TestIDColumn: a string column whose first values are all distinct
// switches to appendOnly dictionaries; values that repeat later still get
// one code each, and the dictionary is in first-seen order, for any
// chunking, declared or inferred.
func TestIDColumn(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,k\n")
	var want []string
	for i := range 900 {
		v := fmt.Sprintf("v%d", (i*7)%500)
		if i%97 == 5 {
			v = "NA"
		}
		want = append(want, v)
		fmt.Fprintf(&b, "%s,%d\n", v, i)
	}
	for _, types := range []map[string]Type{nil, {"id": String, "k": Int}} {
		for _, size := range []int{0, 50, 700} {
			for _, jobs := range []int{1, 3} {
				ds, _, err := ParseCSV([]byte(b.String()), CSVOptions{Types: types, Jobs: jobs, chunkSize: size})
				if err != nil {
					t.Fatal(err)
				}
				c := ds.Columns[0]
				seen := map[string]bool{}
				var dict []string
				for r, v := range want {
					if v == "NA" {
						if c.Valid.Valid(r) {
							t.Fatalf("row %d: want null", r)
						}
						continue
					}
					if got := c.Str(r); got != v {
						t.Fatalf("size %d jobs %d row %d: %q, want %q", size, jobs, r, got, v)
					}
					if !seen[v] {
						seen[v] = true
						dict = append(dict, v)
					}
				}
				if !slices.Equal(c.Dict, dict) {
					t.Fatalf("size %d jobs %d: dictionary of %d values, want %d in first-seen order", size, jobs, len(c.Dict), len(dict))
				}
			}
		}
	}
}

// TestFieldScan checks the eight-byte field scan against encoding/csv on
// unquoted fields of every length around the word size, CRLF and LF, with
// a bare quote reported at its column.
func TestFieldScan(t *testing.T) {
	var b strings.Builder
	b.WriteString("a;b;c\n")
	var want [][]string
	for i := range 60 {
		row := []string{strings.Repeat("x", i%19), strings.Repeat("é", i%7) + "z", strings.Repeat("9", (i*5)%23)}
		want = append(want, row)
		eol := "\n"
		if i%2 == 1 {
			eol = "\r\n"
		}
		b.WriteString(strings.Join(row, ";") + eol)
	}
	ds, _, err := ParseCSV([]byte(b.String()), CSVOptions{Delimiter: ';', Missing: []string{}, Types: map[string]Type{"a": String, "b": String, "c": String}})
	if err != nil {
		t.Fatal(err)
	}
	for r, row := range want {
		for j, v := range row {
			if got := ds.Columns[j].Str(r); got != v {
				t.Fatalf("row %d column %d: %q, want %q", r, j, got, v)
			}
		}
	}
	_, _, err = ParseCSV([]byte("a,b\nabcdefghijk,1\nabcdefghij\"k,2\n"), CSVOptions{Name: "in.csv"})
	if want := `in.csv:3: row 2: column "a": bare quote in unquoted field`; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

// failReader returns its data, then an error.
type failReader struct {
	data []byte
	err  error
}

func (f *failReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// TestStreamedRead compares ReadCSV with every type declared (parsed in
// blocks as it reads) with a parse of the whole input, for many block
// sizes, worker counts and row hints: quoted fields holding newlines,
// delimiters and quotes, blank lines, CRLF, a byte order mark, no final
// newline; and an error in a late block (same line and row), a read error.
func TestStreamedRead(t *testing.T) {
	var b strings.Builder
	b.WriteString("\xEF\xBB\xBFid,x,n,flag,d,s\n")
	for i := range 300 {
		switch i % 17 {
		case 3:
			b.WriteString("\n")
		case 5:
			b.WriteString("\r\n\r\n")
		}
		x := fmt.Sprintf("%d.5", i)
		if i%7 == 0 {
			x = "NA"
		}
		s := fmt.Sprintf("s%d", i%5)
		switch i % 11 {
		case 0:
			s = ""
		case 4:
			s = fmt.Sprintf("\"two\nlines, \"\"%d\"\"\"", i%3)
		}
		eol := "\n"
		if i%3 == 0 {
			eol = "\r\n"
		}
		fmt.Fprintf(&b, "id%03d,%s,%d,%v,2024-01-%02d,%s%s", i, x, i-100, i%2 == 0, 1+i%28, s, eol)
	}
	b.WriteString("last,1,2,true,2024-02-01,z") // no final newline
	data := []byte(b.String())
	types := map[string]Type{"id": String, "x": Float, "n": Int, "flag": Bool, "d": Time, "s": String}
	ref, refInfo, err := ParseCSV(data, CSVOptions{Types: types, Jobs: 1, buffered: true})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	for _, size := range []int{1, 7, 64, 1000, 0} {
		for _, jobs := range []int{1, 3} {
			for _, hint := range []int{0, 1, ref.Rows, 10 * ref.Rows} {
				opts := CSVOptions{Types: types, Jobs: jobs, chunkSize: size, RowsHint: hint}
				ds, info, err := ReadCSV(bytes.NewReader(data), opts)
				if err != nil {
					t.Fatalf("block %d jobs %d hint %d: %v", size, jobs, hint, err)
				}
				if !ds.Equal(ref) || !equalInfos(info.Columns, refInfo) || info.Rows != 301 ||
					info.SHA256 != hex.EncodeToString(sum[:]) || info.Size != int64(len(data)) {
					t.Fatalf("block %d jobs %d hint %d: streamed read differs (%d rows, %+v)", size, jobs, hint, ds.Rows, info)
				}
				var x, y bytes.Buffer
				if ds.Encode(&x) != nil || ref.Encode(&y) != nil || !bytes.Equal(x.Bytes(), y.Bytes()) {
					t.Fatalf("block %d jobs %d hint %d: encodings differ", size, jobs, hint)
				}
			}
		}
	}
	// An error in a late block names the same line and row; the hash
	// covers the whole input.
	bad := append(bytes.Clone(data), "\nx,oops,1,true,2024-01-01,a\ny,2,1,true,2024-01-01,a\n"...)
	_, _, want := ParseCSV(bad, CSVOptions{Types: types, Jobs: 1, buffered: true})
	badSum := sha256.Sum256(bad)
	for _, size := range []int{1, 50, 0} {
		_, info, err := ReadCSV(bytes.NewReader(bad), CSVOptions{Types: types, Jobs: 3, chunkSize: size})
		if err == nil || want == nil || err.Error() != want.Error() || info.SHA256 != hex.EncodeToString(badSum[:]) {
			t.Fatalf("block %d: error %v, want %v (sha256 %s)", size, err, want, info.SHA256)
		}
	}
	// Header only; a header that does not declare every column (read
	// whole); a read error.
	for _, in := range []string{"id,x\n", "id,x", "id,x,y\n1,2,3\n"} {
		ds, _, err := ReadCSV(strings.NewReader(in), CSVOptions{Types: map[string]Type{"id": Int, "x": Int}, chunkSize: 2})
		want, _, werr := ParseCSV([]byte(in), CSVOptions{Types: map[string]Type{"id": Int, "x": Int}})
		if err != nil || werr != nil || !ds.Equal(want) {
			t.Fatalf("%q: %v, %v", in, err, werr)
		}
	}
	boom := errors.New("boom")
	for _, size := range []int{1, 100, 0} {
		_, _, err := ReadCSV(&failReader{data: data[:500], err: boom}, CSVOptions{Types: types, chunkSize: size})
		if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "read csv: ") {
			t.Fatalf("block %d: read error %v", size, err)
		}
	}
}
