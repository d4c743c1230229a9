// Package monitor is the monitor step kind: it compares a batch (`current`)
// with a model's frozen reference profile (`reference`, a train step's
// `profile` output; see package profile) and evaluates checks declared as
// boolean expressions with a severity, warn or critical (a failed critical
// check fails the step: exit 1).
//
// Per model feature (FeatureVars): PSI over the profile's quantile bins in
// the psi_bins convention (Config.PSIBins, stats.Binning: right_closed, the
// default, uses the frozen bins; numpy cuts numpy.histogram-style bins from
// the frozen sorted values), or over the categories of a string feature
// with unseen categories added as bins of reference share 0 (stats.PSI,
// empty shares set to stats.PSIEpsilon = 1e-4); the base-2 Jensen–Shannon
// distance over the same bins; for numeric features the two-sample KS test against the reference
// values (p-value as scipy.stats.ks_2samp(method='auto')), the Wasserstein-1
// distance and that distance over the reference's population standard
// deviation, and the mean shift in reference standard deviations; for
// categorical features the 2×k chi-square test of homogeneity
// (scipy.stats.chi2_contingency) and the count and share of rows in unseen
// categories; and the missing rate against the reference's. A feature
// counts as drifted when the `drift` rule holds (default psi >= 0.1).
//
// Per batch (DatasetVars): rows and their ratio to the reference, the
// share of drifted features, score drift (PSI, KS, JS of the model's
// probabilities against its training scores), performance against a
// baseline when the batch has labels (auc, gini, ks, accuracy, precision,
// recall with baseline_<m> and <m>_drop; brier_increase; the Hosmer–Lemeshow
// p-value over 10 groups), and fairness between the groups of `group`
// (disparate impact against the four-fifths rule, demographic parity
// difference and ratio, equal opportunity and equalized odds differences;
// groups under min_group rows are flagged, not judged). A numeric group
// column is cut into bands (group_bins, group_quantiles, or by default
// DefaultGroupQuantiles quantile bands of the batch when it has more than
// DefaultGroupLevels distinct values). The favourable decision is
// approval: probability of the positive (bad) class below `threshold`
// (default 0.5). Labels are read whenever the batch has the target column,
// unless `labels: false`.
//
// DefaultChecks lists the checks and thresholds used when a step declares
// none (PSI bands 0.10 warn / 0.25 critical, drift share 0.5, score PSI
// 0.25, accuracy or AUC drop over 5 points, disparate impact 0.8, ...).
// A check may name the features it covers (`features:`). A check that
// cannot be evaluated — a variable not computed (no labels, no group
// column, a batch the model cannot score, a feature missing from the
// batch) or undefined (NaN: e.g. the AUC of a batch with one class) — is
// "not evaluated" (NotEvaluated): never passed, failing when critical,
// listed in Report.NotEvaluated. The built-in checks on labels or a group
// that `checks:` does not name do not apply to a batch without labels or
// without a group (a note says so), and no check on labels applies when
// labels are off.
//
// The report (object type "monitor") holds every number, the checks
// (failed critical first) and notes; `mlrun monitor` computes the same
// report for a batch given on the command line, with the checks of
// ParseConfig (a --config file of monitor settings) or of the run's
// monitor step (ConfigFromRecord). The `alerts` setting (Alerts) names
// where `mlrun run` (when the step runs) and `mlrun monitor` send failed
// checks; it does not change the report.
package monitor
