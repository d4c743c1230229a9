package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// sig3 renders v for people: three significant digits, plain notation for
// 0.001 <= |v| < 1e6 (thousands grouped), scientific otherwise; "n/a" for NaN.
func sig3(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case math.IsInf(v, 1):
		return "∞"
	case math.IsInf(v, -1):
		return "−∞"
	case v == 0:
		return "0"
	}
	a := math.Abs(v)
	if a < 0.001 || a >= 1e6 {
		return strconv.FormatFloat(v, 'e', 2, 64)
	}
	if a >= 100 {
		return group(strconv.FormatFloat(v, 'f', 0, 64))
	}
	s := strconv.FormatFloat(v, 'g', 3, 64)
	if strings.ContainsAny(s, "e") {
		s = strconv.FormatFloat(v, 'f', -1, 64)
	}
	return s
}

// group inserts thousands separators into an integer string.
func group(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// count renders an integer with thousands separators.
func count(n int) string { return group(strconv.Itoa(n)) }

// pct renders a share as a percentage with three significant digits.
func pct(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	p := v * 100
	if p == 0 {
		return "0%"
	}
	if math.Abs(p) >= 100 {
		return group(strconv.FormatFloat(p, 'f', 0, 64)) + "%"
	}
	s := strconv.FormatFloat(p, 'g', 3, 64)
	if strings.Contains(s, "e") {
		s = strconv.FormatFloat(p, 'f', -1, 64)
	}
	return s + "%"
}

// exact renders v with every digit (the shortest representation that
// parses back to v).
func exact(v float64) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// dur renders a duration rounded for people.
func dur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(10 * time.Millisecond).String()
	}
}

// shortID returns the first 12 hex digits of an id.
func shortID(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// value renders a config value (decoded JSON) as text.
func value(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case float64:
		return exact(x)
	case bool:
		return strconv.FormatBool(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = value(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := sortedKeys(x)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + value(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	default:
		return fmt.Sprint(x)
	}
}

// signed renders v like sig3 with its sign always shown: "+0.512",
// "−0.318" (a minus sign, U+2212), "0".
func signed(v float64) string {
	s := sig3(v)
	switch {
	case math.IsNaN(v) || v == 0:
		return s
	case v > 0:
		return "+" + s
	default:
		return "−" + strings.TrimPrefix(s, "-")
	}
}

// latestPhrase describes the latest monitored batch and its outcome, for
// the banner: "batch 3 (mlrun monitor --step model on july.csv, <time>,
// 2,000 rows), failed 2 critical checks (psi:x, performance) and 1 warning".
func latestPhrase(l *LatestBatch) string {
	if l == nil {
		return ""
	}
	var where []string
	src := l.Source
	if l.Data != "" {
		src += " on " + l.Data
	}
	where = append(where, src)
	if l.Time != "" {
		where = append(where, l.Time)
	}
	if l.Error == "" {
		where = append(where, count(l.Rows)+" rows")
	}
	s := fmt.Sprintf("batch %d (%s), ", l.Batch, strings.Join(where, ", "))
	plural := func(n int, one string) string {
		if n == 1 {
			return fmt.Sprintf("%d %s", n, one)
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	switch {
	case l.Error != "":
		s += "could not be read: " + l.Error
	case l.Critical > 0:
		s += "failed " + plural(l.Critical, "critical check") + " (" + strings.Join(l.CriticalNames, ", ") + ")"
		if l.Warned > 0 {
			s += " and " + plural(l.Warned, "warning")
		}
		s += " of " + plural(l.Checks, "check")
	default:
		s += "passed its " + plural(l.Checks, "check")
		if l.Warned > 0 {
			s += " (" + plural(l.Warned, "warning") + ")"
		}
	}
	return s
}
