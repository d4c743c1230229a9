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
// *model.Type; when the load step read the target's values (a column with
// few of them, table.FieldInfo), it also checks the labels: a `positive`
// value that never occurs, a numeric target holding values other than 0
// and 1 without `positive`, one class only. Run checks the training rows
// the same way, and refuses a string feature whose type the load step
// inferred when it has more distinct values than `max_levels` (default
// 100, or half the rows when fewer, at least 10): declared string, a
// column is used as it is. Run records train_rows, iterations, train_auc
// and train_log_loss.
package train
