package monitor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/exprenv"
	"github.com/mlrun-cli/mlrun/steps/internal/yamlnode"
	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/profile"
	"github.com/mlrun-cli/mlrun/steps/stats"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// Version is the implementation version of the monitor kind, part of
// every monitor step's cache key. 2: checks that cannot be evaluated are
// reported "not evaluated" (failing when critical) instead of left out or
// failed; a numeric group column with many distinct values is compared in
// quantile bands; numeric group values in numeric order; psi_bins,
// group_bins, group_quantiles and a check's features. The PSI bins of an
// existing step are unchanged (psi_bins: right_closed by default).
const Version = 2

// Kind returns the monitor step kind.
func Kind() pipeline.Kind { return kind{} }

type kind struct{}

func (kind) Name() string { return "monitor" }

func (kind) Version() int { return Version }

func (kind) Inputs() []pipeline.Port {
	return []pipeline.Port{
		{Name: "reference", Required: true, Doc: "the frozen reference profile (a train step's `profile` output)"},
		{Name: "model", Required: true, Doc: "the monitored model"},
		{Name: "current", Required: true, Doc: "the batch to compare with the reference"},
		{Name: "baseline", Doc: "metrics to compare performance with (an evaluate step); default the profile's training metrics"},
	}
}

func (kind) Outputs() []string { return []string{"report"} }

func (kind) Required() []string { return nil }

func (kind) Settings() map[string]any {
	var names []string
	for _, c := range DefaultChecks() {
		names = append(names, c.Name)
	}
	return map[string]any{
		"threshold": map[string]any{"type": "number", "minimum": 0, "maximum": 1, "default": DefaultThreshold,
			"description": "decision threshold: a row is approved when its probability of the positive (bad) class is below it"},
		"group": map[string]any{"type": "string",
			"description": fmt.Sprintf("column of the batch whose groups are compared for fairness (e.g. a protected attribute): one group per value of a string column; a numeric column with more than %d distinct values (an age) in %d quantile bands of the batch unless group_bins or group_quantiles say otherwise", DefaultGroupLevels, DefaultGroupQuantiles)},
		"group_bins": map[string]any{"type": "array", "minItems": 1, "items": map[string]any{"type": "number"},
			"description": "cut a numeric group column at these ascending values into left-closed bands, e.g. [18, 25, 35, 50, 65]: (-inf,18), [18,25), ..., [65,+inf) (the same bands for every batch)"},
		"group_quantiles": map[string]any{"type": "integer", "minimum": 2, "maximum": MaxGroupQuantiles,
			"description": fmt.Sprintf("cut a numeric group column into this many quantile bands of the batch (left-closed, cut as numpy's quantiles; ties give fewer); default %d for a column with more than %d distinct values", DefaultGroupQuantiles, DefaultGroupLevels)},
		"min_group": map[string]any{"type": "integer", "minimum": 1, "default": 30,
			"description": "groups (or bands) with fewer rows are flagged, not judged"},
		"labels": map[string]any{"type": "boolean", "default": true,
			"description": "check performance when the batch holds the target column; false turns it off (the checks on label variables do not apply)"},
		"psi_bins": map[string]any{"type": "string", "enum": binningStrings(), "default": string(DefaultPSIBins),
			"description": "bin convention of PSI and JS over the reference's decile bins: right_closed (bins (e[i-1], e[i]], an edge at a tied minimum kept so that the minimum is a bin of its own; the profile's frozen bins) or numpy (np.unique(np.quantile(ref, np.linspace(0, 1, 11))) counted as np.histogram counts, left-closed [e[i-1], e[i]) with the last bin closed at the maximum, the outer bins open for batch values out of range); they agree on continuous data and differ on ties"},
		"drift": map[string]any{"type": "string", "default": DefaultDrift,
			"description": "rule over the per-feature variables that counts a feature as drifted (for drift_share); variables: " + strings.Join(FeatureVars(), ", ")},
		"alerts": map[string]any{
			"type": "object", "additionalProperties": false,
			"description": "where `mlrun run` (when the step runs) and `mlrun monitor` send an alert when a check fails: a JSON-lines file and/or a webhook (HTTP POST of JSON with a text field), retried; undelivered alerts are kept in the store and retried on the next run",
			"properties": map[string]any{
				"file":    map[string]any{"type": "string", "description": "JSON-lines file, relative to the pipeline file"},
				"webhook": map[string]any{"type": "string", "description": "URL; $VAR is expanded from the environment when sending"},
				"timeout": map[string]any{"type": "number", "exclusiveMinimum": 0, "default": 10, "description": "seconds per attempt"},
				"retries": map[string]any{"type": "integer", "minimum": 0, "maximum": 10, "default": 3, "description": "attempts after the first, with exponential backoff"},
				"on":      map[string]any{"type": "string", "enum": []string{Critical, Warn}, "default": Critical, "description": "lowest severity of a failed check that raises an alert"},
			},
		},
		"on_critical": onCriticalSchema(),
		"checks": map[string]any{
			"type": "object",
			"description": "check name -> expression that must hold, or {expr, severity: warn|critical, features: [names]}, or `off`. Built-in checks: " +
				strings.Join(names, ", ") + "; another name is a dataset check, or with features a feature check. " +
				"features restricts a feature (drift) check to the named model features. " +
				"Feature variables: " + strings.Join(FeatureVars(), ", ") + ". " +
				"Dataset variables: " + strings.Join(append([]string{"rows", "reference_rows", "row_ratio", "drift_share", "drifted_count", "features"}, scoreVars...), ", ") +
				"; with labels: " + strings.Join(labelVars(), ", ") + "; with a group: " + strings.Join(fairnessVars, ", ") + ". " +
				"A check whose variables are not computed or undefined is not evaluated and fails when critical; " +
				"the built-in performance, calibration and fairness checks do not apply to a batch without labels or without a group",
			"additionalProperties": map[string]any{"oneOf": []any{
				map[string]any{"type": "string"},
				map[string]any{"type": "boolean", "const": false},
				map[string]any{"type": "object", "additionalProperties": false, "properties": map[string]any{
					"expr":     map[string]any{"type": "string"},
					"severity": map[string]any{"type": "string", "enum": []string{Warn, Critical}},
					"features": map[string]any{"type": "array", "minItems": 1, "items": map[string]any{"type": "string"}},
				}},
			}},
		},
	}
}

type compiled struct {
	cfg *Config
}

func (k kind) Compile(req *pipeline.CompileRequest) pipeline.Compiled {
	d := new(diag.List)
	defer req.Diags.Merge(d)
	if t, ok := req.Inputs["reference"]; ok && t != nil && t.TypeName() != profile.TypeName {
		d.Add(req.Pos(req.Setting("reference")), "reference must be a profile (a train step's profile output, e.g. model.profile), got %s", t.TypeName())
	}
	var mt *model.Type
	if t, ok := req.Inputs["model"]; ok && t != nil {
		if mt, ok = t.(*model.Type); !ok {
			d.Add(req.Pos(req.Setting("model")), "model must be a model, got %s", t.TypeName())
		}
	}
	var schema *table.Schema
	if t, ok := req.Inputs["current"]; ok && t != nil {
		if schema, ok = t.(*table.Schema); !ok {
			d.Add(req.Pos(req.Setting("current")), "current must be a dataset, got %s", t.TypeName())
		}
	}
	if t, ok := req.Inputs["baseline"]; ok && t != nil && t.TypeName() != "metrics" {
		d.Add(req.Pos(req.Setting("baseline")), "baseline must be metrics (an evaluate step), got %s", t.TypeName())
	}
	if mt != nil && schema != nil {
		for _, err := range mt.Check(schema, false) {
			d.Add(req.Pos(req.Setting("current")), "current does not fit the model: %s", strings.TrimPrefix(err.Error(), model.ErrSchema.Error()+": "))
		}
	}
	cfg := DefaultConfig()
	if n := req.Setting("threshold"); n != nil {
		v, ok := yamlnode.Number(n)
		if !ok || !(v >= 0 && v <= 1) {
			d.Add(req.Pos(n), "threshold must be a number between 0 and 1, got %s", yamlnode.Describe(n))
		} else {
			cfg.Threshold = v
		}
	}
	if n := req.Setting("group"); n != nil {
		s, ok := yamlnode.Str(n)
		switch {
		case !ok:
			d.Add(req.Pos(n), "group must be a column name, got %s", yamlnode.Describe(n))
		case schema != nil && schema.Index(s) < 0:
			d.Add(req.Pos(n), "unknown group column %q%s", s, yamlnode.Suggest(s, schema.Names()))
		default:
			cfg.Group = s
		}
	}
	if n := req.Setting("min_group"); n != nil {
		v, ok := yamlnode.Integer(n)
		if !ok || v < 1 || v > math.MaxInt32 {
			d.Add(req.Pos(n), "min_group must be a positive integer, got %s", yamlnode.Describe(n))
		} else {
			cfg.MinGroup = int(v)
		}
	}
	if n := req.Setting("psi_bins"); n != nil {
		s, _ := yamlnode.Str(n)
		if b := stats.Binning(s); b.Valid() {
			cfg.PSIBins = b
		} else if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
			d.Add(req.Pos(n), "psi_bins must be %s, got %q", binningNames(), s)
		} else {
			d.Add(req.Pos(n), "psi_bins must be %s, got %s", binningNames(), yamlnode.Describe(n))
		}
	}
	binsNode, quantNode := req.Setting("group_bins"), req.Setting("group_quantiles")
	if n := binsNode; n != nil {
		cfg.GroupBins = parseGroupBins(req, d, n)
	}
	if n := quantNode; n != nil {
		v, ok := yamlnode.Integer(n)
		if !ok || v < 2 || v > MaxGroupQuantiles {
			d.Add(req.Pos(n), "group_quantiles must be an integer from 2 to %d, got %s", MaxGroupQuantiles, describeInt(n))
		} else {
			cfg.GroupQuantiles = int(v)
		}
	}
	if binsNode != nil && quantNode != nil {
		d.Add(req.Pos(settingKey(req.Step.Node, "group_quantiles")), "group_bins and group_quantiles exclude each other")
	}
	if n := req.Setting("labels"); n != nil {
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.Add(req.Pos(n), "labels must be true or false, got %s", yamlnode.Describe(n))
		}
		cfg.NoLabels = !b
	}
	if cfg.Group == "" && (binsNode != nil || quantNode != nil) {
		n := binsNode
		if n == nil {
			n = quantNode
		}
		d.Warn(req.Pos(n), "group bands have no effect without a group column (group, or --group for mlrun monitor)")
	}
	if schema != nil && cfg.Group != "" && (binsNode != nil || quantNode != nil) {
		if f, ok := schema.Lookup(cfg.Group); ok && f.Type == table.String {
			n := binsNode
			if n == nil {
				n = quantNode
			}
			d.Add(req.Pos(n), "group column %q is a string column: group bands need a numeric column", cfg.Group)
		}
	}
	var modelFeatures []string
	if mt != nil {
		for _, f := range mt.Features {
			modelFeatures = append(modelFeatures, f.Name)
		}
	}
	exprPos := map[string]*yaml.Node{}
	if n := req.Setting("drift"); n != nil {
		if s, ok := yamlnode.Str(n); ok {
			cfg.Drift = s
			exprPos["drift"] = n
		} else {
			d.Add(req.Pos(n), "drift must be an expression, got %s", yamlnode.Describe(n))
		}
	}
	if n := req.Setting("alerts"); n != nil {
		cfg.Alerts = parseAlerts(req, d, n)
	}
	if n := req.Setting("on_critical"); n != nil {
		cfg.OnCritical = parseOnCritical(req.Pos, d, n)
	}
	if n := req.Setting("checks"); n != nil {
		if n.Kind != yaml.MappingNode {
			d.Add(req.Pos(n), "checks must be a mapping of check name -> expression, got %s", yamlnode.Describe(n))
		}
		byName := map[string]int{}
		for i, c := range cfg.Checks {
			byName[c.Name] = i
		}
		seen := map[string]bool{}
		var off []string
		for _, p := range yamlnode.Pairs(n) {
			name := p.Key.Value
			if seen[name] {
				d.Add(req.Pos(p.Key), "check %q is given twice", name)
				continue
			}
			seen[name] = true
			i, builtin := byName[name]
			spec := CheckSpec{Name: name, Severity: Critical, Scope: ScopeDataset}
			if builtin {
				spec = cfg.Checks[i]
			}
			spec.Declared = true
			v := p.Value
			switch {
			case v.Kind == yaml.ScalarNode && (v.ShortTag() == "!!bool" && v.Value == "false" || v.Value == "off"):
				if !builtin {
					d.Add(req.Pos(v), "check %q is not a built-in check: nothing to turn off%s", name, yamlnode.Suggest(name, keys(byName)))
				}
				off = append(off, name)
				continue
			case v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str":
				spec.Expr = v.Value
				exprPos[name] = v
			case v.Kind == yaml.MappingNode:
				for _, q := range yamlnode.Pairs(v) {
					switch q.Key.Value {
					case "expr":
						if s, ok := yamlnode.Str(q.Value); ok {
							spec.Expr = s
							exprPos[name] = q.Value
						} else {
							d.Add(req.Pos(q.Value), "check %q: expr must be a string, got %s", name, yamlnode.Describe(q.Value))
						}
					case "severity":
						if s, _ := yamlnode.Str(q.Value); s == Warn || s == Critical {
							spec.Severity = s
						} else {
							d.Add(req.Pos(q.Value), "check %q: severity must be warn or critical, got %s", name, yamlnode.Describe(q.Value))
						}
					case "features":
						spec.Features = parseCheckFeatures(req, d, name, q.Value, modelFeatures)
						if spec.Features == nil {
							spec.Features = []string{} // reported; still a feature check
						}
					default:
						d.Add(req.Pos(q.Key), "check %q: unknown key %q (expr, severity, features)%s", name, q.Key.Value,
							yamlnode.Suggest(q.Key.Value, []string{"expr", "severity", "features"}))
					}
				}
				if spec.Expr == "" {
					d.Add(req.Pos(v), "check %q needs expr", name)
				}
				if spec.Features != nil {
					switch {
					case builtin && spec.Scope != ScopeFeature:
						d.Add(req.Pos(v), "check %q is a dataset check: features apply to drift checks (%s, or a new check)", name, strings.Join(featureCheckNames(), ", "))
						spec.Features = nil
					case !builtin:
						spec.Scope = ScopeFeature
					}
				}
			default:
				d.Add(req.Pos(v), "check %q must be an expression, {expr, severity} or off, got %s", name, yamlnode.Describe(v))
				continue
			}
			if builtin {
				cfg.Checks[i] = spec
			} else {
				cfg.Checks = append(cfg.Checks, spec)
			}
		}
		var kept []CheckSpec
		for _, c := range cfg.Checks {
			if !contains(off, c.Name) {
				kept = append(kept, c)
			}
		}
		cfg.Checks = kept
	}
	for _, err := range cfg.Compile(req.Params) {
		name := ""
		for k := range exprPos {
			if strings.Contains(err.Error(), fmt.Sprintf("check %q:", k)) || (k == "drift" && strings.Contains(err.Error(), ": drift:")) {
				name = k
			}
		}
		pos := req.Step.Pos
		if n := exprPos[name]; n != nil {
			var e *exprenv.Error
			if errors.As(err, &e) {
				pos = exprenv.PosSource(req.Pipeline.File, req.Pipeline.Source, n, e)
			} else {
				pos = req.Pos(n)
			}
		}
		d.Add(pos, "%v", strings.TrimPrefix(err.Error(), ErrExpr.Error()+": "))
	}
	if d.HasErrors() {
		return nil
	}
	cfg.Params = req.Params
	return &compiled{cfg: cfg}
}

// parseGroupBins reads group_bins: a non-empty list of ascending numbers.
func parseGroupBins(req *pipeline.CompileRequest, d *diag.List, n *yaml.Node) []float64 {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		what := yamlnode.Describe(n)
		if n.Kind == yaml.SequenceNode {
			what = "an empty list"
		}
		d.Add(req.Pos(n), "group_bins must be a non-empty list of numbers, got %s", what)
		return nil
	}
	var out []float64
	ok := true
	for _, e := range n.Content {
		v, isNum := yamlnode.Number(e)
		switch {
		case !isNum || math.IsNaN(v) || math.IsInf(v, 0):
			d.Add(req.Pos(e), "group_bins entries must be numbers, got %s", yamlnode.Describe(e))
			ok = false
		case len(out) > 0 && !(v > out[len(out)-1]):
			d.Add(req.Pos(e), "group_bins must be ascending, got %s after %s", num(v), num(out[len(out)-1]))
			ok = false
		default:
			out = append(out, v)
		}
	}
	if !ok {
		return nil
	}
	return out
}

// parseCheckFeatures reads a check's features: model feature names (when
// the model's features are known), each once.
func parseCheckFeatures(req *pipeline.CompileRequest, d *diag.List, check string, n *yaml.Node, model []string) []string {
	names, nodes := yamlnode.StrList(d, req.Pos, fmt.Sprintf("check %q: features", check), n)
	if n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
		d.Add(req.Pos(n), "check %q: features must name at least one feature", check)
	}
	var out []string
	for i, name := range names {
		switch {
		case contains(out, name):
			d.Add(req.Pos(nodes[i]), "check %q: feature %q is listed twice", check, name)
		case model != nil && !contains(model, name):
			d.Add(req.Pos(nodes[i]), "check %q: %q is not a feature of the model (%s)%s", check, name, strings.Join(model, ", "), yamlnode.Suggest(name, model))
		default:
			out = append(out, name)
		}
	}
	return out
}

// featureCheckNames lists the built-in feature checks.
func featureCheckNames() []string {
	var out []string
	for _, c := range DefaultChecks() {
		if c.Scope == ScopeFeature {
			out = append(out, c.Name)
		}
	}
	return out
}

// settingKey returns the key node of a step setting (the step node when
// absent), for problems that concern the setting as a whole.
func settingKey(step *yaml.Node, name string) *yaml.Node {
	for _, kv := range yamlnode.Pairs(step) {
		if kv.Key.Value == name {
			return kv.Key
		}
	}
	return step
}

// describeInt describes a node for an integer setting's message: the
// number itself when it is one.
func describeInt(n *yaml.Node) string {
	if _, ok := yamlnode.Integer(n); ok {
		return n.Value
	}
	return yamlnode.Describe(n)
}

func binningStrings() []string {
	var out []string
	for _, b := range stats.Binnings {
		out = append(out, string(b))
	}
	return out
}

// parseAlerts reads the alerts setting.
func parseAlerts(req *pipeline.CompileRequest, d *diag.List, n *yaml.Node) *Alerts {
	if n.Kind != yaml.MappingNode {
		d.Add(req.Pos(n), "alerts must be a mapping (file, webhook, timeout, retries, on), got %s", yamlnode.Describe(n))
		return nil
	}
	a := &Alerts{}
	for _, p := range yamlnode.Pairs(n) {
		v := p.Value
		switch p.Key.Value {
		case "file", "webhook":
			s, ok := yamlnode.Str(v)
			if !ok || s == "" {
				d.Add(req.Pos(v), "alerts: %s must be a non-empty string, got %s", p.Key.Value, yamlnode.Describe(v))
			} else if p.Key.Value == "file" {
				a.File = s
			} else {
				a.Webhook = s
			}
		case "timeout":
			if f, ok := yamlnode.Number(v); ok && f > 0 {
				a.Timeout = f
			} else {
				d.Add(req.Pos(v), "alerts: timeout must be a positive number of seconds, got %s", yamlnode.Describe(v))
			}
		case "retries":
			if k, ok := yamlnode.Integer(v); ok && k >= 0 && k <= 10 {
				r := int(k)
				a.Retries = &r
			} else {
				d.Add(req.Pos(v), "alerts: retries must be an integer from 0 to 10, got %s", yamlnode.Describe(v))
			}
		case "on":
			if s, _ := yamlnode.Str(v); s == Warn || s == Critical {
				a.On = s
			} else {
				d.Add(req.Pos(v), "alerts: on must be warn or critical, got %s", yamlnode.Describe(v))
			}
		default:
			d.Add(req.Pos(p.Key), "alerts: unknown key %q (file, webhook, timeout, retries, on)%s", p.Key.Value,
				yamlnode.Suggest(p.Key.Value, []string{"file", "webhook", "timeout", "retries", "on"}))
		}
	}
	if a.File == "" && a.Webhook == "" {
		d.Add(req.Pos(n), "alerts needs a file or a webhook")
	}
	return a
}

func keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func (c *compiled) OutputTypes() map[string]pipeline.Type {
	return map[string]pipeline.Type{"report": reportType{}}
}

type reportType struct{}

func (reportType) TypeName() string { return TypeName }

func (c *compiled) CacheConfig() any { return c.cfg }

func (c *compiled) Run(ctx context.Context, req *pipeline.RunRequest) (*pipeline.Result, error) {
	ro, mo, co := req.Inputs["reference"], req.Inputs["model"], req.Inputs["current"]
	if ro == nil || mo == nil || co == nil {
		return nil, errors.New("monitor: reference, model and current must be connected")
	}
	prof, err := profile.FromObject(ro)
	if err != nil {
		return nil, fmt.Errorf("monitor: reference: %w", err)
	}
	m, ok := mo.(model.Model)
	if !ok {
		return nil, fmt.Errorf("monitor: model is a %s, not a model", mo.TypeName())
	}
	ds, ok := co.(*table.Dataset)
	if !ok {
		return nil, fmt.Errorf("monitor: current is a %s, not a dataset", co.TypeName())
	}
	in := Input{Profile: prof, Model: m, Current: ds, Jobs: req.Jobs}
	if bo := req.Inputs["baseline"]; bo != nil {
		b, err := BaselineFrom(bo)
		if err != nil {
			return nil, fmt.Errorf("monitor: baseline: %w", err)
		}
		in.Baseline, in.BaselineSource = b, "baseline input (evaluate metrics)"
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, err := Compute(in, c.cfg)
	if err != nil {
		return nil, err
	}
	return Result(r), nil
}

// BaselineFrom reads the metrics of an evaluate step's metrics document.
func BaselineFrom(o pipeline.Object) (map[string]float64, error) {
	d, ok := o.(*pipeline.Document)
	if !ok {
		return nil, fmt.Errorf("%s is not a metrics document", o.TypeName())
	}
	var v struct {
		Metrics map[string]float64 `json:"metrics"`
	}
	if err := d.Into(&v); err != nil {
		return nil, err
	}
	return v.Metrics, nil
}

// Result turns a report into a step result: the report object, its
// dataset-level numbers as metrics, its checks and a summary note.
func Result(r *Report) *pipeline.Result {
	res := &pipeline.Result{
		Outputs: map[string]pipeline.Object{"report": &pipeline.Document{Type: TypeName, Value: r}},
		Metrics: map[string]float64{},
		Checks:  r.Checks,
	}
	for k, v := range r.Dataset {
		if !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) {
			res.Metrics[k] = float64(v)
		}
	}
	failed, warned := 0, 0
	for _, c := range r.Checks {
		switch {
		case c.Failed():
			failed++
		case !c.Passed:
			warned++
		}
	}
	note := fmt.Sprintf("%d rows vs %d reference rows: %d of %d features drifted (%s), %d critical and %d warning check(s) failed",
		r.Rows, r.ReferenceRows, len(r.Drifted), len(r.Features), strings.Join(r.Drifted, ", "), failed, warned)
	if n := len(r.NotEvaluated); n > 0 {
		note += fmt.Sprintf(" (%d not evaluated)", n)
	}
	res.Notes = append(res.Notes, note)
	res.Notes = append(res.Notes, r.Notes...)
	return res
}
