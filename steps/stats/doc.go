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
package stats
