// Package pdiff compares two pipeline definitions semantically, for code
// review: steps added, removed and renamed (same definition, new id),
// settings changed field by field, expressions changed (old and new text),
// params changed (and which steps use them), and, from the DAG, which
// steps' cache keys change and so would re-run, directly or because an
// upstream step changes.
//
// Everything is computed from the loaded pipelines (each step's kind,
// kind version, resolved Compiled.CacheConfig and input wiring), never
// from the lineage store: a step's definition key is the hash of those and
// of its upstream steps' definition keys, so two steps with the same
// definition key have the same cache key given the same input files.
//
// Values compares any two JSON values field by field; the executor's plan
// and why use it to say which field of a step's configuration changed.
package pdiff
