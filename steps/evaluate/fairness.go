package evaluate

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/groups"
	"github.com/mlrun-cli/mlrun/steps/internal/yamlnode"
	"github.com/mlrun-cli/mlrun/steps/stats"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// Fairness metrics, per protected attribute A (suffix _A) and over all of
// them (the worst: the largest differences, the smallest ratio).
const (
	MetricParityDiff      = "demographic_parity_difference"
	MetricDisparateImpact = "disparate_impact"
	MetricEqualOppDiff    = "equal_opportunity_difference"
)

// FairnessConfig is the resolved `fairness:` setting: the protected
// attributes compared, each with its bands, and the smallest group judged.
type FairnessConfig struct {
	// Attributes are compared in this order (the declared order, else the
	// pipeline's protected: columns the data holds).
	Attributes []Attribute `json:"attributes,omitempty"`
	MinGroup   int         `json:"min_group"`
}

// Attribute is one protected attribute and how its values are grouped.
type Attribute struct {
	Column string `json:"column"`
	// Bins are declared band cuts; Quantiles asks for quantile bands of
	// the evaluated data. Neither: a string column's values, or a numeric
	// column's values when it has at most groups.DefaultLevels distinct
	// ones, else its quartile bands.
	Bins      []float64 `json:"bins,omitempty"`
	Quantiles int       `json:"quantiles,omitempty"`
	// Metric is the suffix of its metrics (the column name as an
	// identifier).
	Metric string `json:"metric"`
}

// AttributeFairness is the fairness of one attribute on the evaluated
// data.
type AttributeFairness struct {
	Column string `json:"column"`
	// Bands says how a numeric column was cut (nil: one group per value).
	Bands  *groups.Bands         `json:"bands,omitempty"`
	Report *stats.FairnessReport `json:"report,omitempty"`
	// Error says why the disparities are undefined (fewer than two groups
	// large enough).
	Error string `json:"error,omitempty"`
}

var nonIdent = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// metricSuffix turns a column name into the suffix of its metrics.
func metricSuffix(col string) string {
	s := strings.Trim(nonIdent.ReplaceAllString(col, "_"), "_")
	if s == "" {
		s = "attr"
	}
	return strings.ToLower(s)
}

// fairnessMetricNames lists the fairness metrics of cfg: the overall ones
// and each attribute's.
func fairnessMetricNames(cfg *FairnessConfig) []string {
	if cfg == nil || len(cfg.Attributes) == 0 {
		return nil
	}
	out := []string{MetricParityDiff, MetricDisparateImpact, MetricEqualOppDiff}
	for _, a := range cfg.Attributes {
		out = append(out, MetricParityDiff+"_"+a.Metric, MetricDisparateImpact+"_"+a.Metric, MetricEqualOppDiff+"_"+a.Metric)
	}
	return out
}

// compileFairness resolves the `fairness:` setting (n, nil when absent)
// against the pipeline's protected attributes and the data's schema (nil
// when unknown).
func compileFairness(d *diag.List, req *pipeline.CompileRequest, n *yaml.Node, schema *table.Schema) *FairnessConfig {
	cfg := &FairnessConfig{MinGroup: stats.DefaultMinGroup}
	declared := false
	if n != nil {
		if n.Kind != yaml.MappingNode {
			d.Add(req.Pos(n), "fairness must be a mapping (attributes, min_group), got %s", yamlnode.Describe(n))
			return nil
		}
		for _, p := range yamlnode.Pairs(n) {
			switch p.Key.Value {
			case "min_group":
				v, ok := yamlnode.Integer(p.Value)
				if !ok || v < 1 {
					d.Add(req.Pos(p.Value), "fairness.min_group must be a positive integer, got %s", p.Value.Value)
					continue
				}
				cfg.MinGroup = int(v)
			case "attributes":
				declared = true
				cfg.Attributes = compileAttributes(d, req, p.Value, schema)
			default:
				d.Add(req.Pos(p.Key), "fairness: unknown key %q (want attributes, min_group)", p.Key.Value)
			}
		}
	}
	if !declared {
		// The pipeline's protected attributes that the data holds.
		for _, col := range req.Pipeline.Protected {
			if schema == nil {
				break
			}
			if _, ok := schema.Lookup(col); ok {
				cfg.Attributes = append(cfg.Attributes, Attribute{Column: col, Metric: metricSuffix(col)})
			}
		}
	}
	seen := map[string]string{}
	for _, a := range cfg.Attributes {
		if other, dup := seen[a.Metric]; dup {
			d.Add(req.Pos(n), "fairness attributes %q and %q give the same metric names (_%s)", other, a.Column, a.Metric)
		}
		seen[a.Metric] = a.Column
	}
	if len(cfg.Attributes) == 0 {
		return nil
	}
	return cfg
}

// compileAttributes reads `attributes:`: a list of column names, or a
// mapping of column name -> {bins: [...]} | {quantiles: N} | {}.
func compileAttributes(d *diag.List, req *pipeline.CompileRequest, n *yaml.Node, schema *table.Schema) []Attribute {
	var out []Attribute
	check := func(col string, at *yaml.Node) bool {
		if schema == nil {
			return true
		}
		f, ok := schema.Lookup(col)
		if !ok {
			d.Add(req.Pos(at), "fairness attribute %q is not a column of data%s", col, yamlnode.Suggest(col, schema.Names()))
			return false
		}
		_ = f
		return true
	}
	switch n.Kind {
	case yaml.SequenceNode:
		cols, nodes := yamlnode.StrList(d, req.Pos, "fairness.attributes", n)
		for i, c := range cols {
			if check(c, nodes[i]) {
				out = append(out, Attribute{Column: c, Metric: metricSuffix(c)})
			}
		}
	case yaml.MappingNode:
		for _, p := range yamlnode.Pairs(n) {
			a := Attribute{Column: p.Key.Value, Metric: metricSuffix(p.Key.Value)}
			ok := check(a.Column, p.Key)
			if p.Value.Kind == yaml.ScalarNode && (p.Value.Tag == "!!null" || p.Value.Value == "") {
				if ok {
					out = append(out, a)
				}
				continue
			}
			if p.Value.Kind != yaml.MappingNode {
				d.Add(req.Pos(p.Value), "fairness attribute %q: want {bins: [cuts]}, {quantiles: N} or {}, got %s", a.Column, yamlnode.Describe(p.Value))
				continue
			}
			for _, q := range yamlnode.Pairs(p.Value) {
				switch q.Key.Value {
				case "bins":
					if q.Value.Kind != yaml.SequenceNode || len(q.Value.Content) == 0 {
						d.Add(req.Pos(q.Value), "fairness attribute %q: bins must be a list of cut points, e.g. [25, 35, 50, 65]", a.Column)
						continue
					}
					for _, e := range q.Value.Content {
						v, isNum := yamlnode.Number(e)
						if !isNum {
							d.Add(req.Pos(e), "fairness attribute %q: bins must be numbers, got %s", a.Column, yamlnode.Describe(e))
							continue
						}
						a.Bins = append(a.Bins, v)
					}
				case "quantiles":
					v, isInt := yamlnode.Integer(q.Value)
					if !isInt {
						d.Add(req.Pos(q.Value), "fairness attribute %q: quantiles must be an integer, got %s", a.Column, yamlnode.Describe(q.Value))
						continue
					}
					a.Quantiles = int(v)
				default:
					d.Add(req.Pos(q.Key), "fairness attribute %q: unknown key %q (want bins or quantiles)", a.Column, q.Key.Value)
				}
			}
			if err := groups.Check(a.Bins, a.Quantiles, "bins", "quantiles"); err != nil {
				d.Add(req.Pos(p.Value), "fairness attribute %q: %v", a.Column, err)
				continue
			}
			if schema != nil && (len(a.Bins) > 0 || a.Quantiles > 0) {
				if f, found := schema.Lookup(a.Column); found && !f.Type.Numeric() {
					d.Add(req.Pos(p.Value), "fairness attribute %q is a %s column: bins and quantiles need a numeric one", a.Column, f.Type)
					continue
				}
			}
			if ok {
				out = append(out, a)
			}
		}
	default:
		d.Add(req.Pos(n), "fairness.attributes must be a list of columns or a mapping of column -> {bins|quantiles}, got %s", yamlnode.Describe(n))
	}
	return out
}

// evalFairness compares the groups of each attribute on ds (p: the
// probabilities of the positive class, y: the labels) at threshold, and
// adds the metrics (or why they are undefined) to r.
func evalFairness(r *Report, cfg *FairnessConfig, ds *table.Dataset, p, y []float64, threshold float64) error {
	if cfg == nil {
		return nil
	}
	worst := map[string]float64{MetricParityDiff: math.NaN(), MetricDisparateImpact: math.NaN(), MetricEqualOppDiff: math.NaN()}
	var undefined []string
	for _, a := range cfg.Attributes {
		af := AttributeFairness{Column: a.Column}
		names := map[string]string{MetricParityDiff: MetricParityDiff + "_" + a.Metric,
			MetricDisparateImpact: MetricDisparateImpact + "_" + a.Metric, MetricEqualOppDiff: MetricEqualOppDiff + "_" + a.Metric}
		c := ds.Column(a.Column)
		if c == nil {
			af.Error = "not a column of the evaluated data"
		} else {
			rows, order, bands, err := groups.Rows(c, a.Bins, a.Quantiles)
			if err != nil {
				return pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("fairness attribute %q: %w", a.Column, err))
			}
			af.Bands = bands
			rep, ferr := stats.FairnessOrdered(p, y, rows, order, threshold, cfg.MinGroup)
			if rep == nil {
				return fmt.Errorf("fairness attribute %q: %w", a.Column, ferr)
			}
			af.Report = rep
			if ferr != nil {
				af.Error = ferr.Error()
			}
		}
		r.Fairness = append(r.Fairness, af)
		if af.Report == nil || af.Error != "" {
			why := fmt.Sprintf("fairness by %s is undefined: %s", a.Column, af.Error)
			for _, k := range sortedKeys(names) {
				r.setUndefined(names[k], why)
			}
			undefined = append(undefined, why)
			continue
		}
		vals := map[string]float64{
			MetricParityDiff:      float64(af.Report.DemographicParityDiff),
			MetricDisparateImpact: float64(af.Report.DisparateImpact),
			MetricEqualOppDiff:    float64(af.Report.EqualOpportunityDiff),
		}
		for k, v := range vals {
			if math.IsNaN(v) {
				r.setUndefined(names[k], fmt.Sprintf("%s by %s is undefined (a group has no good rows)", k, a.Column))
				continue
			}
			r.Metrics[names[k]] = v
			w := worst[k]
			switch {
			case math.IsNaN(w):
				worst[k] = v
			case k == MetricDisparateImpact:
				worst[k] = math.Min(w, v)
			default:
				worst[k] = math.Max(w, v)
			}
		}
	}
	for _, k := range sortedKeys(worst) {
		if v := worst[k]; !math.IsNaN(v) {
			r.Metrics[k] = v
		} else {
			r.setUndefined(k, strings.Join(undefined, "; "))
		}
	}
	return nil
}

// setUndefined records that metric name is undefined, and why.
func (r *Report) setUndefined(name, why string) {
	if r.Undefined == nil {
		r.Undefined = map[string]string{}
	}
	if why == "" {
		why = "no attribute could be compared"
	}
	r.Undefined[name] = why
}

// fairnessNotes summarises each attribute for the step's notes.
func fairnessNotes(r *Report) []string {
	var out []string
	for _, af := range r.Fairness {
		if af.Report == nil || af.Error != "" {
			out = append(out, fmt.Sprintf("fairness by %s: %s", af.Column, af.Error))
			continue
		}
		f := af.Report
		var small []string
		for _, g := range f.Groups {
			if g.Small {
				small = append(small, g.Group)
			}
		}
		sort.Strings(small)
		note := fmt.Sprintf("fairness by %s (%d groups judged): approval rate %s %s vs %s %s, parity difference %s, disparate impact %s, equal opportunity difference %s",
			af.Column, f.Judged, f.MostFavoured, rate(f, f.MostFavoured), f.LeastFavoured, rate(f, f.LeastFavoured),
			num(float64(f.DemographicParityDiff)), num(float64(f.DisparateImpact)), num(float64(f.EqualOpportunityDiff)))
		if len(small) > 0 {
			note += fmt.Sprintf("; too small to judge: %s", strings.Join(small, ", "))
		}
		if af.Bands != nil {
			note += "; " + strings.TrimPrefix(groups.Note(af.Column, af.Bands, "bins", "quantiles", "the evaluated data", "datasets"), "fairness: ")
		}
		out = append(out, note)
	}
	return out
}

func rate(f *stats.FairnessReport, group string) string {
	for _, g := range f.Groups {
		if g.Group == group {
			return fmt.Sprintf("%.1f%%", 100*float64(g.ApprovalRate))
		}
	}
	return "?"
}
