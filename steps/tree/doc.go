// Package tree grows mlrun's tree ensembles: random forests (FitForest)
// and gradient-boosted trees for the binary log loss (FitBoosting). The
// models are *model.Ensemble values; see package model for their encoding
// and prediction.
//
// Features are binned once per dataset (Prepare, LearnBins): a numeric
// feature into at most 255 quantile bins plus a bin for missing values, a
// string feature into one bin per level (the 255 most frequent), so a row's
// bin fits a uint8 and bins are stored column-major. Splits are found on
// per-node histograms: for a forest, weighted class counts per bin and the
// Gini criterion; for boosting, gradient and hessian sums per bin with the
// second-order gain, the larger child's histogram obtained by subtraction
// from its parent's. Every numeric threshold is tried with the missing bin
// on either side, so a split learns where missing values go; a string
// feature's categories present in a node are ordered (by positive share,
// or by G/(H+λ)) and cut once, a split by a set of categories; both pool
// the categories on fewer than 10 of the node's rows into one group
// first, so that rare levels of a high-cardinality feature do not make
// splits out of noise.
//
// Determinism: the result depends only on the data, the settings and the
// seed, never on the number of workers. A forest's tree t draws its
// bootstrap and features from its own generator PCG(seed, t); boosting's
// round t draws its rows and features from PCG(seed, t); every sum over
// rows is taken over fixed chunks of 8192 rows combined in chunk order,
// and rows are partitioned stably. Tests check that the encoded model's
// SHA-256 is the same with 1, 2 and 4 workers.
package tree
