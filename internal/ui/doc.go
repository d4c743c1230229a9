// Package ui is mlrun's read-only web interface over a lineage store (local
// or S3): `mlrun ui`. It serves server-rendered pages (html/template, SVG
// charts drawn with gonum/plot through internal/report's chart helpers, the
// lineage graph drawn here) and the same data as JSON under /api/, with no
// script, no external asset and nothing fetched, so it works offline.
//
// Pages: the runs (filtered with the expressions of `mlrun runs list
// --where`, sorted by any metric, paged), a run (steps with cache hits and
// timings, params, data SHA-256s, git commit, metrics, checks and gates,
// waived ones shown as waived, the lineage graph, its report from
// internal/report), a comparison of runs (the semantic pipeline diff of
// pipeline/pdiff, params and metrics side by side, ROC curves overlaid),
// the models (versions, aliases, promotion history with reasons and
// approvals, pending requests, refusals, waivers), each model's monitoring
// (drift per feature, AUC and fairness over the batches, alerts) and the
// audit log (the chain's status, entries by run, model or type, and the
// decision lookup of internal/decisions).
//
// Speed: the runs list is answered from a runquery.Index, refreshed only
// when the store's state root moves and then only for the changed records;
// ROC curves, monitor report summaries and reports are cached by the
// content-addressed ids they derive from, the audit log and its
// verification by the audit head. Every response carries a Server-Timing
// header with its server time.
//
// Security: every method but GET and HEAD is refused (405); every user
// string goes through html/template's contextual escaping; pages carry a
// strict Content-Security-Policy (no script at all, styles only from the
// served stylesheet; a run's report, whose one style block is inline, gets
// that block's hash); route parameters are validated as record names, so
// no path reaches the file system; the server's timeouts bound slow
// clients. Bound to a loopback address without a token it accepts only
// loopback Host headers (no DNS rebinding); with Options.Token every
// request needs it, as a bearer header or the cookie set by a first visit
// with ?token= (compared in constant time).
package ui
