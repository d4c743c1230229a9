package profile

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/stats"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// TypeName is the object and compile-time type name of profiles.
const TypeName = "profile"

// Format and Version head every profile.
const (
	Format  = "mlrun-profile"
	Version = 2
)

// DefaultBins is the number of quantile bins per numeric feature.
const DefaultBins = 10

// EdgesBinning is the convention of every profile's frozen bins
// (Feature.Edges and Counts): right-closed, stats.BinsRightClosed. Bins in
// another convention are cut from the frozen sorted values (Feature.Bins).
const EdgesBinning = stats.BinsRightClosed

// DefaultThreshold is the decision threshold of the baseline metrics.
const DefaultThreshold = 0.5

// Kinds of features.
const (
	Numeric     = "numeric"
	Categorical = "categorical"
)

// Type is the compile-time type of a profile.
type Type struct{}

// TypeName implements pipeline.Type.
func (Type) TypeName() string { return TypeName }

// Profile is the frozen reference of a model.
type Profile struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// Rows is the number of reference (training) rows.
	Rows int `json:"rows"`
	// Bins is the number of quantile bins asked for.
	Bins int `json:"bins"`
	// Target and Positive describe the label.
	Target   string `json:"target"`
	Positive string `json:"positive,omitempty"`
	// Threshold is the decision threshold of the baseline metrics.
	Threshold float64 `json:"threshold"`
	// Features are the model's features, in model order.
	Features []Feature `json:"features"`
	// Score is the distribution of the model's training scores.
	Score Feature `json:"score"`
	// Baseline holds the model's metrics on the reference rows.
	Baseline map[string]float64 `json:"baseline"`
}

// Feature is the reference of one column.
type Feature struct {
	Name string `json:"name"`
	// Kind is Numeric or Categorical.
	Kind    string `json:"kind"`
	Count   int    `json:"count"`
	Missing int    `json:"missing"`
	// Numeric summary (ddof 0 standard deviation); Quantiles at
	// QuantileLevels.
	Mean      float64   `json:"mean,omitempty"`
	Std       float64   `json:"std,omitempty"`
	Min       float64   `json:"min,omitempty"`
	Max       float64   `json:"max,omitempty"`
	Quantiles []float64 `json:"quantiles,omitempty"`
	// Edges are the interior bin edges; Counts the reference rows in each
	// of the len(Edges)+1 bins (see stats.BinCounts).
	Edges  []float64 `json:"edges,omitempty"`
	Counts []float64 `json:"counts,omitempty"`
	// Sorted holds the non-missing values, ascending.
	Sorted SortedValues `json:"sorted,omitempty"`
	// Categories counts each category of a string column, sorted by value.
	Categories []Category `json:"categories,omitempty"`
}

// Category is one value of a categorical feature and its reference count.
type Category struct {
	Value string  `json:"value"`
	Count float64 `json:"count"`
}

// QuantileLevels are the levels of Feature.Quantiles.
var QuantileLevels = []float64{0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99}

// MissingRate returns Missing / Count (0 for no rows).
func (f *Feature) MissingRate() float64 {
	if f.Count == 0 {
		return 0
	}
	return float64(f.Missing) / float64(f.Count)
}

// Binning returns the convention of the profile's frozen bins:
// EdgesBinning (right_closed) for every profile version this mlrun reads
// (1 and 2), all of which froze right-closed bins.
func (p *Profile) Binning() stats.Binning { return EdgesBinning }

// BinCount returns the number of quantile bins the profile was built with
// (Bins; DefaultBins when not recorded).
func (p *Profile) BinCount() int {
	if p.Bins < 2 {
		return DefaultBins
	}
	return p.Bins
}

// Bins returns the feature's bins in convention b, as interior edges, and
// the reference counts in each: the frozen Edges and Counts for
// EdgesBinning, the convention they were frozen in (and for ""); for
// another convention, the bins quantile bins of b cut from the frozen
// sorted values (stats.Binning.Edges and Counts), so that one profile gives
// the same bins in that convention every time. Nil for a feature without
// values.
func (f *Feature) Bins(b stats.Binning, bins int) (edges, counts []float64) {
	if b == EdgesBinning || b == "" {
		return f.Edges, f.Counts
	}
	if len(f.Sorted) == 0 {
		return nil, nil
	}
	edges = b.Edges(f.Sorted, bins)
	return edges, b.Counts(f.Sorted, edges)
}

// Feature returns the named feature, or nil.
func (p *Profile) Feature(name string) *Feature {
	for i := range p.Features {
		if p.Features[i].Name == name {
			return &p.Features[i]
		}
	}
	return nil
}

// Build computes the profile of model m on its training rows ds, whose
// scores are p and labels y.
func Build(ds *table.Dataset, m model.Model, p, y []float64, bins int) (*Profile, error) {
	if bins < 2 {
		bins = DefaultBins
	}
	t := m.Target()
	prof := &Profile{Format: Format, Version: Version, Rows: ds.Rows, Bins: bins,
		Target: t.Name, Positive: t.Positive, Threshold: DefaultThreshold}
	for _, name := range m.Features() {
		c := ds.Column(name)
		if c == nil {
			return nil, fmt.Errorf("profile: feature column %q is missing", name)
		}
		prof.Features = append(prof.Features, ColumnFeature(c, bins))
	}
	prof.Score = NumericFeature("score", p, bins)
	base, err := Metrics(p, y, DefaultThreshold)
	if err != nil {
		return nil, fmt.Errorf("profile: baseline: %w", err)
	}
	prof.Baseline = base
	return prof, nil
}

// ColumnFeature profiles a column: string columns as categorical, the
// others (numeric, bool, time) as numeric.
func ColumnFeature(c *table.Column, bins int) Feature {
	if c.Type == table.String {
		f := Feature{Name: c.Name, Kind: Categorical, Count: c.Len(), Missing: c.NullCount()}
		counts := CategoryCounts(c)
		for _, v := range sortedKeys(counts) {
			f.Categories = append(f.Categories, Category{Value: v, Count: counts[v]})
		}
		return f
	}
	return NumericFeature(c.Name, Floats(c), bins)
}

// Floats returns a numeric column's values as float64, NaN for nulls
// (bools as 0/1, times as Unix nanoseconds).
func Floats(c *table.Column) []float64 {
	out := make([]float64, c.Len())
	for i := range out {
		switch {
		case c.IsNull(i):
			out[i] = math.NaN()
		case c.Type == table.Bool:
			if c.Bools[i] {
				out[i] = 1
			}
		case c.Type == table.Time:
			out[i] = float64(c.Ints[i])
		default:
			out[i] = c.Float(i)
		}
	}
	return out
}

// CategoryCounts counts the non-null values of a string column.
func CategoryCounts(c *table.Column) map[string]float64 {
	counts := map[string]float64{}
	for i := 0; i < c.Len(); i++ {
		if !c.IsNull(i) {
			counts[c.Str(i)]++
		}
	}
	return counts
}

// NumericFeature profiles numeric values (NaN = missing).
func NumericFeature(name string, v []float64, bins int) Feature {
	sorted := stats.SortedCopy(v)
	f := Feature{Name: name, Kind: Numeric, Count: len(v), Missing: len(v) - len(sorted), Sorted: sorted}
	if len(sorted) == 0 {
		return f
	}
	f.Mean, f.Std, _ = stats.MeanStd(sorted)
	f.Min, f.Max = sorted[0], sorted[len(sorted)-1]
	for _, q := range QuantileLevels {
		f.Quantiles = append(f.Quantiles, stats.Quantile(sorted, q))
	}
	f.Edges = stats.QuantileEdges(sorted, bins)
	f.Counts = stats.BinCounts(sorted, f.Edges)
	return f
}

// Metrics are the performance metrics of probabilities p against labels y
// at threshold: auc, gini, ks (NaN with one class), accuracy, precision,
// recall, brier, positive_rate (predicted positive) and approval_rate
// (predicted negative), rows.
func Metrics(p, y []float64, threshold float64) (map[string]float64, error) {
	conf, err := stats.ConfusionAt(p, y, nil, threshold)
	if err != nil {
		return nil, err
	}
	br, err := stats.Brier(p, y, nil)
	if err != nil {
		return nil, err
	}
	n := conf.Total()
	out := map[string]float64{
		"accuracy": conf.Accuracy(), "precision": conf.Precision(), "recall": conf.Recall(),
		"brier": br, "rows": n, "positive_rate": (conf.TP + conf.FP) / n,
		"approval_rate": (conf.TN + conf.FN) / n, "default_rate": (conf.TP + conf.FN) / n,
	}
	roc, err := stats.NewROC(p, y, nil)
	switch {
	case errors.Is(err, stats.ErrOneClass):
	case err != nil:
		return nil, err
	default:
		auc := roc.AUC()
		out["auc"], out["gini"], out["ks"] = auc, 2*auc-1, roc.KS()
	}
	return out, nil
}

// Object wraps a profile as a pipeline object. Its encoding is the
// profile's JSON, as a pipeline.Document of it would write, but streamed
// (see object); decoding a stored profile gives a pipeline.Document.
func Object(p *Profile) pipeline.Object { return &object{p} }

// FromObject decodes a profile object.
func FromObject(o pipeline.Object) (*Profile, error) {
	if po, ok := o.(*object); ok {
		return po.p, nil
	}
	d, ok := o.(*pipeline.Document)
	if !ok || d.Type != TypeName {
		return nil, fmt.Errorf("not a profile: %s", o.TypeName())
	}
	if p, ok := d.Value.(*Profile); ok {
		return p, nil
	}
	var p Profile
	if err := d.Into(&p); err != nil {
		return nil, fmt.Errorf("decode profile: %w", err)
	}
	if p.Format != Format || p.Version < 1 || p.Version > Version {
		return nil, fmt.Errorf("decode profile: format %q version %d, this mlrun reads %s versions 1 to %d", p.Format, p.Version, Format, Version)
	}
	return &p, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
