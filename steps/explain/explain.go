package explain

import (
	"fmt"
	"math"
	"runtime"
	"sort"

	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// Explainer computes per-feature contributions for the rows of a dataset.
type Explainer interface {
	// Features names the contributions, in model order.
	Features() []string
	// Baseline returns the baseline's raw output t(μ).
	Baseline() float64
	// Explain returns, for every row of ds, the raw output t(x) and the
	// contribution of each feature (indexed like Features).
	Explain(ds *table.Dataset) (raw []float64, contrib [][]float64, err error)
}

// For returns the explainer of m: for logistic regression with the
// training-mean baseline computed over train (the dataset the model was
// fitted on); for a tree ensemble TreeSHAP, whose baseline is the expected
// output under the training distribution recorded in the node covers.
func For(m model.Model, train *table.Dataset) (Explainer, error) {
	switch m := m.(type) {
	case *model.Logistic:
		return NewLogistic(m, train)
	case *model.Ensemble:
		return NewTree(m, runtime.GOMAXPROCS(0)), nil
	}
	return nil, fmt.Errorf("reason codes for %s not supported yet", m.Algorithm())
}

// Logistic explains a logistic regression.
type Logistic struct {
	m        *model.Logistic
	features []model.Feature
	cols     []model.DesignColumn
	// owner[j] is the feature index of design column j.
	owner []int
	// base is the baseline's raw design row μ.
	base      []float64
	baseLogit float64
}

// NewLogistic returns the explainer of m whose baseline is the mean of every
// design column over train.
func NewLogistic(m *model.Logistic, train *table.Dataset) (*Logistic, error) {
	e := &Logistic{m: m, features: m.FeatureInfo(), cols: m.Columns()}
	for k, f := range e.features {
		n := 1
		if f.Type == table.String {
			n = len(f.Levels)
		}
		for range n {
			e.owner = append(e.owner, k)
		}
	}
	if len(e.owner) != len(e.cols) {
		return nil, fmt.Errorf("explain: model has %d design columns, its features give %d", len(e.cols), len(e.owner))
	}
	if train == nil || train.Rows == 0 {
		return nil, fmt.Errorf("explain: the training dataset is empty")
	}
	enc, err := e.encoder(train)
	if err != nil {
		return nil, fmt.Errorf("explain: training dataset: %w", err)
	}
	sum := make([]float64, len(e.cols))
	x := make([]float64, len(e.cols))
	for i := range train.Rows {
		enc(i, x)
		for j, v := range x {
			sum[j] += v
		}
	}
	e.base = make([]float64, len(e.cols))
	for j := range sum {
		e.base[j] = sum[j] / float64(train.Rows)
	}
	e.baseLogit = e.logit(e.base)
	return e, nil
}

// SetBaseline replaces the baseline design row (for a declared baseline).
func (e *Logistic) SetBaseline(mu []float64) error {
	if len(mu) != len(e.cols) {
		return fmt.Errorf("explain: baseline has %d values, the model %d design columns", len(mu), len(e.cols))
	}
	e.base = append([]float64(nil), mu...)
	e.baseLogit = e.logit(e.base)
	return nil
}

// BaselineRow returns the baseline design row μ, by design column name.
func (e *Logistic) BaselineRow() map[string]float64 {
	out := make(map[string]float64, len(e.cols))
	for j, c := range e.cols {
		out[c.Name()] = e.base[j]
	}
	return out
}

// Features implements Explainer.
func (e *Logistic) Features() []string { return e.m.Features() }

// Baseline implements Explainer.
func (e *Logistic) Baseline() float64 { return e.baseLogit }

// logit is b + Σ β_j·(x_j − m_j)/s_j, summed in column order as the model's
// Predict does.
func (e *Logistic) logit(x []float64) float64 {
	b, _ := e.m.Intercept()
	t := b
	for j, c := range e.cols {
		t += c.Coef * ((x[j] - c.Mean) / c.Scale)
	}
	return t
}

// Explain implements Explainer.
func (e *Logistic) Explain(ds *table.Dataset) ([]float64, [][]float64, error) {
	enc, err := e.encoder(ds)
	if err != nil {
		return nil, nil, err
	}
	raw := make([]float64, ds.Rows)
	contrib := make([][]float64, ds.Rows)
	x := make([]float64, len(e.cols))
	for i := range ds.Rows {
		enc(i, x)
		raw[i] = e.logit(x)
		c := make([]float64, len(e.features))
		for j, col := range e.cols {
			c[e.owner[j]] += col.Coef * ((x[j] - e.base[j]) / col.Scale)
		}
		contrib[i] = c
	}
	return raw, contrib, nil
}

// encoder returns a function writing row i's raw design values (nulls
// imputed with the training median, string levels as indicators), as
// steps/model builds them.
func (e *Logistic) encoder(ds *table.Dataset) (func(i int, x []float64), error) {
	cols := make([]*table.Column, len(e.features))
	lookup := make([][]int, len(e.features))
	first := make([]int, len(e.features))
	j := 0
	for k, f := range e.features {
		c := ds.Column(f.Name)
		if c == nil {
			return nil, fmt.Errorf("%w: feature column %q is missing", model.ErrSchema, f.Name)
		}
		if !model.Compatible(f.Type, c.Type) {
			return nil, fmt.Errorf("%w: feature column %q is %s, the model was trained on %s", model.ErrSchema, f.Name, c.Type, f.Type)
		}
		cols[k], first[k] = c, j
		if f.Type == table.String {
			index := make(map[string]int, len(f.Levels))
			for l, v := range f.Levels {
				index[v] = l
			}
			lookup[k] = make([]int, len(c.Dict))
			for code, v := range c.Dict {
				if l, ok := index[v]; ok {
					lookup[k][code] = l
				} else {
					lookup[k][code] = -1
				}
			}
			j += len(f.Levels)
		} else {
			j++
		}
	}
	return func(i int, x []float64) {
		for k, f := range e.features {
			c, j := cols[k], first[k]
			if f.Type != table.String {
				v := c.Float(i)
				if math.IsNaN(v) {
					v = *f.Median
				}
				x[j] = v
				continue
			}
			for l := range f.Levels {
				x[j+l] = 0
			}
			if c.Valid.Valid(i) {
				if l := lookup[k][c.Codes[i]]; l >= 0 {
					x[j+l] = 1
				}
			}
		}
	}, nil
}

// Reason is one reason code of a decision.
type Reason struct {
	Feature      string  `json:"feature"`
	Contribution float64 `json:"contribution"`
	Text         string  `json:"text,omitempty"`
}

// Reasons returns up to max features with a positive contribution (towards
// the positive class), largest first (ties by name), never a protected one.
// text maps a feature to its reason text; a feature without one has none.
func Reasons(features []string, contrib []float64, protected []string, text map[string]string, max int) []Reason {
	skip := make(map[string]bool, len(protected))
	for _, p := range protected {
		skip[p] = true
	}
	var out []Reason
	for k, f := range features {
		if contrib[k] > 0 && !skip[f] {
			out = append(out, Reason{Feature: f, Contribution: contrib[k], Text: text[f]})
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].Contribution != out[b].Contribution {
			return out[a].Contribution > out[b].Contribution
		}
		return out[a].Feature < out[b].Feature
	})
	if len(out) > max {
		out = out[:max]
	}
	return out
}
