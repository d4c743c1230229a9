package table

import (
	"errors"
	"math"
	"strconv"
	"time"
)

// parseInt parses a base-10 int64 exactly as strconv.ParseInt(string(b),
// 10, 64) does (optional sign, at least one digit, no underscores), without
// allocating.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	neg := false
	i := 0
	switch b[0] {
	case '-':
		neg = true
		i = 1
	case '+':
		i = 1
	}
	if i == len(b) {
		return 0, false
	}
	var u uint64
	for ; i < len(b); i++ {
		c := b[i] - '0'
		if c > 9 {
			return 0, false
		}
		if u > (math.MaxUint64-9)/10 {
			// Cannot overflow the checks below only while u stays small;
			// beyond this bound it is certainly out of int64 range.
			return 0, false
		}
		u = u*10 + uint64(c)
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// float64pow10 holds the powers of ten exactly representable in a float64.
var float64pow10 = [...]float64{
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
	1e20, 1e21, 1e22,
}

// parseFloat parses b as strconv.ParseFloat(string(b), 64) does and
// returns bit-identical results, reporting false where ParseFloat returns
// an error (including range errors). Plain decimals ([sign] digits [.
// digits]) with at most 19 significant digits whose mantissa fits in 53
// bits are converted without allocating (Clinger's exact fast path: an
// exact integer divided by an exact power of ten is correctly rounded);
// everything else goes to strconv.
func parseFloat(b []byte) (float64, bool) {
	i := 0
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		i = 1
	}
	start := i
	// Leading zeros do not count as significant digits.
	for i < len(b) && b[i] == '0' {
		i++
	}
	var mant uint64
	nd := 0 // significant digits in mant
	for ; i < len(b); i++ {
		c := b[i] - '0'
		if c > 9 {
			break
		}
		mant = mant*10 + uint64(c)
		nd++
	}
	intEnd := i
	exp := 0
	if i < len(b) && b[i] == '.' {
		i++
		fracStart := i
		if mant == 0 {
			for i < len(b) && b[i] == '0' {
				i++
			}
		}
		for ; i < len(b); i++ {
			c := b[i] - '0'
			if c > 9 {
				break
			}
			mant = mant*10 + uint64(c)
			nd++
		}
		exp = fracStart - i
		if i == fracStart && intEnd == start {
			return parseFloatSlow(b) // "." alone
		}
	} else if intEnd == start {
		return parseFloatSlow(b) // no digits
	}
	if i != len(b) || nd > 19 {
		return parseFloatSlow(b)
	}
	if mant == 0 {
		if neg {
			return math.Copysign(0, -1), true
		}
		return 0, true
	}
	if mant > 1<<53 || exp < -22 {
		return parseFloatSlow(b)
	}
	f := float64(mant) / float64pow10[-exp]
	if neg {
		f = -f
	}
	return f, true
}

func parseFloatSlow(b []byte) (float64, bool) {
	if !maybeFloat(b) {
		// Text, a date, "26-40": certainly not a float, so no string
		// allocation and no failed parse (inference tries every value of
		// a text column).
		return 0, false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	return f, err == nil
}

// maybeFloat is a cheap pre-check of strconv.ParseFloat's syntax: it
// reports false only for values ParseFloat rejects. After an optional
// sign, a float is "inf", "infinity" or "nan" (any case), or starts with
// a digit or '.' and holds only digits, '.', '_', hex digits, 'x', 'p',
// and signs right after an exponent letter.
func maybeFloat(b []byte) bool {
	i := 0
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		i = 1
	}
	if i == len(b) {
		return false
	}
	switch c := b[i]; {
	case c|0x20 == 'i' || c|0x20 == 'n':
		n := len(b) - i
		return n == 3 || n == 8
	case (c < '0' || c > '9') && c != '.':
		return false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c >= '0' && c <= '9', c == '.', c == '_':
		case c|0x20 >= 'a' && c|0x20 <= 'f', c|0x20 == 'x', c|0x20 == 'p':
		case c == '+' || c == '-':
			if e := b[j-1] | 0x20; e != 'e' && e != 'p' {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// outOfRange reports whether b is a float beyond float64's range
// ("1e400"), which strconv.ParseFloat rejects with ErrRange.
func outOfRange(b []byte) bool {
	if !maybeFloat(b) {
		return false
	}
	_, err := strconv.ParseFloat(string(b), 64)
	return errors.Is(err, strconv.ErrRange)
}

// parseBool accepts true and false in any letter case.
func parseBool(b []byte) (v, ok bool) {
	switch len(b) {
	case 4:
		return true, b[0]|0x20 == 't' && b[1]|0x20 == 'r' && b[2]|0x20 == 'u' && b[3]|0x20 == 'e'
	case 5:
		return false, b[0]|0x20 == 'f' && b[1]|0x20 == 'a' && b[2]|0x20 == 'l' && b[3]|0x20 == 's' && b[4]|0x20 == 'e'
	}
	return false, false
}

// parseBoolDeclared is parseBool that also accepts 1 and 0, for columns
// declared bool.
func parseBoolDeclared(b []byte) (v, ok bool) {
	if len(b) == 1 {
		switch b[0] {
		case '1':
			return true, true
		case '0':
			return false, true
		}
		return false, false
	}
	return parseBool(b)
}

var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// parseTime parses a date (2006-01-02, midnight UTC) or an RFC 3339
// timestamp, then each of the extra layouts (parsed in UTC), into Unix
// nanoseconds. Instants outside the int64 nanosecond range are rejected.
func parseTime(b []byte, layouts []string) (int64, bool) {
	if len(b) == 10 && b[4] == '-' && b[7] == '-' {
		y, ok1 := digits(b[0:4])
		m, ok2 := digits(b[5:7])
		d, ok3 := digits(b[8:10])
		if ok1 && ok2 && ok3 && m >= 1 && m <= 12 && d >= 1 && d <= daysIn(m, y) {
			t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
			if !t.Before(minTime) && !t.After(maxTime) {
				return t.UnixNano(), true
			}
			return 0, false
		}
	}
	if len(b) >= 20 && b[4] == '-' && b[7] == '-' && (b[10] == 'T' || b[10] == 't') {
		if t, err := time.Parse(time.RFC3339Nano, string(b)); err == nil {
			return inRange(t)
		}
	}
	if len(layouts) > 0 {
		s := string(b)
		for _, l := range layouts {
			if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
				return inRange(t)
			}
		}
	}
	return 0, false
}

func inRange(t time.Time) (int64, bool) {
	if t.Before(minTime) || t.After(maxTime) {
		return 0, false
	}
	return t.UnixNano(), true
}

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// Type masks used by inference: the set of types a value could have.
const (
	maskInt uint8 = 1 << iota
	maskFloat
	maskBool
	maskTime
	maskAll = maskInt | maskFloat | maskBool | maskTime
	// maskNonFinite is not a type: valueMask adds it to maskFloat for a
	// float that is NaN or an infinity. Masks of columns never hold it
	// (they are ANDs of maskAll and value masks).
	maskNonFinite uint8 = 1 << 7
)

// maskOf returns the mask of a column converted as type t.
func maskOf(t Type) uint8 {
	switch t {
	case Int:
		return maskInt | maskFloat
	case Float:
		return maskFloat
	case Bool:
		return maskBool
	case Time:
		return maskTime
	}
	return 0
}

// valueMask returns which of the types in within the value b admits (and
// maskNonFinite for NaN and infinities).
func valueMask(b []byte, within uint8, layouts []string) uint8 {
	if within&maskInt != 0 {
		if _, ok := parseInt(b); ok {
			return (maskInt | maskFloat) & within
		}
	}
	if within&maskFloat != 0 {
		if v, ok := parseFloat(b); ok {
			if v-v != 0 {
				return maskFloat | maskNonFinite
			}
			return maskFloat
		}
	}
	if within&maskBool != 0 {
		if _, ok := parseBool(b); ok {
			return maskBool
		}
	}
	if within&maskTime != 0 {
		if _, ok := parseTime(b, layouts); ok {
			return maskTime
		}
	}
	return 0
}

// typeOfMask picks the inferred type for a column whose values all admit
// the types in m: int, else float, else bool, else time, else string.
func typeOfMask(m uint8) Type {
	switch {
	case m&maskInt != 0:
		return Int
	case m&maskFloat != 0:
		return Float
	case m&maskBool != 0:
		return Bool
	case m&maskTime != 0:
		return Time
	}
	return String
}
