// Package s3store is the lineage store's backend on S3-compatible object
// storage (AWS S3, MinIO, versitygw, Ceph RGW, ...): one durable store that
// every laptop, CI job and cluster pod shares, selected with
// --store s3://BUCKET/PREFIX.
//
// # Layout under s3://BUCKET/PREFIX/
//
//	mlrun-store.json              format and layout version (as a local store's)
//	objects/ab/abcdef…            objects, named by their SHA-256, written once
//	records/audit/<n>.json        audit commits, created with If-None-Match: *
//	records/audithead/head.json   the head hint
//	locks/<name>/…                leases (see below)
//
// # Concurrency without a lock server
//
// A commit is the creation of records/audit/<n>.json with If-None-Match: *
// (lineage.Backend.CreateRecord): of two processes committing at once,
// exactly one creates commit n; the other gets ErrExists and redoes its
// transaction on the new tip (lineage.Store.Update). So the audit chain,
// the registry and the aliases need no lock; the "audit" lock is a no-op.
// The other locks are leases: an object locks/<name>/<holder> refreshed
// every LeaseRefresh and taken as dead once the server's clock says it was
// not refreshed for LeaseTTL. A run's liveness lock (lineage.LockRun) is
// such a lease, so a run whose process died is found interrupted at most
// LeaseTTL later (a local store, with flock, knows at once). GC takes the
// "gc" lease exclusive only when no shared lease (a run, a commit) is live,
// and a run that takes its shared lease while GC holds it waits, as with
// flock.
//
// # The local cache
//
// Objects are immutable, so every object read or written is kept in a
// local cache directory (checked against its id on every read by the
// Store), and audit commits too: a cached re-run reads from S3 only the
// head hint, one probe past it, and the existence of its outputs. Writes go
// to the cache first and are uploaded in the background (write-behind);
// Flush, which every commit calls before creating its commit record, waits
// for them, so a commit never names an object that is not yet in S3. Large
// objects are uploaded in parts; a failed multipart upload is aborted, and
// no object is ever visible half-written.
//
// # Credentials
//
// The standard AWS configuration: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN, AWS_REGION, AWS_PROFILE and the shared config and
// credentials files, web identity (AWS_ROLE_ARN with
// AWS_WEB_IDENTITY_TOKEN_FILE: IRSA on EKS), and the instance or task role.
// AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3) names an S3-compatible server;
// path-style addressing is then the default (?addressing=virtual in the URL
// turns it off). Credentials are never printed, logged or recorded.
package s3store
