package table

import "time"

// timeConstantLayouts are the layouts of a time written in a pipeline file
// or an expression (a range bound, an out-of-time threshold, a constant
// compared with a time column): RFC 3339, or a date/time without an offset
// (UTC).
var timeConstantLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02",
}

// ParseTimeConstant parses a time written in a pipeline file or an
// expression into Unix nanoseconds (UTC unless it has an offset).
func ParseTimeConstant(s string) (int64, bool) {
	for _, l := range timeConstantLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UnixNano(), true
		}
	}
	return 0, false
}

// FormatTime renders Unix nanoseconds as RFC 3339 in UTC.
func FormatTime(ns int64) string {
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}
