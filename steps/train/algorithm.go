package train

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/internal/yamlnode"
	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// Algorithm is a training algorithm of the train kind. Its settings sit
// flat on the step next to the common ones (target, features, ...), or in
// a block named after the algorithm (`random_forest: {trees: 200}`), which
// applies only when that algorithm is chosen: a step can carry a block per
// algorithm and switch between them by its `algorithm:` line alone.
type Algorithm interface {
	// Name is the value of `algorithm:`.
	Name() string
	// Settings are the JSON Schema properties of the algorithm's own
	// settings.
	Settings() map[string]any
	// Compile decodes the algorithm's settings, reporting problems to d.
	Compile(c *AlgoCompile) Fitter
}

// AlgoCompile is what an Algorithm gets to compile its settings.
type AlgoCompile struct {
	// Req is the step's compile request.
	Req *pipeline.CompileRequest
	// Diags collects the step's problems.
	Diags *diag.List
	// Target is the target column (Type is zero without an input schema).
	Target model.Target
	// Block is the step's mapping named after the algorithm, or nil.
	Block *yaml.Node
	// BlockOnly makes Setting read the block alone: an algorithm that is
	// not chosen has its block checked but not the step's flat settings.
	BlockOnly bool
}

// Setting returns the value node of a setting, from the algorithm's block
// or else from the step, or nil.
func (c *AlgoCompile) Setting(name string) *yaml.Node {
	if v := blockValue(c.Block, name); v != nil || c.BlockOnly {
		return v
	}
	return c.Req.Setting(name)
}

// blockValue returns the value of key in a mapping node, or nil.
func blockValue(block *yaml.Node, key string) *yaml.Node {
	for _, p := range yamlnode.Pairs(block) {
		if p.Key.Value == key {
			return p.Value
		}
	}
	return nil
}

// Fitter is an algorithm with its settings resolved.
type Fitter interface {
	// Config is the resolved settings, part of the step's cache config.
	Config() any
	// Fit trains a model; valid may be nil.
	Fit(ctx context.Context, train, valid *table.Dataset, spec Spec, jobs int) (model.Model, *FitInfo, error)
}

// Spec is what every algorithm fits: the target and the features.
type Spec struct {
	Target   model.Target
	Features []string
	Seed     int64
}

// FitInfo summarises a fit for the step's metrics and notes.
type FitInfo struct {
	// Iterations is the number of optimiser iterations (or trees).
	Iterations int
	// Notes are extra human lines (e.g. a convergence warning).
	Notes []string
}

// algorithms returns the registry of algorithms, sorted by name.
func algorithms() []Algorithm {
	return []Algorithm{boostAlgorithm{}, logisticAlgorithm{}, forestAlgorithm{}}
}

func lookupAlgorithm(name string) (Algorithm, bool) {
	for _, a := range algorithms() {
		if a.Name() == name {
			return a, true
		}
	}
	return nil, false
}

func algorithmNames() []string {
	var out []string
	for _, a := range algorithms() {
		out = append(out, a.Name())
	}
	return out
}

// logisticAlgorithm is model.FitLogistic.
type logisticAlgorithm struct{}

func (logisticAlgorithm) Name() string { return model.LogisticRegression }

func (logisticAlgorithm) Settings() map[string]any {
	d := model.DefaultLogisticConfig()
	return map[string]any{
		"l2": map[string]any{
			"type": "number", "minimum": 0, "default": d.L2,
			"description": "logistic_regression: ridge penalty λ on the coefficients (not the intercept); the objective is mean weighted log loss + λ/(2n)·‖β‖², so λ = 1/C of scikit-learn",
		},
		"class_weight": map[string]any{
			"description": "logistic_regression: `balanced` weighs class c by n/(2·n_c); a mapping target value -> weight weighs those rows (others 1); `none` (default) weighs every row 1",
			"oneOf": []any{
				map[string]any{"type": "string", "enum": []string{"balanced", "none"}},
				map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "number", "exclusiveMinimum": 0}},
			},
		},
		"max_iter": map[string]any{
			"type": "integer", "minimum": 1, "default": d.MaxIter,
			"description": "logistic_regression: maximum L-BFGS iterations; a fit that hits it is reported as not converged",
		},
		"tol": map[string]any{
			"type": "number", "exclusiveMinimum": 0, "default": d.Tol,
			"description": "logistic_regression: stop when the largest absolute gradient component of the objective is below tol",
		},
		"standardize": map[string]any{
			"type": "boolean", "default": d.Standardize,
			"description": "logistic_regression: standardise every design column (numeric and one-hot) with its training mean and standard deviation",
		},
	}
}

// lrFitter is a compiled logistic regression.
type lrFitter struct {
	cfg lrConfig
}

// lrConfig is the cache config of a logistic regression.
type lrConfig struct {
	L2          float64           `json:"l2"`
	ClassWeight model.ClassWeight `json:"class_weight"`
	MaxIter     int               `json:"max_iter"`
	Tol         float64           `json:"tol"`
	Standardize bool              `json:"standardize"`
}

func (logisticAlgorithm) Compile(c *AlgoCompile) Fitter {
	d := model.DefaultLogisticConfig()
	cfg := lrConfig{L2: d.L2, MaxIter: d.MaxIter, Tol: d.Tol, Standardize: d.Standardize}
	pos := c.Req.Pos
	if n := c.Setting("l2"); n != nil {
		v, ok := yamlnode.Number(n)
		switch {
		case !ok:
			c.Diags.Add(pos(n), "l2 must be a number, got %s", yamlnode.Describe(n))
		case !(v >= 0) || math.IsInf(v, 0):
			c.Diags.Add(pos(n), "l2 must be a finite number >= 0, got %v", v)
		default:
			cfg.L2 = v
		}
	}
	if n := c.Setting("max_iter"); n != nil {
		v, ok := yamlnode.Integer(n)
		switch {
		case !ok:
			c.Diags.Add(pos(n), "max_iter must be an integer, got %s", yamlnode.Describe(n))
		case v < 1 || v > math.MaxInt32:
			c.Diags.Add(pos(n), "max_iter must be between 1 and %d, got %d", math.MaxInt32, v)
		default:
			cfg.MaxIter = int(v)
		}
	}
	if n := c.Setting("tol"); n != nil {
		v, ok := yamlnode.Number(n)
		switch {
		case !ok:
			c.Diags.Add(pos(n), "tol must be a number, got %s", yamlnode.Describe(n))
		case !(v > 0) || math.IsInf(v, 0):
			c.Diags.Add(pos(n), "tol must be a finite number > 0, got %v", v)
		default:
			cfg.Tol = v
		}
	}
	if n := c.Setting("standardize"); n != nil {
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&cfg.Standardize) != nil {
			c.Diags.Add(pos(n), "standardize must be true or false, got %s", yamlnode.Describe(n))
		}
	}
	if n := c.Setting("class_weight"); n != nil {
		cfg.ClassWeight = compileClassWeight(c, n)
	}
	return &lrFitter{cfg: cfg}
}

// compileClassWeight decodes `balanced`, `none` or a mapping value ->
// weight; mapping keys must be values of the target's type.
func compileClassWeight(c *AlgoCompile, n *yaml.Node) model.ClassWeight {
	var cw model.ClassWeight
	pos := c.Req.Pos
	switch n.Kind {
	case yaml.ScalarNode:
		s, _ := yamlnode.Str(n)
		switch s {
		case "balanced":
			cw.Balanced = true
		case "none":
		default:
			c.Diags.Add(pos(n), "class_weight must be balanced, none or a mapping target value -> weight, got %s", quoteOr(n))
		}
	case yaml.MappingNode:
		cw.Values = map[string]float64{}
		for _, p := range yamlnode.Pairs(n) {
			key := p.Key.Value
			if err := checkKey(c.Target, key); err != nil {
				c.Diags.Add(pos(p.Key), "class_weight: %v", err)
			}
			w, ok := yamlnode.Number(p.Value)
			switch {
			case !ok:
				c.Diags.Add(pos(p.Value), "class_weight of %q must be a number, got %s", key, yamlnode.Describe(p.Value))
			case !(w > 0) || math.IsInf(w, 0):
				c.Diags.Add(pos(p.Value), "class_weight of %q must be a finite number > 0, got %v", key, w)
			}
			if _, dup := cw.Values[key]; dup {
				c.Diags.Add(pos(p.Key), "class_weight: %q given twice", key)
			}
			cw.Values[key] = w
		}
	default:
		c.Diags.Add(pos(n), "class_weight must be balanced, none or a mapping target value -> weight, got %s", yamlnode.Describe(n))
	}
	return cw
}

// checkKey checks a class weight key against the target's type, in the
// form model.RawValues writes values.
func checkKey(t model.Target, key string) error {
	switch t.Type {
	case table.Int:
		if _, err := strconv.ParseInt(key, 10, 64); err != nil {
			return fmt.Errorf("%q is not a value of int target %q", key, t.Name)
		}
	case table.Bool:
		if key != "true" && key != "false" {
			return fmt.Errorf("%q is not a value of bool target %q (true or false)", key, t.Name)
		}
	case table.Float:
		v, err := strconv.ParseFloat(key, 64)
		if err != nil || strconv.FormatFloat(v, 'g', -1, 64) != key {
			return fmt.Errorf("%q is not a value of float target %q in shortest form", key, t.Name)
		}
	}
	return nil
}

func quoteOr(n *yaml.Node) string {
	if s, ok := yamlnode.Str(n); ok {
		return strconv.Quote(s)
	}
	return yamlnode.Describe(n)
}

func (f *lrFitter) Config() any { return f.cfg }

func (f *lrFitter) Fit(ctx context.Context, train, _ *table.Dataset, spec Spec, jobs int) (model.Model, *FitInfo, error) {
	cfg := model.LogisticConfig{
		Target: spec.Target, Features: spec.Features, L2: f.cfg.L2, ClassWeight: f.cfg.ClassWeight,
		MaxIter: f.cfg.MaxIter, Tol: f.cfg.Tol, Standardize: f.cfg.Standardize,
	}
	m, err := model.FitLogistic(train, cfg, jobs)
	if err != nil {
		return nil, nil, err
	}
	ti := m.Training()
	info := &FitInfo{Iterations: ti.Iterations}
	if !ti.Converged {
		info.Notes = append(info.Notes, fmt.Sprintf("warning: L-BFGS stopped at max_iter=%d with gradient norm %.3g > tol=%g; raise max_iter", ti.MaxIter, ti.GradNorm, ti.Tol))
	}
	return m, info, nil
}

// sortedKeys returns a map's keys, sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
