// Package load implements the `load` step kind: it reads a CSV file (path
// relative to the pipeline file) into a dataset.
//
// At compile time the file is read once to learn its schema: the header
// gives the columns, `columns:` declares types, and the other types are
// inferred from every value (table.CSVOptions.Types), so that downstream
// expressions are type-checked against the real columns. The read also
// refuses what would silently spoil a model: NaN and infinities in a
// numeric column (unless `non_finite: missing` reads them as missing
// values; only that value is in the cache config, so the keys of steps
// without the setting are unchanged), and an inferred column of numbers
// (bools, times) but for a few values, which names them (declare the
// column string to read it as text). The schema's fields say which types
// were declared and hold the values of columns with at most MaxLevels of
// them (table.FieldInfo), so that a train step can check its `positive:`
// label when the pipeline is compiled. The schema memo (memo.go) keeps
// both, under a key with the inference rules' version. At run time the
// file is read again with every type fixed to the compiled schema, and the
// SHA-256 computed while reading must equal the fingerprint the executor
// took for the cache key: a file that changed in between is an error, never
// a silently stale cache entry.
//
// Only a regular file is read without a limit. The path is checked with
// os.Stat before it is opened (opening a FIFO waits for a writer): a
// directory is an error, and a device, FIFO, socket or other non-regular
// file is one unless `max_bytes` is set. With `max_bytes` (a positive
// integer, or a string with a unit in any case: kB, MB, GB, TB are powers
// of 1000, KiB, MiB, GiB, TiB powers of 1024) at most max_bytes+1 bytes of
// any input are read, and an input longer than max_bytes is an error, so
// memory stays bounded. A non-regular input is read once, at compile time
// (validate, plan and run each read it): its bytes are kept for the run,
// and their SHA-256, which the executor cannot take from such a file, is in
// the cache config (stream_sha256) and in Compiled.Fingerprints; Files
// lists only regular files. max_bytes is in the cache config only when
// set, so the keys of steps without it are unchanged.
package load
