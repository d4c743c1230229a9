// Package train implements the `train` step kind: it fits a binary
// classifier (logistic regression now; tree ensembles plug into the same
// Algorithm registry) on its `input` dataset and outputs the model.
//
//	model:
//	  kind: train
//	  input: split.train
//	  algorithm: logistic_regression
//	  target: Status
//	  positive: bad
//	  exclude: [id]
//	  l2: 1.0
//	  class_weight: balanced
//
// The features are `features` (a list) or, with `exclude`, every column
// but the target, the excluded ones and time columns. Compile checks the
// columns against the input schema and gives evaluate the model's
// *model.Type; Run records train_rows, iterations, train_auc and
// train_log_loss.
package train
