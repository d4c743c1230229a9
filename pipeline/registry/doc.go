// Package registry is mlrun's model registry: immutable, monotonically
// numbered versions of named models, and aliases (champion, production, any
// name) that point at versions and move only through promotion gates.
//
// A version is built from a recorded run: the model object a train step
// produced, the SHA-256 of every file its load steps read (found by walking
// the run record upstream from the step), the training dataset object, the
// metrics and checks of every evaluate step of the same run that read the
// model, and the pipeline file with its SHA-256 and the mlrun version. The
// description is stored as an object ("model-version", named by its
// SHA-256), so it cannot change without changing its id, and pinned so that
// gc keeps it, the model, the training dataset and the run record.
//
// # Records
//
// The model is a record of the store's state (models/<name>: versions,
// number -> version object id, gates, aliases and every alias move), one
// "model-version" object per version, and a pin per version
// (pins/model-<name>-v<N>: what gc must keep). Every change is a store
// transaction (lineage.Store.Update): the model record is re-read at the
// tip, changed and committed with its audit entries, so concurrent
// registers number their versions 1, 2, ... without gaps or duplicates, the
// audit log lists them in the same order, and a model object already
// registered under the name is never registered twice (the check is part of
// the transaction). Audit types: "model.registered" and "alias.moved".
//
// A version keeps what scoring, monitoring and reporting it need, so that
// they never read the working copy of the pipeline file: the pipeline
// source as an object, the resolved scoring chain (internal/scoring), and
// the model card, protected attributes and reason texts.
//
// # Promotion gates
//
// Gates belong to the model (set, or replaced, by a register that names
// any) and are boolean expressions over the candidate version's metrics, with
// the same syntax as evaluate's gates (steps/exprenv.CompileGate):
//
//	auc >= 0.75 && ks >= 0.3
//	auc >= current.auc + 0.005
//
// `current.NAME` is the metric of the version that holds the alias now, so
// the second gate asks for an improvement of at least 0.005 AUC over it. A
// gate that reads current.* is skipped (and says so) while the alias has no
// holder. The metrics of a version are those of the evaluate steps that read
// the model (the first such step, in pipeline order, wins a name clash) and
// of the train step itself (train_auc, train_rows, ...).
//
// Promote moves an alias only when every gate passes; otherwise it returns
// an error with exit code 1 and the gate results with the numbers. Rollback
// returns an alias to the version that held it before its current holder
// (promotions push, rollbacks pop). Every move records who, when, why, from
// which version to which, and the gate results. A promotion refused by a
// gate is recorded too (Model.Refused, "promotion.refused"), and a failed
// gate that an active waiver covers (pipeline/governance) does not block
// but is shown as waived.
//
// # Protected aliases
//
// Protect makes an alias need N approvals: Promote then records a pending
// Request instead of moving it, and Decide records signed decisions
// (governance.VerifyDecision of ApprovalPayload, namespace mlrun-approval)
// by principals other than the proposer, each once; the approval that
// completes the count evaluates the gates again and moves the alias, or
// records the refusal. Lowering a protection is a request too. Audit types:
// "alias.protected", "promotion.requested", "promotion.approved",
// "promotion.rejected", "approval.refused".
//
// Register refuses the model of a run with failed error checks (the train
// step's, its upstream steps', its evaluations') unless each is waived;
// the version lists the waivers.
package registry
