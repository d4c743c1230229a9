package exprenv

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/mlrun-cli/mlrun/steps/table"
)

// col builds a column from values; nil is null.
func col(name string, typ table.Type, vals ...any) *table.Column {
	c := &table.Column{Name: name, Type: typ}
	n := len(vals)
	for i, v := range vals {
		if v == nil && c.Valid == nil {
			c.Valid = table.NewBitmap(n)
		}
		if v == nil {
			c.Valid.SetNull(i)
		}
		switch typ {
		case table.Float:
			f := math.NaN()
			if v != nil {
				f = v.(float64)
			}
			c.Floats = append(c.Floats, f)
		case table.Int:
			x, _ := v.(int)
			c.Ints = append(c.Ints, int64(x))
		case table.Time:
			var x int64
			if v != nil {
				x = v.(time.Time).UnixNano()
			}
			c.Ints = append(c.Ints, x)
		case table.Bool:
			x, _ := v.(bool)
			c.Bools = append(c.Bools, x)
		case table.String:
			code := uint32(0)
			if v != nil {
				code = uint32(len(c.Dict))
				for j, d := range c.Dict {
					if d == v.(string) {
						code = uint32(j)
					}
				}
				if code == uint32(len(c.Dict)) {
					c.Dict = append(c.Dict, v.(string))
				}
			}
			c.Codes = append(c.Codes, code)
		}
	}
	return c
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func testData() *table.Dataset {
	return &table.Dataset{Rows: 5, Columns: []*table.Column{
		col("x", table.Float, 1.0, 2.0, nil, -4.0, 0.0),
		col("n", table.Int, 1, nil, 3, 4, math.MaxInt64),
		col("b", table.Bool, true, false, nil, true, false),
		col("s", table.String, "own", "rent", nil, "mortgage", "own"),
		col("t", table.Time, date("2020-01-15T00:00:00Z"), date("2021-06-30T12:00:00Z"), nil, date("1999-12-31T23:00:00Z"), date("2020-02-29T00:00:00Z")),
		col("annual income", table.Float, 10.0, 20.0, 30.0, 40.0, 50.0),
	}}
}

// values returns the column's rows as Go values (nil for null).
func values(c *table.Column) []any {
	out := make([]any, c.Len())
	for i := range out {
		if c.IsNull(i) {
			continue
		}
		switch c.Type {
		case table.Float:
			out[i] = c.Floats[i]
		case table.Int, table.Time:
			out[i] = c.Ints[i]
		case table.Bool:
			out[i] = c.Bools[i]
		case table.String:
			out[i] = c.Dict[c.Codes[i]]
		}
	}
	return out
}

func TestEvalValues(t *testing.T) {
	ds := testData()
	params := map[string]any{"k": 2, "cut": 1.5, "homes": []any{"own", "other"}, "flag": true}
	type row = []any
	cases := []struct {
		src  string
		typ  table.Type
		want row
	}{
		{"x + 1", table.Float, row{2.0, 3.0, nil, -3.0, 1.0}},
		{"x / 0", table.Float, row{nil, nil, nil, nil, nil}},
		{"0 / x", table.Float, row{0.0, 0.0, nil, math.Copysign(0, -1), nil}},
		{"n + 1", table.Int, row{int64(2), nil, int64(4), int64(5), nil}},
		{"n * 2", table.Int, row{int64(2), nil, int64(6), int64(8), nil}},
		{"-n", table.Int, row{int64(-1), nil, int64(-3), int64(-4), int64(-math.MaxInt64)}},
		{"n - 1", table.Int, row{int64(0), nil, int64(2), int64(3), int64(math.MaxInt64 - 1)}},
		{"n % 3", table.Int, row{int64(1), nil, int64(0), int64(1), int64(math.MaxInt64 % 3)}},
		{"n % 0", table.Int, row{nil, nil, nil, nil, nil}},
		{"n / 2", table.Float, row{0.5, nil, 1.5, 2.0, float64(math.MaxInt64) / 2}},
		{"x + n", table.Float, row{2.0, nil, nil, 0.0, float64(math.MaxInt64)}},
		{"b + 1", table.Float, row{2.0, 1.0, nil, 2.0, 1.0}},
		{"x ** 2", table.Float, row{1.0, 4.0, nil, 16.0, 0.0}},
		{"pow(x, 0.5)", table.Float, row{1.0, math.Sqrt2, nil, nil, 0.0}},
		{"sqrt(x)", table.Float, row{1.0, math.Sqrt2, nil, nil, 0.0}},
		{"log(x)", table.Float, row{0.0, math.Ln2, nil, nil, nil}},
		{"log10(x * 50)", table.Float, row{math.Log10(50), 2.0, nil, nil, nil}},
		{"exp(x * 1000)", table.Float, row{nil, nil, nil, 0.0, 1.0}},
		{"abs(x)", table.Float, row{1.0, 2.0, nil, 4.0, 0.0}},
		{"abs(-n)", table.Int, row{int64(1), nil, int64(3), int64(4), int64(math.MaxInt64)}},
		{"clip(x, 0, 1.5)", table.Float, row{1.0, 1.5, nil, 0.0, 0.0}},
		{"min(n, 3)", table.Int, row{int64(1), nil, int64(3), int64(3), int64(3)}},
		{"max(x, n, 0)", table.Float, row{1.0, nil, nil, 4.0, float64(math.MaxInt64)}},
		{"round(x / 3, 2)", table.Float, row{0.33, 0.67, nil, -1.33, 0.0}},
		{"round(x / 4)", table.Float, row{0.0, 1.0, nil, -1.0, 0.0}},
		{"floor(x / 3)", table.Float, row{0.0, 0.0, nil, -2.0, 0.0}},
		{"ceil(x / 3)", table.Float, row{1.0, 1.0, nil, -1.0, 0.0}},
		{"int(x / 3)", table.Int, row{int64(0), int64(0), nil, int64(-1), int64(0)}},
		{"float(b)", table.Float, row{1.0, 0.0, nil, 1.0, 0.0}},
		{"x > 0", table.Bool, row{true, true, nil, false, false}},
		{"n == 3", table.Bool, row{false, nil, true, false, false}},
		{"x in [1, 2]", table.Bool, row{true, true, nil, false, false}},
		{"n not in [1, 4]", table.Bool, row{false, nil, true, false, true}},
		{"b == true", table.Bool, row{true, false, nil, true, false}},
		// Three-valued logic.
		{"b && false", table.Bool, row{false, false, false, false, false}},
		{"b && true", table.Bool, row{true, false, nil, true, false}},
		{"b || true", table.Bool, row{true, true, true, true, true}},
		{"b || false", table.Bool, row{true, false, nil, true, false}},
		{"!b", table.Bool, row{false, true, nil, false, true}},
		{"not b", table.Bool, row{false, true, nil, false, true}},
		{"x > 1 and b", table.Bool, row{false, false, nil, false, false}},
		{"x > 1 or b", table.Bool, row{true, true, nil, true, false}},
		{"is_null(x) || b", table.Bool, row{true, false, true, true, false}},
		// Null handling functions.
		{"is_null(n)", table.Bool, row{false, true, false, false, false}},
		{"not_null(s)", table.Bool, row{true, true, false, true, true}},
		{"coalesce(x, n, 0)", table.Float, row{1.0, 2.0, 3.0, -4.0, 0.0}},
		{"if_null(n, 0)", table.Int, row{int64(1), int64(0), int64(3), int64(4), int64(math.MaxInt64)}},
		{"x ?? -1", table.Float, row{1.0, 2.0, -1.0, -4.0, 0.0}},
		{"b ?? false", table.Bool, row{true, false, false, true, false}},
		{"x > 0 ? x : -x", table.Float, row{1.0, 2.0, nil, 4.0, 0.0}},
		{"b ? 1 : 2", table.Int, row{int64(1), int64(2), nil, int64(1), int64(2)}},
		{"b ? n : nil", table.Int, row{int64(1), nil, nil, int64(4), nil}},
		// Strings.
		{`s == "own"`, table.Bool, row{true, false, nil, false, true}},
		{`"own" != s`, table.Bool, row{false, true, nil, true, false}},
		{`s in ["own", "rent"]`, table.Bool, row{true, true, nil, false, true}},
		{`s in params.homes`, table.Bool, row{true, false, nil, false, true}},
		{`s matches "^(own|mort)"`, table.Bool, row{true, false, nil, true, true}},
		{`s not matches "^o"`, table.Bool, row{false, true, nil, true, false}},
		{`s startsWith "mo"`, table.Bool, row{false, false, nil, true, false}},
		{`s endsWith "nt"`, table.Bool, row{false, true, nil, false, false}},
		{`s contains "gag"`, table.Bool, row{false, false, nil, true, false}},
		{`s`, table.String, row{"own", "rent", nil, "mortgage", "own"}},
		{`upper(s)`, table.String, row{"OWN", "RENT", nil, "MORTGAGE", "OWN"}},
		{`len(s)`, table.Int, row{int64(3), int64(4), nil, int64(8), int64(3)}},
		{`s + "!"`, table.String, row{"own!", "rent!", nil, "mortgage!", "own!"}},
		{`if_null(s, "none")`, table.String, row{"own", "rent", "none", "mortgage", "own"}},
		{`s < "p"`, table.Bool, row{true, false, nil, true, true}},
		{`upper(s) == "OWN"`, table.Bool, row{true, false, nil, false, true}},
		// Times.
		{"year(t)", table.Int, row{int64(2020), int64(2021), nil, int64(1999), int64(2020)}},
		{"month(t)", table.Int, row{int64(1), int64(6), nil, int64(12), int64(2)}},
		{"day(t) + hour(t)", table.Int, row{int64(15), int64(42), nil, int64(54), int64(29)}},
		{`t >= "2020-01-01"`, table.Bool, row{true, true, nil, false, true}},
		{`t < t`, table.Bool, row{false, false, nil, false, false}},
		// Params, col(), constants.
		{"params.k * x", table.Float, row{2.0, 4.0, nil, -8.0, 0.0}},
		{"params.k * n", table.Int, row{int64(2), nil, int64(6), int64(8), nil}},
		{"x > params.cut", table.Bool, row{false, true, nil, false, false}},
		{"params.flag && b", table.Bool, row{true, false, nil, true, false}},
		{`col("annual income") / 10`, table.Float, row{1.0, 2.0, 3.0, 4.0, 5.0}},
		{"1 + 2", table.Int, row{int64(3), int64(3), int64(3), int64(3), int64(3)}},
		{"is_null(nil)", table.Bool, row{true, true, true, true, true}},
		{"1 < x < 3", table.Bool, row{false, true, nil, false, false}},
	}
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			p, err := Compile(tc.src, ds.Schema(), params)
			if err != nil {
				t.Fatal(err)
			}
			if p.Type() != tc.typ {
				t.Fatalf("Type() = %s, want %s", p.Type(), tc.typ)
			}
			for _, jobs := range []int{1, 3} {
				c, err := p.Eval(ds, jobs)
				if err != nil {
					t.Fatal(err)
				}
				checkRows(t, "Eval", values(c), tc.want)
				if c.Type != tc.typ || c.Name != "" {
					t.Errorf("column type %s name %q", c.Type, c.Name)
				}
			}
			c, err := p.evalVM(ds, 2)
			if err != nil {
				t.Fatal(err)
			}
			checkRows(t, "VM", values(c), tc.want)
		})
	}
}

func checkRows(t *testing.T, what string, got, want []any) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if gf, ok := g.(float64); ok {
			if wf, ok := w.(float64); ok && (gf == wf || math.Abs(gf-wf) <= 1e-12*math.Abs(wf)) && math.Signbit(gf) == math.Signbit(wf) {
				continue
			}
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: row %d = %#v, want %#v", what, i, g, w)
		}
	}
}

func TestVectorised(t *testing.T) {
	s := testData().Schema()
	for src, want := range map[string]bool{
		"x / (n + 0.01)":           true,
		`s == "own" && x > 0`:      true,
		`coalesce(x, 0) * b`:       true,
		`upper(s) == "OWN"`:        false,
		`b ? s : "x"`:              false,
		`len(s) > 3 || is_null(x)`: false,
	} {
		p, err := Compile(src, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		if p.Vectorised() != want {
			t.Errorf("%q: Vectorised() = %v, want %v", src, p.Vectorised(), want)
		}
	}
}

func TestColumns(t *testing.T) {
	p, err := Compile(`x + n * x > 0 && s == "a" || col("annual income") > 1`, testData().Schema(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Columns(), []string{"annual income", "n", "s", "x"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Columns() = %q, want %q", got, want)
	}
	if p.Source() == "" {
		t.Error("empty Source()")
	}
}

func TestEvalSchemaMismatch(t *testing.T) {
	ds := testData()
	p, err := Compile("x + n", ds.Schema(), nil)
	if err != nil {
		t.Fatal(err)
	}
	other := &table.Dataset{Rows: 1, Columns: []*table.Column{col("x", table.Int, 1), col("n", table.Int, 1)}}
	if _, err := p.Eval(other, 1); err == nil || err.Error() != `expression "x + n": column "x": dataset does not match the compiled schema: type int, compiled for float` {
		t.Errorf("err = %v", err)
	}
	if _, err := p.Eval(&table.Dataset{Rows: 0}, 1); err == nil {
		t.Error("missing column: no error")
	}
}

func TestEvalEmpty(t *testing.T) {
	ds := &table.Dataset{Rows: 0, Columns: []*table.Column{{Name: "x", Type: table.Float, Floats: []float64{}}}}
	p, err := Compile("x * 2", ds.Schema(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Eval(ds, 2)
	if err != nil || c.Len() != 0 || c.Valid != nil {
		t.Fatalf("c = %+v, err = %v", c, err)
	}
}

func TestErrors(t *testing.T) {
	s := &table.Schema{Fields: []table.Field{
		{Name: "annual_income", Type: table.Float},
		{Name: "loan_amount", Type: table.Float},
		{Name: "home", Type: table.String},
		{Name: "n", Type: table.Int},
		{Name: "ok", Type: table.Bool},
		{Name: "t", Type: table.Time},
	}}
	params := map[string]any{"min_auc": 0.7, "list": []any{1, 2}, "bad": map[string]int{}}
	for _, tc := range []struct{ src, want string }{
		{"anual_income > 0", `1:1: unknown column "anual_income"; did you mean "annual_income"?`},
		{"loan_amount > 0 && zzz", `1:20: unknown column "zzz"`},
		{"loan_amount >", `1:13: unexpected end of expression`},
		{"loan_amount > )", `1:15: unexpected token Bracket(")")`},
		{"loan_amount +\n  anual_income", `2:3: unknown column "anual_income"; did you mean "annual_income"?`},
		{"home + 1", `1:6: invalid operation: + (mismatched types string and int)`},
		{"home > 1", `1:6: invalid operation: > (mismatched types string and int)`},
		{"ok < ok", `1:4: invalid operation: < not defined on bool`},
		{"loan_amount && ok", `1:13: invalid operation: && (mismatched types float and bool)`},
		{"!n", `1:1: invalid operation: ! int (needs bool)`},
		{"sqr(n)", `1:1: unknown function "sqr"; did you mean "sqrt"?`},
		{"sqrt(n, 1)", `1:1: sqrt takes 1 argument, got 2`},
		{"clip(n)", `1:1: clip takes 3 arguments, got 1`},
		{"min(n)", `1:1: min takes at least 2 arguments, got 1`},
		{"sqrt(home)", `1:6: sqrt: argument 1 must be a number, got string`},
		{"year(n)", `1:6: year: argument 1 must be a time, got int`},
		{"params.min_acu", `1:8: unknown param "min_acu"; did you mean "min_auc"?`},
		{"params.bad", `1:8: param "bad": unsupported value of type map[string]int`},
		{"params", `1:1: params must be used as params.NAME`},
		{"n == nil", `1:3: comparison with nil is always null; use is_null(x) or not_null(x)`},
		{"ok ? 1 : home", `1:10: conditional branches: mismatched types int and string`},
		{"n ? 1 : 2", `1:1: condition must be bool, got int`},
		{`home matches "("`, `1:14: invalid regular expression: error parsing regexp: missing closing ): ` + "`(`"},
		{`home matches home`, `1:14: matches needs a constant pattern`},
		{`home in [1]`, `1:9: in: list element 0 is int, want string`},
		{`n in home`, `1:6: in needs a list of constants on the right, got string`},
		{`n in [n]`, `1:7: list elements must be constants`},
		{`t > "yesterday"`, `1:5: invalid time "yesterday" (want RFC 3339 or YYYY-MM-DD)`},
		{`round(n, n)`, `1:10: round: digits must be a constant int`},
		{"[1, 2]", `1:1: a list can only be used on the right of in`},
		{"nil", `1:1: expression is always nil`},
		{"let a = 1; a", `1:5: unsupported syntax: let`},
		{"{a: 1}", `1:1: unsupported syntax: map literal`},
		{"params.list[5]", `1:13: list index 5 out of range [0,2)`},
		{`col(n)`, `1:5: col needs a string literal column name`},
		{`col("nope")`, `1:5: unknown column "nope"`},
		{"filter(home, # == 1)", `1:1: unknown function "filter"`},
	} {
		_, err := Compile(tc.src, s, params)
		if err == nil {
			t.Errorf("%q: no error, want %s", tc.src, tc.want)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.src, err, tc.want)
		}
		if _, ok := err.(*Error); !ok {
			t.Errorf("%q: error is %T, want *Error", tc.src, err)
		}
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"annual_income", "age", "Amount", "debt"}
	for name, want := range map[string]string{"anual_income": "annual_income", "amount": "Amount", "ag": "age", "xyz": "", "dept": "debt"} {
		if got := suggest(name, names); got != want {
			t.Errorf("suggest(%q) = %q, want %q", name, got, want)
		}
	}
}
