// Package derive implements the `derive` step kind: it adds columns
// computed by expressions over the columns of its input.
//
// Columns are derived in the order they are written; each expression is
// compiled against the input schema extended by the columns derived before
// it, so a later column may use an earlier one. A derived column whose name
// is already a column replaces it in place (the run notes say so).
package derive
