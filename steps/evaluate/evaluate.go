package evaluate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/exprenv"
	"github.com/mlrun-cli/mlrun/steps/internal/yamlnode"
	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/stats"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// Version is the implementation version of the evaluate kind, part of
// every cache key.
const Version = 2

// DefaultThreshold is the default classification threshold: a row is
// predicted positive when its probability is >= the threshold.
const DefaultThreshold = 0.5

// MetricNames lists the metrics an evaluate step produces, in the order
// they are documented; gates may read any of them.
func MetricNames() []string {
	return []string{"auc", "gini", "ks", "accuracy", "precision", "recall", "f1", "log_loss", "brier",
		"rows", "positives", "tp", "fp", "tn", "fn", "positive_rate", "threshold"}
}

// Kind returns the evaluate step kind.
func Kind() pipeline.Kind { return kind{} }

type kind struct{}

func (kind) Name() string { return "evaluate" }

func (kind) Version() int { return Version }

func (kind) Inputs() []pipeline.Port {
	return []pipeline.Port{
		{Name: "model", Required: true, Doc: "the model to evaluate"},
		{Name: "data", Required: true, Doc: "the dataset to score; it must hold the model's features and target"},
	}
}

func (kind) Outputs() []string { return []string{"metrics"} }

func (kind) Required() []string { return nil }

func (kind) Settings() map[string]any {
	return map[string]any{
		"threshold": map[string]any{
			"type": "number", "minimum": 0, "maximum": 1, "default": DefaultThreshold,
			"description": "a row is predicted positive when its probability is >= threshold (for accuracy, precision, recall, f1 and the confusion matrix)",
		},
		"gates": map[string]any{
			"type": "object",
			"additionalProperties": map[string]any{"oneOf": []any{
				map[string]any{"type": "string"},
				map[string]any{"type": "object", "additionalProperties": false, "required": []any{"expr"}, "properties": map[string]any{
					"expr":     map[string]any{"type": "string"},
					"severity": map[string]any{"enum": []any{"error", "warn"}, "default": "error"},
				}},
			}},
			"description": "gate name -> boolean expression over the metrics (" + strings.Join(MetricNames(), ", ") +
				", and the fairness metrics " + MetricParityDiff + ", " + MetricDisparateImpact + ", " + MetricEqualOppDiff +
				", overall and per attribute A as NAME_A) and params, e.g. `auc >= params.min_auc`, `disparate_impact_age >= 0.8`; a gate that is false fails the run (exit 1); {expr: ..., severity: warn} only warns",
		},
		"fairness": map[string]any{
			"type":                 "object",
			"additionalProperties": false,
			"description": "fairness before deployment: for each protected attribute (default: the pipeline's protected: columns the data holds), " +
				"approval rates by group (approved: probability below the threshold) and demographic_parity_difference, disparate_impact (four-fifths rule: >= 0.8) " +
				"and equal_opportunity_difference, as metrics gates and promotion gates can read",
			"properties": map[string]any{
				"min_group": map[string]any{"type": "integer", "minimum": 1, "default": 30,
					"description": "groups with fewer rows are shown but not compared"},
				"attributes": map[string]any{
					"description": "the attributes compared: a list of columns, or column -> {bins: [cuts]} (declared bands, e.g. ages [25, 35, 50, 65]) or {quantiles: N}; a numeric column with more than 20 distinct values is otherwise cut into quartile bands of the evaluated data",
					"oneOf": []any{
						map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
						map[string]any{"type": "object", "additionalProperties": map[string]any{
							"oneOf": []any{
								map[string]any{"type": "null"},
								map[string]any{"type": "object", "additionalProperties": false, "properties": map[string]any{
									"bins":      map[string]any{"type": "array", "items": map[string]any{"type": "number"}, "minItems": 1},
									"quantiles": map[string]any{"type": "integer", "minimum": 2, "maximum": 100},
								}},
							},
						}},
					},
				},
			},
		},
	}
}

// Config is the resolved configuration of an evaluate step; it is the
// step's cache config.
type Config struct {
	Threshold float64 `json:"threshold"`
	// Gates maps gate names to expression sources.
	Gates map[string]string `json:"gates,omitempty"`
	// Warn names the gates of severity warn (they do not fail the run).
	Warn []string `json:"warn,omitempty"`
	// Params are the values of the params the gates read.
	Params map[string]any `json:"params,omitempty"`
	// Fairness is the resolved fairness setting (nil: no attribute).
	Fairness *FairnessConfig `json:"fairness,omitempty"`
}

type gate struct {
	name     string
	src      string
	severity string
	g        *exprenv.Gate
	params   []string // params.NAME read by the gate, sorted
}

type compiled struct {
	cfg    Config
	gates  []gate // sorted by name
	params map[string]any
}

var paramRef = regexp.MustCompile(`\bparams\.([A-Za-z_][A-Za-z0-9_]*)`)

func (k kind) Compile(req *pipeline.CompileRequest) pipeline.Compiled {
	d := new(diag.List)
	defer req.Diags.Merge(d)
	var mt *model.Type
	if t, ok := req.Inputs["model"]; ok && t != nil {
		if mt, ok = t.(*model.Type); !ok {
			d.Add(req.Pos(req.Setting("model")), "model must be a model, got %s", t.TypeName())
		}
	}
	var schema *table.Schema
	if t, ok := req.Inputs["data"]; ok && t != nil {
		if schema, ok = t.(*table.Schema); !ok {
			d.Add(req.Pos(req.Setting("data")), "data must be a dataset, got %s", t.TypeName())
		}
	}
	if mt != nil && schema != nil {
		pos := req.Pos(req.Setting("data"))
		for _, err := range mt.Check(schema, true) {
			d.Add(pos, "data does not fit the model: %s", strings.TrimPrefix(err.Error(), model.ErrSchema.Error()+": "))
		}
	}

	cfg := Config{Threshold: DefaultThreshold}
	if n := req.Setting("threshold"); n != nil {
		v, ok := yamlnode.Number(n)
		switch {
		case !ok:
			d.Add(req.Pos(n), "threshold must be a number, got %s", yamlnode.Describe(n))
		case !(v >= 0 && v <= 1):
			d.Add(req.Pos(n), "threshold must be between 0 and 1, got %v", v)
		default:
			cfg.Threshold = v
		}
	}

	cfg.Fairness = compileFairness(d, req, req.Setting("fairness"), schema)
	metricNames := append(MetricNames(), fairnessMetricNames(cfg.Fairness)...)
	c := &compiled{params: map[string]any{}}
	if n := req.Setting("gates"); n != nil {
		if n.Kind != yaml.MappingNode {
			d.Add(req.Pos(n), "gates must be a mapping of gate name -> expression, got %s", yamlnode.Describe(n))
		}
		cfg.Gates = map[string]string{}
		for _, p := range yamlnode.Pairs(n) {
			name := p.Key.Value
			if _, dup := cfg.Gates[name]; dup {
				d.Add(req.Pos(p.Key), "gate %q is defined twice", name)
				continue
			}
			exprNode := p.Value
			severity := pipeline.SeverityError
			if p.Value.Kind == yaml.MappingNode {
				exprNode = nil
				for _, q := range yamlnode.Pairs(p.Value) {
					switch q.Key.Value {
					case "expr":
						exprNode = q.Value
					case "severity":
						sv, _ := yamlnode.Str(q.Value)
						if sv != pipeline.SeverityError && sv != pipeline.SeverityWarn {
							d.Add(req.Pos(q.Value), "gate %q: severity must be error or warn, got %q", name, q.Value.Value)
						}
						severity = sv
					default:
						d.Add(req.Pos(q.Key), "gate %q: unknown key %q (want expr, severity)", name, q.Key.Value)
					}
				}
				if exprNode == nil {
					d.Add(req.Pos(p.Value), "gate %q needs expr: a boolean expression", name)
					continue
				}
			}
			src, ok := yamlnode.Str(exprNode)
			if !ok {
				d.Add(req.Pos(exprNode), "gate %q must be an expression string (or {expr, severity}), got %s", name, yamlnode.Describe(exprNode))
				continue
			}
			if severity == pipeline.SeverityWarn {
				cfg.Warn = append(cfg.Warn, name)
			}
			cfg.Gates[name] = src
			g, err := exprenv.CompileGate(src, metricNames, req.Params)
			if err != nil {
				msg := err.Error()
				var e *exprenv.Error
				if errors.As(err, &e) {
					msg = e.Msg
				}
				d.Add(exprenv.PosSource(req.Pipeline.File, req.Pipeline.Source, exprNode, err), "gate %q: %s", name, msg)
				continue
			}
			gt := gate{name: name, src: src, g: g, severity: severity}
			seen := map[string]bool{}
			for name, v := range exprenv.ParamsRead(src, req.Params) {
				if !seen[name] {
					seen[name] = true
					gt.params = append(gt.params, name)
					c.params[name] = v
				}
			}
			sort.Strings(gt.params)
			c.gates = append(c.gates, gt)
		}
	}
	sort.Slice(c.gates, func(i, j int) bool { return c.gates[i].name < c.gates[j].name })
	if len(c.params) > 0 {
		cfg.Params = c.params
	}
	if d.HasErrors() {
		return nil
	}
	c.cfg = cfg
	return c
}

func (c *compiled) OutputTypes() map[string]pipeline.Type {
	return map[string]pipeline.Type{"metrics": metricsType{}}
}

// metricsType is the compile-time type of the metrics document.
type metricsType struct{}

func (metricsType) TypeName() string { return "metrics" }

func (c *compiled) CacheConfig() any { return c.cfg }

// Report is the value of the `metrics` document.
type Report struct {
	// Model describes the evaluated model.
	Model ModelInfo `json:"model"`
	// Threshold is the classification threshold.
	Threshold float64 `json:"threshold"`
	// Metrics holds every defined metric by name.
	Metrics map[string]float64 `json:"metrics"`
	// Undefined lists metrics left out because the data does not define
	// them (e.g. auc with one class), with the reason.
	Undefined map[string]string `json:"undefined,omitempty"`
	// Confusion is the confusion matrix at Threshold.
	Confusion Confusion `json:"confusion"`
	// Fairness compares the groups of each protected attribute.
	Fairness []AttributeFairness `json:"fairness,omitempty"`
}

// ModelInfo identifies the evaluated model.
type ModelInfo struct {
	Algorithm string   `json:"algorithm"`
	Target    string   `json:"target"`
	Positive  string   `json:"positive,omitempty"`
	Features  []string `json:"features"`
}

// Confusion is a confusion matrix of row counts.
type Confusion struct {
	TP int `json:"tp"`
	FP int `json:"fp"`
	TN int `json:"tn"`
	FN int `json:"fn"`
}

// Evaluate scores ds with m and computes the report, with the fairness of
// fc's attributes (nil: none). Data problems (a missing column, a null or
// non-binary target, no rows) are errors with exit code 2.
func Evaluate(m model.Model, ds *table.Dataset, threshold float64, fc *FairnessConfig, jobs int) (*Report, error) {
	y, err := m.Target().Labels(ds)
	if err != nil {
		return nil, pipeline.WithExitCode(pipeline.ExitInvalid, err)
	}
	if ds.Rows == 0 {
		return nil, pipeline.Invalidf("data has no rows")
	}
	p, err := m.Predict(ds, jobs)
	if err != nil {
		return nil, pipeline.WithExitCode(pipeline.ExitInvalid, err)
	}
	t := m.Target()
	r := &Report{
		Model:     ModelInfo{Algorithm: m.Algorithm(), Target: t.Name, Positive: t.Positive, Features: m.Features()},
		Threshold: threshold,
		Metrics:   map[string]float64{},
	}
	conf, err := stats.ConfusionAt(p, y, nil, threshold)
	if err != nil {
		return nil, err
	}
	r.Confusion = Confusion{TP: int(conf.TP), FP: int(conf.FP), TN: int(conf.TN), FN: int(conf.FN)}
	pos := conf.TP + conf.FN
	ll, err := stats.LogLoss(p, y, nil)
	if err != nil {
		return nil, err
	}
	br, err := stats.Brier(p, y, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range map[string]float64{
		"accuracy": conf.Accuracy(), "precision": conf.Precision(), "recall": conf.Recall(), "f1": conf.F1(),
		"log_loss": ll, "brier": br, "rows": float64(ds.Rows), "positives": pos,
		"tp": conf.TP, "fp": conf.FP, "tn": conf.TN, "fn": conf.FN,
		"positive_rate": pos / float64(ds.Rows), "threshold": threshold,
	} {
		r.Metrics[k] = v
	}
	roc, err := stats.NewROC(p, y, nil)
	switch {
	case errors.Is(err, stats.ErrOneClass):
		why := "the data holds only negatives"
		if pos > 0 {
			why = "the data holds only positives"
		}
		r.Undefined = map[string]string{"auc": why, "gini": why, "ks": why}
	case err != nil:
		return nil, err
	default:
		auc := roc.AUC()
		r.Metrics["auc"], r.Metrics["gini"], r.Metrics["ks"] = auc, 2*auc-1, roc.KS()
	}
	if err := evalFairness(r, fc, ds, p, y, threshold); err != nil {
		return nil, err
	}
	return r, nil
}

func (c *compiled) Run(ctx context.Context, req *pipeline.RunRequest) (*pipeline.Result, error) {
	mo, ok := req.Inputs["model"]
	if !ok || mo == nil {
		return nil, errors.New("evaluate: model not connected")
	}
	m, ok := mo.(model.Model)
	if !ok {
		return nil, fmt.Errorf("evaluate: model is a %s, not a model", mo.TypeName())
	}
	do, ok := req.Inputs["data"]
	if !ok || do == nil {
		return nil, errors.New("evaluate: data not connected")
	}
	ds, ok := do.(*table.Dataset)
	if !ok {
		return nil, fmt.Errorf("evaluate: data is a %s, not a dataset", do.TypeName())
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, err := Evaluate(m, ds, c.cfg.Threshold, c.cfg.Fairness, max(req.Jobs, 1))
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	res := &pipeline.Result{
		Outputs: map[string]pipeline.Object{"metrics": &pipeline.Document{Type: "metrics", Value: r}},
		Metrics: r.Metrics,
	}
	note := fmt.Sprintf("%d rows (%d positive)", ds.Rows, r.Confusion.TP+r.Confusion.FN)
	if auc, ok := r.Metrics["auc"]; ok {
		note += fmt.Sprintf(": AUC %.4f, KS %.4f", auc, r.Metrics["ks"])
	}
	note += fmt.Sprintf(", log loss %.4f; at threshold %s: precision %.4f, recall %.4f",
		r.Metrics["log_loss"], num(c.cfg.Threshold), r.Metrics["precision"], r.Metrics["recall"])
	res.Notes = append(res.Notes, note)
	res.Notes = append(res.Notes, fairnessNotes(r)...)
	for _, k := range sortedKeys(r.Undefined) {
		if strings.HasPrefix(k, MetricParityDiff) || strings.HasPrefix(k, MetricDisparateImpact) || strings.HasPrefix(k, MetricEqualOppDiff) {
			continue // said by the fairness notes
		}
		res.Notes = append(res.Notes, fmt.Sprintf("%s undefined: %s", k, r.Undefined[k]))
	}
	for _, g := range c.gates {
		res.Checks = append(res.Checks, c.check(g, r))
	}
	return res, nil
}

// simpleGate matches `metric OP value` gates, for a short message.
var simpleGate = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|>|<|==|!=)\s*(\S+)\s*$`)

// check evaluates one gate into a Check whose message shows the numbers
// that decided it.
func (c *compiled) check(g gate, r *Report) pipeline.Check {
	ch := pipeline.Check{Name: g.name, Kind: "gate", Expr: g.src, Severity: g.severity, Values: map[string]float64{}}
	var shown, undefined []string
	for _, id := range g.g.Identifiers() {
		if v, ok := r.Metrics[id]; ok {
			ch.Values[id] = v
			shown = append(shown, id+" = "+num(v))
		} else if why, ok := r.Undefined[id]; ok {
			undefined = append(undefined, fmt.Sprintf("%s is undefined (%s)", id, why))
		}
	}
	var paramVals []string
	for _, p := range g.params {
		paramVals = append(paramVals, p+" = "+fmt.Sprint(c.params[p]))
	}
	needs := func(prefix string) string {
		s := prefix + "needs " + g.src
		if len(paramVals) > 0 {
			s += " (" + strings.Join(paramVals, ", ") + ")"
		}
		return s
	}
	if len(undefined) > 0 {
		ch.Message = strings.Join(append(undefined, shown...), ", ") + needs(", ")
		return ch
	}
	passed, err := g.g.Eval(r.Metrics)
	if err != nil {
		ch.Message = fmt.Sprintf("cannot evaluate: %v", err)
		return ch
	}
	ch.Passed = passed
	values := strings.Join(shown, ", ")
	if passed {
		if m := simpleGate.FindStringSubmatch(g.src); m != nil && len(shown) == 1 {
			if rhs, ok := c.resolve(m[3]); ok {
				ch.Message = fmt.Sprintf("%s %s %s", shown[0], m[2], rhs)
				return ch
			}
		}
		if values == "" {
			ch.Message = g.src + " holds"
		} else {
			ch.Message = values + ": " + g.src + " holds"
		}
		return ch
	}
	if values == "" {
		ch.Message = needs("")
	} else {
		ch.Message = values + needs(", ")
	}
	return ch
}

// resolve renders the right-hand side of a simple gate: a number literal
// or a numeric params.NAME.
func (c *compiled) resolve(s string) (string, bool) {
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		return num(v), true
	}
	if m := paramRef.FindStringSubmatch(s); m != nil && m[0] == s {
		switch v := c.params[m[1]].(type) {
		case float64:
			return num(v), true
		case int64:
			return strconv.FormatInt(v, 10), true
		case int:
			return strconv.Itoa(v), true
		}
	}
	return "", false
}

// num formats a metric: integers as such, tiny values with 3 significant
// digits, others with up to 4 decimals.
func num(v float64) string {
	switch {
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case math.Abs(v) < 1e-3:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	s := strconv.FormatFloat(v, 'f', 4, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
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
