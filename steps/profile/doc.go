// Package profile is the frozen reference profile of a trained model: what
// the training data and the model's training scores looked like, computed
// once by the train step (its `profile` output) and stored as an object, so
// that every later batch is compared with the same numbers — PSI on day 300
// uses the bins of day 1.
//
// For each model feature a profile holds the row and missing counts; for a
// numeric feature the mean, population standard deviation, min, max and
// quantiles, the interior edges of Bins quantile bins (stats.QuantileEdges,
// default DefaultBins = 10) with the reference counts in each bin — the
// frozen bins, right-closed (EdgesBinning = stats.BinsRightClosed) in every
// profile version; Feature.Bins gives them, or the bins of another
// convention (stats.BinsNumpy) cut from the frozen sorted values — and the
// sorted non-missing values themselves (so that the KS test and the
// Wasserstein distance of a batch are exact, and cost one sort of the batch
// and a merge); for a string feature the count of each category. The
// model's training scores (probabilities of the positive class) get the
// numeric treatment too, and the baseline metrics of the model on its
// training rows (AUC, Gini, KS, accuracy, precision, recall, Brier, positive
// and approval rates at threshold 0.5) are kept for the performance checks.
//
// The profile is a pipeline.Document of type "profile": canonical JSON
// (encoding/json writes floats in their shortest round-tripping form). The
// sorted values, the bulk of it, are written compactly (SortedValues:
// distinct values as base64 little-endian doubles and their run lengths)
// since version 2, less than half the size of a JSON array; version 1
// profiles, with plain arrays, are still read. A profile a run makes is
// encoded as it is written (Object), never built whole in memory; stored
// profiles decode as a pipeline.Document, which FromObject reads.
package profile
