// Package exec runs a compiled pipeline: it walks the step DAG, runs every
// step whose dependencies are done in parallel (up to Options.Jobs), reuses
// cached results, stores outputs in the lineage store and records the run.
//
// # Cache keys
//
// A step's cache key is the SHA-256 of the canonical JSON of a complete
// description of its computation, and of nothing else:
//
//	{"kind": ..., "version": <kind version>, "config": <Compiled.CacheConfig()>,
//	 "inputs": {port: {"id": <object id>, "type": ...}},
//	 "files": [{"path": <relative to the pipeline dir>, "sha256": ..., "size": ...}]}
//
// No run id, time or Jobs value enters it, so the same pipeline, data and
// settings give the same keys and, steps being deterministic, the same
// object ids whatever the parallelism.
//
// A cache hit needs the entry and every output object present and intact
// (lineage.Store.VerifyObjectCached); a corrupt output is deleted and the
// step re-runs. A step whose checks failed is cached too: its outcome is a
// function of its key, and a re-run reports the same failure.
//
// # Failures
//
// A step whose Run returns an error is "failed"; one whose result has a
// failed error-severity check is "check-failed". Either way its dependants
// are "skipped" with a reason naming it, and independent branches finish.
// Run returns nil when all is well, an error with exit code 1 when only
// checks failed, and otherwise the first failed step's error (exit code 3
// unless the step's error carries its own, e.g. 2 for invalid input).
//
// # Verify mode
//
// With Options.CacheVerify (MLRUN_CACHEVERIFY=1 in the CLI), a step with a
// cache hit runs anyway and fails when its outputs differ from the cached
// ones, like the go command's GODEBUG=gocacheverify=1.
//
// # Plan
//
// Each run records, per (pipeline, step), the last key and its components
// (lineage.KeyRecord). Plan recomputes the keys it can and compares them to
// those, so that it can say "input X changed", "file F changed", "setting
// changed: a, b", "kind version changed", "forced", or "upstream step S will
// re-run" for a step whose inputs cannot be known before S runs.
//
// # Memory
//
// Outputs stay in memory while a step that reads them has not finished
// (an object a step passes on unchanged stays while any step holding it
// does), and are dropped as soon as the last reader's Run returns. Run
// sets the Go runtime's soft memory limit from the size of the files the
// pipeline reads (Options.MemoryLimit, memlimit.go) so that the heap does
// not grow to twice its live size between collections.
package exec
