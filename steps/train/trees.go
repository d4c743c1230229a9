package train

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/steps/internal/yamlnode"
	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/table"
	"github.com/mlrun-cli/mlrun/steps/tree"
)

// forestAlgorithm is tree.FitForest.
type forestAlgorithm struct{}

// boostAlgorithm is tree.FitBoosting.
type boostAlgorithm struct{}

func (forestAlgorithm) Name() string { return model.RandomForest }
func (boostAlgorithm) Name() string  { return model.GradientBoosting }

// treeSchema returns the schema properties shared by the tree algorithms
// (class_weight is the same as logistic_regression's).
func classWeightSchema(algo string) map[string]any {
	return map[string]any{
		"description": algo + ": `balanced` weighs class c by n/(2·n_c); a mapping target value -> weight weighs those rows (others 1); `none` (default) weighs every row 1",
		"oneOf": []any{
			map[string]any{"type": "string", "enum": []string{"balanced", "none"}},
			map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "number", "exclusiveMinimum": 0}},
		},
	}
}

func (forestAlgorithm) Settings() map[string]any {
	d := tree.DefaultForestConfig()
	const a = "random_forest: "
	return map[string]any{
		"trees": map[string]any{"type": "integer", "minimum": 1, "default": d.Trees,
			"description": a + "number of trees (scikit-learn's n_estimators)"},
		"max_depth": map[string]any{"type": "integer", "minimum": 0, "default": d.MaxDepth,
			"description": a + "deepest split level; 0 (default) grows until the other limits stop"},
		"min_samples_split": map[string]any{"type": "integer", "minimum": 2, "default": d.MinSamplesSplit,
			"description": a + "fewest distinct rows a node needs to split"},
		"min_samples_leaf": map[string]any{"type": "integer", "minimum": 1, "default": d.MinSamplesLeaf,
			"description": a + "fewest distinct rows each child keeps"},
		"max_features": map[string]any{
			"description": a + "features drawn at each node: sqrt (default), log2, all, an integer count, or a fraction in (0, 1)",
			"oneOf": []any{
				map[string]any{"type": "string", "enum": []string{"sqrt", "log2", "all"}},
				map[string]any{"type": "integer", "minimum": 1},
				map[string]any{"type": "number", "exclusiveMinimum": 0, "maximum": 1},
			},
		},
		"bootstrap": map[string]any{"type": "boolean", "default": d.Bootstrap,
			"description": a + "grow each tree on n rows drawn with replacement"},
		"class_weight": classWeightSchema("random_forest"),
		"max_bins": map[string]any{"type": "integer", "minimum": 2, "maximum": model.MaxBins, "default": d.MaxBins,
			"description": a + "quantile bins per numeric feature (missing values get their own)"},
		"sample_weight": map[string]any{"type": "string",
			"description": a + "a numeric column of row weights (>= 0); not a feature (list it under exclude when using exclude)"},
	}
}

func (boostAlgorithm) Settings() map[string]any {
	d := tree.DefaultBoostConfig()
	const a = "gradient_boosting: "
	return map[string]any{
		"trees": map[string]any{"type": "integer", "minimum": 1, "default": d.Trees,
			"description": a + "number of boosting rounds (at most, with early stopping)"},
		"learning_rate": map[string]any{"type": "number", "exclusiveMinimum": 0, "default": d.LearningRate,
			"description": a + "shrinkage η of every tree's leaf values"},
		"max_depth": map[string]any{"type": "integer", "minimum": 0, "default": d.MaxDepth,
			"description": a + "deepest split level; 0 leaves only max_leaves"},
		"max_leaves": map[string]any{"type": "integer", "minimum": 0, "default": d.MaxLeaves,
			"description": a + "most leaves per tree, grown best-first (leaf-wise); 0 (default) leaves only max_depth"},
		"min_child_samples": map[string]any{"type": "integer", "minimum": 1, "default": d.MinChildSamples,
			"description": a + "fewest rows in a child"},
		"min_child_weight": map[string]any{"type": "number", "minimum": 0, "default": d.MinChildWeight,
			"description": a + "smallest hessian sum in a child"},
		"l2": map[string]any{"type": "number", "minimum": 0, "default": d.L2,
			"description": a + "ridge penalty λ on leaf values: a leaf is −η·G/(H+λ)"},
		"subsample": map[string]any{"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": d.Subsample,
			"description": a + "share of rows drawn for each tree"},
		"colsample": map[string]any{"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": d.Colsample,
			"description": a + "share of features drawn for each tree"},
		"max_bins": map[string]any{"type": "integer", "minimum": 2, "maximum": model.MaxBins, "default": d.MaxBins,
			"description": a + "quantile bins per numeric feature (missing values get their own)"},
		"class_weight": classWeightSchema("gradient_boosting"),
		"scale_pos_weight": map[string]any{"type": "number", "exclusiveMinimum": 0, "default": d.ScalePosWeight,
			"description": a + "weight of positive rows (exclusive with class_weight)"},
		"early_stopping_rounds": map[string]any{"type": "integer", "minimum": 0, "default": d.EarlyStoppingRounds,
			"description": a + "stop when the log loss on the valid input has not improved for this many trees and keep the best; 0 (default) is off"},
		"sample_weight": map[string]any{"type": "string",
			"description": a + "a numeric column of row weights (>= 0); not a feature (list it under exclude when using exclude)"},
	}
}

// settings decodes typed settings, reporting problems.
type settings struct{ c *AlgoCompile }

func (s settings) int(name string, lo, hi int64, dst *int) {
	n := s.c.Setting(name)
	if n == nil {
		return
	}
	v, ok := yamlnode.Integer(n)
	switch {
	case !ok:
		s.c.Diags.Add(s.c.Req.Pos(n), "%s must be an integer, got %s", name, yamlnode.Describe(n))
	case v < lo || v > hi:
		s.c.Diags.Add(s.c.Req.Pos(n), "%s must be between %d and %d, got %d", name, lo, hi, v)
	default:
		*dst = int(v)
	}
}

// float decodes a number in [lo, hi] (lo excluded when open).
func (s settings) float(name string, lo, hi float64, open bool, dst *float64) {
	n := s.c.Setting(name)
	if n == nil {
		return
	}
	v, ok := yamlnode.Number(n)
	rel := ">="
	if open {
		rel = ">"
	}
	switch {
	case !ok:
		s.c.Diags.Add(s.c.Req.Pos(n), "%s must be a number, got %s", name, yamlnode.Describe(n))
	case !(v >= lo) || (open && v == lo) || v > hi || math.IsInf(v, 0):
		if math.IsInf(hi, 1) {
			s.c.Diags.Add(s.c.Req.Pos(n), "%s must be a finite number %s %v, got %v", name, rel, lo, v)
		} else {
			s.c.Diags.Add(s.c.Req.Pos(n), "%s must be a number %s %v and <= %v, got %v", name, rel, lo, hi, v)
		}
	default:
		*dst = v
	}
}

func (s settings) bool(name string, dst *bool) {
	if n := s.c.Setting(name); n != nil {
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(dst) != nil {
			s.c.Diags.Add(s.c.Req.Pos(n), "%s must be true or false, got %s", name, yamlnode.Describe(n))
		}
	}
}

// sampleWeight decodes sample_weight and checks it against the input
// schema.
func (s settings) sampleWeight(dst *string) {
	n := s.c.Setting("sample_weight")
	if n == nil {
		return
	}
	v, ok := yamlnode.Str(n)
	if !ok {
		s.c.Diags.Add(s.c.Req.Pos(n), "sample_weight must be a column name, got %s", yamlnode.Describe(n))
		return
	}
	*dst = v
	if t, ok := s.c.Req.Inputs["input"].(*table.Schema); ok && t != nil {
		f, found := t.Lookup(v)
		switch {
		case !found:
			s.c.Diags.Add(s.c.Req.Pos(n), "unknown sample_weight column %q%s", v, yamlnode.Suggest(v, t.Names()))
		case !f.Type.Numeric():
			s.c.Diags.Add(s.c.Req.Pos(n), "sample_weight column %q is %s, not numeric", v, f.Type)
		case v == s.c.Target.Name:
			s.c.Diags.Add(s.c.Req.Pos(n), "sample_weight column %q is the target", v)
		}
	}
}

func (forestAlgorithm) Compile(c *AlgoCompile) Fitter {
	cfg := tree.DefaultForestConfig()
	s := settings{c}
	s.int("trees", 1, 100_000, &cfg.Trees)
	s.int("max_depth", 0, 1000, &cfg.MaxDepth)
	s.int("min_samples_split", 2, math.MaxInt32, &cfg.MinSamplesSplit)
	s.int("min_samples_leaf", 1, math.MaxInt32, &cfg.MinSamplesLeaf)
	s.bool("bootstrap", &cfg.Bootstrap)
	s.int("max_bins", 2, model.MaxBins, &cfg.MaxBins)
	s.sampleWeight(&cfg.SampleWeight)
	if n := c.Setting("max_features"); n != nil {
		bad := func() {
			got := yamlnode.Describe(n)
			if n.Kind == yaml.ScalarNode {
				got = n.Value
				if n.ShortTag() == "!!str" {
					got = strconv.Quote(n.Value)
				}
			}
			c.Diags.Add(c.Req.Pos(n), "max_features must be sqrt, log2, all, an integer >= 1 or a fraction in (0, 1], got %s", got)
		}
		switch {
		case n.Kind != yaml.ScalarNode:
			bad()
		case n.ShortTag() == "!!int":
			if v, ok := yamlnode.Integer(n); ok && v >= 1 && v <= math.MaxInt32 {
				cfg.MaxFeatures = tree.MaxFeatures{Rule: "count", Count: int(v)}
			} else {
				bad()
			}
		case n.ShortTag() == "!!float":
			if v, ok := yamlnode.Number(n); ok && v > 0 && v <= 1 {
				cfg.MaxFeatures = tree.MaxFeatures{Rule: "fraction", Fraction: v}
			} else {
				bad()
			}
		case n.Value == "sqrt" || n.Value == "log2" || n.Value == "all":
			cfg.MaxFeatures = tree.MaxFeatures{Rule: n.Value}
		default:
			bad()
		}
	}
	if n := c.Setting("class_weight"); n != nil {
		cfg.ClassWeight = compileClassWeight(c, n)
	}
	return &forestFitter{cfg: cfg}
}

func (boostAlgorithm) Compile(c *AlgoCompile) Fitter {
	cfg := tree.DefaultBoostConfig()
	s := settings{c}
	s.int("trees", 1, 100_000, &cfg.Trees)
	s.float("learning_rate", 0, math.Inf(1), true, &cfg.LearningRate)
	s.int("max_depth", 0, 1000, &cfg.MaxDepth)
	s.int("max_leaves", 0, 1<<20, &cfg.MaxLeaves)
	s.int("min_child_samples", 1, math.MaxInt32, &cfg.MinChildSamples)
	s.float("min_child_weight", 0, math.Inf(1), false, &cfg.MinChildWeight)
	s.float("l2", 0, math.Inf(1), false, &cfg.L2)
	s.float("subsample", 0, 1, true, &cfg.Subsample)
	s.float("colsample", 0, 1, true, &cfg.Colsample)
	s.int("max_bins", 2, model.MaxBins, &cfg.MaxBins)
	s.float("scale_pos_weight", 0, math.Inf(1), true, &cfg.ScalePosWeight)
	s.int("early_stopping_rounds", 0, math.MaxInt32, &cfg.EarlyStoppingRounds)
	s.sampleWeight(&cfg.SampleWeight)
	if n := c.Setting("class_weight"); n != nil {
		cfg.ClassWeight = compileClassWeight(c, n)
		if sp := c.Setting("scale_pos_weight"); sp != nil {
			c.Diags.Add(c.Req.Pos(sp), "scale_pos_weight and class_weight are exclusive: weigh the classes one way")
		}
	}
	if md, ml := c.Setting("max_depth"), c.Setting("max_leaves"); cfg.MaxDepth == 0 && cfg.MaxLeaves == 0 && (md != nil || ml != nil) {
		n := md
		if n == nil {
			n = ml
		}
		c.Diags.Add(c.Req.Pos(n), "max_depth and max_leaves are both 0: bound the trees by one of them")
	}
	if ml := c.Setting("max_leaves"); ml != nil && cfg.MaxLeaves == 1 {
		c.Diags.Add(c.Req.Pos(ml), "max_leaves must be 0 (no bound) or >= 2, got 1")
	}
	return &boostFitter{cfg: cfg}
}

type forestFitter struct{ cfg tree.ForestConfig }

type boostFitter struct{ cfg tree.BoostConfig }

func (f *forestFitter) Config() any { return f.cfg }
func (f *boostFitter) Config() any  { return f.cfg }

func (f *forestFitter) Fit(ctx context.Context, train, _ *table.Dataset, spec Spec, jobs int) (model.Model, *FitInfo, error) {
	cfg := f.cfg
	cfg.Seed = spec.Seed
	m, err := tree.FitForest(ctx, train, spec.Target, spec.Features, cfg, jobs)
	if err != nil {
		return nil, nil, err
	}
	return m, &FitInfo{Iterations: m.Trees()}, nil
}

func (f *boostFitter) Fit(ctx context.Context, train, valid *table.Dataset, spec Spec, jobs int) (model.Model, *FitInfo, error) {
	cfg := f.cfg
	cfg.Seed = spec.Seed
	m, err := tree.FitBoosting(ctx, train, valid, spec.Target, spec.Features, cfg, jobs)
	if err != nil {
		return nil, nil, err
	}
	info := &FitInfo{Iterations: m.Trees()}
	c := m.Curve()
	switch {
	case valid != nil && len(c.Valid) > 0:
		k := c.BestIteration
		info.Notes = append(info.Notes, fmt.Sprintf("%d trees; log loss after tree %d: train %.4f, valid %.4f", m.Trees(), k, c.Train[k-1], c.Valid[k-1]))
		if cfg.EarlyStoppingRounds > 0 && len(c.Valid) < cfg.Trees {
			info.Notes = append(info.Notes, fmt.Sprintf("early stopping: no better valid log loss in %d trees after tree %d", cfg.EarlyStoppingRounds, k))
		}
	case cfg.EarlyStoppingRounds > 0:
		info.Notes = append(info.Notes, "warning: early_stopping_rounds is set but no valid input is connected; all trees were kept")
	}
	return m, info, nil
}
