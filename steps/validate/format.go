package validate

import (
	"math"
	"strconv"
)

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
