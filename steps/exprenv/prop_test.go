package exprenv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/mlrun-cli/mlrun/steps/table"
)

// randData builds a dataset over the property-test schema with nulls,
// extreme values and infinities.
func randData(r *rand.Rand, rows int) *table.Dataset {
	floats := []float64{0, 1, -1, 2.5, -0.5, 3, 1e308, -1e308, math.Inf(1), 7, 0.1}
	ints := []int{0, 1, -1, 2, 3, 10, math.MaxInt64, math.MinInt64, 4611686018427387904}
	strs := []string{"a", "b", "ab", "", "B", " a "}
	ds := &table.Dataset{Rows: rows}
	mk := func(name string, typ table.Type, gen func() any) {
		vals := make([]any, rows)
		for i := range vals {
			if r.IntN(7) != 0 {
				vals[i] = gen()
			}
		}
		ds.Columns = append(ds.Columns, col(name, typ, vals...))
	}
	mk("f1", table.Float, func() any { return floats[r.IntN(len(floats))] })
	mk("f2", table.Float, func() any { return float64(r.IntN(9)-4) / 2 })
	mk("i1", table.Int, func() any { return ints[r.IntN(len(ints))] })
	mk("i2", table.Int, func() any { return r.IntN(7) - 3 })
	mk("b1", table.Bool, func() any { return r.IntN(2) == 0 })
	mk("s1", table.String, func() any { return strs[r.IntN(len(strs))] })
	mk("t1", table.Time, func() any { return date("2019-06-01T00:00:00Z").Add(time.Duration(r.IntN(1000)) * time.Hour * 17) })
	// A float column without a validity bitmap (nulls only as NaN).
	f3 := &table.Column{Name: "f3", Type: table.Float, Floats: make([]float64, rows)}
	for i := range f3.Floats {
		f3.Floats[i] = float64(r.IntN(5)) - 1
		if r.IntN(9) == 0 {
			f3.Floats[i] = math.NaN()
		}
	}
	ds.Columns = append(ds.Columns, f3)
	return ds
}

// exprGen generates random well-typed expressions over randData's schema.
type exprGen struct{ r *rand.Rand }

func (g exprGen) pick(d int, leaves []string, ops []func(int) string) string {
	if d <= 0 || g.r.IntN(4) == 0 {
		return leaves[g.r.IntN(len(leaves))]
	}
	return ops[g.r.IntN(len(ops))](d - 1)
}

func (g exprGen) f(d int) string {
	return g.pick(d, []string{"f1", "f2", "f3", "0.5", "-2.0", "i2", "b1"}, []func(int) string{
		func(d int) string { return fmt.Sprintf("(%s + %s)", g.f(d), g.f(d)) },
		func(d int) string { return fmt.Sprintf("(%s - %s)", g.f(d), g.i(d)) },
		func(d int) string { return fmt.Sprintf("(%s * %s)", g.f(d), g.f(d)) },
		func(d int) string { return fmt.Sprintf("(%s / %s)", g.f(d), g.f(d)) },
		func(d int) string { return fmt.Sprintf("(%s %% %s)", g.f(d), g.f(d)) },
		func(d int) string { return fmt.Sprintf("(%s ** %s)", g.f(d), g.f(d)) },
		func(d int) string { return fmt.Sprintf("-%s", g.f(d)) },
		func(d int) string {
			fns := []string{"sqrt", "log", "log10", "exp", "abs", "round", "floor", "ceil", "float"}
			return fmt.Sprintf("%s(%s)", fns[g.r.IntN(len(fns))], g.f(d))
		},
		func(d int) string { return fmt.Sprintf("round(%s, %d)", g.f(d), g.r.IntN(5)-2) },
		func(d int) string { return fmt.Sprintf("pow(%s, %s)", g.f(d), g.f(d)) },
		func(d int) string { return fmt.Sprintf("min(%s, %s, %s)", g.f(d), g.f(d), g.i(d)) },
		func(d int) string { return fmt.Sprintf("max(%s, %s)", g.f(d), g.f(d)) },
		func(d int) string { return fmt.Sprintf("clip(%s, %s, %s)", g.f(d), g.f(d), g.f(d)) },
		func(d int) string { return fmt.Sprintf("coalesce(%s, %s)", g.f(d), g.f(d)) },
		func(d int) string { return fmt.Sprintf("(%s ?? %s)", g.f(d), g.f(d)) },
		func(d int) string { return fmt.Sprintf("(%s ? %s : %s)", g.b(d), g.f(d), g.f(d)) },
		func(d int) string { return fmt.Sprintf("(%s / 3)", g.i(d)) },
	})
}

func (g exprGen) i(d int) string {
	return g.pick(d, []string{"i1", "i2", "3", "-1", "9223372036854775807"}, []func(int) string{
		func(d int) string { return fmt.Sprintf("(%s + %s)", g.i(d), g.i(d)) },
		func(d int) string { return fmt.Sprintf("(%s - %s)", g.i(d), g.i(d)) },
		func(d int) string { return fmt.Sprintf("(%s * %s)", g.i(d), g.i(d)) },
		func(d int) string { return fmt.Sprintf("(%s %% %s)", g.i(d), g.i(d)) },
		func(d int) string { return fmt.Sprintf("-%s", g.i(d)) },
		func(d int) string { return fmt.Sprintf("abs(%s)", g.i(d)) },
		func(d int) string { return fmt.Sprintf("min(%s, %s)", g.i(d), g.i(d)) },
		func(d int) string { return fmt.Sprintf("clip(%s, -2, %s)", g.i(d), g.i(d)) },
		func(d int) string { return fmt.Sprintf("int(%s)", g.f(d)) },
		func(d int) string { return fmt.Sprintf("int(%s)", g.b(d)) },
		func(d int) string { return fmt.Sprintf("(%s ? %s : %s)", g.b(d), g.i(d), g.i(d)) },
		func(d int) string { return fmt.Sprintf("if_null(%s, %s)", g.i(d), g.i(d)) },
		func(d int) string { return "year(t1)" },
		func(d int) string { return "month(t1) + day(t1) * hour(t1)" },
		func(d int) string { return fmt.Sprintf("len(%s)", g.s(d)) },
	})
}

func (g exprGen) b(d int) string {
	return g.pick(d, []string{"b1", "true", "false", `(s1 == "a")`}, []func(int) string{
		func(d int) string {
			ops := []string{"<", "<=", ">", ">=", "==", "!="}
			return fmt.Sprintf("(%s %s %s)", g.f(d), ops[g.r.IntN(len(ops))], g.f(d))
		},
		func(d int) string { return fmt.Sprintf("(%s != %s)", g.i(d), g.i(d)) },
		func(d int) string { return fmt.Sprintf("(%s <= %s)", g.i(d), g.i(d)) },
		func(d int) string { return fmt.Sprintf("(%s && %s)", g.b(d), g.b(d)) },
		func(d int) string { return fmt.Sprintf("(%s || %s)", g.b(d), g.b(d)) },
		func(d int) string { return fmt.Sprintf("!%s", g.b(d)) },
		func(d int) string { return fmt.Sprintf("(%s == %s)", g.b(d), g.b(d)) },
		func(d int) string { return fmt.Sprintf("is_null(%s)", g.f(d)) },
		func(d int) string { return fmt.Sprintf("not_null(%s)", g.i(d)) },
		func(d int) string { return fmt.Sprintf("is_null(%s)", g.s(d)) },
		func(d int) string { return fmt.Sprintf("(%s in [0, 1, 2.5, -1])", g.f(d)) },
		func(d int) string { return fmt.Sprintf(`(%s in ["a", "B", ""])`, g.s(d)) },
		func(d int) string { return fmt.Sprintf(`(%s matches "^[ab]")`, g.s(d)) },
		func(d int) string { return fmt.Sprintf(`(%s startsWith "a")`, g.s(d)) },
		func(d int) string { return fmt.Sprintf(`(%s endsWith "b")`, g.s(d)) },
		func(d int) string { return fmt.Sprintf(`(%s contains %s)`, g.s(d), g.s(d)) },
		func(d int) string { return fmt.Sprintf(`(%s != "b")`, g.s(d)) },
		func(d int) string { return fmt.Sprintf(`(%s < %s)`, g.s(d), g.s(d)) },
		func(d int) string { return `(t1 >= "2020-01-01")` },
		func(d int) string { return fmt.Sprintf("(%s ? %s : %s)", g.b(d), g.b(d), g.b(d)) },
		func(d int) string { return fmt.Sprintf("coalesce(%s, %s)", g.b(d), g.b(d)) },
	})
}

func (g exprGen) s(d int) string {
	return g.pick(d, []string{"s1", `"a"`}, []func(int) string{
		func(d int) string { return fmt.Sprintf("upper(%s)", g.s(d)) },
		func(d int) string { return fmt.Sprintf("trim(%s)", g.s(d)) },
		func(d int) string { return fmt.Sprintf(`(%s + "x")`, g.s(d)) },
		func(d int) string { return fmt.Sprintf("(%s ? %s : %s)", g.b(d), g.s(d), g.s(d)) },
		func(d int) string { return fmt.Sprintf(`coalesce(%s, "z")`, g.s(d)) },
	})
}

// sameColumn compares two result columns exactly (floats bit for bit).
func sameColumn(a, b *table.Column) error {
	if a.Type != b.Type || a.Len() != b.Len() || (a.Valid == nil) != (b.Valid == nil) {
		return fmt.Errorf("shape: %s/%d/%v vs %s/%d/%v", a.Type, a.Len(), a.Valid == nil, b.Type, b.Len(), b.Valid == nil)
	}
	va, vb := values(a), values(b)
	for i := range va {
		x, y := va[i], vb[i]
		if fx, ok := x.(float64); ok {
			if fy, ok := y.(float64); ok && math.Float64bits(fx) == math.Float64bits(fy) {
				continue
			}
		} else if x == y {
			continue
		}
		return fmt.Errorf("row %d: %#v vs %#v", i, x, y)
	}
	if a.Type == table.String && strings.Join(a.Dict, "\x00") != strings.Join(b.Dict, "\x00") {
		return fmt.Errorf("dict %q vs %q", a.Dict, b.Dict)
	}
	return nil
}

// checkAgree evaluates p vectorised (1 and 3 jobs) and with the VM and
// compares the results.
func checkAgree(p *Program, ds *table.Dataset) error {
	ref, err := p.evalVM(ds, 2)
	if err != nil {
		return fmt.Errorf("VM: %w", err)
	}
	for _, jobs := range []int{1, 3} {
		got, err := p.Eval(ds, jobs)
		if err != nil {
			return fmt.Errorf("Eval(jobs=%d): %w", jobs, err)
		}
		if err := sameColumn(got, ref); err != nil {
			return fmt.Errorf("Eval(jobs=%d) vs VM: %w", jobs, err)
		}
	}
	return nil
}

func TestVectorisedMatchesVM(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ds := randData(r, chunkRows+64) // crosses a chunk boundary
	g := exprGen{r}
	gens := []func(int) string{g.f, g.i, g.b, g.s}
	for k := range 200 {
		src := gens[k%len(gens)](4)
		p, err := Compile(src, ds.Schema(), nil)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if err := checkAgree(p, ds); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"f1 + f2", "f1 / (f2 + 0.01)", `s1 == "a" && b1`, "i1 * i2 % 3", "coalesce(f1, i1, 0)",
		`upper(s1) + "x"`, "b1 ? i1 : nil", `t1 > "2020-01-01" || is_null(t1)`, "clip(f1, -1, 1)",
		"sqrt(f3) ?? -1", `s1 in ["a", "b"] ? 1 : 2.5`, "round(f1 / 3, 2)", "params.k * i1",
		`s1 matches "a+" and not b1`, "1 < f1 < 3", "(", "f1 +", `"a" + 1`, "len(s1) > i2",
	} {
		f.Add(s)
	}
	ds := randData(rand.New(rand.NewPCG(3, 4)), 70)
	schema := ds.Schema()
	params := map[string]any{"k": 3, "xs": []any{1.5, 2}, "name": "a"}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Compile(src, schema, params)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("%q: error %T %v is not *Error", src, err, err)
			}
			return
		}
		if err := checkAgree(p, ds); err != nil {
			t.Fatalf("%q: %v", src, err)
		}
	})
}
