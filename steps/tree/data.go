package tree

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// binSample is the largest number of rows whose values set a numeric
// feature's bin edges; larger datasets are sampled at a fixed stride.
const binSample = 200_000

// Data is a training set prepared for growing trees: labels, row weights
// and the features binned once.
type Data struct {
	// Rows is the number of rows; Positives the number labelled 1.
	Rows, Positives int
	// Target is the target with the column's type.
	Target model.Target
	// Features are the features with their bins.
	Features []model.TreeFeature
	// Bins holds each feature's bins, column-major.
	Bins [][]uint8
	// Y holds the 0/1 labels; W the row weights (class weight times sample
	// weight).
	Y, W []float64

	nb  []int  // bins per feature, the missing bin included
	cat []bool // string feature
}

// Prepare validates the target and features of ds, computes row weights
// and bins every feature (see LearnBins). sampleWeight names an optional
// numeric column of non-negative row weights.
func Prepare(ds *table.Dataset, target model.Target, features []string, cw model.ClassWeight, sampleWeight string, maxBins, jobs int) (*Data, error) {
	if len(features) == 0 {
		return nil, errors.New("no features")
	}
	if maxBins < 2 || maxBins > model.MaxBins {
		return nil, fmt.Errorf("max_bins must be between 2 and %d, not %d", model.MaxBins, maxBins)
	}
	tc := ds.Column(target.Name)
	if tc == nil {
		return nil, fmt.Errorf("%w: target column %q is missing", model.ErrSchema, target.Name)
	}
	target.Type = tc.Type
	y, err := target.Labels(ds)
	if err != nil {
		return nil, err
	}
	pos := 0
	for _, v := range y {
		pos += int(v)
	}
	if pos == 0 || pos == ds.Rows {
		return nil, fmt.Errorf("target %q: %d of %d rows are positive: training needs both classes", target.Name, pos, ds.Rows)
	}
	w, err := model.ClassWeights(cw, tc, y, pos)
	if err != nil {
		return nil, err
	}
	if sampleWeight != "" {
		c := ds.Column(sampleWeight)
		switch {
		case c == nil:
			return nil, fmt.Errorf("%w: sample weight column %q is missing", model.ErrSchema, sampleWeight)
		case !c.Type.Numeric():
			return nil, fmt.Errorf("sample weight column %q is %s, not numeric", sampleWeight, c.Type)
		case slices.Contains(features, sampleWeight) || sampleWeight == target.Name:
			return nil, fmt.Errorf("sample weight column %q is a feature or the target", sampleWeight)
		}
		total := 0.0
		for i := range w {
			v := c.Float(i)
			if !(v >= 0) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("sample weight column %q: row %d holds %v; weights must be finite and >= 0", sampleWeight, i+1, v)
			}
			w[i] *= v
			total += v
		}
		if !(total > 0) {
			return nil, fmt.Errorf("sample weight column %q sums to 0", sampleWeight)
		}
	}
	seen := map[string]bool{}
	var tfs []model.TreeFeature
	var buf []float64 // LearnBins' sample, shared by the features
	for _, name := range features {
		c := ds.Column(name)
		switch {
		case c == nil:
			return nil, fmt.Errorf("%w: feature column %q is missing", model.ErrSchema, name)
		case name == target.Name:
			return nil, fmt.Errorf("feature %q is the target", name)
		case seen[name]:
			return nil, fmt.Errorf("feature %q is listed twice", name)
		case c.Type == table.Time:
			return nil, fmt.Errorf("feature %q is a time column: derive a numeric feature from it", name)
		}
		seen[name] = true
		f, b, err := learnBins(c, maxBins, buf)
		buf = b
		if err != nil {
			return nil, err
		}
		tfs = append(tfs, f)
	}
	bins, err := model.BinColumns(ds, tfs, jobs)
	if err != nil {
		return nil, err
	}
	d := &Data{Rows: ds.Rows, Positives: pos, Target: target, Features: tfs, Bins: bins, Y: y, W: w}
	d.index()
	return d, nil
}

func (d *Data) index() {
	d.nb = make([]int, len(d.Features))
	d.cat = make([]bool, len(d.Features))
	for k, f := range d.Features {
		d.nb[k] = f.Bins()
		d.cat[k] = f.Type == table.String
	}
}

// LearnBins computes a feature's bins from its training column (see
// model.TreeFeature).
//
// Numeric: the finite non-null values (of at most 200,000 rows taken at a
// fixed stride) are sorted. With at most maxBins distinct values the edges
// are the midpoints between consecutive distinct values, so every value
// has its own bin; otherwise edge k (k = 1..maxBins−1) is the midpoint
// between the sample's k/maxBins quantile s[⌊k·m/maxBins⌋] and the next
// larger value, duplicates dropped. Bool columns read as 0 and 1.
//
// String: the levels seen in training, sorted; with more than maxBins
// levels, the maxBins most frequent ones (ties by value), the others
// sharing the missing bin.
func LearnBins(c *table.Column, maxBins int) (model.TreeFeature, error) {
	f, _, err := learnBins(c, maxBins, nil)
	return f, err
}

// learnBins is LearnBins taking the sample in buf's memory (grown as
// needed and returned, so that features share one buffer).
func learnBins(c *table.Column, maxBins int, buf []float64) (model.TreeFeature, []float64, error) {
	f := model.TreeFeature{Name: c.Name, Type: c.Type}
	n := c.Len()
	if c.Type == table.String {
		counts := make([]int, len(c.Dict))
		for i := range n {
			if c.Valid.Valid(i) {
				counts[c.Codes[i]]++
			}
		}
		type lv struct {
			v string
			n int
		}
		byValue := map[string]int{}
		for code, k := range counts {
			if k > 0 {
				byValue[c.Dict[code]] += k
			}
		}
		var lvs []lv
		for v, k := range byValue {
			lvs = append(lvs, lv{v, k})
		}
		if len(lvs) == 0 {
			return f, buf, fmt.Errorf("feature %q has no non-null values in the training data", c.Name)
		}
		sort.Slice(lvs, func(i, j int) bool {
			if lvs[i].n != lvs[j].n {
				return lvs[i].n > lvs[j].n
			}
			return lvs[i].v < lvs[j].v
		})
		lvs = lvs[:min(len(lvs), maxBins)]
		for _, l := range lvs {
			f.Levels = append(f.Levels, l.v)
		}
		sort.Strings(f.Levels)
		return f, buf, nil
	}
	step := 1.0
	m := n
	if n > binSample {
		m = binSample
		step = float64(n) / binSample
	}
	vals := buf[:0]
	if cap(vals) < m {
		vals = make([]float64, 0, m)
	}
	buf = vals[:0]
	for k := range m {
		i := k
		if step != 1 {
			i = int(float64(k) * step)
		}
		if v := c.Float(i); !math.IsNaN(v) && !math.IsInf(v, 0) {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		// Every value null or infinite: no finite value to split on.
		for i := range n {
			if v := c.Float(i); !math.IsNaN(v) {
				return f, buf, nil
			}
		}
		return f, buf, fmt.Errorf("feature %q has no non-null values in the training data", c.Name)
	}
	slices.Sort(vals)
	distinct := 1
	for i := 1; i < len(vals) && distinct <= maxBins; i++ {
		if vals[i] != vals[i-1] {
			distinct++
		}
	}
	if distinct <= maxBins {
		// Edges between consecutive distinct values (the first of each
		// run of equal values, as slices.Compact keeps).
		prev := vals[0]
		for i := 1; i < len(vals); i++ {
			if vals[i] != vals[i-1] {
				f.Edges = append(f.Edges, midpoint(prev, vals[i]))
				prev = vals[i]
			}
		}
		return f, buf, nil
	}
	mv := len(vals)
	for k := 1; k < maxBins; k++ {
		v := vals[k*mv/maxBins]
		j := sort.Search(mv, func(i int) bool { return vals[i] > v })
		if j == mv {
			break
		}
		e := midpoint(v, vals[j])
		if len(f.Edges) == 0 || e > f.Edges[len(f.Edges)-1] {
			f.Edges = append(f.Edges, e)
		}
	}
	return f, buf, nil
}

// midpoint returns a value e with a <= e < b, halfway when representable.
func midpoint(a, b float64) float64 {
	e := a/2 + b/2
	if !(e >= a && e < b) {
		return a
	}
	return e
}
