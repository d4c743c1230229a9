// Package governance holds what makes a decision in the store more than a
// claim: allowed signers, signed decisions and waivers.
//
// Who runs mlrun is a claim (internal/identity: MLRUN_ACTOR, the CI
// system's user, git's user.email), recorded in every audit entry but
// provable by nobody. A decision that must be proven (an approval of a
// promotion, a waiver of a failed check or gate, a change of the allowed
// signers) is valid only with an SSH signature (ssh-keygen -Y sign, the
// format git uses for signed commits) of the decision's payload, by a key
// an allowed-signers file lists for the decision's namespace
// (mlrun-approval, mlrun-waiver, mlrun-signers). The principal recorded is
// the one the file gives the key, not the claimed actor.
//
// The allowed-signers file is given by --allowed-signers or
// MLRUN_ALLOWED_SIGNERS (a file kept in the repository, reviewed like
// code), or kept in the store ('mlrun signers set'): the first file is
// trusted on first use, replacing it needs a signature by a key it allows.
// Every file a recorded decision was checked against is stored and pinned,
// so the decision can be re-verified later against the very file that
// allowed it (Reverify).
//
// A waiver (records/waivers/<id>) lets a failed check of a run, or a failed
// promotion gate of a model version, stop blocking until it expires or is
// revoked. It names its target, a reason and an expiry (at most
// MaxWaiverDays ahead), and carries the approver's signature of all three;
// the approver may not be who made what is waived. A waived check or gate
// is shown as waived, never as passed.
package governance
