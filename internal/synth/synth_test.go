package synth

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func generate(t testing.TB, opts Options) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, opts); err != nil {
		t.Fatalf("Write(%+v): %v", opts, err)
	}
	return b.Bytes()
}

// checkGolden compares got with testdata/name, or rewrites it under -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the generated output (run go test -update if the change is intended)\ngot:\n%s", path, got)
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"base", Options{Rows: 1000, Seed: 42}},
		{"drift", Options{Rows: 1000, Seed: 7, Drift: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := generate(t, tc.opts)
			sum := sha256.Sum256(out)
			checkGolden(t, tc.name+"-1000.sha256", []byte(hex.EncodeToString(sum[:])+"\n"))
			// The first rows, readable, so a reviewer sees what changed.
			head := out[:bytes.IndexByte(out, '\n')+1]
			for range 10 {
				rest := out[len(head):]
				head = out[:len(head)+bytes.IndexByte(rest, '\n')+1]
			}
			checkGolden(t, tc.name+"-head.csv", head)
		})
	}
}

func TestDeterministic(t *testing.T) {
	base := Options{Rows: 3000, Seed: 99}
	a := generate(t, base)
	if b := generate(t, base); !bytes.Equal(a, b) {
		t.Fatal("two runs with the same options differ")
	}
	for _, other := range []Options{
		{Rows: 3000, Seed: 100},
		{Rows: 3000, Seed: 99, Drift: true},
	} {
		if b := generate(t, other); bytes.Equal(a, b) {
			t.Errorf("options %+v give the same bytes as %+v", other, base)
		}
	}
}

func TestWriteEdgeCases(t *testing.T) {
	header := strings.Join(Columns(), ",") + "\n"
	if got := string(generate(t, Options{})); got != header {
		t.Errorf("zero rows: got %q, want the header %q", got, header)
	}
	err := Write(&bytes.Buffer{}, Options{Rows: -1})
	if !errors.Is(err, ErrRows) || err.Error() != "synth: rows must not be negative: -1" {
		t.Errorf("negative rows: got %v", err)
	}
	fail := errors.New("disk full")
	err = Write(failWriter{fail}, Options{Rows: 5000})
	if !errors.Is(err, fail) || !strings.HasPrefix(err.Error(), "synth: write row ") {
		t.Errorf("failing writer: got %v", err)
	}
	err = Write(failWriter{fail}, Options{Rows: 3})
	if !errors.Is(err, fail) || err.Error() != "synth: write: disk full" {
		t.Errorf("failing writer, small output: got %v", err)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

// maxWriter records the largest single Write.
type maxWriter struct{ n, max int }

func (m *maxWriter) Write(p []byte) (int, error) {
	m.n += len(p)
	m.max = max(m.max, len(p))
	return len(p), nil
}

func TestStreams(t *testing.T) {
	var w maxWriter
	if err := Write(&w, Options{Rows: 20000, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if w.max > flushSize+1024 {
		t.Errorf("largest write %d bytes: output is not streamed in chunks", w.max)
	}
	if w.n < 20*flushSize {
		t.Errorf("only %d bytes for 20000 rows", w.n)
	}
}

// table is a parsed CSV: header and rows of strings.
type table struct {
	col  map[string]int
	rows [][]string
}

func parse(t *testing.T, data []byte) table {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(recs[0], Columns()) {
		t.Fatalf("header %v, want %v", recs[0], Columns())
	}
	tb := table{col: map[string]int{}, rows: recs[1:]}
	for i, c := range recs[0] {
		tb.col[c] = i
	}
	return tb
}

func (tb table) floats(t *testing.T, name string) []float64 {
	t.Helper()
	out := make([]float64, 0, len(tb.rows))
	for i, r := range tb.rows {
		s := r[tb.col[name]]
		if s == "" {
			continue
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("row %d %s: %v", i+1, name, err)
		}
		out = append(out, v)
	}
	return out
}

func (tb table) share(name, value string) float64 {
	n := 0
	for _, r := range tb.rows {
		if r[tb.col[name]] == value {
			n++
		}
	}
	return float64(n) / float64(len(tb.rows))
}

func median(x []float64) float64 {
	s := slices.Clone(x)
	sort.Float64s(s)
	return s[len(s)/2]
}

func mean(x []float64) float64 {
	sum := 0.0
	for _, v := range x {
		sum += v
	}
	return sum / float64(len(x))
}

// utilisation returns balance/limit for the rows with a limit.
func (tb table) utilisation(t *testing.T) []float64 {
	var u []float64
	for i, r := range tb.rows {
		if r[tb.col["credit_limit"]] == "" {
			continue
		}
		b, err1 := strconv.ParseFloat(r[tb.col["credit_card_balance"]], 64)
		l, err2 := strconv.ParseFloat(r[tb.col["credit_limit"]], 64)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatalf("row %d: %v", i+1, err)
		}
		u = append(u, b/l)
	}
	return u
}

func TestColumns(t *testing.T) {
	for _, drift := range []bool{false, true} {
		t.Run(map[bool]string{false: "base", true: "drift"}[drift], func(t *testing.T) {
			const n = 20000
			tb := parse(t, generate(t, Options{Rows: n, Seed: 3, Drift: drift}))
			if len(tb.rows) != n {
				t.Fatalf("%d rows, want %d", len(tb.rows), n)
			}
			lo, hi := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)
			prefix := "APP"
			if drift {
				lo, hi = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)
				prefix = "PRD"
			}
			allowed := map[string][]string{
				"home_ownership": homeLevels[:], "purpose": purposeLevels[:],
				"region": regionLevels[:], "age_group": ageGroupLevels[:], "loan_default": {"0", "1"},
			}
			var missing, violations, defaults int
			var prev time.Time
			ids := map[string]bool{}
			for i, r := range tb.rows {
				get := func(c string) string { return r[tb.col[c]] }
				num := func(c string) float64 {
					v, err := strconv.ParseFloat(get(c), 64)
					if err != nil {
						t.Fatalf("row %d %s: %v", i+1, c, err)
					}
					return v
				}
				for _, f := range r {
					if f == "" {
						missing++
					}
				}
				id := get("application_id")
				if want := prefix + strconv.Itoa(100000000 + i + 1)[1:]; id != want {
					t.Fatalf("row %d: id %q, want %q", i+1, id, want)
				}
				ids[id] = true
				d, err := time.Parse(time.DateOnly, get("application_date"))
				if err != nil || d.Before(lo) || d.After(hi) || d.Before(prev) {
					t.Fatalf("row %d: date %q (err %v) not ascending within %v..%v", i+1, get("application_date"), err, lo, hi)
				}
				prev = d
				for c, vals := range allowed {
					if !slices.Contains(vals, get(c)) {
						t.Fatalf("row %d: %s %q not in %v", i+1, c, get(c), vals)
					}
				}
				for _, c := range []string{"annual_income", "total_debt", "credit_card_balance"} {
					s := get(c)
					if j := strings.IndexByte(s, '.'); j < 0 || len(s)-j != 3 || num(c) < 0 {
						t.Fatalf("row %d: %s %q is not a non-negative amount with 2 decimals", i+1, c, s)
					}
				}
				age := num("age")
				if age < 18 || age > 100 || age != math.Trunc(age) {
					t.Fatalf("row %d: age %v", i+1, age)
				}
				if g := ageGroupLevels[ageGroupOf(int(age))]; get("age_group") != g {
					t.Fatalf("row %d: age %v in group %s, want %s", i+1, age, get("age_group"), g)
				}
				if v := num("loan_amount"); v < 500 || math.Mod(v, 50) != 0 {
					t.Fatalf("row %d: loan_amount %v", i+1, v)
				}
				if get("credit_limit") != "" {
					if v := num("credit_limit"); v < 500 || math.Mod(v, 100) != 0 {
						t.Fatalf("row %d: credit_limit %v", i+1, v)
					}
				}
				if get("employment_years") != "" {
					if v := num("employment_years"); v < 0 || v > 0.9*(age-16)+0.05 {
						t.Fatalf("row %d: employment_years %v at age %v", i+1, v, age)
					}
				}
				onTime, total := num("on_time_payments"), num("total_payments")
				if total < 1 || onTime < 0 {
					t.Fatalf("row %d: payments %v/%v", i+1, onTime, total)
				}
				if onTime > total {
					violations++
				}
				if get("loan_default") == "1" {
					defaults++
				}
			}
			if len(ids) != n {
				t.Errorf("%d distinct ids in %d rows", len(ids), n)
			}
			if share := float64(missing) / float64(n*len(Columns())); share >= 0.05 || share == 0 {
				t.Errorf("missing share %.4f, want in (0, 0.05)", share)
			}
			if share := float64(violations) / n; share == 0 || share > 0.005 {
				t.Errorf("on_time_payments > total_payments in %.4f of rows, want a handful (0, 0.005]", share)
			}
			rate := float64(defaults) / n
			t.Logf("default rate %.4f", rate)
			if !drift && (rate < 0.07 || rate > 0.13) {
				t.Errorf("default rate %.4f, want 0.07..0.13", rate)
			}
			if drift && (rate < 0.04 || rate > 0.16) {
				t.Errorf("drift default rate %.4f, want 0.04..0.16", rate)
			}
			for _, c := range []string{"credit_limit", "employment_years"} {
				if m := 1 - float64(len(tb.floats(t, c)))/n; m < 0.005 || m > 0.02 {
					t.Errorf("%s missing share %.4f, want about 0.01", c, m)
				}
			}
		})
	}
}

// TestDrift checks that a drift batch moves income, purpose and utilisation
// as documented and leaves the other distributions alone.
func TestDrift(t *testing.T) {
	const n = 20000
	base := parse(t, generate(t, Options{Rows: n, Seed: 11}))
	drift := parse(t, generate(t, Options{Rows: n, Seed: 11, Drift: true}))

	type check struct {
		name           string
		base, drift    float64
		baseLo, baseHi float64
		drLo, drHi     float64
	}
	checks := []check{
		{"median income ratio", 1, median(drift.floats(t, "annual_income")) / median(base.floats(t, "annual_income")), 1, 1, 1.10, 1.20},
		{"online_shopping share", base.share("purpose", "online_shopping"), drift.share("purpose", "online_shopping"), 0.085, 0.115, 0.30, 0.34},
		{"median utilisation", median(base.utilisation(t)), median(drift.utilisation(t)), 0.25, 0.31, 0.41, 0.47},
		{"mean age", mean(base.floats(t, "age")), mean(drift.floats(t, "age")), 40.5, 42, 40.5, 42},
		{"median total_debt", median(base.floats(t, "total_debt")), median(drift.floats(t, "total_debt")), 16000, 20000, 16000, 20000},
		{"metro share", base.share("region", "metro"), drift.share("region", "metro"), 0.17, 0.19, 0.17, 0.19},
		{"rent share", base.share("home_ownership", "rent"), drift.share("home_ownership", "rent"), 0.36, 0.39, 0.36, 0.39},
	}
	for _, c := range checks {
		t.Logf("%-22s base %.4f drift %.4f", c.name, c.base, c.drift)
		if c.base < c.baseLo || c.base > c.baseHi {
			t.Errorf("%s: base %.4f, want %v..%v", c.name, c.base, c.baseLo, c.baseHi)
		}
		if c.drift < c.drLo || c.drift > c.drHi {
			t.Errorf("%s: drift %.4f, want %v..%v", c.name, c.drift, c.drLo, c.drHi)
		}
	}
}

func TestAppendDecimals(t *testing.T) {
	for _, tc := range []struct {
		x            float64
		cents, tenth string
	}{
		{0, "0.00", "0.0"},
		{0.004, "0.00", "0.0"},
		{0.005, "0.01", "0.0"},
		{1.5, "1.50", "1.5"},
		{12.349, "12.35", "12.3"},
		{99.995, "100.00", "100.0"},
		{52000, "52000.00", "52000.0"},
		{1234567.891, "1234567.89", "1234567.9"},
	} {
		if got := string(appendCents([]byte("x"), tc.x)); got != "x"+tc.cents {
			t.Errorf("appendCents(%v) = %q, want %q", tc.x, got, "x"+tc.cents)
		}
		if got := string(appendTenths(nil, tc.x)); got != tc.tenth {
			t.Errorf("appendTenths(%v) = %q, want %q", tc.x, got, tc.tenth)
		}
	}
}
