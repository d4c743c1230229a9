// Package runquery lists, filters and sorts the recorded runs of a lineage
// store: what `mlrun runs list` prints and `mlrun ui` shows.
//
// An Index holds one Summary per run record (its id, pipeline, status,
// times, step counts, params and flattened metrics), keyed by the record's
// object id, for the store's state root at the last Refresh. A Refresh at
// an unchanged root costs the tip read and nothing else; when the tip has
// moved it walks the runs namespace of the new state tree and decodes only
// the records whose object id is new (records are content-addressed: an
// unchanged id is an unchanged record), so a server answers every request
// from memory instead of decoding every run record each time.
//
// Query filters a Snapshot with the same expressions as
// `mlrun runs list --where` (steps/exprenv gates over the run's metrics and
// params.NAME), sorts by time or by any metric, and pages. A metric is
// named by itself (auc: the last step of the run reporting it; of the
// variants of a matrix sweep, the best by auc) or qualified by its step
// (evaluation_auc); see Metrics. A run lacking a metric the expression
// reads does not match.
package runquery
