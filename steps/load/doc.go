// Package load implements the `load` step kind: it reads a CSV file (path
// relative to the pipeline file) into a dataset.
//
// At compile time the file is read once to learn its schema: the header
// gives the columns, `columns:` declares types, and the other types are
// inferred from every value (table.CSVOptions.Types), so that downstream
// expressions are type-checked against the real columns. At run time the
// file is read again with every type fixed to the compiled schema, and the
// SHA-256 computed while reading must equal the fingerprint the executor
// took for the cache key: a file that changed in between is an error, never
// a silently stale cache entry.
package load
