package table

import (
	"math"
	"strconv"
	"testing"
)

var floatCases = []string{
	"0", "-0", "+0", "0.0", "-0.000", "1", "-1", "1.5", "-1.5", ".5", "5.", "-.5", "+.5", ".", "-", "+", "",
	"3.14159265358979", "0.1", "0.2", "0.3", "123456789012345678", "1234567890123456789", "12345678901234567890",
	"9007199254740992", "9007199254740993", "9007199254740993.0", "0.0000000000000000000001", "0.00000000000000000000001",
	"1e10", "1E-5", "1e400", "1e-400", "inf", "-Inf", "NaN", "nan", "0x1p-2", "1_000", "1.2.3", "12,5", " 1", "1 ",
	"00000000000000000000000001.5", "1.00000000000000000000", "4.9e-324", "179769313486231570000000000000000000000",
	"2.2250738585072011e-308", "0.30000000000000004", "0.000123", "000.000", "-00.0001e", "0.0000000000000000000000123", "1.0000000000000000001", "99999999999999999999", "-9223372036854775808",
	"Infinity", "+Infinity", "-infinity", "infinit", "INF", "nAn", "+nan", "-NaN", "+inf", "2024-01-02", "26-40", "0x1P+2", "1e+5",
	"0x1.8p1", "0X1p-1", "_1", "0_1", "1_", "APP-1", "1e5x", "e5", "-.e5", "0xg", "1-e", "sixty thousand", "nanx", "in",
}

func TestParseFloatMatchesStrconv(t *testing.T) {
	for _, s := range floatCases {
		checkFloat(t, s)
	}
}

func checkFloat(t *testing.T, s string) {
	t.Helper()
	got, ok := parseFloat([]byte(s))
	want, err := strconv.ParseFloat(s, 64)
	if ok != (err == nil) {
		t.Fatalf("parseFloat(%q): ok %v, strconv error %v", s, ok, err)
	}
	if ok && math.Float64bits(got) != math.Float64bits(want) {
		t.Fatalf("parseFloat(%q) = %v (%#x), strconv %v (%#x)", s, got, math.Float64bits(got), want, math.Float64bits(want))
	}
}

func FuzzParseFloat(f *testing.F) {
	for _, s := range floatCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkFloat(t, s) })
}

var intCases = []string{
	"0", "-0", "+0", "1", "-1", "007", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
	"-9223372036854775809", "18446744073709551616", "99999999999999999999999", "", "-", "+", "1.0", "1e3", "1_000", "0x10", " 1",
}

func checkInt(t *testing.T, s string) {
	t.Helper()
	got, ok := parseInt([]byte(s))
	want, err := strconv.ParseInt(s, 10, 64)
	if ok != (err == nil) || (ok && got != want) {
		t.Fatalf("parseInt(%q) = %d, %v; strconv %d, %v", s, got, ok, want, err)
	}
}

func TestParseIntMatchesStrconv(t *testing.T) {
	for _, s := range intCases {
		checkInt(t, s)
	}
}

func FuzzParseInt(f *testing.F) {
	for _, s := range intCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkInt(t, s) })
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want string // RFC 3339 in UTC, or "" for not a time
	}{
		{"2024-01-02", "2024-01-02T00:00:00Z"},
		{"2024-02-29", "2024-02-29T00:00:00Z"},
		{"2023-02-29", ""},
		{"1900-02-29", ""},
		{"2000-02-29", "2000-02-29T00:00:00Z"},
		{"2024-00-10", ""},
		{"2024-04-31", ""},
		{"1600-01-01", ""}, // before the int64 nanosecond range
		{"2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"},
		{"2024-01-02T03:04:05.123456789-01:30", "2024-01-02T04:34:05.123456789Z"},
		{"2024-01-02 03:04:05", ""},
		{"20240102", ""},
		{"2024-1-2", ""},
	}
	for _, tt := range tests {
		v, ok := parseTime([]byte(tt.in), nil)
		got := ""
		if ok {
			got = formatTime(v)
		}
		if got != tt.want {
			t.Errorf("parseTime(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLooksDecimalComma(t *testing.T) {
	for s, want := range map[string]bool{
		"12,5": true, "-0,25": true, "1.234,56": true, "+3,0": true,
		"12,": false, ",5": false, "1,2,3": false, "a,5": false, "12.5": false, "1,5e3": false,
	} {
		if got := looksDecimalComma([]byte(s)); got != want {
			t.Errorf("looksDecimalComma(%q) = %v", s, got)
		}
	}
}
