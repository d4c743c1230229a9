package model

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"gonum.org/v1/gonum/optimize"

	"github.com/mlrun-cli/mlrun/steps/table"
)

// LogisticConfig configures FitLogistic.
type LogisticConfig struct {
	// Target is the target column and its positive value.
	Target Target
	// Features are the feature columns, in model order.
	Features []string
	// L2 is the ridge penalty λ >= 0 (see FitLogistic); scikit-learn's
	// C is 1/λ.
	L2 float64
	// ClassWeight weighs rows by class.
	ClassWeight ClassWeight
	// MaxIter bounds the L-BFGS iterations (> 0).
	MaxIter int
	// Tol stops the fit when the infinity norm of the objective's
	// gradient falls below it (> 0).
	Tol float64
	// Standardize standardises every design column with its training
	// mean and standard deviation before fitting.
	Standardize bool
}

// DefaultLogisticConfig returns the defaults: L2 1 (scikit-learn's C = 1),
// MaxIter 1000, Tol 1e-8, Standardize true.
func DefaultLogisticConfig() LogisticConfig {
	return LogisticConfig{L2: 1, MaxIter: 1000, Tol: 1e-8, Standardize: true}
}

// fitChunk is the number of rows per partial sum of the objective; it is
// fixed so that the summation order, and so the result, does not depend on
// the number of workers.
const fitChunk = 2048

// FitLogistic fits a logistic regression to ds by minimising, over the
// intercept b and coefficients β of the design columns z (see Logistic),
//
//	J(b, β) = 1/n · Σ_i w_i·[log(1 + e^(t_i)) − y_i·t_i] + λ/(2n)·‖β‖²,  t_i = b + β·z_i,
//
// the weighted mean log loss plus a ridge penalty on β (not b), where n is
// the number of rows, w_i the class weight of row i and λ = cfg.L2. Scaled
// by n/λ this is scikit-learn's LogisticRegression objective with C = 1/λ,
// C·Σ_i w_i·ℓ_i + ½‖β‖², so the minimiser is the same. It is minimised with
// gonum's L-BFGS from zero, with the analytic gradient
//
//	∂J/∂b = 1/n · Σ_i w_i·(σ(t_i) − y_i),  ∂J/∂β = 1/n · Σ_i w_i·(σ(t_i) − y_i)·z_i + λ/n·β.
//
// The sums run over fixed chunks of rows reduced in chunk order, so the
// fitted model is bit-identical for any jobs. Rows need a non-null target;
// nulls in numeric features are imputed with the training median.
func FitLogistic(ds *table.Dataset, cfg LogisticConfig, jobs int) (*Logistic, error) {
	if !(cfg.L2 >= 0) || math.IsInf(cfg.L2, 0) {
		return nil, fmt.Errorf("l2 must be a finite number >= 0, not %v", cfg.L2)
	}
	if cfg.MaxIter <= 0 {
		return nil, fmt.Errorf("max_iter must be > 0, not %d", cfg.MaxIter)
	}
	if !(cfg.Tol > 0) {
		return nil, fmt.Errorf("tolerance must be > 0, not %v", cfg.Tol)
	}
	if len(cfg.Features) == 0 {
		return nil, errors.New("no features")
	}
	tc := ds.Column(cfg.Target.Name)
	if tc == nil {
		return nil, fmt.Errorf("%w: target column %q is missing", ErrSchema, cfg.Target.Name)
	}
	target := Target{Name: cfg.Target.Name, Type: tc.Type, Positive: cfg.Target.Positive}
	y, err := target.Labels(ds)
	if err != nil {
		return nil, err
	}
	n := ds.Rows
	pos := 0
	for _, v := range y {
		if v == 1 {
			pos++
		}
	}
	if pos == 0 || pos == n {
		return nil, fmt.Errorf("target %q: %d of %d rows are positive: training needs both classes", target.Name, pos, n)
	}
	w, err := classWeights(cfg.ClassWeight, tc, y, pos)
	if err != nil {
		return nil, err
	}

	m := &Logistic{target: target}
	seen := map[string]bool{}
	for _, name := range cfg.Features {
		c := ds.Column(name)
		switch {
		case c == nil:
			return nil, fmt.Errorf("%w: feature column %q is missing", ErrSchema, name)
		case name == target.Name:
			return nil, fmt.Errorf("feature %q is the target", name)
		case seen[name]:
			return nil, fmt.Errorf("feature %q is listed twice", name)
		case c.Type == table.Time:
			return nil, fmt.Errorf("feature %q is a time column: derive a numeric feature from it", name)
		}
		seen[name] = true
		f, err := learnFeature(c, n)
		if err != nil {
			return nil, err
		}
		m.features = append(m.features, f)
		if f.Type == table.String {
			for i := range f.Levels {
				m.columns = append(m.columns, DesignColumn{Feature: name, Level: &f.Levels[i], Scale: 1})
			}
		} else {
			m.columns = append(m.columns, DesignColumn{Feature: name, Scale: 1})
		}
	}

	// The design matrix, row-major, unstandardised first.
	p := len(m.columns)
	enc, err := m.newEncoder(ds)
	if err != nil {
		return nil, err
	}
	x := make([]float64, n*p)
	parallelChunks(n, fitChunk, jobs, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			enc.raw(i, x[i*p:(i+1)*p])
		}
	})
	if cfg.Standardize {
		for j := range m.columns {
			mean, sd := meanSD(x, j, p, n)
			if sd == 0 {
				sd = 1
			}
			m.columns[j].Mean, m.columns[j].Scale = mean, sd
		}
		parallelChunks(n, fitChunk, jobs, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				for j, c := range m.columns {
					x[i*p+j] = (x[i*p+j] - c.Mean) / c.Scale
				}
			}
		})
	}

	obj := &objective{x: x, y: y, w: w, n: n, p: p, l2: cfg.L2, jobs: jobs}
	prob := optimize.Problem{Func: obj.f, Grad: obj.grad}
	settings := &optimize.Settings{
		GradientThreshold: cfg.Tol,
		MajorIterations:   cfg.MaxIter,
		Converger:         &optimize.FunctionConverge{Absolute: 0, Relative: 1e-15, Iterations: 50},
	}
	res, err := optimize.Minimize(prob, make([]float64, p+1), settings, &optimize.LBFGS{})
	if res == nil {
		return nil, fmt.Errorf("fit logistic regression: %w", err)
	}
	fx, g := obj.eval(res.X)
	gnorm := 0.0
	for _, v := range g {
		gnorm = max(gnorm, math.Abs(v))
	}
	if err != nil && !(gnorm < math.Sqrt(cfg.Tol)) {
		// A line search that cannot improve near the optimum is fine;
		// far from it the fit failed.
		return nil, fmt.Errorf("fit logistic regression: %w (gradient norm %g after %d iterations)", err, gnorm, res.Stats.MajorIterations)
	}
	m.intercept = res.X[0]
	for j := range m.columns {
		m.columns[j].Coef = res.X[j+1]
	}
	var coefs []float64
	m.interceptOriginal, coefs = originalUnits(m.intercept, m.columns)
	for j := range m.columns {
		m.columns[j].CoefOriginal = coefs[j]
	}
	status := res.Status.String()
	if err != nil {
		status = "LinesearchStopped"
	}
	m.training = TrainingInfo{
		Rows: n, Positives: pos, L2: cfg.L2, ClassWeight: cfg.ClassWeight, Standardize: cfg.Standardize,
		MaxIter: cfg.MaxIter, Tol: cfg.Tol, Iterations: res.Stats.MajorIterations, Status: status,
		Converged: res.Status != optimize.IterationLimit, Objective: fx, GradNorm: gnorm,
	}
	return m, nil
}

// learnFeature computes a numeric feature's median or a string feature's
// sorted levels from the training column.
func learnFeature(c *table.Column, n int) (Feature, error) {
	f := Feature{Name: c.Name, Type: c.Type}
	if c.Type == table.String {
		used := make([]bool, len(c.Dict))
		for i := range n {
			if c.Valid.Valid(i) {
				used[c.Codes[i]] = true
			}
		}
		for code, u := range used {
			if u {
				f.Levels = append(f.Levels, c.Dict[code])
			}
		}
		sort.Strings(f.Levels)
		f.Levels = slices.Compact(f.Levels)
		if len(f.Levels) == 0 {
			return f, fmt.Errorf("feature %q has no non-null values in the training data", c.Name)
		}
		return f, nil
	}
	vals := make([]float64, 0, n)
	for i := range n {
		if v := c.Float(i); !math.IsNaN(v) {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return f, fmt.Errorf("feature %q has no non-null values in the training data", c.Name)
	}
	for _, v := range vals {
		if math.IsInf(v, 0) {
			return f, fmt.Errorf("feature %q holds an infinite value", c.Name)
		}
	}
	med := median(vals)
	f.Median = &med
	return f, nil
}

// median returns the median of vals (sorting them): the middle value, or
// the mean of the two middle values for an even count (as numpy).
func median(vals []float64) float64 {
	slices.Sort(vals)
	k := len(vals) / 2
	if len(vals)%2 == 1 {
		return vals[k]
	}
	return (vals[k-1] + vals[k]) / 2
}

// meanSD returns the mean and population standard deviation of column j
// of the row-major n×p matrix x (two passes, in row order).
func meanSD(x []float64, j, p, n int) (float64, float64) {
	var s float64
	for i := range n {
		s += x[i*p+j]
	}
	mean := s / float64(n)
	var ss float64
	for i := range n {
		d := x[i*p+j] - mean
		ss += d * d
	}
	return mean, math.Sqrt(ss / float64(n))
}

// classWeights returns each row's weight.
func classWeights(cw ClassWeight, tc *table.Column, y []float64, pos int) ([]float64, error) {
	n := len(y)
	w := make([]float64, n)
	switch {
	case cw.Balanced && cw.Values != nil:
		return nil, errors.New("class_weight: balanced and a value map are exclusive")
	case cw.Balanced:
		w1 := float64(n) / (2 * float64(pos))
		w0 := float64(n) / (2 * float64(n-pos))
		for i, v := range y {
			if v == 1 {
				w[i] = w1
			} else {
				w[i] = w0
			}
		}
	case cw.Values != nil:
		raw := RawValues(tc)
		used := map[string]bool{}
		for i, r := range raw {
			w[i] = 1
			if v, ok := cw.Values[r]; ok {
				w[i] = v
				used[r] = true
			}
		}
		keys := make([]string, 0, len(cw.Values))
		for k := range cw.Values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if v := cw.Values[k]; !(v > 0) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("class_weight: weight of %q must be a finite number > 0, not %v", k, v)
			}
			if !used[k] {
				return nil, fmt.Errorf("class_weight: target %q never takes the value %q", tc.Name, k)
			}
		}
	default:
		for i := range w {
			w[i] = 1
		}
	}
	return w, nil
}

// objective evaluates J and its gradient (see FitLogistic) at
// θ = (b, β_1..β_p), remembering the last point (L-BFGS asks for the value
// and the gradient at the same point).
type objective struct {
	x       []float64 // n×p standardised design, row-major
	y, w    []float64
	n, p    int
	l2      float64
	jobs    int
	lastX   []float64
	lastF   float64
	lastG   []float64
	partial [][]float64
}

func (o *objective) f(theta []float64) float64 {
	f, _ := o.eval(theta)
	return f
}

func (o *objective) grad(g, theta []float64) {
	_, gg := o.eval(theta)
	copy(g, gg)
}

// eval returns J(θ) and ∇J(θ); the gradient slice is reused.
func (o *objective) eval(theta []float64) (float64, []float64) {
	if o.lastX != nil && slices.Equal(o.lastX, theta) {
		return o.lastF, o.lastG
	}
	p := o.p
	chunks := (o.n + fitChunk - 1) / fitChunk
	if o.partial == nil {
		o.partial = make([][]float64, chunks)
		for k := range o.partial {
			o.partial[k] = make([]float64, p+2)
		}
		o.lastG = make([]float64, p+1)
	}
	b, beta := theta[0], theta[1:]
	parallelChunks(o.n, fitChunk, o.jobs, func(lo, hi int) {
		acc := o.partial[lo/fitChunk]
		clear(acc)
		for i := lo; i < hi; i++ {
			row := o.x[i*p : (i+1)*p]
			t := b
			for j, v := range row {
				t += beta[j] * v
			}
			wi := o.w[i]
			acc[0] += wi * (softplus(t) - o.y[i]*t)
			r := wi * (sigmoid(t) - o.y[i])
			acc[1] += r
			for j, v := range row {
				acc[j+2] += r * v
			}
		}
	})
	g := o.lastG
	clear(g)
	var f float64
	for _, acc := range o.partial {
		f += acc[0]
		for j := range g {
			g[j] += acc[j+1]
		}
	}
	nf := float64(o.n)
	var ss float64
	for _, v := range beta {
		ss += v * v
	}
	f = f/nf + o.l2/(2*nf)*ss
	g[0] /= nf
	for j, v := range beta {
		g[j+1] = g[j+1]/nf + o.l2/nf*v
	}
	o.lastX = append(o.lastX[:0], theta...)
	o.lastF = f
	return f, g
}

// softplus is log(1 + e^t), computed without overflow.
func softplus(t float64) float64 {
	if t > 0 {
		return t + math.Log1p(math.Exp(-t))
	}
	return math.Log1p(math.Exp(t))
}
