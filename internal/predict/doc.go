// Package predict scores rows with a registered model version: the
// version's scoring chain (the load, validate and derive steps upstream of
// its train step, as trained), its model, and reason codes for adverse
// decisions.
//
// A Scorer is compiled once from a registry.Version and serves two paths
// that share the model, the explainer and the decision code:
//
//   - File, the batch path of mlrun predict: the chain compiled for the
//     file's header and run over the whole CSV (exec.RunInMemory), then
//     the model and the explainer over the rows;
//   - Online.Score, the online path of mlrun serve: a record as entered
//     (JSON field values kept as their text) is parsed into a one-row
//     table.Dataset by the table package's CSV parser (table.RowParser:
//     its conversions field by field, or ParseCSV itself for a field that
//     needs quoting or a value that does not convert) with the very
//     options and column types the chain's load step reads a CSV with,
//     then the chain's validate and derive steps (compiled once, for every
//     column of training but the target) run over it, then the same model
//     and explainer. Unknown fields, missing required ones (those the
//     chain or the model reads, found at compile time by compiling the
//     chain without each) and values that do not parse are an
//     *InputError listing every bad field.
//
// So a record scored online and the same row scored in a batch get
// bit-identical scores and reasons, and the same row hash
// (decisions.RowHash): both parse each field with the same CSV parser and
// options, and every step involved computes each row from that row alone.
//
// Rules that judge a dataset rather than a row (rows, max_missing, unique,
// and any rule with mostly below 1) do not apply to single requests: the
// online chain leaves them out (Online.Skipped names them). A record that
// fails an error-severity rule is refused (*RefusedError), not scored.
package predict
