// Package split implements the `split` step kind: it divides a dataset into
// train, test and (optionally) valid datasets, at random, stratified by a
// class column, or out of time by a time or numeric column.
//
// Splits are deterministic: the rows are shuffled by a PCG generator seeded
// with the step's `seed`, and each output keeps the selected rows in their
// original order, so the same input and settings always give the same
// outputs whatever the number of workers.
//
// A stratified split allocates the test (and valid) rows over the classes
// of the stratify column by the largest-remainder method: the total is
// round(test × rows) and each class gets floor or ceil of test × its rows,
// so class proportions are kept to within one row. Null is a class of its
// own.
package split
