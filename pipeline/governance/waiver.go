package governance

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// NSWaivers is the record namespace of waivers: records/waivers/<id>.
const NSWaivers = "waivers"

// MaxWaiverDays is the longest a waiver may run.
const MaxWaiverDays = 366

// Target kinds of a waiver.
const (
	// TargetCheck waives a failed check of a recorded run's step.
	TargetCheck = "check"
	// TargetGate waives a failed promotion gate of a model version.
	TargetGate = "gate"
)

// Target is what a waiver waives.
type Target struct {
	Kind string `json:"kind"`
	// Run, Step and Check name a run's check (TargetCheck).
	Run   string `json:"run,omitempty"`
	Step  string `json:"step,omitempty"`
	Check string `json:"check,omitempty"`
	// Model, Version and Gate name a promotion gate (TargetGate).
	Model   string `json:"model,omitempty"`
	Version int    `json:"version,omitempty"`
	Gate    string `json:"gate,omitempty"`
}

// String renders the target for people.
func (t Target) String() string {
	if t.Kind == TargetGate {
		return fmt.Sprintf("gate %q of %s@%d", t.Gate, t.Model, t.Version)
	}
	return fmt.Sprintf("check %s of step %s, run %s", t.Check, t.Step, t.Run)
}

func (t Target) fields() [][2]string {
	if t.Kind == TargetGate {
		return [][2]string{{"target", t.Kind}, {"model", t.Model}, {"version", strconv.Itoa(t.Version)}, {"gate", t.Gate}}
	}
	return [][2]string{{"target", t.Kind}, {"run", t.Run}, {"step", t.Step}, {"check", t.Check}}
}

// Waiver lets a failed check or gate stop blocking until it expires: runs,
// versions and reports show it as waived, never as passed.
type Waiver struct {
	// ID is "w-" and the first 12 hex digits of the payload's SHA-256.
	ID      string    `json:"id"`
	Target  Target    `json:"target"`
	Reason  string    `json:"reason"`
	Expires time.Time `json:"expires"`
	// Created is when it was recorded, by Actor (a claim; the approver is
	// Approval.Principal, proven by the signature).
	Created time.Time `json:"created"`
	Actor   string    `json:"actor"`
	// Approval is the approver's signature of Payload().
	Approval Decision `json:"approval"`
	// Revoked, when set, ends the waiver early.
	Revoked *Revocation `json:"revoked,omitempty"`
}

// Revocation ends a waiver before it expires.
type Revocation struct {
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Reason string    `json:"reason"`
}

// WaiverPayload is the text an approver signs (namespace mlrun-waiver) to
// waive target until expires, for reason.
func WaiverPayload(t Target, reason string, expires time.Time) []byte {
	f := append(t.fields(), [2]string{"reason", reason}, [2]string{"expires", expires.UTC().Format(time.RFC3339)})
	return Payload("waiver", f)
}

// Payload is the text the waiver's approval signs.
func (w *Waiver) Payload() []byte { return WaiverPayload(w.Target, w.Reason, w.Expires) }

// Active reports whether the waiver counts at time at: not revoked, not
// expired.
func (w *Waiver) Active(at time.Time) bool {
	return w.Revoked == nil && at.Before(w.Expires)
}

// Status renders "active until T", "expired T" or "revoked T".
func (w *Waiver) Status(at time.Time) string {
	switch {
	case w.Revoked != nil:
		return "revoked " + w.Revoked.Time.Format("2006-01-02")
	case !w.Active(at):
		return "expired " + w.Expires.Format("2006-01-02 15:04Z")
	}
	return "active until " + w.Expires.Format("2006-01-02 15:04Z")
}

// WaiverID returns the id of a waiver of target until expires for reason.
func WaiverID(t Target, reason string, expires time.Time) string {
	return "w-" + lineage.Hash(WaiverPayload(t, reason, expires)).String()[:12]
}

// WaiveRequest asks for a waiver.
type WaiveRequest struct {
	Target  Target
	Reason  string
	Expires time.Time
	// Signature is the approver's signature of the payload.
	Signature []byte
	Signers   *Signers
	// Check, when not nil, checks that the target exists and failed, in
	// the transaction (Waive does it itself for run checks).
	Check func(ctx context.Context, tx *lineage.Tx) (maker string, err error)
}

// Waive records a waiver signed by an allowed approver. The target must
// exist and have failed; the approver may not be who made what is waived
// (the run's actor for a check, the version's registrar for a gate, as
// Check says). It returns the waiver and the audit head.
func Waive(ctx context.Context, st *lineage.Store, req WaiveRequest, now time.Time) (*Waiver, string, error) {
	t := req.Target
	if strings.TrimSpace(req.Reason) == "" {
		return nil, "", pipeline.Invalidf("a waiver needs a reason (--reason)")
	}
	switch {
	case req.Expires.IsZero():
		return nil, "", pipeline.Invalidf("a waiver needs an expiry (--expires 2027-01-31 or --expires 30d)")
	case !req.Expires.After(now):
		return nil, "", pipeline.Invalidf("expiry %s is not in the future", req.Expires.Format(time.RFC3339))
	case req.Expires.After(now.AddDate(0, 0, MaxWaiverDays)):
		return nil, "", pipeline.Invalidf("expiry %s is more than %d days away", req.Expires.Format(time.RFC3339), MaxWaiverDays)
	}
	switch t.Kind {
	case TargetCheck:
		if t.Run == "" || t.Step == "" || t.Check == "" {
			return nil, "", pipeline.Invalidf("a check waiver names the run, the step and the check")
		}
	case TargetGate:
		if t.Model == "" || t.Version < 1 || t.Gate == "" {
			return nil, "", pipeline.Invalidf("a gate waiver names the model, the version and the gate")
		}
	default:
		return nil, "", pipeline.Invalidf("waiver target %q: want check or gate", t.Kind)
	}
	w := &Waiver{Target: t, Reason: req.Reason, Expires: req.Expires.UTC().Truncate(time.Second), Created: now.UTC()}
	d, err := VerifyDecision(req.Signers, NamespaceWaiver, w.Payload(), req.Signature, now)
	if err != nil {
		return nil, "", err
	}
	w.Approval = *d
	w.ID = WaiverID(t, w.Reason, w.Expires)
	w.Actor, _ = st.Actor()
	unlock, err := st.RunLock(ctx)
	if err != nil {
		return nil, "", err
	}
	defer unlock()
	c, err := st.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
		if _, err := tx.Get(ctx, NSWaivers, w.ID); err == nil {
			return pipeline.Invalidf("waiver %s is already recorded", w.ID)
		}
		var maker string
		var err error
		if t.Kind == TargetCheck {
			maker, err = failedCheck(ctx, tx, t)
		} else if req.Check != nil {
			maker, err = req.Check(ctx, tx)
		}
		if err != nil {
			return err
		}
		if maker != "" && maker == d.Principal {
			return pipeline.WithExitCode(pipeline.ExitCheckFailed, fmt.Errorf("refused: %s made what is waived and cannot approve its own waiver (maker-checker)", maker))
		}
		if err := RecordSigners(ctx, st, tx, req.Signers); err != nil {
			return err
		}
		if _, err := tx.PutJSON(ctx, NSWaivers, w.ID, w); err != nil {
			return err
		}
		detail := map[string]string{
			"waiver": w.ID, "target": t.String(), "reason": w.Reason, "expires": w.Expires.Format(time.RFC3339),
			"approver": d.Principal, "key": d.Key,
		}
		if t.Model != "" {
			detail["model"] = t.Model
		}
		tx.Audit(lineage.AuditEntry{Type: AuditWaiverAdded, Run: t.Run, Step: t.Step, Detail: detail})
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return w, c.Head, nil
}

// failedCheck checks that the run's step has the check and that it failed,
// and returns the run's actor.
func failedCheck(ctx context.Context, tx *lineage.Tx, t Target) (string, error) {
	run, err := tx.GetRun(ctx, t.Run)
	if err != nil {
		return "", pipeline.WithExitCode(pipeline.ExitInvalid, err)
	}
	s := run.Step(t.Step)
	if s == nil {
		return "", pipeline.Invalidf("run %s has no step %q", t.Run, t.Step)
	}
	for _, c := range s.Checks {
		if c.Name != t.Check {
			continue
		}
		if c.Passed {
			return "", pipeline.Invalidf("check %s of step %s passed in run %s: nothing to waive", t.Check, t.Step, t.Run)
		}
		return run.Actor, nil
	}
	var names []string
	for _, c := range s.Checks {
		names = append(names, c.Name)
	}
	return "", pipeline.Invalidf("step %s of run %s has no check %q (checks: %s)", t.Step, t.Run, t.Check, strings.Join(names, ", "))
}

// Revoke ends a waiver now. Revoking only tightens, so it needs no
// signature; it is audited.
func Revoke(ctx context.Context, st *lineage.Store, id, reason string, now time.Time) (*Waiver, string, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, "", pipeline.Invalidf("a revocation needs a reason (--reason)")
	}
	actor, _ := st.Actor()
	var w Waiver
	c, err := st.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
		if err := tx.GetJSON(ctx, NSWaivers, id, &w); err != nil {
			if errors.Is(err, lineage.ErrNotFound) {
				return pipeline.Invalidf("no waiver %q (mlrun waivers list)", id)
			}
			return err
		}
		if w.Revoked != nil {
			return pipeline.Invalidf("waiver %s was revoked already", id)
		}
		w.Revoked = &Revocation{Time: now.UTC(), Actor: actor, Reason: reason}
		if _, err := tx.PutJSON(ctx, NSWaivers, id, &w); err != nil {
			return err
		}
		detail := map[string]string{"waiver": id, "target": w.Target.String(), "reason": reason}
		if w.Target.Model != "" {
			detail["model"] = w.Target.Model
		}
		tx.Audit(lineage.AuditEntry{Type: AuditWaiverRevoked, Run: w.Target.Run, Step: w.Target.Step, Detail: detail})
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return &w, c.Head, nil
}

// Waivers is a set of waivers, sorted by creation.
type Waivers []*Waiver

// ListWaivers returns every waiver of the store (v: a lineage.View or
// Tx), oldest first.
func ListWaivers(ctx context.Context, v interface {
	reader
	List(ctx context.Context, ns string) ([]string, error)
}) (Waivers, error) {
	names, err := v.List(ctx, NSWaivers)
	if err != nil {
		return nil, err
	}
	out := make(Waivers, 0, len(names))
	for _, n := range names {
		var w Waiver
		if err := v.GetJSON(ctx, NSWaivers, n, &w); err != nil {
			return nil, fmt.Errorf("waiver %s: %w", n, err)
		}
		out = append(out, &w)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// Check returns the newest waiver of a run's check that is active at at,
// or nil.
func (ws Waivers) Check(run, step, check string, at time.Time) *Waiver {
	return ws.find(at, func(t Target) bool {
		return t.Kind == TargetCheck && t.Run == run && t.Step == step && t.Check == check
	})
}

// Gate returns the newest waiver of a version's gate that is active at
// at, or nil.
func (ws Waivers) Gate(model string, version int, gate string, at time.Time) *Waiver {
	return ws.find(at, func(t Target) bool {
		return t.Kind == TargetGate && t.Model == model && t.Version == version && t.Gate == gate
	})
}

// ForRun returns the waivers (active or not) of a run's checks.
func (ws Waivers) ForRun(run string) Waivers {
	var out Waivers
	for _, w := range ws {
		if w.Target.Kind == TargetCheck && w.Target.Run == run {
			out = append(out, w)
		}
	}
	return out
}

// ForModel returns the waivers (active or not) of a model's gates.
func (ws Waivers) ForModel(model string) Waivers {
	var out Waivers
	for _, w := range ws {
		if w.Target.Kind == TargetGate && w.Target.Model == model {
			out = append(out, w)
		}
	}
	return out
}

func (ws Waivers) find(at time.Time, match func(Target) bool) *Waiver {
	for i := len(ws) - 1; i >= 0; i-- {
		if w := ws[i]; match(w.Target) && w.Active(at) {
			return w
		}
	}
	return nil
}

// Unwaived returns the failed error-severity checks of a run's steps that
// no active waiver covers at at, as "step/check" names, and the waivers
// that cover the others.
func (ws Waivers) Unwaived(run *lineage.RunRecord, steps []string, at time.Time) (unwaived []string, used Waivers) {
	for _, id := range steps {
		s := run.Step(id)
		if s == nil {
			continue
		}
		for _, c := range s.Checks {
			if c.Passed || c.Severity == pipeline.SeverityWarn {
				continue
			}
			if w := ws.Check(run.ID, id, c.Name, at); w != nil {
				used = append(used, w)
				continue
			}
			unwaived = append(unwaived, id+"/"+c.Name)
		}
	}
	return unwaived, used
}
