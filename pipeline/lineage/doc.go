// Package lineage is mlrun's content-addressed lineage store: the objects
// that steps produce, named by the SHA-256 of their canonical encoding, the
// record of every run, the step cache, and the memos that keep a cached run
// cheap. It follows restic's habits: an ID is a [32]byte, every read is
// re-hashed (a mismatch wraps ErrInvalidData), every write goes to a
// temporary file that is fsynced, renamed into place and whose directory is
// fsynced, Verify is the `check` command, and one conformance suite
// (lineagetest.TestBackend) is passed by every Backend.
//
// # Layout of a local store (the directory given to Open, .mlrun/ by default)
//
//	mlrun-store.json                  {"format": "mlrun-store", "version": 1}
//	objects/ab/abcdef0123...          an object: its canonical encoding, named by
//	                                  the hex SHA-256 of its bytes, fanned out by
//	                                  the first two hex digits; read-only (0444)
//	records/runs/<run-id>.json        a run record (RunRecord); run ids sort by
//	                                  start time: 20261126T165100Z-3f9a2c
//	records/cache/<key>.json          a cache entry (CacheEntry): the outputs,
//	                                  metrics, checks and notes of a step whose
//	                                  complete description hashes to <key>
//	records/lastkey/<hash>.json       the last cache key computed for a
//	                                  (pipeline, step), with its components, so
//	                                  that `mlrun plan` can say what changed
//	records/verified/<id>.json        verify memo: the stat of an object file
//	                                  when it was last found intact
//	records/fingerprints/<hash>.json  fingerprint memo: the SHA-256 of an
//	                                  external file at a given stat
//	records/memos/<hash>.json         compile-time memo (GetMemo/PutMemo): e.g.
//	                                  the schema a load step inferred from a
//	                                  file at a given stat, with its options
//	locks/gc.lock                     flock(2): runs hold it shared, GC exclusive
//	tmp/                              writes in progress; a killed process leaves
//	                                  at most files here, removed by GC after an hour
//
// # Atomicity and concurrency
//
// Objects are immutable: storing an object that is present is a no-op, and
// two processes storing the same object rename identical bytes onto the same
// name. Records are replaced whole by rename, so a reader never sees half a
// record. Several `mlrun run` processes may share a store. GC takes the
// "gc" lock exclusive and fails at once (ErrStoreBusy) while any run holds
// it shared, rather than waiting for a run that may last long.
//
// # Memos and their trade-offs
//
// VerifyObjectCached trusts an object that was found intact (or written by
// this store) when its stat — size, mtime, inode and ctime — is unchanged,
// so that a cached no-op run does not re-read gigabytes. What it misses:
// corruption that changes no stat field (bit rot below the file system, or a
// write that restores mtime and happens within the same ctime tick). Any
// ordinary write changes mtime and ctime, and replacing the file changes the
// inode. `mlrun verify` (Verify) always re-hashes everything, and every read
// of an object's bytes (GetObject) re-hashes regardless of the memo.
//
// Fingerprint memoises the SHA-256 of an external file (a load step's CSV)
// by (absolute path, size, mtime ns, inode, ctime ns). A same-size edit within
// the same mtime granularity that also preserves ctime is not detected;
// ctime cannot be set by user programs, so only clock games (or a file
// system without ctime) defeat it. To narrow the window further, a file
// whose mtime is less than two seconds older than the moment it is hashed
// is not memoised: it is hashed again next time (the "racy git" rule).
// `mlrun run --rehash` ignores the memo.
//
// The schema memo (GetMemo/PutMemo, through pipeline.SchemaMemo) has the same
// trade-off: a load step's compile takes the column types it inferred from
// every value of a file when the file's (absolute path, size, mtime ns,
// inode, ctime ns) and the load options that affect inference (declared
// types, missing tokens, delimiter) are unchanged, instead of parsing the
// whole file again on every run, plan and validate; a file modified within
// two seconds before it was read is not memoised. What it misses is what the
// fingerprint memo misses, and its consequence is smaller: the run itself
// re-reads the file with the memoised types and fails (file changed) if the
// content no longer parses as them or no longer has the fingerprinted
// SHA-256; a content change that still parses but would now infer other
// types, hidden by clock games, keeps the old types. `mlrun validate`
// without a store, and tests, never use the memo.
package lineage
