package validate

import (
	"math"
	"strconv"
	"time"
)

// thousands formats n with comma separators: 4454 -> "4,454".
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// timeLayouts are the layouts accepted for time thresholds.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02",
}

// parseTime parses a date or timestamp (UTC unless it has an offset) into
// Unix nanoseconds.
func parseTime(s string) (int64, bool) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UnixNano(), true
		}
	}
	return 0, false
}

// formatTime renders Unix nanoseconds as RFC 3339 in UTC.
func formatTime(ns int64) string {
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}

// percent renders a fraction as a percentage rounded to two decimals,
// without trailing zeros: 0.05 -> "5%", 0.005 -> "0.5%".
func percent(f float64) string {
	return strconv.FormatFloat(math.Round(f*10000)/100, 'f', -1, 64) + "%"
}

// failPercent renders a failing fraction with two decimals: "0.06%", and
// "<0.01%" for a small non-zero fraction so that it never reads as 0.
func failPercent(f float64) string {
	switch {
	case f == 0:
		return "0%"
	case f < 0.0001:
		return "<0.01%"
	}
	return strconv.FormatFloat(f*100, 'f', 2, 64) + "%"
}
