package exprenv

import (
	"math"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Scalar helpers shared by the column kernels and the VM functions, so that
// both paths compute bit-identical values. Every helper reports !ok where
// the result is null.

// finite reports whether v is neither NaN nor ±Inf.
func finite(v float64) bool { return v-v == 0 }

func addInt(x, y int64) (int64, bool) {
	s := x + y
	return s, (s^x)&(s^y) >= 0
}

func subInt(x, y int64) (int64, bool) {
	s := x - y
	return s, (x^y)&(x^s) >= 0
}

func mulInt(x, y int64) (int64, bool) {
	if x == 0 || y == 0 {
		return 0, true
	}
	s := x * y
	if s/y != x || (x == -1 && y == math.MinInt64) || (y == -1 && x == math.MinInt64) {
		return 0, false
	}
	return s, true
}

func modInt(x, y int64) (int64, bool) {
	if y == 0 {
		return 0, false
	}
	if y == -1 {
		return 0, true
	}
	return x % y, true
}

func absInt(x int64) (int64, bool) {
	if x == math.MinInt64 {
		return 0, false
	}
	if x < 0 {
		return -x, true
	}
	return x, true
}

func minI(a, b int64) int64 { return min(a, b) }

func maxI(a, b int64) int64 { return max(a, b) }

func minF(a, b float64) float64 {
	if b < a {
		return b
	}
	return a
}

func maxF(a, b float64) float64 {
	if b > a {
		return b
	}
	return a
}

// roundF rounds half away from zero to d decimal digits.
func roundF(x float64, d int64) float64 {
	if d == 0 {
		return math.Round(x)
	}
	p := math.Pow(10, float64(d))
	return math.Round(x*p) / p
}

// truncInt converts a float to int64 toward zero; NaN, ±Inf and values out
// of the int64 range are null.
func truncInt(x float64) (int64, bool) {
	if !(x > -9223372036854775809.0 && x < 9223372036854775808.0) {
		return 0, false
	}
	return int64(x), true
}

func timeOf(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// part returns a calendar field of a Unix-nanosecond instant (UTC).
func part(o op, ns int64) int64 {
	t := timeOf(ns)
	switch o {
	case opYear:
		return int64(t.Year())
	case opMonth:
		return int64(t.Month())
	case opDay:
		return int64(t.Day())
	}
	return int64(t.Hour())
}

// vmFunctions are the null-aware scalar functions the generated VM source
// calls. Values are nil (null), float64, int64 (Int and Time), bool or
// string; the typed tree has inserted every conversion, so binary
// operands share one dynamic type.
var vmFunctions = map[string]func(args ...any) (any, error){
	"f_float": strict(func(a []any) any {
		switch x := a[0].(type) {
		case int64:
			return float64(x)
		case bool:
			if x {
				return 1.0
			}
			return 0.0
		}
		return a[0]
	}),
	"f_int": strict(func(a []any) any {
		switch x := a[0].(type) {
		case float64:
			if v, ok := truncInt(x); ok {
				return v
			}
			return nil
		case bool:
			return b2i(x)
		}
		return a[0]
	}),
	"f_neg": strict(func(a []any) any {
		if x, ok := a[0].(int64); ok {
			return nullInt(subInt(0, x))
		}
		return fl(-a[0].(float64))
	}),
	"f_not": strict(func(a []any) any { return !a[0].(bool) }),
	"f_add": strict(func(a []any) any {
		if x, ok := a[0].(int64); ok {
			return nullInt(addInt(x, a[1].(int64)))
		}
		return fl(a[0].(float64) + a[1].(float64))
	}),
	"f_sub": strict(func(a []any) any {
		if x, ok := a[0].(int64); ok {
			return nullInt(subInt(x, a[1].(int64)))
		}
		return fl(a[0].(float64) - a[1].(float64))
	}),
	"f_mul": strict(func(a []any) any {
		if x, ok := a[0].(int64); ok {
			return nullInt(mulInt(x, a[1].(int64)))
		}
		return fl(a[0].(float64) * a[1].(float64))
	}),
	"f_mod": strict(func(a []any) any {
		if x, ok := a[0].(int64); ok {
			return nullInt(modInt(x, a[1].(int64)))
		}
		return fl(math.Mod(a[0].(float64), a[1].(float64)))
	}),
	"f_div": strict(func(a []any) any { return fl(a[0].(float64) / a[1].(float64)) }),
	"f_pow": strict(func(a []any) any { return fl(math.Pow(a[0].(float64), a[1].(float64))) }),
	"f_eq":  strict(func(a []any) any { return a[0] == a[1] }),
	"f_ne":  strict(func(a []any) any { return a[0] != a[1] }),
	"f_lt":  strict(func(a []any) any { return compare(a[0], a[1]) < 0 }),
	"f_le":  strict(func(a []any) any { return compare(a[0], a[1]) <= 0 }),
	"f_gt":  strict(func(a []any) any { return compare(a[0], a[1]) > 0 }),
	"f_ge":  strict(func(a []any) any { return compare(a[0], a[1]) >= 0 }),
	"f_and": func(a ...any) (any, error) {
		if a[0] == false || a[1] == false {
			return false, nil
		}
		if a[0] == nil || a[1] == nil {
			return nil, nil
		}
		return true, nil
	},
	"f_or": func(a ...any) (any, error) {
		if a[0] == true || a[1] == true {
			return true, nil
		}
		if a[0] == nil || a[1] == nil {
			return nil, nil
		}
		return false, nil
	},
	"f_cond": func(a ...any) (any, error) {
		if a[0] == nil {
			return nil, nil
		}
		if a[0].(bool) {
			return a[1], nil
		}
		return a[2], nil
	},
	"f_coalesce": func(a ...any) (any, error) {
		for _, v := range a {
			if v != nil {
				return v, nil
			}
		}
		return nil, nil
	},
	"f_is_null":  func(a ...any) (any, error) { return a[0] == nil, nil },
	"f_not_null": func(a ...any) (any, error) { return a[0] != nil, nil },
	"f_in": strict(func(a []any) any {
		for _, v := range a[1].([]any) {
			if v == a[0] {
				return true
			}
		}
		return false
	}),
	"f_matches":    strict(func(a []any) any { return a[1].(*regexp.Regexp).MatchString(a[0].(string)) }),
	"f_startsWith": strict(func(a []any) any { return strings.HasPrefix(a[0].(string), a[1].(string)) }),
	"f_endsWith":   strict(func(a []any) any { return strings.HasSuffix(a[0].(string), a[1].(string)) }),
	"f_contains":   strict(func(a []any) any { return strings.Contains(a[0].(string), a[1].(string)) }),
	"f_abs": strict(func(a []any) any {
		if x, ok := a[0].(int64); ok {
			return nullInt(absInt(x))
		}
		return fl(math.Abs(a[0].(float64)))
	}),
	"f_sqrt":  strict(func(a []any) any { return fl(math.Sqrt(a[0].(float64))) }),
	"f_log":   strict(func(a []any) any { return fl(math.Log(a[0].(float64))) }),
	"f_log10": strict(func(a []any) any { return fl(math.Log10(a[0].(float64))) }),
	"f_exp":   strict(func(a []any) any { return fl(math.Exp(a[0].(float64))) }),
	"f_floor": strict(func(a []any) any { return fl(math.Floor(a[0].(float64))) }),
	"f_ceil":  strict(func(a []any) any { return fl(math.Ceil(a[0].(float64))) }),
	"f_round": strict(func(a []any) any {
		d := int64(0)
		if len(a) > 1 {
			d = a[1].(int64)
		}
		return fl(roundF(a[0].(float64), d))
	}),
	"f_min":  strict(func(a []any) any { return fold(a, minF, minI) }),
	"f_max":  strict(func(a []any) any { return fold(a, maxF, maxI) }),
	"f_clip": strict(func(a []any) any { return fold([]any{fold(a[:2], maxF, maxI), a[2]}, minF, minI) }),
	"f_year": strict(func(a []any) any { return part(opYear, a[0].(int64)) }),
	"f_month": strict(func(a []any) any {
		return part(opMonth, a[0].(int64))
	}),
	"f_day":    strict(func(a []any) any { return part(opDay, a[0].(int64)) }),
	"f_hour":   strict(func(a []any) any { return part(opHour, a[0].(int64)) }),
	"f_lower":  strict(func(a []any) any { return strings.ToLower(a[0].(string)) }),
	"f_upper":  strict(func(a []any) any { return strings.ToUpper(a[0].(string)) }),
	"f_trim":   strict(func(a []any) any { return strings.TrimSpace(a[0].(string)) }),
	"f_len":    strict(func(a []any) any { return int64(utf8.RuneCountInString(a[0].(string))) }),
	"f_concat": strict(func(a []any) any { return a[0].(string) + a[1].(string) }),
}

// strict wraps f so that any null argument gives null.
func strict(f func([]any) any) func(args ...any) (any, error) {
	return func(args ...any) (any, error) {
		for _, a := range args {
			if a == nil {
				return nil, nil
			}
		}
		return f(args), nil
	}
}

// fl returns v, or nil when it is not finite.
func fl(v float64) any {
	if !finite(v) {
		return nil
	}
	return v
}

func nullInt(v int64, ok bool) any {
	if !ok {
		return nil
	}
	return v
}

// fold reduces same-typed numbers (all int64 or all float64).
func fold(a []any, f func(x, y float64) float64, i func(x, y int64) int64) any {
	if x, ok := a[0].(int64); ok {
		for _, v := range a[1:] {
			x = i(x, v.(int64))
		}
		return x
	}
	x := a[0].(float64)
	for _, v := range a[1:] {
		x = f(x, v.(float64))
	}
	return x
}

// compare orders two values of one dynamic type (int64, float64, string).
func compare(a, b any) int {
	switch x := a.(type) {
	case int64:
		y := b.(int64)
		return cmp3(x < y, x > y)
	case float64:
		y := b.(float64)
		return cmp3(x < y, x > y)
	case string:
		return strings.Compare(x, b.(string))
	}
	return 0
}

func cmp3(lt, gt bool) int {
	switch {
	case lt:
		return -1
	case gt:
		return 1
	}
	return 0
}
