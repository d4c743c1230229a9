package monitor

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/steps/exprenv"
	"github.com/mlrun-cli/mlrun/steps/profile"
	"github.com/mlrun-cli/mlrun/steps/stats"
)

// Defaults.
const (
	// DefaultThreshold is the decision threshold: a row is approved when
	// its probability of the positive (bad) class is below it.
	DefaultThreshold = 0.5
	// DefaultDrift is the rule that counts a feature as drifted (for
	// drift_share): PSI at or above the credit-industry "moderate" band.
	DefaultDrift = "psi >= 0.1"
)

// Scopes of checks.
const (
	ScopeFeature = "feature"
	ScopeDataset = "dataset"
)

// CheckSpec is a check: a boolean expression that must hold, evaluated
// once per feature (ScopeFeature, over FeatureVars) or once per batch
// (ScopeDataset, over DatasetVars). Severity is "critical" (a failure
// fails the step: pipeline.SeverityError) or "warn".
type CheckSpec struct {
	Name     string `json:"name"`
	Expr     string `json:"expr"`
	Severity string `json:"severity"`
	Scope    string `json:"scope"`
	// Kinds limits a feature check to numeric or categorical features.
	Kinds []string `json:"kinds,omitempty"`
}

// DefaultChecks are the checks of a monitor step that declares none; a
// step's `checks:` override them by name (or turn one off with `off`)
// and may add dataset-level checks of its own.
//
//	psi            feature   psi < 0.25                critical (major shift)
//	psi_moderate   feature   psi < 0.1                 warn
//	ks             numeric   ks_pvalue >= 0.01         warn
//	chi2           categorical chi2_pvalue >= 0.01     warn
//	unseen         categorical unseen_share < 0.01     warn
//	missing        feature   missing_rate_change < 0.05 warn
//	rows           dataset   rows >= 100               warn
//	dataset_drift  dataset   drift_share < 0.5         critical
//	score_psi      dataset   score_psi < 0.25          critical
//	performance    dataset   accuracy_drop <= 0.05 && auc_drop <= 0.05  critical (labels)
//	calibration    dataset   hl_pvalue >= 0.01         warn (labels)
//	fairness       dataset   disparate_impact >= 0.8   critical (group; four-fifths rule)
func DefaultChecks() []CheckSpec {
	num, cat := []string{profile.Numeric}, []string{profile.Categorical}
	return []CheckSpec{
		{Name: "psi", Expr: "psi < 0.25", Severity: Critical, Scope: ScopeFeature},
		{Name: "psi_moderate", Expr: "psi < 0.1", Severity: Warn, Scope: ScopeFeature},
		{Name: "ks", Expr: "ks_pvalue >= 0.01", Severity: Warn, Scope: ScopeFeature, Kinds: num},
		{Name: "chi2", Expr: "chi2_pvalue >= 0.01", Severity: Warn, Scope: ScopeFeature, Kinds: cat},
		{Name: "unseen", Expr: "unseen_share < 0.01", Severity: Warn, Scope: ScopeFeature, Kinds: cat},
		{Name: "missing", Expr: "missing_rate_change < 0.05", Severity: Warn, Scope: ScopeFeature},
		{Name: "rows", Expr: "rows >= 100", Severity: Warn, Scope: ScopeDataset},
		{Name: "dataset_drift", Expr: "drift_share < 0.5", Severity: Critical, Scope: ScopeDataset},
		{Name: "score_psi", Expr: "score_psi < 0.25", Severity: Critical, Scope: ScopeDataset},
		{Name: "performance", Expr: "accuracy_drop <= 0.05 && auc_drop <= 0.05", Severity: Critical, Scope: ScopeDataset},
		{Name: "calibration", Expr: "hl_pvalue >= 0.01", Severity: Warn, Scope: ScopeDataset},
		{Name: "fairness", Expr: "disparate_impact >= 0.8", Severity: Critical, Scope: ScopeDataset},
	}
}

// Severities as written in YAML.
const (
	Critical = "critical"
	Warn     = "warn"
)

// Config is the resolved configuration of a monitor; it is the step's
// cache config.
type Config struct {
	Threshold float64     `json:"threshold"`
	Group     string      `json:"group,omitempty"`
	MinGroup  int         `json:"min_group"`
	NoLabels  bool        `json:"no_labels,omitempty"`
	Drift     string      `json:"drift"`
	Checks    []CheckSpec `json:"checks"`
	Params    any         `json:"params,omitempty"`
	// Alerts are where `mlrun run` (when the step runs, not when it is
	// taken from the cache) and `mlrun monitor` send the failed checks of
	// a batch (nil: nowhere). They do not change the report.
	Alerts *Alerts `json:"alerts,omitempty"`

	drift  *gateExpr
	checks []*check
}

// Alerts declares the alert sinks of a monitor: a JSON-lines file that
// gets one line per alert, and a webhook that gets an HTTP POST of the
// alert as JSON (with a human `text` field, so Slack-style incoming
// webhooks work), with a timeout per attempt and bounded retries.
type Alerts struct {
	// File is the JSON-lines file, relative to the pipeline file.
	File string `json:"file,omitempty"`
	// Webhook is the URL; $VAR and ${VAR} are expanded from the
	// environment when the alert is sent, so secrets stay out of the file.
	Webhook string `json:"webhook,omitempty"`
	// Timeout is each attempt's timeout in seconds (default 10); Retries
	// the attempts after the first (default 3).
	Timeout float64 `json:"timeout,omitempty"`
	Retries *int    `json:"retries,omitempty"`
	// On is the lowest severity that raises an alert: critical (default)
	// or warn.
	On string `json:"on,omitempty"`
}

// DefaultConfig returns the configuration of a monitor with no settings.
func DefaultConfig() *Config {
	return &Config{Threshold: DefaultThreshold, MinGroup: stats.DefaultMinGroup, Drift: DefaultDrift, Checks: DefaultChecks()}
}

// ErrExpr wraps expression compile errors of Config.Compile.
var ErrExpr = errors.New("invalid check expression")

// Compile compiles the drift rule and the checks' expressions with params.
// It returns one error per bad expression, naming the check.
func (c *Config) Compile(params map[string]any) []error {
	var errs []error
	g, err := exprenv.CompileGate(c.Drift, FeatureVars(), params)
	if err != nil {
		errs = append(errs, fmt.Errorf("%w: drift: %v", ErrExpr, err))
	} else {
		c.drift = &gateExpr{src: c.Drift, g: g}
	}
	c.checks = nil
	sort.SliceStable(c.Checks, func(i, j int) bool { return c.Checks[i].Name < c.Checks[j].Name })
	for _, s := range c.Checks {
		vars := DatasetVars()
		if s.Scope == ScopeFeature {
			vars = FeatureVars()
		}
		g, err := exprenv.CompileGate(s.Expr, vars, params)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: check %q: %v", ErrExpr, s.Name, err))
			continue
		}
		c.checks = append(c.checks, &check{spec: s, expr: &gateExpr{src: s.Expr, g: g}})
	}
	return errs
}

type check struct {
	spec CheckSpec
	expr *gateExpr
}

func severity(s string) string {
	if s == Warn {
		return pipeline.SeverityWarn
	}
	return pipeline.SeverityError
}

// run evaluates the check on the report: one Check per applicable feature
// (named "check:feature") or one for the batch. A dataset check whose
// variables were not computed (no labels, no group) is not applicable and
// yields nothing; a variable that was computed but is undefined (NaN)
// fails the check with the reason.
func (c *check) run(r *Report, dv map[string]float64) []pipeline.Check {
	if c.spec.Scope == ScopeFeature {
		var out []pipeline.Check
		for _, f := range r.Features {
			if len(c.spec.Kinds) > 0 && !contains(c.spec.Kinds, f.Kind) {
				continue
			}
			ch := pipeline.Check{Name: c.spec.Name + ":" + f.Name, Kind: "drift", Expr: c.spec.Expr, Severity: severity(c.spec.Severity)}
			if f.Error != "" {
				ch.Message = fmt.Sprintf("%s: %s", f.Name, f.Error)
				out = append(out, ch)
				continue
			}
			out = append(out, c.eval(ch, f.Name+": ", f.Vars))
		}
		return out
	}
	for _, id := range c.expr.g.Identifiers() {
		if _, ok := dv[id]; !ok {
			return nil
		}
	}
	kind := "monitor"
	switch c.spec.Name {
	case "performance", "calibration":
		kind = "performance"
	case "fairness":
		kind = "fairness"
	case "dataset_drift", "score_psi":
		kind = "drift"
	}
	ch := pipeline.Check{Name: c.spec.Name, Kind: kind, Expr: c.spec.Expr, Severity: severity(c.spec.Severity)}
	return []pipeline.Check{c.eval(ch, "", nums(dv))}
}

func (c *check) eval(ch pipeline.Check, prefix string, vars map[string]stats.Num) pipeline.Check {
	ch.Values = map[string]float64{}
	var shown []string
	for _, id := range c.expr.g.Identifiers() {
		v, ok := vars[id]
		if !ok {
			ch.Message = prefix + id + " is not defined for this feature"
			return ch
		}
		if !math.IsNaN(float64(v)) {
			ch.Values[id] = float64(v)
		}
		shown = append(shown, id+" = "+num(float64(v)))
	}
	ok, err := c.expr.eval(vars)
	values := strings.Join(shown, ", ")
	switch {
	case err != nil:
		ch.Message = fmt.Sprintf("%s%s: undefined, so %s cannot hold", prefix, values, c.spec.Expr)
	case ok:
		ch.Passed = true
		ch.Message = fmt.Sprintf("%s%s: %s holds", prefix, values, c.spec.Expr)
	default:
		ch.Message = fmt.Sprintf("%s%s, needs %s", prefix, values, c.spec.Expr)
	}
	return ch
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// num formats a number for messages.
func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "undefined"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) < 1e-3:
		return fmt.Sprintf("%.3g", v)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4f", v), "0"), ".")
}
