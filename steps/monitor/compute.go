package monitor

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/steps/exprenv"
	"github.com/mlrun-cli/mlrun/steps/groups"
	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/profile"
	"github.com/mlrun-cli/mlrun/steps/stats"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// TypeName is the object type of monitor reports.
const TypeName = "monitor"

// Report is the outcome of monitoring one batch against a frozen profile.
type Report struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// Model names the monitored model.
	Model ModelInfo `json:"model"`
	// Rows is the batch's row count; ReferenceRows the profile's.
	Rows          int `json:"rows"`
	ReferenceRows int `json:"reference_rows"`
	// Labels is true when the batch holds the target (performance checked).
	Labels bool `json:"labels"`
	// Group is the fairness group column ("" when none).
	Group string `json:"group,omitempty"`
	// Features holds the drift of each model feature, in model order.
	Features []FeatureDrift `json:"features"`
	// Score is the drift of the model's scores (absent when the batch
	// could not be scored).
	Score *FeatureDrift `json:"score,omitempty"`
	// DriftShare is the share of features judged drifted (Drift
	// expression); Drifted names them.
	DriftShare stats.Num `json:"drift_share"`
	Drifted    []string  `json:"drifted,omitempty"`
	// Performance compares current metrics with the baseline.
	Performance *Performance `json:"performance,omitempty"`
	// Fairness compares the groups of Group.
	Fairness *stats.FairnessReport `json:"fairness,omitempty"`
	// Dataset holds the dataset-level check variables.
	Dataset map[string]stats.Num `json:"dataset"`
	// Checks are every check's outcome, failed ones first (critical, then
	// warn), then by name.
	Checks []pipeline.Check `json:"checks"`
	// Notes explain what was not checked and why.
	Notes []string `json:"notes,omitempty"`
	// PSIBins is the bin convention of PSI and JS when it is not
	// right_closed; absent, right_closed, the convention of every report
	// written before the psi_bins setting.
	PSIBins stats.Binning `json:"psi_bins,omitempty"`
	// NotEvaluated names the checks that could not be evaluated (see
	// NotEvaluated), sorted.
	NotEvaluated []string `json:"not_evaluated,omitempty"`
	// GroupBands says how a numeric Group column was cut into bands (nil:
	// one group per value).
	GroupBands *GroupBands `json:"group_bands,omitempty"`
}

// GroupBands describes the fairness bands of a numeric group column
// (groups.Bands; Method "group_bins", "group_quantiles" or "default").
type GroupBands = groups.Bands

// missingGroup is the fairness group of rows whose group value is missing.
const missingGroup = groups.Missing

// ModelInfo identifies the monitored model.
type ModelInfo struct {
	Algorithm string   `json:"algorithm"`
	Target    string   `json:"target"`
	Features  []string `json:"features"`
}

// FeatureDrift is the comparison of one feature (or the score) with its
// reference.
type FeatureDrift struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Drifted is the outcome of the Drift expression.
	Drifted bool `json:"drifted"`
	// Vars holds the statistics by variable name (see FeatureVars);
	// undefined ones are null.
	Vars map[string]stats.Num `json:"vars"`
	// KS and Chi2 hold the test details.
	KS   *stats.KSResult        `json:"ks,omitempty"`
	Chi2 *stats.ChiSquareResult `json:"chi2,omitempty"`
	// Edges and Counts are the frozen bins and the batch's counts in them.
	Edges         []float64 `json:"edges,omitempty"`
	ReferenceBins []float64 `json:"reference_bins,omitempty"`
	CurrentBins   []float64 `json:"current_bins,omitempty"`
	// Unseen lists categories absent from the reference, with counts.
	Unseen []profile.Category `json:"unseen,omitempty"`
	// Error says why the feature could not be compared.
	Error string `json:"error,omitempty"`
}

// Performance holds current and baseline metrics.
type Performance struct {
	Current  map[string]stats.Num `json:"current"`
	Baseline map[string]stats.Num `json:"baseline"`
	// BaselineSource says where the baseline came from.
	BaselineSource string                      `json:"baseline_source"`
	HosmerLemeshow *stats.HosmerLemeshowResult `json:"hosmer_lemeshow,omitempty"`
}

// FeatureVars are the per-feature variables of check expressions:
//
//	psi                    PSI over the frozen bins or categories (stats.PSI)
//	js                     Jensen–Shannon distance, base 2, same bins
//	ks_statistic, ks_pvalue  two-sample KS vs the reference values (numeric)
//	wasserstein            W₁ distance (numeric)
//	wasserstein_norm       W₁ / reference standard deviation (numeric)
//	mean_change            (mean − reference mean) / reference std (numeric)
//	chi2_statistic, chi2_pvalue  2×k chi-square test of homogeneity (categorical)
//	unseen_count, unseen_share   rows whose category the reference never saw
//	missing_rate, reference_missing_rate, missing_rate_change (absolute)
func FeatureVars() []string {
	return []string{"psi", "js", "ks_statistic", "ks_pvalue", "wasserstein", "wasserstein_norm", "mean_change",
		"chi2_statistic", "chi2_pvalue", "unseen_count", "unseen_share",
		"missing_rate", "reference_missing_rate", "missing_rate_change"}
}

// DatasetVars are the dataset-level variables of check expressions
// (labelVars need labels, fairnessVars a group, scoreVars a batch the
// model can score):
//
//	rows, reference_rows, row_ratio (rows / reference_rows)
//	drift_share, drifted_count, features
//	score_psi, score_ks_pvalue, score_js, score_mean_change
//	<m>, baseline_<m>, <m>_drop (baseline − current) for m in auc, gini,
//	ks, accuracy, precision, recall; brier, baseline_brier,
//	brier_increase; hl_statistic, hl_pvalue (labels needed)
//	disparate_impact, demographic_parity_difference,
//	demographic_parity_ratio, equal_opportunity_difference,
//	equalized_odds_difference, small_groups (group needed)
func DatasetVars() []string {
	out := append([]string{"rows", "reference_rows", "row_ratio", "drift_share", "drifted_count", "features"}, scoreVars...)
	return append(append(out, labelVars()...), fairnessVars...)
}

var perfMetrics = []string{"auc", "gini", "ks", "accuracy", "precision", "recall"}

var scoreVars = []string{"score_psi", "score_ks_pvalue", "score_js", "score_mean_change"}

// labelVars are the dataset variables computed from the batch's labels.
func labelVars() []string {
	var out []string
	for _, m := range perfMetrics {
		out = append(out, m, "baseline_"+m, m+"_drop")
	}
	return append(out, "brier", "baseline_brier", "brier_increase", "hl_statistic", "hl_pvalue")
}

var fairnessVars = []string{"disparate_impact", "demographic_parity_difference", "demographic_parity_ratio",
	"equal_opportunity_difference", "equalized_odds_difference", "small_groups"}

// Input is what Compute compares.
type Input struct {
	Profile *profile.Profile
	Model   model.Model
	Current *table.Dataset
	// Baseline overrides the profile's baseline metrics (e.g. an evaluate
	// step's test metrics); nil uses the profile's.
	Baseline       map[string]float64
	BaselineSource string
	Jobs           int
}

// Compute compares a batch with the profile and evaluates the checks of
// cfg. Problems of the data are reported as failed checks, never as a
// panic or a NaN that passes.
func Compute(in Input, cfg *Config) (*Report, error) {
	prof, m, ds := in.Profile, in.Model, in.Current
	r := &Report{Format: "mlrun-monitor", Version: 1, Rows: ds.Rows, ReferenceRows: prof.Rows, Group: cfg.Group,
		Model:   ModelInfo{Algorithm: m.Algorithm(), Target: m.Target().Name, Features: m.Features()},
		Dataset: map[string]stats.Num{}}
	binning := cfg.PSIBins
	if binning == "" {
		binning = DefaultPSIBins
	}
	if binning != DefaultPSIBins {
		r.PSIBins = binning
	}
	// absent says why the dataset variables that are not computed are not.
	absent := map[string]absence{}
	setAbsent := func(vars []string, a absence) {
		for _, v := range vars {
			absent[v] = a
		}
	}
	nan := math.NaN()
	dv := map[string]float64{"rows": float64(ds.Rows), "reference_rows": float64(prof.Rows),
		"row_ratio": float64(ds.Rows) / float64(max(prof.Rows, 1)), "features": float64(len(prof.Features))}

	// Feature drift: the features are independent, so they are compared
	// over in.Jobs goroutines; results are by feature index, the same
	// whatever the number of workers.
	drifted := 0
	fds := make([]FeatureDrift, len(prof.Features))
	parallelFor(len(fds), max(in.Jobs, 1), func(i int) {
		fds[i] = featureDrift(&prof.Features[i], ds.Column(prof.Features[i].Name), ds.Rows, binning, prof.BinCount())
	})
	for _, fd := range fds {
		if fd.Error == "" {
			ok, err := cfg.drift.eval(fd.Vars)
			fd.Drifted = err == nil && ok
		}
		if fd.Drifted {
			drifted++
			r.Drifted = append(r.Drifted, fd.Name)
		}
		r.Features = append(r.Features, fd)
	}
	dv["drifted_count"] = float64(drifted)
	dv["drift_share"] = float64(drifted) / float64(max(len(prof.Features), 1))
	if ds.Rows == 0 {
		dv["drift_share"] = nan
	}
	r.DriftShare = stats.Num(dv["drift_share"])

	// Scores.
	var p []float64
	schemaErrs := m.Type().Check(ds.Schema(), false)
	switch {
	case ds.Rows == 0:
		r.Checks = append(r.Checks, pipeline.Check{Name: "empty_batch", Kind: "monitor", Severity: pipeline.SeverityError,
			Message: "the batch has no rows: nothing to compare"})
		setAbsent(scoreVars, absence{reason: "the batch has no rows"})
	case len(schemaErrs) > 0:
		setAbsent(scoreVars, absence{reason: "the batch does not fit the model"})
		var msgs []string
		for _, e := range schemaErrs {
			msgs = append(msgs, strings.TrimPrefix(e.Error(), model.ErrSchema.Error()+": "))
		}
		r.Checks = append(r.Checks, pipeline.Check{Name: "schema", Kind: "monitor", Severity: pipeline.SeverityError,
			Message: "the batch does not fit the model: " + strings.Join(msgs, "; ")})
	default:
		var err error
		p, err = m.Predict(ds, max(in.Jobs, 1))
		if err != nil {
			return nil, fmt.Errorf("monitor: score the batch: %w", err)
		}
		sd := featureDrift(&prof.Score, table.NewFloatColumn("score", p), ds.Rows, binning, prof.BinCount())
		r.Score = &sd
		dv["score_psi"], dv["score_ks_pvalue"] = float64(sd.Vars["psi"]), float64(sd.Vars["ks_pvalue"])
		dv["score_js"], dv["score_mean_change"] = float64(sd.Vars["js"]), float64(sd.Vars["mean_change"])
	}

	// Performance: labels are read when the batch has the target column,
	// unless they are turned off.
	var y []float64
	switch {
	case cfg.NoLabels:
		setAbsent(labelVars(), absence{reason: "labels are off (labels: false, or --no-labels)", off: true})
		r.Notes = append(r.Notes, "performance not checked: labels are off (labels: false, or --no-labels)")
	case ds.Column(prof.Target) == nil:
		why := fmt.Sprintf("the batch has no labels (no column %q)", prof.Target)
		setAbsent(labelVars(), absence{reason: why, optional: true})
		if p != nil {
			r.Notes = append(r.Notes, "performance not checked: "+why)
		}
	case p == nil:
		setAbsent(labelVars(), absent["score_psi"])
	default:
		var err error
		y, err = m.Target().Labels(ds)
		if err != nil {
			r.Checks = append(r.Checks, pipeline.Check{Name: "labels", Kind: "monitor", Severity: pipeline.SeverityError,
				Message: "cannot read the labels: " + err.Error()})
			setAbsent(labelVars(), absence{reason: "the labels cannot be read"})
			y = nil
		}
	}
	if y != nil {
		r.Labels = true
		cur, err := profile.Metrics(p, y, cfg.Threshold)
		if err != nil {
			return nil, fmt.Errorf("monitor: %w", err)
		}
		base, src := prof.Baseline, "training rows (profile)"
		if in.Baseline != nil {
			base, src = in.Baseline, in.BaselineSource
		}
		perf := &Performance{Current: nums(cur), Baseline: nums(base), BaselineSource: src}
		for _, k := range perfMetrics {
			c, okc := cur[k]
			b, okb := base[k]
			dv[k], dv["baseline_"+k], dv[k+"_drop"] = nan, nan, nan
			if okc {
				dv[k] = c
			}
			if okb {
				dv["baseline_"+k] = b
			}
			if okc && okb {
				dv[k+"_drop"] = b - c
			}
		}
		if _, ok := cur["auc"]; !ok {
			r.Notes = append(r.Notes, "auc, gini and ks are undefined: the batch's labels hold one class")
		}
		dv["brier"], dv["baseline_brier"] = cur["brier"], nan
		if b, ok := base["brier"]; ok {
			dv["baseline_brier"] = b
		}
		dv["brier_increase"] = dv["brier"] - dv["baseline_brier"]
		dv["hl_statistic"], dv["hl_pvalue"] = nan, nan
		if hl, err := stats.HosmerLemeshow(p, y, 10); err == nil {
			perf.HosmerLemeshow = &hl
			dv["hl_statistic"], dv["hl_pvalue"] = hl.Statistic, hl.PValue
		} else {
			r.Notes = append(r.Notes, "Hosmer-Lemeshow not computed: "+err.Error())
		}
		r.Performance = perf
	}

	// Fairness, between the groups of the group column: its values, or
	// bands of a numeric column (groupRows).
	var gc *table.Column
	if cfg.Group != "" {
		gc = ds.Column(cfg.Group)
	}
	switch {
	case cfg.Group == "":
		setAbsent(fairnessVars, absence{reason: "no group column is set (group, or --group)", optional: true})
	case p == nil:
		setAbsent(fairnessVars, absent["score_psi"])
	case gc == nil:
		setAbsent(fairnessVars, absence{reason: fmt.Sprintf("group column %q is not in the batch", cfg.Group)})
	default:
		groups, order, bands, err := groupRows(gc, cfg)
		if err != nil {
			setAbsent(fairnessVars, absence{reason: err.Error()})
			break
		}
		if bands != nil {
			r.GroupBands = bands
			r.Notes = append(r.Notes, bandsNote(cfg.Group, bands))
		}
		fr, err := stats.FairnessOrdered(p, y, groups, order, cfg.Threshold, cfg.MinGroup)
		if err != nil && !errors.Is(err, stats.ErrEmpty) {
			return nil, fmt.Errorf("monitor: %w", err)
		}
		if err != nil {
			r.Notes = append(r.Notes, err.Error())
		}
		r.Fairness = fr
		small := 0
		for _, g := range fr.Groups {
			if g.Small {
				small++
			}
		}
		dv["small_groups"] = float64(small)
		dv["disparate_impact"] = float64(fr.DisparateImpact)
		dv["demographic_parity_difference"] = float64(fr.DemographicParityDiff)
		dv["demographic_parity_ratio"] = float64(fr.DemographicParityRatio)
		dv["equal_opportunity_difference"] = float64(fr.EqualOpportunityDiff)
		dv["equalized_odds_difference"] = float64(fr.EqualizedOddsDiff)
	}
	r.Dataset = nums(dv)

	// Checks.
	for _, c := range cfg.checks {
		r.Checks = append(r.Checks, c.run(r, dv, absent)...)
	}
	SortChecks(r.Checks)
	for i := range r.Checks {
		if c := &r.Checks[i]; NotEvaluated(*c) {
			c.NotEvaluated = true
			r.NotEvaluated = append(r.NotEvaluated, c.Name)
		}
	}
	sort.Strings(r.NotEvaluated)
	return r, nil
}

// groupRows returns the fairness group of each row of the group column gc
// and the groups in order (groups.Rows with group_bins and
// group_quantiles); bands describes a numeric column's bands (nil
// without).
func groupRows(gc *table.Column, cfg *Config) (rows, order []string, bands *GroupBands, err error) {
	rows, order, bands, err = groups.Rows(gc, cfg.GroupBins, cfg.GroupQuantiles)
	if errors.Is(err, groups.ErrStringBands) {
		name := "group_bins"
		if cfg.GroupQuantiles > 0 {
			name = "group_quantiles"
		}
		return nil, nil, nil, fmt.Errorf("group column %q is a string column: %s needs a numeric column", gc.Name, name)
	}
	if bands != nil && bands.Method != "default" {
		bands.Method = "group_" + bands.Method
	}
	return rows, order, bands, err
}

// bandsNote says how a numeric group column was cut into bands.
func bandsNote(group string, b *GroupBands) string {
	c := *b
	c.Method = strings.TrimPrefix(c.Method, "group_")
	return groups.Note(group, &c, "group_bins", "group_quantiles", "the batch", "batches")
}

// SortChecks orders checks failed critical first, then failed warn, then
// passed, each by name.
func SortChecks(cs []pipeline.Check) {
	rank := func(c pipeline.Check) int {
		switch {
		case !c.Passed && c.Severity == pipeline.SeverityError:
			return 0
		case !c.Passed:
			return 1
		}
		return 2
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if ri, rj := rank(cs[i]), rank(cs[j]); ri != rj {
			return ri < rj
		}
		return cs[i].Name < cs[j].Name
	})
}

func nums(m map[string]float64) map[string]stats.Num {
	out := make(map[string]stats.Num, len(m))
	for k, v := range m {
		out[k] = stats.Num(v)
	}
	return out
}

// parallelFor calls fn(i) for every i in [0, n) over at most jobs
// goroutines, each taking the next index, and returns when all are done.
func parallelFor(n, jobs int, fn func(i int)) {
	if jobs <= 1 || n <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(jobs, n) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				fn(i)
			}
		})
	}
	wg.Wait()
}

// featureDrift compares a column of the batch with its reference, over
// bins quantile bins of convention binning for a numeric one.
func featureDrift(ref *profile.Feature, c *table.Column, rows int, binning stats.Binning, bins int) FeatureDrift {
	fd := FeatureDrift{Name: ref.Name, Kind: ref.Kind, Vars: map[string]stats.Num{}}
	nan := math.NaN()
	set := func(k string, v float64) { fd.Vars[k] = stats.Num(v) }
	if c == nil {
		fd.Error = "column is missing from the batch"
		return fd
	}
	if rows == 0 {
		fd.Error = "the batch has no rows"
		return fd
	}
	missing := c.NullCount()
	set("missing_rate", float64(missing)/float64(rows))
	set("reference_missing_rate", ref.MissingRate())
	set("missing_rate_change", math.Abs(float64(missing)/float64(rows)-ref.MissingRate()))
	switch ref.Kind {
	case profile.Numeric:
		if c.Type == table.String {
			fd.Error = "column is a string column in the batch, numeric in the reference"
			return fd
		}
		v := stats.SortedCopy(profile.Floats(c))
		for _, k := range []string{"psi", "js", "ks_statistic", "ks_pvalue", "wasserstein", "wasserstein_norm", "mean_change"} {
			set(k, nan)
		}
		if len(v) == 0 || len(ref.Sorted) == 0 {
			fd.Error = "no values to compare (all missing)"
			return fd
		}
		fd.Edges, fd.ReferenceBins = ref.Bins(binning, bins)
		fd.CurrentBins = binning.Counts(v, fd.Edges)
		psi, _ := stats.PSI(stats.Shares(fd.ReferenceBins), stats.Shares(fd.CurrentBins))
		js, _ := stats.JensenShannon(fd.ReferenceBins, fd.CurrentBins)
		ks, _ := stats.KS2SampSorted(ref.Sorted, v)
		w, _ := stats.Wasserstein(ref.Sorted, v)
		set("psi", psi)
		set("js", js)
		set("ks_statistic", ks.Statistic)
		set("ks_pvalue", ks.PValue)
		fd.KS = &ks
		set("wasserstein", w)
		mean, _, _ := stats.MeanStd(v)
		if ref.Std > 0 {
			set("wasserstein_norm", w/ref.Std)
			set("mean_change", (mean-ref.Mean)/ref.Std)
		}
	case profile.Categorical:
		if c.Type != table.String {
			fd.Error = "column is numeric in the batch, categorical in the reference"
			return fd
		}
		counts := profile.CategoryCounts(c)
		var refc, curc []float64
		seen := map[string]bool{}
		for _, cat := range ref.Categories {
			seen[cat.Value] = true
			refc = append(refc, cat.Count)
			curc = append(curc, counts[cat.Value])
		}
		unseen := 0.0
		for _, k := range sortedKeys(counts) {
			if !seen[k] {
				fd.Unseen = append(fd.Unseen, profile.Category{Value: k, Count: counts[k]})
				refc = append(refc, 0)
				curc = append(curc, counts[k])
				unseen += counts[k]
			}
		}
		fd.ReferenceBins, fd.CurrentBins = refc, curc
		psi, _ := stats.PSI(stats.Shares(refc), stats.Shares(curc))
		js, _ := stats.JensenShannon(refc, curc)
		set("psi", psi)
		set("js", js)
		chi, err := stats.ChiSquareContingency([][]float64{refc, curc})
		if err == nil {
			fd.Chi2 = &chi
		}
		set("chi2_statistic", chi.Statistic)
		set("chi2_pvalue", chi.PValue)
		set("unseen_count", unseen)
		nonNull := float64(rows - missing)
		set("unseen_share", unseen/max(nonNull, 1))
	}
	return fd
}

// gateExpr is a compiled boolean expression over variables.
type gateExpr struct {
	src string
	g   *exprenv.Gate
}

func (e *gateExpr) eval(vars map[string]stats.Num) (bool, error) {
	m := map[string]float64{}
	for _, id := range e.g.Identifiers() {
		v, ok := vars[id]
		if !ok || math.IsNaN(float64(v)) {
			return false, fmt.Errorf("%s is undefined", id)
		}
		m[id] = float64(v)
	}
	return e.g.Eval(m)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
