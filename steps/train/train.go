package train

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/internal/yamlnode"
	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/profile"
	"github.com/mlrun-cli/mlrun/steps/stats"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// Version is the implementation version of the train kind, part of every
// cache key. 4: trees pool rare categories before a categorical split, so
// forests and boosted trees with string features fit other models; the
// max_levels check of inferred string features.
const Version = 4

// Kind returns the train step kind.
func Kind() pipeline.Kind { return kind{} }

type kind struct{}

func (kind) Name() string { return "train" }

func (kind) Version() int { return Version }

func (kind) Inputs() []pipeline.Port {
	return []pipeline.Port{
		{Name: "input", Required: true, Doc: "the training dataset"},
		{Name: "valid", Doc: "a validation dataset for algorithms that use one (early stopping); logistic_regression ignores it"},
	}
}

// Outputs are the model and its frozen reference profile (see package
// profile), computed from the training rows and the model's scores on them.
func (kind) Outputs() []string { return []string{"model", "profile"} }

func (kind) Required() []string { return []string{"algorithm", "target"} }

// MetricNames lists the metrics a train step records.
func MetricNames() []string {
	return []string{"train_rows", "iterations", "train_auc", "train_log_loss"}
}

// TrailingSettings implements pfmt.SettingTrailer: the per-algorithm
// blocks come after the step's other settings.
func (kind) TrailingSettings() []string { return algorithmNames() }

// Sweepable implements pipeline.Sweepable: a train step takes a `matrix:`.
func (kind) Sweepable() bool { return true }

func (kind) Settings() map[string]any {
	names := algorithmNames()
	props := map[string]any{
		"algorithm": map[string]any{
			"type": "string", "enum": names,
			"description": "the learning algorithm: " + strings.Join(names, ", "),
		},
		"target": map[string]any{
			"type":        "string",
			"description": "the column to predict: int, float or bool holding 0/1, or any column with `positive` set",
		},
		"positive": map[string]any{
			"type":        []string{"string", "number", "boolean"},
			"description": "the target value counted as the positive class (1); required for a string target, default 1/true",
		},
		"features": map[string]any{
			"type": "array", "items": map[string]any{"type": "string"}, "minItems": 1, "uniqueItems": true,
			"description": "the feature columns (numeric, bool or string; string columns are one-hot encoded); exclusive with exclude",
		},
		"exclude": map[string]any{
			"type": "array", "items": map[string]any{"type": "string"}, "uniqueItems": true,
			"description": "use every column except the target, time columns and these; exclusive with features",
		},
		"seed": map[string]any{
			"type": "integer", "default": 0,
			"description": "seed of randomised algorithms; logistic_regression is deterministic and ignores it",
		},
		"max_levels": map[string]any{
			"type": "integer", "minimum": 1,
			"description": fmt.Sprintf("most distinct values a string feature whose type the load step inferred may have in the training rows; "+
				"by default %d, or half the training rows when that is fewer (at least %d). A feature with more is refused: "+
				"declare its column string under the load step's columns: to use it as it is", defaultMaxLevels, minMaxLevels),
		},
	}
	for _, a := range algorithms() {
		for k, v := range a.Settings() {
			props[k] = mergeSetting(props[k], v)
		}
		props[a.Name()] = map[string]any{
			"type": "object", "properties": a.Settings(), "additionalProperties": false,
			"description": a.Name() + "'s settings, used only when `algorithm: " + a.Name() + "`: a step can keep a block per algorithm and switch by its algorithm line (a setting is either here or on the step, not both)",
		}
	}
	return props
}

// Config is the resolved configuration of a train step; it is the step's
// cache config.
type Config struct {
	Algorithm string   `json:"algorithm"`
	Target    string   `json:"target"`
	Positive  string   `json:"positive,omitempty"`
	Features  []string `json:"features"`
	Seed      int64    `json:"seed"`
	Params    any      `json:"params"`
	// MaxLevels is max_levels, 0 when not set (then omitted, so that the
	// cache keys of steps without it are those of before it).
	MaxLevels int `json:"max_levels,omitempty"`
}

// The limit of distinct values of an inferred string feature, without
// max_levels: defaultMaxLevels, or half the training rows when that is
// fewer, but at least minMaxLevels.
const (
	defaultMaxLevels = 100
	minMaxLevels     = 10
)

type compiled struct {
	cfg    Config
	spec   Spec
	fitter Fitter
	typ    *model.Type
	// inferred are the string features whose type the load step inferred
	// (the max_levels check applies to them).
	inferred []string
}

func (k kind) Compile(req *pipeline.CompileRequest) pipeline.Compiled {
	d := new(diag.List)
	defer req.Diags.Merge(d)
	var schema *table.Schema
	if t, ok := req.Inputs["input"]; ok && t != nil {
		s, ok := t.(*table.Schema)
		if !ok {
			d.Add(req.Pos(req.Setting("input")), "input must be a dataset, got %s", t.TypeName())
			return nil
		}
		schema = s
	}
	if t, ok := req.Inputs["valid"]; ok && t != nil {
		if _, ok := t.(*table.Schema); !ok {
			d.Add(req.Pos(req.Setting("valid")), "valid must be a dataset, got %s", t.TypeName())
		}
	}

	var algo Algorithm
	if n := req.Setting("algorithm"); n == nil {
		d.Add(req.Step.Pos, "train needs algorithm (%s)", strings.Join(algorithmNames(), ", "))
	} else if s, ok := yamlnode.Str(n); !ok {
		d.Add(req.Pos(n), "algorithm must be a string, got %s", yamlnode.Describe(n))
	} else if algo, ok = lookupAlgorithm(s); !ok {
		hint := yamlnode.Suggest(s, algorithmNames())
		if hint == "" {
			hint = " (want " + strings.Join(algorithmNames(), ", ") + ")"
		}
		d.Add(req.Pos(n), "unknown algorithm %q%s", s, hint)
	}
	blocks := compileBlocks(req, d, algo)
	// Flat settings of another algorithm do not apply.
	if algo != nil {
		own := algo.Settings()
		for _, other := range algorithms() {
			if other.Name() == algo.Name() {
				continue
			}
			for _, key := range sortedKeys(other.Settings()) {
				if _, mine := own[key]; !mine && req.Setting(key) != nil {
					d.Add(req.Pos(keyNode(req.Step.Node, key)), "%s applies to algorithm %s, not %s (settings under `%s:` apply only when it is chosen)",
						key, other.Name(), algo.Name(), other.Name())
				}
			}
		}
	}

	cfg := Config{}
	target := model.Target{}
	targetNode := req.Setting("target")
	if targetNode == nil {
		d.Add(req.Step.Pos, "train needs target: the column to predict")
	} else if s, ok := yamlnode.Str(targetNode); !ok {
		d.Add(req.Pos(targetNode), "target must be a column name, got %s", yamlnode.Describe(targetNode))
	} else {
		target.Name = s
		if schema != nil {
			if f, found := schema.Lookup(s); !found {
				d.Add(req.Pos(targetNode), "unknown target column %q%s", s, yamlnode.Suggest(s, schema.Names()))
			} else {
				target.Type = f.Type
			}
		}
	}
	posNode := req.Setting("positive")
	if posNode != nil {
		if posNode.Kind != yaml.ScalarNode || posNode.ShortTag() == "!!null" {
			d.Add(req.Pos(posNode), "positive must be a value of the target column, got %s", yamlnode.Describe(posNode))
		} else {
			target.Positive = posNode.Value
		}
	}
	if target.Type != 0 {
		p := req.Pos(posNode)
		if posNode == nil {
			p = req.Pos(targetNode)
		}
		if err := target.CheckPositive(); err != nil {
			d.Add(p, "%v", err)
		} else if f, _ := schema.Lookup(target.Name); f.Info != nil && f.Info.Levels != nil {
			// The load step read the target's values: check the labels now
			// rather than when the step runs.
			if msg := checkLevels(target, f.Info.Levels); msg != "" {
				d.Add(p, "%s", msg)
			}
		}
	}
	cfg.Target, cfg.Positive = target.Name, target.Positive

	cfg.Features = compileFeatures(req, d, schema, target.Name)

	if n := req.Setting("seed"); n != nil {
		s, ok := yamlnode.Integer(n)
		if !ok {
			d.Add(req.Pos(n), "seed must be an integer, got %s", yamlnode.Describe(n))
		}
		cfg.Seed = s
	}
	if n := req.Setting("max_levels"); n != nil {
		v, ok := yamlnode.Integer(n)
		switch {
		case !ok:
			d.Add(req.Pos(n), "max_levels must be an integer >= 1, got %s", yamlnode.Describe(n))
		case v < 1 || v > math.MaxInt32:
			d.Add(req.Pos(n), "max_levels must be an integer >= 1, got %d", v)
		default:
			cfg.MaxLevels = int(v)
		}
	}

	var fitter Fitter
	if algo != nil {
		cfg.Algorithm = algo.Name()
		fitter = algo.Compile(&AlgoCompile{Req: req, Diags: d, Target: target, Block: blocks[algo.Name()]})
	}
	// The blocks of the algorithms not chosen are checked as if alone, so
	// a switch of `algorithm:` meets no surprise; they are not in the
	// cache config.
	for _, other := range algorithms() {
		if b := blocks[other.Name()]; b != nil && (algo == nil || other.Name() != algo.Name()) {
			other.Compile(&AlgoCompile{Req: req, Diags: d, Target: target, Block: b, BlockOnly: true})
		}
	}
	if d.HasErrors() || schema == nil || fitter == nil {
		return nil
	}
	cfg.Params = fitter.Config()
	typ := &model.Type{Algorithm: cfg.Algorithm, Target: target}
	var inferred []string
	for _, f := range cfg.Features {
		field, _ := schema.Lookup(f)
		typ.Features = append(typ.Features, table.Field{Name: field.Name, Type: field.Type})
		if field.Type == table.String && field.Info != nil && !field.Info.Declared {
			inferred = append(inferred, f)
		}
	}
	return &compiled{
		cfg:      cfg,
		spec:     Spec{Target: target, Features: cfg.Features, Seed: cfg.Seed},
		fitter:   fitter,
		typ:      typ,
		inferred: inferred,
	}
}

// compileBlocks checks the per-algorithm blocks (`random_forest: {...}`):
// each is a mapping of that algorithm's settings, and a setting of the
// chosen algorithm's block is not also set on the step. It returns the
// blocks by algorithm name.
func compileBlocks(req *pipeline.CompileRequest, d *diag.List, chosen Algorithm) map[string]*yaml.Node {
	blocks := map[string]*yaml.Node{}
	for _, a := range algorithms() {
		n := req.Setting(a.Name())
		if n == nil {
			continue
		}
		if n.Kind != yaml.MappingNode {
			d.Add(req.Pos(n), "%s must be a mapping of %s's settings, got %s", a.Name(), a.Name(), yamlnode.Describe(n))
			continue
		}
		own := sortedKeys(a.Settings())
		ok := true
		for _, p := range yamlnode.Pairs(n) {
			key := p.Key.Value
			if _, known := a.Settings()[key]; known {
				if chosen != nil && chosen.Name() == a.Name() && req.Setting(key) != nil {
					d.Add(req.Pos(p.Key), "%s is set both on the step (line %d) and under %s: keep one", key, keyNode(req.Step.Node, key).Line, a.Name())
					ok = false
				}
				continue
			}
			ok = false
			hint := yamlnode.Suggest(key, own)
			for _, other := range algorithms() {
				if _, theirs := other.Settings()[key]; theirs && hint == "" {
					hint = fmt.Sprintf(" (it is a setting of %s)", other.Name())
				}
			}
			if hint == "" {
				hint = " (want " + strings.Join(own, ", ") + ")"
			}
			d.Add(req.Pos(p.Key), "%s: unknown setting %q%s", a.Name(), key, hint)
		}
		if ok {
			blocks[a.Name()] = n
		}
	}
	return blocks
}

// compileFeatures resolves `features` or `exclude` against the schema.
func compileFeatures(req *pipeline.CompileRequest, d *diag.List, schema *table.Schema, target string) []string {
	fn, en := req.Setting("features"), req.Setting("exclude")
	switch {
	case fn != nil && en != nil:
		d.Add(req.Pos(en), "exclude and features are exclusive: list the features, or exclude columns from all")
		return nil
	case fn == nil && en == nil:
		d.Add(req.Step.Pos, "train needs features (a list of columns) or exclude (columns to leave out of all)")
		return nil
	case fn != nil:
		names, nodes := yamlnode.StrList(d, req.Pos, "features", fn)
		if fn.Kind == yaml.SequenceNode && len(fn.Content) == 0 {
			d.Add(req.Pos(fn), "features is empty")
		}
		seen := map[string]bool{}
		for i, name := range names {
			n := nodes[i]
			if seen[name] {
				d.Add(req.Pos(n), "feature %q is listed twice", name)
				continue
			}
			seen[name] = true
			if name == target && target != "" {
				d.Add(req.Pos(n), "feature %q is the target", name)
				continue
			}
			if slices.Contains(req.Pipeline.Protected, name) {
				d.Add(req.Pos(n), "feature %q is a protected attribute (listed under protected:); it must not be a model feature", name)
				continue
			}
			if schema == nil {
				continue
			}
			f, ok := schema.Lookup(name)
			switch {
			case !ok:
				d.Add(req.Pos(n), "unknown column %q%s", name, yamlnode.Suggest(name, schema.Names()))
			case f.Type == table.Time:
				d.Add(req.Pos(n), "feature %q is a time column: derive a numeric feature from it", name)
			}
		}
		return names
	}
	names, nodes := yamlnode.StrList(d, req.Pos, "exclude", en)
	skip := map[string]bool{target: true}
	for _, name := range req.Pipeline.Protected {
		skip[name] = true // never a feature
	}
	for i, name := range names {
		if schema != nil && schema.Index(name) < 0 {
			d.Add(req.Pos(nodes[i]), "unknown column %q%s", name, yamlnode.Suggest(name, schema.Names()))
		}
		if name == target {
			d.Warn(req.Pos(nodes[i]), "the target %q is never a feature; no need to exclude it", name)
		}
		skip[name] = true
	}
	if schema == nil {
		return nil
	}
	var out []string
	for _, f := range schema.Fields {
		switch {
		case skip[f.Name]:
		case f.Type == table.Time:
			d.Warn(req.Pos(en), "time column %q is not used as a feature (derive a numeric feature from it)", f.Name)
		default:
			out = append(out, f.Name)
		}
	}
	if len(out) == 0 {
		d.Add(req.Pos(en), "exclude leaves no feature columns")
	}
	return out
}

// keyNode returns the key node of a mapping entry, or nil.
func keyNode(n *yaml.Node, key string) *yaml.Node {
	for _, p := range yamlnode.Pairs(n) {
		if p.Key.Value == key {
			return p.Key
		}
	}
	return nil
}

func (c *compiled) OutputTypes() map[string]pipeline.Type {
	return map[string]pipeline.Type{"model": c.typ, "profile": profile.Type{}}
}

func (c *compiled) CacheConfig() any { return c.cfg }

// Run fits the model. Problems of the data (a null or non-binary target,
// one class only, a positive value that never occurs, an inferred string
// feature with more distinct values than max_levels, a feature with no
// values) are errors with exit code 2.
func (c *compiled) Run(ctx context.Context, req *pipeline.RunRequest) (*pipeline.Result, error) {
	train, err := dataset(req, "input")
	if err != nil {
		return nil, err
	}
	if train == nil {
		return nil, fmt.Errorf("train: input not connected")
	}
	valid, err := dataset(req, "valid")
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := c.checkData(train); err != nil {
		return nil, pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("train: %w", err))
	}
	m, info, err := c.fitter.Fit(ctx, train, valid, c.spec, max(req.Jobs, 1))
	if err != nil {
		return nil, pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("train %s: %w", c.cfg.Algorithm, err))
	}
	p, err := m.Predict(train, max(req.Jobs, 1))
	if err != nil {
		return nil, fmt.Errorf("train: predict training rows: %w", err)
	}
	y, err := m.Target().Labels(train)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	auc, err := stats.AUC(p, y, nil)
	if err != nil {
		return nil, fmt.Errorf("train: training AUC: %w", err)
	}
	ll, err := stats.LogLoss(p, y, nil)
	if err != nil {
		return nil, fmt.Errorf("train: training log loss: %w", err)
	}
	pos := 0
	for _, v := range y {
		pos += int(v)
	}
	prof, err := profile.Build(train, m, p, y, profile.DefaultBins)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	res := &pipeline.Result{
		Outputs: map[string]pipeline.Object{"model": m, "profile": profile.Object(prof)},
		Metrics: map[string]float64{
			"train_rows":     float64(train.Rows),
			"iterations":     float64(info.Iterations),
			"train_auc":      auc,
			"train_log_loss": ll,
		},
	}
	res.Notes = append(res.Notes, fmt.Sprintf("%s on %d rows (%.1f%% %s), %d features; %d iterations; train AUC %.4f, log loss %.4f",
		c.cfg.Algorithm, train.Rows, 100*float64(pos)/float64(max(train.Rows, 1)), positiveName(m.Target()),
		len(c.cfg.Features), info.Iterations, auc, ll))
	res.Notes = append(res.Notes, info.Notes...)
	return res, nil
}

// positiveName describes the positive class, e.g. "Status = bad".
func positiveName(t model.Target) string {
	if t.Positive == "" {
		return "positive"
	}
	return t.Name + " = " + t.Positive
}

// dataset returns the dataset connected to port, or nil.
func dataset(req *pipeline.RunRequest, port string) (*table.Dataset, error) {
	obj, ok := req.Inputs[port]
	if !ok || obj == nil {
		return nil, nil
	}
	ds, ok := obj.(*table.Dataset)
	if !ok {
		return nil, fmt.Errorf("train: %s is a %s, not a dataset", port, obj.TypeName())
	}
	return ds, nil
}

// mergeSetting merges the schemas of a setting that several algorithms
// share (same type and bounds): the descriptions are joined and a default
// they disagree on is dropped.
func mergeSetting(prev, next any) any {
	p, ok1 := prev.(map[string]any)
	n, ok2 := next.(map[string]any)
	if !ok1 || !ok2 {
		return next
	}
	out := map[string]any{}
	for k, v := range p {
		out[k] = v
	}
	for k, v := range n {
		switch k {
		case "description":
			if d, ok := out[k].(string); ok {
				v = d + "; " + v.(string)
			}
		case "default":
			if d, ok := out[k]; ok && fmt.Sprint(d) != fmt.Sprint(v) {
				delete(out, k)
				continue
			}
		}
		out[k] = v
	}
	if _, had := p["default"]; !had {
		delete(out, "default")
	}
	return out
}
