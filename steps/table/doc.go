// Package table is mlrun's columnar dataset: typed columns with validity
// bitmaps, a parallel CSV reader that hashes while it parses, and a compact
// canonical binary encoding whose SHA-256 fingerprints derived datasets.
//
// ReadCSVFile reads a file into memory in large blocks while hashing it,
// then parses it in parallel chunks (see csvparse.go for how chunk
// boundaries are found inside quoted fields and how inferred types are
// settled across chunks). When every column's type is declared it parses
// the blocks as they are read instead, straight into the final columns,
// and never holds the whole file (csvstream.go). The result does not depend on the number of
// goroutines: string dictionaries keep the global first-seen order and
// errors name the first offending row, line and column.
//
// Inferred types are checked once decided (infer.go): a float column
// holding NaN or an infinity is an error unless CSVOptions.NonFinite reads
// them as missing, and a column of numbers (bools, times) but for a few
// values is an error naming them rather than a string column. On request
// (CSVOptions.Levels) the parse also collects the distinct values of the
// columns with few of them.
//
// RowParser reads single rows under a fixed header (mlrun serve's records)
// exactly as ParseCSV reads the header and the row, converting each field
// with the parser's own conversions instead of chunking a two-line input
// (row.go).
//
// Dataset.Encode writes the canonical encoding (format in encode.go):
// equal datasets give identical bytes, and Decode accepts only canonical
// encodings, so Fingerprint is a content address of a dataset's values.
//
// Nulls: a Column's Valid bitmap marks valid rows (nil: no nulls). In a
// Float column a NaN is always a null, and null slots of every type hold
// zero values (NaN for floats) in columns built by this package.
package table
