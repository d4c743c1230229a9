// Package stats holds mlrun's binary-classification metrics as plain
// functions over []float64: the ROC curve and its area (AUC, Gini), the
// Kolmogorov–Smirnov separation, the confusion matrix at a threshold with
// accuracy, precision, recall and F1, log loss and the Brier score.
//
// Every function takes scores (or probabilities), labels y (1 for the
// positive class, 0 for the negative class; any other value is an error)
// and optional weights w (nil means every weight is 1). Sums run in a fixed
// order, so the results are reproducible bit for bit. The ROC-based metrics
// sort once, O(n log n); the others are a single pass.
//
// A metric that is undefined for the data (the AUC of a sample with one
// class only) is returned as NaN together with an error wrapping
// ErrOneClass: it is never silently reported as a number.
//
// # Drift, calibration and fairness (monitoring)
//
// KS2Samp is the two-sample Kolmogorov–Smirnov test with the p-value of
// scipy.stats.ks_2samp(method='auto'): exact (lattice-path counting) when
// max(n1, n2) <= 10000, otherwise the exact-in-n one-sample distribution
// kstwo at n = round(n1·n2/(n1+n2)) (KolmogorovSF). PSI compares bin shares
// over frozen bins (QuantileEdges of the reference, BinCounts, Shares) with
// empty bins set to PSIEpsilon = 1e-4; JensenShannon is the base-2 distance
// over the same bins. Binning names the two bin conventions:
// BinsRightClosed (QuantileEdges, BinCounts: bins (e_{i−1}, e_i], a tied
// minimum a bin of its own) and BinsNumpy (NumpyQuantileEdges,
// BinCountsLeft: numpy.histogram over np.unique(np.quantile(ref,
// np.linspace(0, 1, bins+1))), left-closed, the outer bins open); they
// agree on continuous data and differ on ties. Wasserstein is W₁ between
// empirical distributions (monitoring divides it by the reference's
// population standard deviation, MeanStd). ChiSquareContingency and
// ChiSquareGOF are Pearson's tests as scipy's chi2_contingency (with Yates'
// correction at dof 1) and chisquare; HosmerLemeshow tests calibration
// over g equal-count groups. Fairness gives per-group approval rate, TPR, FPR, precision and AUC and
// the demographic-parity, disparate-impact (four-fifths rule),
// equal-opportunity and equalized-odds gaps, leaving out (and flagging)
// groups smaller than DefaultMinGroup. Each function's comment states its
// formula.
//
// Per monitored batch the cost is one sort of the batch (SortedCopy: an
// LSD radix sort on order-preserving integer keys from 4096 values on),
// one branch-free merge with the frozen sorted reference (KS2SampSorted)
// and a binary search of each frozen edge in the sorted batch (BinCounts
// recognises sorted input; BinCountsSorted). bench/stages/drift.sh
// measures it against scipy and numpy (BENCHMARKS.md, "Drift (issue 4)").
//
// testdata/make_drift_reference.py writes testdata/drift_reference.json
// from scipy 1.10.1; drift_test.go checks KS p-values to 1e-6 relative
// (observed ≤ 1e-12), kstwo.sf (≤ 1e-10), chi-square p-values (1e-6) and
// PSI, JS and Wasserstein to 1e-9 or better, without needing Python.
// testdata/make_psi_reference.py writes testdata/psi_reference.json: both
// bin conventions computed with numpy 1.24 on continuous and heavily tied
// samples; psi_test.go checks edges (bit-identical), counts (exact), PSI and
// JS (1e-9; observed ≤ 3e-16).
//
// Bands cuts a numeric attribute into left-closed bands ("(-inf,25)",
// "[25,35)", …) for Fairness; FairnessOrdered reports the groups in band
// order.
package stats
