// Package evaluate implements the `evaluate` step kind: it scores a
// dataset with a model and records the binary-classification metrics of
// package stats, then checks the step's gates.
//
//	evaluation:
//	  kind: evaluate
//	  model: model
//	  data: split.test
//	  threshold: 0.5
//	  gates:
//	    auc_floor: auc >= params.min_auc
//
// Gates are boolean expressions over the metric names (auc, gini, ks,
// accuracy, precision, recall, f1, log_loss, brier, rows, positives, tp,
// fp, tn, fn, positive_rate, threshold) and params, compiled at load so
// that a misspelt metric is reported at its position. A failed gate is a
// failed check (exit 1), not an error. A metric that is undefined for the
// data (auc, gini and ks when the data holds one class) is left out of the
// metrics, and a gate reading it fails.
package evaluate
