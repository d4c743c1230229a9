// Package groups cuts a protected attribute's column into the groups that
// fairness compares (stats.Fairness): a string column's values, a numeric
// column's values when it has few, else bands (declared cuts or quantile
// bands of the data, stats.Bands). The evaluate and monitor kinds share it,
// so an attribute is grouped the same way before and after deployment.
package groups

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/mlrun-cli/mlrun/steps/profile"
	"github.com/mlrun-cli/mlrun/steps/stats"
	"github.com/mlrun-cli/mlrun/steps/table"
)

const (
	// Missing is the group of rows whose value is missing.
	Missing = "(missing)"
	// DefaultLevels is the most distinct values a numeric column may have
	// and still be compared one group per value; with more (an age, an
	// income) it is cut into DefaultQuantiles quantile bands of the data
	// unless bins or quantiles say otherwise.
	DefaultLevels = 20
	// DefaultQuantiles is the number of quantile bands of a numeric column
	// with many distinct values (quartiles).
	DefaultQuantiles = 4
	// MaxQuantiles bounds the quantiles setting.
	MaxQuantiles = 100
)

// Bands describes the bands of a numeric column (stats.Bands:
// "(-inf,c₀)", "[c₀,c₁)", …, "[c_{k−1},+inf)").
type Bands struct {
	// Method is "bins" (declared cuts), "quantiles" or "default"
	// (DefaultQuantiles quantile bands of a column with more than
	// DefaultLevels distinct values). Callers may rename it after their
	// settings.
	Method string `json:"method"`
	// Quantiles is the number of quantile bands asked for.
	Quantiles int `json:"quantiles,omitempty"`
	// Cuts are the band edges: the declared bins, or the data's quantiles
	// (stats.NumpyQuantileEdges, so ties give fewer bands).
	Cuts []float64 `json:"cuts"`
	// Distinct counts the column's distinct non-missing values.
	Distinct int `json:"distinct"`
}

// Check checks declared bins (finite, strictly ascending) and quantiles
// (0, or 2 to MaxQuantiles), which exclude each other; binsName and
// quantilesName name the settings in messages.
func Check(bins []float64, quantiles int, binsName, quantilesName string) error {
	switch {
	case len(bins) > 0 && quantiles != 0:
		return fmt.Errorf("%s and %s exclude each other", binsName, quantilesName)
	case quantiles != 0 && (quantiles < 2 || quantiles > MaxQuantiles):
		return fmt.Errorf("%s must be an integer from 2 to %d, got %d", quantilesName, MaxQuantiles, quantiles)
	}
	for i, b := range bins {
		if math.IsNaN(b) || math.IsInf(b, 0) {
			return fmt.Errorf("%s must be finite numbers, got %v", binsName, b)
		}
		if i > 0 && !(b > bins[i-1]) {
			return fmt.Errorf("%s must be ascending, got %s after %s", binsName, num(b), num(bins[i-1]))
		}
	}
	return nil
}

// ErrStringBands reports bins or quantiles asked of a string column.
var ErrStringBands = errors.New("bands need a numeric column")

// Rows returns the group of each row of c and the groups in order: a
// numeric column's bands, low to high, when bins or quantiles say so or the
// column has more than DefaultLevels distinct values (bands then describes
// them), else its values in numeric order (a string column's in first-seen
// order is left to stats.Fairness: order is nil); Missing for nulls, last.
func Rows(c *table.Column, bins []float64, quantiles int) (groups, order []string, bands *Bands, err error) {
	n := c.Len()
	groups = make([]string, n)
	if c.Type == table.String {
		if len(bins) > 0 || quantiles > 0 {
			return nil, nil, nil, fmt.Errorf("column %q is a string column: %w", c.Name, ErrStringBands)
		}
		for i := range groups {
			groups[i] = Missing
			if !c.IsNull(i) {
				groups[i] = c.Str(i)
			}
		}
		return groups, nil, nil, nil
	}
	v := profile.Floats(c)
	sorted := stats.SortedCopy(v)
	distinct := 0
	for i := range sorted {
		if i == 0 || sorted[i] != sorted[i-1] {
			distinct++
		}
	}
	switch {
	case len(bins) > 0:
		bands = &Bands{Method: "bins", Cuts: bins}
	case quantiles > 0:
		bands = &Bands{Method: "quantiles", Quantiles: quantiles}
	case distinct > DefaultLevels:
		bands = &Bands{Method: "default", Quantiles: DefaultQuantiles}
	}
	if bands != nil {
		bands.Distinct = distinct
		if bands.Quantiles > 0 {
			bands.Cuts = stats.NumpyQuantileEdges(sorted, bands.Quantiles)
		}
		groups, order = stats.Bands(v, bands.Cuts, Missing)
		return groups, order, bands, nil
	}
	for i, x := range v {
		groups[i] = Missing
		if !math.IsNaN(x) {
			groups[i] = fmt.Sprint(x)
		}
	}
	for i, x := range sorted {
		if i == 0 || x != sorted[i-1] {
			order = append(order, fmt.Sprint(x))
		}
	}
	return groups, append(order, Missing), nil, nil
}

// Note says how a numeric column was cut into bands; binsName and
// quantilesName name the settings, of is what the quantiles were cut from
// ("the batch") and across what declared bins stay fixed ("batches").
func Note(column string, b *Bands, binsName, quantilesName, of, across string) string {
	cuts := make([]string, len(b.Cuts))
	for i, c := range b.Cuts {
		cuts[i] = num(c)
	}
	at := "cut at " + strings.Join(cuts, ", ")
	if len(cuts) == 0 {
		at = "one band: the quantiles are all tied"
	}
	switch b.Method {
	case "bins":
		return fmt.Sprintf("fairness: %s in %d bands of %s, %s", column, len(b.Cuts)+1, binsName, at)
	case "quantiles":
		return fmt.Sprintf("fairness: %s in %d quantile bands of %s (%s), %s", column, b.Quantiles, of, quantilesName, at)
	}
	return fmt.Sprintf("fairness: %s (numeric, %d distinct values) in %d quantile bands of %s, %s; %s gives bands fixed across %s",
		column, b.Distinct, b.Quantiles, of, at, binsName, across)
}

// num formats a cut: integers as such, tiny values with 3 significant
// digits, others with up to 4 decimals.
func num(v float64) string {
	switch {
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) < 1e-3:
		return fmt.Sprintf("%.3g", v)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4f", v), "0"), ".")
}
