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
// The banner gives one verdict: PASS, FAIL (the run failed a check or gate)
// or MONITORING FAILED (the run passed, but the latest monitored batch of
// its model failed a critical check or could not be read), and always says
// how the latest monitored batch fared. Batches are listed in time order:
// the run's own monitor steps, then those monitored later (`mlrun monitor`,
// records of Options.MonitorNS) by their recorded time; a record of a
// monitor step's own report is not listed twice.
//
// Charts are readable in greyscale: series differ by line dash and marker
// shape, not only by colour. A legend is drawn below the plotting area, in
// an SVG group of class "legend", where it cannot cover data. Numbers are shown to three significant digits
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
//   - Coefficients (logistic regression only): per design column the signed
//     β_j on the standardised scale, e^β_j (the odds ratio per standard
//     deviation) and β'_j = β_j/s_j in original units, and the intercepts
//     b and b' = b − Σ_j β_j·m_j/s_j, as the model stores them.
//   - Gains table: the rows sorted by decreasing probability of default
//     (ties in row order) and cut into 10 groups of nearly equal size
//     (numpy.array_split); per group the bad rate, the cumulative shares of
//     bads and of goods, KS_k = cum bads − cum goods, lift = bad rate over
//     the overall bad rate, and the cumulative lift.
//   - Train vs test: AUC, KS, Gini, bad rate and mean probability of the
//     model on its training data (the train step's input) and on the
//     evaluated data, and the PSI of the evaluated scores against the
//     training scores over 10 quantile bins of the training scores (as the
//     monitor bins a batch against the training profile).
//
// The gains table, AUC, KS, Gini and the train vs test PSI are checked
// against an independent Python computation (testdata/credit/reference.py,
// pandas and numpy) on the fixture's scores.
//
// Printing: every collapsed <details> section is expanded in print (CSS
// ::details-content), and every page carries the pipeline, the run id and
// "Page i of n" (CSS page margin boxes, Chromium 131 and later); TestPrintPDF
// prints with headless Chromium and reads the PDF's text back.
package report
