package load

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/steps/internal/yamlnode"
)

// sizeUnits are the units max_bytes takes, matched without regard to
// case: decimal (SI) multiples of 1000 and binary (IEC) multiples of 1024.
var sizeUnits = []struct {
	name string
	mult int64
}{
	{"B", 1},
	{"kB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
}

// sizeUnitList names sizeUnits for messages.
const sizeUnitList = "B, kB, MB, GB, TB, KiB, MiB, GiB or TiB"

// maxSizeLimit is the largest max_bytes: a load reads up to max_bytes+1
// bytes, which must be an int64.
const maxSizeLimit = math.MaxInt64 - 1

// Errors of parseSize.
var (
	errSizeSyntax = errors.New("not a whole number of bytes with an optional unit")
	errSizeUnit   = errors.New("unknown unit")
	errSizeRange  = errors.New("too large")
	errSizeZero   = errors.New("not positive")
)

// parseSize parses a byte count: decimal digits, optionally followed by
// one space and a unit of sizeUnits in any case ("100MB", "2 GiB",
// "512kib", "1000"). The count must be positive and at most maxSizeLimit.
func parseSize(s string) (int64, error) {
	digits := len(s) - len(strings.TrimLeft(s, "0123456789"))
	if digits == 0 {
		return 0, errSizeSyntax
	}
	rest := s[digits:]
	unit := strings.TrimPrefix(rest, " ")
	mult := int64(1)
	if rest != "" {
		if unit == "" || strings.TrimLeft(unit, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			return 0, errSizeSyntax
		}
		found := false
		for _, u := range sizeUnits {
			if strings.EqualFold(unit, u.name) {
				mult, found = u.mult, true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("%w %q (want %s)", errSizeUnit, unit, sizeUnitList)
		}
	}
	var n int64
	for _, c := range s[:digits] {
		d := int64(c - '0')
		if n > (maxSizeLimit-d)/10 {
			return 0, errSizeRange
		}
		n = n*10 + d
	}
	if n > maxSizeLimit/mult {
		return 0, errSizeRange
	}
	n *= mult
	if n == 0 {
		return 0, errSizeZero
	}
	return n, nil
}

// decodeMaxBytes decodes the max_bytes setting: a positive integer, or a
// string parseSize accepts. On failure it returns the diagnostic's message.
func decodeMaxBytes(n *yaml.Node) (int64, string) {
	const want = `max_bytes must be a whole number of bytes with an optional unit, such as 1000000, "100MB" or "2GiB", got %s`
	// YAML tags an integer too large for an int64 as a float.
	digits := strings.TrimLeft(strings.TrimLeft(n.Value, "+-"), "0123456789") == "" && strings.Trim(n.Value, "+-") != ""
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float" && digits) {
		v, ok := yamlnode.Integer(n)
		switch {
		case !ok && !strings.HasPrefix(n.Value, "-"), ok && v > maxSizeLimit:
			return 0, fmt.Sprintf("max_bytes %s is too large (at most %d bytes)", n.Value, int64(maxSizeLimit))
		case !ok, v <= 0:
			return 0, fmt.Sprintf("max_bytes must be a positive number of bytes, got %s", n.Value)
		}
		return v, ""
	}
	s, isStr := yamlnode.Str(n)
	if !isStr {
		return 0, fmt.Sprintf(want, yamlnode.Describe(n))
	}
	v, err := parseSize(s)
	switch {
	case errors.Is(err, errSizeSyntax):
		return 0, fmt.Sprintf(want, fmt.Sprintf("%q", s))
	case errors.Is(err, errSizeZero):
		return 0, fmt.Sprintf("max_bytes must be a positive number of bytes, got %q", s)
	case errors.Is(err, errSizeRange):
		return 0, fmt.Sprintf("max_bytes %q is too large (at most %d bytes)", s, int64(maxSizeLimit))
	case err != nil:
		return 0, fmt.Sprintf("max_bytes %q: %v", s, err)
	}
	return v, ""
}
