package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/mlrun-cli/mlrun/steps/table"
)

// Logistic is a fitted logistic regression,
//
//	P(y = 1 | x) = σ(b + Σ_j β_j·z_j),  σ(t) = 1/(1 + e^(−t)),
//
// over the design columns z_j built from the features: a numeric feature
// (float, int or bool) gives one column, its value with nulls replaced by
// the training median; a string feature gives one indicator column per
// level seen in training (levels sorted; a null or unseen level sets every
// indicator to 0). Each column is then standardised, z_j = (x_j − m_j)/s_j,
// with the training mean m_j and population standard deviation s_j (s_j = 1
// for a constant column, and m_j = 0, s_j = 1 when standardisation is off).
type Logistic struct {
	target   Target
	features []Feature
	columns  []DesignColumn
	// intercept is b on the standardised scale.
	intercept float64
	// interceptOriginal is b in original units (see DesignColumn).
	interceptOriginal float64
	training          TrainingInfo
}

// Feature is one input of a model and what training learnt about it.
type Feature struct {
	// Name is the column name.
	Name string `json:"name"`
	// Type is the column type at training.
	Type table.Type `json:"-"`
	// Median replaces nulls of a numeric feature (nil for string features).
	Median *float64 `json:"median,omitempty"`
	// Levels are a string feature's values seen in training, sorted.
	Levels []string `json:"levels,omitempty"`
}

// DesignColumn is one column of a model's design matrix with its
// standardisation and coefficient. In original units (an imputed numeric
// value, or a 0/1 indicator) the model is
//
//	b' + Σ_j β'_j·x_j,  β'_j = β_j/s_j,  b' = b − Σ_j β_j·m_j/s_j.
type DesignColumn struct {
	// Feature is the feature's name; Level is the string level of an
	// indicator column (nil for a numeric feature).
	Feature string  `json:"feature"`
	Level   *string `json:"level,omitempty"`
	// Mean and Scale standardise the column.
	Mean  float64 `json:"mean"`
	Scale float64 `json:"scale"`
	// Coef is β_j on the standardised scale; CoefOriginal is β'_j.
	Coef         float64 `json:"coef"`
	CoefOriginal float64 `json:"coef_original"`
}

// Name returns "feature" or "feature=level".
func (c DesignColumn) Name() string {
	if c.Level == nil {
		return c.Feature
	}
	return c.Feature + "=" + *c.Level
}

// TrainingInfo records how a model was fitted.
type TrainingInfo struct {
	// Rows is the number of training rows; Positives the number labelled 1.
	Rows      int `json:"rows"`
	Positives int `json:"positives"`
	// L2, ClassWeight, Standardize, MaxIter and Tol are the settings.
	L2          float64     `json:"l2"`
	ClassWeight ClassWeight `json:"class_weight"`
	Standardize bool        `json:"standardize"`
	MaxIter     int         `json:"max_iter"`
	Tol         float64     `json:"tol"`
	// Iterations is the number of L-BFGS iterations; Status gonum's
	// termination status; Converged is false when the iteration limit
	// stopped the fit.
	Iterations int    `json:"iterations"`
	Status     string `json:"status"`
	Converged  bool   `json:"converged"`
	// Objective is the final objective value and GradNorm the infinity
	// norm of its gradient.
	Objective float64 `json:"objective"`
	GradNorm  float64 `json:"grad_norm"`
}

// ClassWeight weighs training rows by class: Balanced gives class c the
// weight n/(2·n_c) (scikit-learn's "balanced"); Values maps a raw target
// value (as RawValues writes it) to its weight, other values weighing 1.
// The zero value weighs every row 1.
type ClassWeight struct {
	Balanced bool               `json:"balanced,omitempty"`
	Values   map[string]float64 `json:"values,omitempty"`
}

// TypeName implements pipeline.Object.
func (m *Logistic) TypeName() string { return TypeName }

// Algorithm implements Model.
func (m *Logistic) Algorithm() string { return LogisticRegression }

// Target implements Model.
func (m *Logistic) Target() Target { return m.target }

// Features implements Model.
func (m *Logistic) Features() []string {
	out := make([]string, len(m.features))
	for i, f := range m.features {
		out[i] = f.Name
	}
	return out
}

// FeatureInfo returns the model's features with their medians and levels.
func (m *Logistic) FeatureInfo() []Feature { return append([]Feature(nil), m.features...) }

// Columns returns the design columns with their coefficients.
func (m *Logistic) Columns() []DesignColumn { return append([]DesignColumn(nil), m.columns...) }

// Intercept returns the intercept on the standardised scale and in
// original units.
func (m *Logistic) Intercept() (standardised, original float64) {
	return m.intercept, m.interceptOriginal
}

// Training returns how the model was fitted.
func (m *Logistic) Training() TrainingInfo { return m.training }

// Type implements Model.
func (m *Logistic) Type() *Type {
	t := &Type{Algorithm: LogisticRegression, Target: m.target}
	for _, f := range m.features {
		t.Features = append(t.Features, table.Field{Name: f.Name, Type: f.Type})
	}
	return t
}

// sigmoid is σ(t) = 1/(1+e^(−t)), computed without overflow.
func sigmoid(t float64) float64 {
	if t >= 0 {
		return 1 / (1 + math.Exp(-t))
	}
	e := math.Exp(t)
	return e / (1 + e)
}

// encoder fills standardised design rows from a dataset's columns.
type encoder struct {
	m     *Logistic
	cols  []*table.Column
	first []int     // first design column of each feature
	codes [][]int32 // per string feature: dict code -> level index or -1
}

func (m *Logistic) newEncoder(ds *table.Dataset) (*encoder, error) {
	e := &encoder{m: m, cols: make([]*table.Column, len(m.features)), first: make([]int, len(m.features)), codes: make([][]int32, len(m.features))}
	j := 0
	for k, f := range m.features {
		c := ds.Column(f.Name)
		if c == nil {
			return nil, fmt.Errorf("%w: feature column %q is missing", ErrSchema, f.Name)
		}
		if !Compatible(f.Type, c.Type) {
			return nil, fmt.Errorf("%w: feature column %q is %s, the model was trained on %s", ErrSchema, f.Name, c.Type, f.Type)
		}
		e.cols[k], e.first[k] = c, j
		if f.Type == table.String {
			index := make(map[string]int32, len(f.Levels))
			for i, l := range f.Levels {
				index[l] = int32(i)
			}
			lookup := make([]int32, len(c.Dict))
			for code, v := range c.Dict {
				if i, ok := index[v]; ok {
					lookup[code] = i
				} else {
					lookup[code] = -1
				}
			}
			e.codes[k] = lookup
			j += len(f.Levels)
		} else {
			j++
		}
	}
	return e, nil
}

// raw writes row i's unstandardised design values into z.
func (e *encoder) raw(i int, z []float64) {
	for k, f := range e.m.features {
		c, j := e.cols[k], e.first[k]
		if f.Type != table.String {
			v := c.Float(i)
			if math.IsNaN(v) {
				v = *f.Median
			}
			z[j] = v
			continue
		}
		for l := range f.Levels {
			z[j+l] = 0
		}
		if c.Valid.Valid(i) {
			if l := e.codes[k][c.Codes[i]]; l >= 0 {
				z[j+int(l)] = 1
			}
		}
	}
}

// row writes row i's standardised design values into z.
func (e *encoder) row(i int, z []float64) {
	e.raw(i, z)
	for j, c := range e.m.columns {
		z[j] = (z[j] - c.Mean) / c.Scale
	}
}

// linear returns b + Σ β_j·z_j, summed in column order.
func (m *Logistic) linear(z []float64) float64 {
	t := m.intercept
	for j, c := range m.columns {
		t += c.Coef * z[j]
	}
	return t
}

// predictChunk is the number of rows a prediction worker takes at a time.
const predictChunk = 4096

// Predict implements Model. Each row is computed independently, so the
// result does not depend on jobs.
func (m *Logistic) Predict(ds *table.Dataset, jobs int) ([]float64, error) {
	e, err := m.newEncoder(ds)
	if err != nil {
		return nil, err
	}
	out := make([]float64, ds.Rows)
	parallelChunks(ds.Rows, predictChunk, jobs, func(lo, hi int) {
		z := make([]float64, len(m.columns))
		for i := lo; i < hi; i++ {
			e.row(i, z)
			out[i] = sigmoid(m.linear(z))
		}
	})
	return out, nil
}

// parallelChunks calls fn(lo, hi) for the chunks [k·size, (k+1)·size) of
// [0, n), on up to jobs goroutines.
func parallelChunks(n, size, jobs int, fn func(lo, hi int)) {
	chunks := (n + size - 1) / size
	if jobs < 1 {
		jobs = runtime.GOMAXPROCS(0)
	}
	jobs = min(jobs, chunks)
	if jobs <= 1 {
		for k := range chunks {
			fn(k*size, min(n, (k+1)*size))
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range jobs {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= chunks {
					return
				}
				fn(k*size, min(n, (k+1)*size))
			}
		})
	}
	wg.Wait()
}

// logisticJSON is the encoding of a *Logistic.
type logisticJSON struct {
	Format            string         `json:"format"`
	Version           int            `json:"version"`
	Algorithm         string         `json:"algorithm"`
	Target            targetJSON     `json:"target"`
	Features          []featureJSON  `json:"features"`
	Intercept         float64        `json:"intercept"`
	InterceptOriginal float64        `json:"intercept_original"`
	Columns           []DesignColumn `json:"columns"`
	Training          TrainingInfo   `json:"training"`
}

type targetJSON struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Positive string `json:"positive,omitempty"`
}

type featureJSON struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Median *float64 `json:"median,omitempty"`
	Levels []string `json:"levels,omitempty"`
}

// Encode implements pipeline.Object: canonical JSON with the header first.
func (m *Logistic) Encode(w io.Writer) error {
	v := logisticJSON{
		Format: Format, Version: Version, Algorithm: LogisticRegression,
		Target:    targetJSON{Name: m.target.Name, Type: m.target.Type.String(), Positive: m.target.Positive},
		Intercept: m.intercept, InterceptOriginal: m.interceptOriginal,
		Columns: m.columns, Training: m.training,
	}
	for _, f := range m.features {
		v.Features = append(v.Features, featureJSON{Name: f.Name, Type: f.Type.String(), Median: f.Median, Levels: f.Levels})
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode logistic regression: %w", err)
	}
	_, err = w.Write(b)
	return err
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// decodeLogistic decodes and checks a logistic regression encoding: every
// number finite, design columns matching the features, derived values
// (original-unit coefficients) equal to their recomputation.
func decodeLogistic(data []byte) (*Logistic, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var v logisticJSON
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the model", ErrFormat)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: logistic regression: %s", ErrFormat, fmt.Sprintf(format, args...))
	}
	tt, ok := table.ParseType(v.Target.Type)
	if !ok || v.Target.Type != tt.String() || v.Target.Name == "" {
		return nil, bad("target %q of type %q", v.Target.Name, v.Target.Type)
	}
	m := &Logistic{target: Target{Name: v.Target.Name, Type: tt, Positive: v.Target.Positive},
		intercept: v.Intercept, interceptOriginal: v.InterceptOriginal, training: v.Training}
	if err := m.target.CheckPositive(); err != nil {
		return nil, bad("%v", err)
	}
	if len(v.Features) == 0 {
		return nil, bad("no features")
	}
	seen := map[string]bool{v.Target.Name: true}
	var want []DesignColumn
	for _, f := range v.Features {
		ft, ok := table.ParseType(f.Type)
		if !ok || f.Type != ft.String() || ft == table.Time {
			return nil, bad("feature %q has type %q", f.Name, f.Type)
		}
		if seen[f.Name] {
			return nil, bad("feature %q repeats a feature or the target", f.Name)
		}
		seen[f.Name] = true
		if ft == table.String {
			if f.Median != nil || len(f.Levels) == 0 {
				return nil, bad("string feature %q needs levels and no median", f.Name)
			}
			for i, l := range f.Levels {
				if i > 0 && f.Levels[i-1] >= l {
					return nil, bad("levels of %q are not sorted and unique", f.Name)
				}
				want = append(want, DesignColumn{Feature: f.Name, Level: &l})
			}
		} else {
			if f.Median == nil || !finite(*f.Median) || f.Levels != nil {
				return nil, bad("numeric feature %q needs a finite median and no levels", f.Name)
			}
			want = append(want, DesignColumn{Feature: f.Name})
		}
		m.features = append(m.features, Feature{Name: f.Name, Type: ft, Median: f.Median, Levels: f.Levels})
	}
	if len(v.Columns) != len(want) {
		return nil, bad("%d design columns, the features make %d", len(v.Columns), len(want))
	}
	if !finite(v.Intercept) {
		return nil, bad("intercept is not finite")
	}
	for j, c := range v.Columns {
		w := want[j]
		if c.Feature != w.Feature || (c.Level == nil) != (w.Level == nil) || (c.Level != nil && *c.Level != *w.Level) {
			return nil, bad("design column %d is %q, want %q", j, c.Name(), w.Name())
		}
		if !finite(c.Mean) || !finite(c.Scale) || !(c.Scale > 0) || !finite(c.Coef) {
			return nil, bad("design column %q: mean, scale and coef must be finite, scale > 0", c.Name())
		}
	}
	m.columns = v.Columns
	ic, coefs := originalUnits(m.intercept, m.columns)
	if math.Float64bits(ic) != math.Float64bits(v.InterceptOriginal) {
		return nil, bad("intercept_original %v, the coefficients give %v", v.InterceptOriginal, ic)
	}
	for j, c := range m.columns {
		if math.Float64bits(coefs[j]) != math.Float64bits(c.CoefOriginal) {
			return nil, bad("design column %q: coef_original %v, coef/scale gives %v", c.Name(), c.CoefOriginal, coefs[j])
		}
	}
	return m, nil
}

// originalUnits converts the standardised intercept and coefficients to
// original units: β'_j = β_j/s_j, b' = b − Σ_j β_j·m_j/s_j (summed in column
// order).
func originalUnits(b float64, cols []DesignColumn) (float64, []float64) {
	out := make([]float64, len(cols))
	for j, c := range cols {
		out[j] = c.Coef / c.Scale
		b -= out[j] * c.Mean
	}
	return b, out
}
