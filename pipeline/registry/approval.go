package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/governance"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// Audit event types of protected aliases.
const (
	AuditAliasProtected     = "alias.protected"
	AuditPromotionRequested = "promotion.requested"
	AuditPromotionApproved  = "promotion.approved"
	AuditPromotionRejected  = "promotion.rejected"
	AuditPromotionRefused   = "promotion.refused"
	AuditApprovalRefused    = "approval.refused"
	AuditRequestExpired     = "request.expired"
)

// Request statuses.
const (
	RequestPending    = "pending"
	RequestApproved   = "approved"
	RequestRejected   = "rejected"
	RequestRefused    = "refused"
	RequestSuperseded = "superseded"
	// RequestExpired is a request not approved before its Expires: an
	// approval given months later would approve evidence that has gone
	// stale (the champion, the data, the approvers' view of them).
	RequestExpired = "expired"
)

// DefaultRequestTTL is how long a request waits for its approvals when
// its proposer gives no other time to live.
const DefaultRequestTTL = 30 * 24 * time.Hour

// Request actions.
const (
	// ActionPromote moves the alias to Version.
	ActionPromote = "promote"
	// ActionProtect lowers (or removes, with 0) the alias's protection.
	ActionProtect = "protect"
)

// Protection makes an alias move only with approvals.
type Protection struct {
	// Approvals is the number of principals, none of them the proposer,
	// whose signed approvals a promotion to the alias needs.
	Approvals int       `json:"approvals"`
	Time      time.Time `json:"time"`
	Actor     string    `json:"actor"`
	Reason    string    `json:"reason,omitempty"`
}

// Request is a change of a protected alias waiting for approvals: a
// promotion, or a lowered protection.
type Request struct {
	// ID numbers the model's requests from 1 ("NAME/ID" names one).
	ID     int    `json:"id"`
	Action string `json:"action"`
	Alias  string `json:"alias"`
	// Version and ModelObject are the candidate (ActionPromote); To is
	// the protection asked for (ActionProtect).
	Version     int        `json:"version,omitempty"`
	ModelObject lineage.ID `json:"model_object,omitzero"`
	To          int        `json:"to,omitempty"`
	// Approvals is how many approvals it needs (the alias's protection
	// when it was made).
	Approvals int `json:"approvals"`
	// Proposer is who asked (a claim: see internal/identity), Via where
	// the claim came from.
	Proposer string    `json:"proposer"`
	Via      string    `json:"via,omitempty"`
	User     string    `json:"user,omitempty"`
	Host     string    `json:"host,omitempty"`
	Reason   string    `json:"reason"`
	Created  time.Time `json:"created"`
	// Nonce makes the payload approvers sign unique to this request.
	Nonce  string `json:"nonce"`
	Status string `json:"status"`
	// Expires is when a pending request stops accepting decisions (zero:
	// never, for requests recorded before requests expired).
	Expires time.Time `json:"expires,omitzero"`
	// Gates are the gate results when the request was made, and (once
	// approved) when it was carried out.
	Gates     []GateResult `json:"gates,omitempty"`
	Decisions []Decision   `json:"decisions,omitempty"`
	Closed    time.Time    `json:"closed,omitzero"`
	// Outcome says how it closed, for people.
	Outcome string `json:"outcome,omitempty"`
}

// Ref renders "NAME/ID".
func (q *Request) Ref(model string) string { return fmt.Sprintf("%s/%d", model, q.ID) }

// State is the request's status at now: RequestExpired for a pending
// request past its Expires (recorded as such when next touched), else
// Status.
func (q *Request) State(now time.Time) string {
	if q.Status == RequestPending && !q.Expires.IsZero() && now.After(q.Expires) {
		return RequestExpired
	}
	return q.Status
}

// expire closes a pending request past its Expires, returning its audit
// entry (nil when it has not expired).
func expire(model string, q *Request, now time.Time) []lineage.AuditEntry {
	if q.Status != RequestPending || q.State(now) != RequestExpired {
		return nil
	}
	q.Status, q.Closed = RequestExpired, q.Expires
	q.Outcome = fmt.Sprintf("expired %s with %d/%d approvals", q.Expires.Format(time.RFC3339), q.Approved(), q.Approvals)
	e := requestEntry(model, q, AuditRequestExpired, q.Outcome)
	e.Detail["expires"] = q.Expires.Format(time.RFC3339)
	return []lineage.AuditEntry{e}
}

// requestTTL is ttl, or DefaultRequestTTL when ttl is 0.
func requestTTL(ttl time.Duration) (time.Duration, error) {
	switch {
	case ttl == 0:
		return DefaultRequestTTL, nil
	case ttl < time.Minute || ttl > 366*24*time.Hour:
		return 0, pipeline.Invalidf("a request's time to live must be between 1m and 366 days (8784h), got %s", ttl)
	}
	return ttl, nil
}

// Approved counts the approvals.
func (q *Request) Approved() int {
	n := 0
	for _, d := range q.Decisions {
		if d.Verdict == "approve" {
			n++
		}
	}
	return n
}

// Decision is an approver's signed decision on a request.
type Decision struct {
	// Verdict is "approve" or "reject".
	Verdict string    `json:"decision"`
	Reason  string    `json:"reason"`
	Time    time.Time `json:"time"`
	// Actor is who ran the command (a claim); the approver is the
	// signature's Principal.
	Actor string `json:"actor"`
	governance.Decision
}

// Refusal is a promotion refused by a gate.
type Refusal struct {
	Alias   string       `json:"alias"`
	Version int          `json:"version"`
	Time    time.Time    `json:"time"`
	Actor   string       `json:"actor"`
	Reason  string       `json:"reason,omitempty"`
	Request int          `json:"request,omitempty"`
	Gates   []GateResult `json:"gates"`
}

// ParseRequestRef parses "NAME/ID".
func ParseRequestRef(s string) (string, int, error) {
	name, num, ok := strings.Cut(s, "/")
	id, err := strconv.Atoi(num)
	if !ok || err != nil || id < 1 {
		return "", 0, pipeline.Invalidf("request %q: want MODEL/NUMBER as 'mlrun models requests' lists, e.g. credit-risk/3", s)
	}
	return name, id, CheckName(name)
}

// ApprovalPayload is the text an approver signs (namespace mlrun-approval)
// to decide ("approve" or "reject") on a request, with a reason.
func ApprovalPayload(model string, q *Request, decision, reason string) []byte {
	f := [][2]string{{"request", q.Ref(model)}, {"nonce", q.Nonce}, {"model", model}, {"alias", q.Alias}, {"action", q.Action}}
	if q.Action == ActionProtect {
		f = append(f, [2]string{"approvals", strconv.Itoa(q.To)})
	} else {
		f = append(f, [2]string{"version", strconv.Itoa(q.Version)}, [2]string{"model-object", q.ModelObject.String()})
	}
	f = append(f, [2]string{"decision", decision}, [2]string{"reason", reason})
	return governance.Payload("approval", f)
}

func nonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Protect sets how many approvals a promotion to alias needs. Raising the
// protection (or protecting an unprotected alias) takes effect at once;
// lowering it, or removing it with 0, is itself a request the current
// protection's approvals must approve. It returns the change made (nil
// when a request was made), the request (nil when none) and the audit
// head.
func (r *Registry) Protect(ctx context.Context, name, alias string, approvals int, reason string) (*Protection, *Request, string, error) {
	if err := CheckAlias(alias); err != nil {
		return nil, nil, "", err
	}
	if approvals < 0 || approvals > 10 {
		return nil, nil, "", pipeline.Invalidf("--approvals %d: want 0 (unprotected) to 10", approvals)
	}
	if strings.TrimSpace(reason) == "" {
		return nil, nil, "", pipeline.Invalidf("a protection change needs a reason (--reason)")
	}
	actor, via := r.st.Actor()
	var (
		prot *Protection
		req  *Request
	)
	head, err := r.update(ctx, name, false, func(ctx context.Context, tx *lineage.Tx, m *Model) ([]lineage.AuditEntry, error) {
		prot, req = nil, nil
		now := r.now().UTC()
		cur := m.Protected[alias].Approvals
		if approvals == cur {
			return nil, pipeline.Invalidf("%s@%s already needs %d approval(s)", name, alias, cur)
		}
		if approvals > cur {
			prot = &Protection{Approvals: approvals, Time: now, Actor: actor, Reason: reason}
			if m.Protected == nil {
				m.Protected = map[string]Protection{}
			}
			m.Protected[alias] = *prot
			return []lineage.AuditEntry{{Type: AuditAliasProtected, Detail: map[string]string{
				"model": name, "alias": alias, "approvals": strconv.Itoa(approvals), "from": strconv.Itoa(cur), "reason": reason,
			}}}, nil
		}
		u, h := lineage.Who()
		req = &Request{ID: len(m.Requests) + 1, Action: ActionProtect, Alias: alias, To: approvals, Approvals: cur,
			Proposer: actor, Via: via, User: u, Host: h, Reason: reason, Created: now, Nonce: nonce(), Status: RequestPending,
			Expires: now.Add(DefaultRequestTTL)}
		entries := supersede(m, alias, now)
		m.Requests = append(m.Requests, *req)
		return append(entries, requestEntry(m.Name, req, AuditPromotionRequested, "")), nil
	})
	if err != nil {
		return nil, nil, "", err
	}
	return prot, req, head, nil
}

// supersede closes the alias's pending requests: a new request replaces
// them.
func supersede(m *Model, alias string, now time.Time) []lineage.AuditEntry {
	var out []lineage.AuditEntry
	for i := range m.Requests {
		q := &m.Requests[i]
		if q.Alias != alias {
			continue
		}
		if e := expire(m.Name, q, now); e != nil {
			out = append(out, e...)
			continue
		}
		if q.Status == RequestPending {
			q.Status, q.Closed, q.Outcome = RequestSuperseded, now, fmt.Sprintf("superseded by request %d", len(m.Requests)+1)
			out = append(out, requestEntry(m.Name, q, AuditPromotionRejected, q.Outcome))
		}
	}
	return out
}

// requestEntry is the audit entry of a request event.
func requestEntry(model string, q *Request, typ, note string) lineage.AuditEntry {
	d := map[string]string{
		"model": model, "request": q.Ref(model), "alias": q.Alias, "action": q.Action, "status": q.Status,
		"approvals": fmt.Sprintf("%d/%d", q.Approved(), q.Approvals), "proposer": q.Proposer, "reason": q.Reason,
	}
	if q.Action == ActionPromote {
		d["version"] = strconv.Itoa(q.Version)
	} else {
		d["to"] = strconv.Itoa(q.To)
	}
	if note != "" {
		d["note"] = note
	}
	return lineage.AuditEntry{Type: typ, Detail: d}
}

// DecideRequest is an approver's decision on a request.
type DecideRequest struct {
	Model   string
	Request int
	// Decision is "approve" or "reject".
	Decision string
	Reason   string
	// Signature is the approver's signature of ApprovalPayload; Signers
	// the allowed-signers file that must list the key.
	Signature []byte
	Signers   *governance.Signers
}

// DecisionError is a decision refused after its signature was checked
// (self-approval, a second approval by the same principal): it is
// recorded in the audit log, and has exit code 1.
type DecisionError struct {
	Msg  string
	Head string
}

func (e *DecisionError) Error() string { return e.Msg }

// ExitCode implements pipeline.ExitCoder.
func (e *DecisionError) ExitCode() int { return pipeline.ExitCheckFailed }

// Decided is the outcome of Decide.
type Decided struct {
	Request *Request
	// Move is set when the approval completed a promotion.
	Move *Move
	Head string
}

// Decide records a signed approval or rejection of a pending request. The
// approver is the principal the allowed-signers file gives the signing
// key; it may not be the proposer, nor have decided on the request
// already. The approval that brings the count to the request's Approvals
// carries the request out: the gates are evaluated again against the
// alias's holder at that moment, and the alias moves, or the promotion is
// refused (a *GateError, recorded).
func (r *Registry) Decide(ctx context.Context, dr DecideRequest) (*Decided, error) {
	if dr.Decision != "approve" && dr.Decision != "reject" {
		return nil, pipeline.Invalidf("decision %q: want approve or reject", dr.Decision)
	}
	if strings.TrimSpace(dr.Reason) == "" {
		return nil, pipeline.Invalidf("a decision needs a reason (--reason)")
	}
	actor, _ := r.st.Actor()
	out := &Decided{}
	var refused error
	unlock, err := r.st.RunLock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	head, err := r.update(ctx, dr.Model, false, func(ctx context.Context, tx *lineage.Tx, m *Model) ([]lineage.AuditEntry, error) {
		out.Move, refused = nil, nil
		if dr.Request < 1 || dr.Request > len(m.Requests) {
			return nil, pipeline.Invalidf("model %s has no request %d (mlrun models requests %s)", m.Name, dr.Request, m.Name)
		}
		q := &m.Requests[dr.Request-1]
		now := r.now().UTC()
		if e := expire(m.Name, q, now); e != nil {
			// Recorded, so the request shows as expired everywhere.
			refused = &DecisionError{Msg: fmt.Sprintf("refused: request %s %s; propose it again ('mlrun models promote') to start a new one", q.Ref(m.Name), q.Outcome)}
			return e, nil
		}
		if q.Status != RequestPending {
			return nil, pipeline.Invalidf("request %s is %s (%s)", q.Ref(m.Name), q.Status, q.Outcome)
		}
		d, err := governance.VerifyDecision(dr.Signers, governance.NamespaceApproval, ApprovalPayload(m.Name, q, dr.Decision, dr.Reason), dr.Signature, now)
		if err != nil {
			return nil, err
		}
		var why string
		switch {
		case d.Principal == q.Proposer && dr.Decision == "approve":
			why = fmt.Sprintf("refused: %s proposed %s and cannot approve it (maker-checker: approvals must come from %d other principal(s))", d.Principal, q.Ref(m.Name), q.Approvals)
		case slices.ContainsFunc(q.Decisions, func(x Decision) bool { return x.Principal == d.Principal }):
			why = fmt.Sprintf("refused: %s has already decided on %s", d.Principal, q.Ref(m.Name))
		}
		if why != "" {
			refused = &DecisionError{Msg: why}
			e := requestEntry(m.Name, q, AuditApprovalRefused, why)
			e.Detail["approver"], e.Detail["key"] = d.Principal, d.Key
			return []lineage.AuditEntry{e}, nil
		}
		if err := governance.RecordSigners(ctx, r.st, tx, dr.Signers); err != nil {
			return nil, err
		}
		q.Decisions = append(q.Decisions, Decision{Verdict: dr.Decision, Reason: dr.Reason, Time: now, Actor: actor, Decision: *d})
		if dr.Decision == "reject" {
			q.Status, q.Closed, q.Outcome = RequestRejected, now, "rejected by "+d.Principal+": "+dr.Reason
			e := requestEntry(m.Name, q, AuditPromotionRejected, "")
			e.Detail["approver"], e.Detail["key"] = d.Principal, d.Key
			return []lineage.AuditEntry{e}, nil
		}
		e := requestEntry(m.Name, q, AuditPromotionApproved, "")
		e.Detail["approver"], e.Detail["key"] = d.Principal, d.Key
		entries := []lineage.AuditEntry{e}
		if q.Approved() < q.Approvals {
			return entries, nil
		}
		// Carry the request out.
		var approvers []string
		for _, x := range q.Decisions {
			approvers = append(approvers, x.Principal)
		}
		if q.Action == ActionProtect {
			if q.To == 0 {
				delete(m.Protected, q.Alias)
			} else {
				m.Protected[q.Alias] = Protection{Approvals: q.To, Time: now, Actor: q.Proposer, Reason: q.Reason}
			}
			q.Status, q.Closed, q.Outcome = RequestApproved, now, fmt.Sprintf("protection %d -> %d, approved by %s", q.Approvals, q.To, strings.Join(approvers, ", "))
			return append(entries, lineage.AuditEntry{Type: AuditAliasProtected, Detail: map[string]string{
				"model": m.Name, "alias": q.Alias, "approvals": strconv.Itoa(q.To), "from": strconv.Itoa(q.Approvals),
				"reason": q.Reason, "request": q.Ref(m.Name), "approved_by": strings.Join(approvers, ","),
			}}), nil
		}
		mv, gerr, gentries, err := r.move(ctx, tx, m, q.Version, q.Alias, q.Proposer, q.Reason, nil, now)
		if err != nil {
			return nil, err
		}
		entries = append(entries, gentries...)
		if gerr != nil {
			q.Status, q.Closed, q.Outcome, q.Gates = RequestRefused, now, "approved, but a gate failed when carried out", gerr.Results
			m.Refused[len(m.Refused)-1].Request = q.ID
			refused = gerr
			return entries, nil
		}
		mv.Request, mv.Approvers = q.ID, approvers
		m.History[len(m.History)-1] = *mv
		entries[len(entries)-1] = moveEntry(m.Name, *mv)
		q.Status, q.Closed, q.Gates = RequestApproved, now, mv.Gates
		q.Outcome = fmt.Sprintf("%s -> %d, approved by %s", q.Alias, q.Version, strings.Join(approvers, ", "))
		out.Move = mv
		return entries, nil
	})
	if err != nil {
		return nil, err
	}
	out.Head = head
	m, err := r.Get(ctx, dr.Model)
	if err != nil {
		return nil, err
	}
	out.Request = &m.Requests[dr.Request-1]
	switch e := refused.(type) {
	case nil:
	case *DecisionError:
		e.Head = head
		return out, e
	case *GateError:
		e.Head = head
		return out, e
	}
	return out, nil
}

// GateWaiverCheck returns the check governance.Waive runs for a gate
// waiver: the version must exist and the gate be one of its model's, and
// the maker (who may not approve the waiver) is the version's registrar.
func (r *Registry) GateWaiverCheck(t governance.Target) func(ctx context.Context, tx *lineage.Tx) (string, error) {
	return func(ctx context.Context, tx *lineage.Tx) (string, error) {
		m, err := getModel(ctx, tx, t.Model)
		if err != nil {
			return "", err
		}
		v, err := r.Version(ctx, m, t.Version)
		if err != nil {
			return "", err
		}
		if !slices.Contains(m.Gates, t.Gate) {
			return "", pipeline.Invalidf("%s has no promotion gate %q (gates: %s)", m.Name, t.Gate, strings.Join(m.Gates, " ; "))
		}
		return v.Actor, nil
	}
}
