// Package report builds the audit report and model card of a recorded run:
// one self-contained HTML page (inline CSS and SVG charts, no scripts, no
// fonts or anything else fetched) or a Markdown model card, for reviewers,
// risk committees and auditors.
//
// Build reads everything from the lineage store: the run record and its step
// records, the objects the steps read and wrote (decoded by type name), the
// audit log, the model registry, the monitoring reports, and the pipeline
// file itself when its SHA-256 still matches the run's (for the optional
// `model_card:` block and the `protected:` attributes). Performance on each
// evaluate step's data is recomputed from the stored model and dataset
// objects, so the report shows more than the step recorded (curves,
// a bootstrap confidence interval of the AUC, calibration) and checks that
// the stored objects still give the recorded numbers.
//
// The data model (Report) is rendered by HTML (html/template, charts drawn
// with gonum.org/v1/plot as SVG) and Markdown. Both are deterministic:
// the same run gives byte-identical output. There is no timestamp of the
// report's own making; the creation time shown is the run's start, the audit
// head is the hash of the run's own last audit entry (not the log's current
// head), maps are rendered in sorted order, the bootstrap is seeded, and
// gonum/plot's SVG output is a pure function of the plot. The SVG text names
// the Liberation Sans family with metric-compatible fallbacks (Arial,
// Helvetica, sans-serif): no font file is embedded or fetched.
//
// Charts are readable in greyscale: series differ by line dash and marker
// shape, not only by colour. Numbers are shown to three significant digits
// or as percentages, with the exact value in a title attribute (HTML) so
// that nothing is lost to rounding.
//
// Statistics beyond package stats:
//
//   - AUC confidence interval: the percentile bootstrap, B = 1000 resamples
//     of the rows with replacement (seeded PCG), AUC of each by the
//     trapezoidal rule over the tied-score groups of the sorted sample; the
//     interval is the 2.5% and 97.5% quantiles of the B values.
//   - Calibration: rows sorted by probability and cut into 10 groups of
//     (nearly) equal size, as stats.HosmerLemeshow; each point is the
//     group's mean probability against its observed rate of positives.
//   - Precision–recall: one point per distinct score, precision TP/(TP+FP)
//     against recall TP/P, from the ROC counts.
//   - Feature importance: for logistic regression |β_j|, the coefficient of
//     the standardised design column (the effect of one standard deviation),
//     summed over the indicator columns of a string feature; for tree
//     ensembles the total split gain stored in the model.
package report
