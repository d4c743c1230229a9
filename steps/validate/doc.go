// Package validate implements the `validate` step kind: data-quality rules
// over a dataset, checked before anything learns from it.
//
// Each rule is one expression (`expr`, a boolean over columns, compiled and
// type-checked against the input schema when the pipeline loads) or one
// built-in check: not_null, max_missing, range, allowed, unique, regex,
// rows. Row rules count failing rows and pass when the failing fraction is
// at most 1 - mostly; a row where an expression is null is not checked (use
// not_null for that). Every rule gives one pipeline.Check; a failed rule of
// severity error fails the step (exit code 1), one of severity warn is only
// reported.
//
// The step passes its input through unchanged as `data` (the same object,
// so the same id) and writes a `validation` document as `report`.
package validate
