package monitor

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/steps/exprenv"
	"github.com/mlrun-cli/mlrun/steps/groups"
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
	// DefaultPSIBins is the bin convention of PSI and JS: right-closed,
	// the convention of the profile's frozen bins (see stats.Binning).
	DefaultPSIBins = stats.BinsRightClosed
	// DefaultGroupLevels is the most distinct values a numeric group
	// column may have and still be compared one group per value; with
	// more (an age, an income) it is cut into DefaultGroupQuantiles
	// quantile bands of the batch unless group_bins or group_quantiles say
	// otherwise.
	DefaultGroupLevels = groups.DefaultLevels
	// DefaultGroupQuantiles is the number of quantile bands of a numeric
	// group column with many distinct values (quartiles).
	DefaultGroupQuantiles = groups.DefaultQuantiles
	// MaxGroupQuantiles bounds group_quantiles.
	MaxGroupQuantiles = groups.MaxQuantiles
)

// NotEvaluatedPrefix starts the message of a check that could not be
// evaluated (see NotEvaluated).
const NotEvaluatedPrefix = "not evaluated: "

// NotEvaluated reports whether c is a check that could not be evaluated:
// a variable it reads was not computed (no labels, no group column, a
// batch the model cannot score, a feature missing from the batch) or is
// undefined (NaN). Such a check never passes, and fails the batch when it
// is critical; its message starts with NotEvaluatedPrefix and says why.
// pipeline.Check has no field for it, so run records and history tell it
// by the message.
func NotEvaluated(c pipeline.Check) bool {
	return !c.Passed && strings.HasPrefix(c.Message, NotEvaluatedPrefix)
}

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
	// Kinds limits a feature check to numeric or categorical features
	// (silently, unless Features names the feature).
	Kinds []string `json:"kinds,omitempty"`
	// Features limits a feature check to the named model features (the
	// `features:` of a check); empty means every feature.
	Features []string `json:"features,omitempty"`
	// Declared marks a check the step's `checks:` names (a new one, or a
	// built-in one it redefines): it is evaluated whenever it can be, and
	// "not evaluated" when its variables are missing, where an untouched
	// built-in check on labels or a group does not apply to a batch without
	// them. Labels turned off (labels: false) make every check on them
	// not applicable.
	Declared bool `json:"declared,omitempty"`
}

// DefaultChecks are the checks of a monitor step that declares none; a
// step's `checks:` override them by name (or turn one off with `off`)
// and may add checks of its own (dataset-level, or per feature with
// `features:`). The ones marked (labels) and (group) do not apply to a
// batch without labels or without a group unless `checks:` names them.
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
	Threshold float64 `json:"threshold"`
	Group     string  `json:"group,omitempty"`
	// GroupBins cuts a numeric group column into left-closed bands
	// (stats.Bands); GroupQuantiles into that many quantile bands of the
	// batch. Neither: a numeric column with more than DefaultGroupLevels
	// distinct values gets DefaultGroupQuantiles quantile bands, one with
	// fewer one group per value.
	GroupBins      []float64 `json:"group_bins,omitempty"`
	GroupQuantiles int       `json:"group_quantiles,omitempty"`
	MinGroup       int       `json:"min_group"`
	// NoLabels turns performance off (labels: false, --no-labels).
	NoLabels bool `json:"no_labels,omitempty"`
	// PSIBins is the bin convention of PSI and JS over numeric features
	// and the score (stats.Binning). Always recorded; a record written
	// before it existed decodes as right_closed, the bins its batches were
	// compared with.
	PSIBins stats.Binning `json:"psi_bins"`
	Drift   string        `json:"drift"`
	Checks  []CheckSpec   `json:"checks"`
	Params  any           `json:"params,omitempty"`
	// Alerts are where `mlrun run` (when the step runs, not when it is
	// taken from the cache) and `mlrun monitor` send the failed checks of
	// a batch (nil: nowhere). They do not change the report.
	Alerts *Alerts `json:"alerts,omitempty"`
	// OnCritical is what to do with a batch that fails a critical check
	// (retrain.go); it does not change the report.
	OnCritical *OnCritical `json:"on_critical,omitempty"`

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
	return &Config{Threshold: DefaultThreshold, MinGroup: stats.DefaultMinGroup, Drift: DefaultDrift, PSIBins: DefaultPSIBins, Checks: DefaultChecks()}
}

// ErrExpr wraps expression compile errors of Config.Compile.
var ErrExpr = errors.New("invalid check expression")

// ErrConfig wraps the other problems Config.Compile finds.
var ErrConfig = errors.New("invalid monitor config")

// Compile checks the settings and compiles the drift rule and the checks'
// expressions with params. It returns one error per problem, naming the
// check.
func (c *Config) Compile(params map[string]any) []error {
	var errs []error
	if !c.PSIBins.Valid() {
		errs = append(errs, fmt.Errorf("%w: psi_bins %q: want %s", ErrConfig, c.PSIBins, binningNames()))
	}
	if err := CheckGroupBands(c.GroupBins, c.GroupQuantiles); err != nil {
		errs = append(errs, fmt.Errorf("%w: %v", ErrConfig, err))
	}
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
		} else if len(s.Features) > 0 {
			errs = append(errs, fmt.Errorf("%w: check %q: features apply to feature checks, not to a %s check", ErrConfig, s.Name, s.Scope))
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

// absence says why a dataset variable was not computed.
type absence struct {
	reason string
	// optional: absent by design (the batch has no target column, no
	// group is set): an untouched built-in check reading it does not
	// apply; a declared one is not evaluated.
	optional bool
	// off: turned off (labels: false, --no-labels): no check reading it
	// applies.
	off bool
}

// run evaluates the check on the report: one Check per applicable feature
// (named "check:feature") or one for the batch. A dataset check reading a
// variable that was not computed is not applicable (nil) when that
// variable is off, or absent by design and the check is not declared;
// otherwise it is not evaluated, with the reason. A variable that was
// computed but is undefined (NaN) leaves the check not evaluated too.
func (c *check) run(r *Report, dv map[string]float64, absent map[string]absence) []pipeline.Check {
	if c.spec.Scope == ScopeFeature {
		return c.runFeatures(r)
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
	var missing []string
	why := ""
	for _, id := range c.expr.g.Identifiers() {
		if _, ok := dv[id]; ok {
			continue
		}
		a := absent[id]
		if a.off || a.optional && !c.spec.Declared {
			return nil
		}
		if why == "" {
			why = a.reason
		}
		missing = append(missing, id)
	}
	if len(missing) > 0 {
		if why == "" {
			why = "not computed"
		}
		ch.Message = NotEvaluatedPrefix + strings.Join(missing, ", ") + ": " + why
		return []pipeline.Check{ch}
	}
	return []pipeline.Check{c.eval(ch, "", nums(dv))}
}

// runFeatures evaluates a feature check on each feature it covers: every
// feature of its kinds, or the ones its Features name (a named feature the
// model does not have, or of a kind the check does not apply to, is not
// evaluated).
func (c *check) runFeatures(r *Report) []pipeline.Check {
	var out []pipeline.Check
	named := c.spec.Features
	newCheck := func(feature string) pipeline.Check {
		return pipeline.Check{Name: c.spec.Name + ":" + feature, Kind: "drift", Expr: c.spec.Expr, Severity: severity(c.spec.Severity)}
	}
	for _, f := range r.Features {
		if len(named) > 0 && !contains(named, f.Name) {
			continue
		}
		ch := newCheck(f.Name)
		switch {
		case len(c.spec.Kinds) > 0 && !contains(c.spec.Kinds, f.Kind):
			if len(named) == 0 {
				continue
			}
			ch.Message = fmt.Sprintf("%s%s: %s applies to %s features, %s is %s", NotEvaluatedPrefix, f.Name, c.spec.Name,
				strings.Join(c.spec.Kinds, " and "), f.Name, f.Kind)
		case f.Error != "":
			ch.Message = NotEvaluatedPrefix + f.Name + ": " + f.Error
		default:
			ch = c.eval(ch, f.Name+": ", f.Vars)
		}
		out = append(out, ch)
	}
	for _, name := range named {
		if !contains(r.Model.Features, name) {
			ch := newCheck(name)
			ch.Message = fmt.Sprintf("%s%q is not a feature of the model (%s)", NotEvaluatedPrefix, name, strings.Join(r.Model.Features, ", "))
			out = append(out, ch)
		}
	}
	return out
}

// eval evaluates the check's expression over vars: passed, failed with
// the numbers, or not evaluated when a variable is not defined for the
// feature or is undefined (NaN).
func (c *check) eval(ch pipeline.Check, prefix string, vars map[string]stats.Num) pipeline.Check {
	ch.Values = map[string]float64{}
	var shown, undefined, defined []string
	for _, id := range c.expr.g.Identifiers() {
		v, ok := vars[id]
		if !ok {
			ch.Message = fmt.Sprintf("%s%s%s is not defined for a %s feature", NotEvaluatedPrefix, prefix, id, featureKind(vars))
			ch.Values = nil
			return ch
		}
		s := id + " = " + num(float64(v))
		if math.IsNaN(float64(v)) {
			undefined = append(undefined, s)
		} else {
			ch.Values[id] = float64(v)
			defined = append(defined, s)
		}
		shown = append(shown, s)
	}
	if len(undefined) > 0 {
		ch.Message = fmt.Sprintf("%s%s%s, so %s cannot be decided", NotEvaluatedPrefix, prefix, strings.Join(undefined, ", "), c.spec.Expr)
		if len(defined) > 0 {
			ch.Message += " (" + strings.Join(defined, ", ") + ")"
		}
		return ch
	}
	ok, err := c.expr.eval(vars)
	values := strings.Join(shown, ", ")
	switch {
	case err != nil:
		ch.Message = fmt.Sprintf("%s%s%s: %v", NotEvaluatedPrefix, prefix, values, err)
	case ok:
		ch.Passed = true
		ch.Message = fmt.Sprintf("%s%s: %s holds", prefix, values, c.spec.Expr)
	default:
		ch.Message = fmt.Sprintf("%s%s, needs %s", prefix, values, c.spec.Expr)
	}
	return ch
}

// featureKind guesses the kind of a feature from its variables.
func featureKind(vars map[string]stats.Num) string {
	if _, ok := vars["chi2_pvalue"]; ok {
		return profile.Categorical
	}
	return profile.Numeric
}

// CheckGroupBands checks group_bins (finite, strictly ascending) and
// group_quantiles (0, or 2 to MaxGroupQuantiles), which exclude each
// other.
func CheckGroupBands(bins []float64, quantiles int) error {
	return groups.Check(bins, quantiles, "group_bins", "group_quantiles")
}

// binningNames lists the bin conventions for messages: "right_closed or
// numpy".
func binningNames() string {
	var names []string
	for _, b := range stats.Binnings {
		names = append(names, string(b))
	}
	return strings.Join(names, " or ")
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
