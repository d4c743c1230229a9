// Package serve is mlrun serve: online scoring of one registered model
// over HTTP, with reason codes and a durable decision log.
//
// Endpoints: the Open Inference Protocol v2 REST API (GET /v2/health/live,
// /v2/health/ready, /v2, /v2/models/{name}[/versions/{v}][/ready], POST
// /v2/models/{name}[/versions/{v}]/infer: one input tensor per field), a
// plain JSON endpoint (POST /score: a record, a list of records, or
// {"records": [...]}), and GET /metrics in the Prometheus text format.
// Each record goes through the version's scoring chain compiled for
// records (predict.Online: the chain's validate and derive steps, as
// mlrun predict applies them to a file), the model, and for an adverse
// decision its top reason codes.
//
// Durability: every decision is written to the decision journal and
// fsynced before its response is sent. The journal is a group commit: one
// writer goroutine takes every append queued while the previous fsync ran
// and makes them durable with one write and one fsync. Its segment files
// (JournalDir, <store>/journal by default) roll into the store as a
// decision log object, a batch record (source "serve") and a batch.scored
// audit entry (CommitSegment, through internal/decisions) when a segment
// is full or old, and on shutdown (each segment holds one model version;
// after a reload the previous version's stays open for the requests in
// flight, until it is old); a
// server killed before that leaves its segment, which the next server
// started on the store commits (Recover) before it serves. A segment is
// locked (flock) by the server writing it, so servers sharing a store
// never commit each other's live segments. Frames carry a CRC-32C; a torn
// last frame (a write cut by the crash, never fsynced, never answered) is
// dropped, any other damage refuses the segment. As with any write-ahead
// log, a decision whose write reached the file but whose fsync was cut by
// the crash may be recorded without having been answered; a decision
// answered 200 is always recorded.
//
// What is between the journal and the store: decisions journaled but not
// yet rolled (at most SegmentRows, or SegmentAge of them) are durable, but
// mlrun audit explain finds them only once their segment is committed.
//
// Reload: the registry is polled (Options.Reload) and, when the store's
// audit head moved and the reference names another version, that version
// is compiled and swapped in atomically; requests in flight finish with
// the version they started with, and each segment holds decisions of one
// version only.
package serve
