// Package lineage is mlrun's content-addressed lineage store: the objects
// that steps produce, named by the SHA-256 of their canonical encoding, and
// the records that say what they are (run records, cache entries, registry
// models, pins, scored and monitored batches, queued alerts), all bound to
// a hash-chained audit log, so that the store can be a team's system of
// record: anything mlrun reads back to decide something can be traced, and
// any change made behind its back is found.
//
// It follows restic's habits: an ID is a [32]byte, every read is re-hashed
// (a mismatch wraps ErrInvalidData), every write goes to a temporary file
// that is fsynced, renamed into place and whose directory is fsynced,
// Verify is the `check` command, and one conformance suite
// (lineagetest.TestBackend) is passed by every Backend.
//
// # Records, the state tree and the chain
//
// A record is an object (its JSON bytes, named by their SHA-256). The
// store's state, every record by "namespace/name", is a Merkle tree of
// objects (state.go) whose root the last entry of every audit commit names
// (AuditEntry.State), with the records the commit wrote (AuditEntry.Writes):
// git's commit, tree and blob, with the audit chain as the commits. A
// change of records is a transaction (Store.Update, Tx): the records are
// stored as objects, the new tree nodes too, and one commit record, created
// exclusively (Backend.CreateRecord), makes them visible together with the
// audit entries that say why. There is no other mutable record: the head
// hint (records/audithead) only saves reads.
//
// So a reader that walks from the tip down the tree and re-hashes what it
// reads (View) cannot be handed an edited, removed or substituted record:
// each is an error at once. Verify checks the rest: the tree is exactly the
// one the writes declared by the commits give (replayed from the start; its
// shape is a function of its records, so a damaged node can be rebuilt),
// every object a record names exists and is intact, every finished run has
// its audit entry. What a consistent rewrite of the end of the chain hides
// (its commits removed with the head hint, or replaced by commits that
// declare their writes) only a head recorded elsewhere shows
// (AuditContains, `mlrun verify --head`).
//
// # Runs
//
// A run commits its record (status running, marked active) with
// "run.started", then each step that ran with its cache entry and
// "step.executed", then its outcome with "run.finished" in one commit: the
// run's commit point, made even when its context is cancelled. It holds a
// lock for its whole life (LockRun); a run recorded as running whose lock is
// free died, and RecoverInterrupted (called by every command that opens the
// store for writing) records it as interrupted with "run.interrupted".
//
// # Layout of a local store (the directory given to Open, .mlrun/ by default)
//
//	mlrun-store.json                  {"format": "mlrun-store", "version": 2}
//	objects/ab/abcdef0123...          an object, named by the hex SHA-256 of its
//	                                  bytes, fanned out by the first two hex
//	                                  digits; read-only (0444): data (datasets,
//	                                  models, metrics), records and state nodes
//	records/audit/<n>.json            audit commit n (12 digits): its entries
//	records/audithead/head.json       hint: the last commit seen
//	locks/gc.lock                     flock(2): runs and commits hold it shared,
//	                                  GC exclusive
//	locks/audit.lock                  serialises commits
//	locks/run-<id>.lock               held by run <id> while it runs
//	locks/alerts.lock                 held while the alert outbox is delivered
//	tmp/                              writes in progress; a killed process leaves
//	                                  at most files here, removed by GC after an hour
//
// Record namespaces of the state: runs/<run-id>, cache/<key>,
// lastkey/<hash of pipeline and step> (for `mlrun plan`), active/<run-id>,
// pins/<name> (this package); models/<name> (pipeline/registry); batches/,
// monitor/ and alerts/ (the CLI and internal/alert).
//
// A store of layout version 1 (records as mutable files) is upgraded when
// opened for writing: its records are imported into the state tree by one
// "store.upgraded" commit.
//
// # Atomicity and concurrency
//
// Objects are immutable: storing an object that is present is a no-op, and
// two processes storing the same object rename identical bytes onto the same
// name. Commits are serialised by the "audit" lock and are all or nothing.
// Several `mlrun run` processes may share a store. GC takes the "gc" lock
// exclusive and fails at once (ErrStoreBusy) while any run holds it shared,
// rather than waiting for a run that may last long.
//
// # Memos and their trade-offs
//
// Memos (memo.go) keep a cached run cheap; they live outside the store, in
// the user's cache directory, and are authenticated with a key only this
// user can read, so a forged or edited memo is ignored: a memo can only cost
// time, never change a result.
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
// types, hidden by clock games, keeps the old types.
package lineage
