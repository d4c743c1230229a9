package registry

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/mlrun-cli/mlrun/internal/sshsig"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/governance"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// people are test principals with their keys.
type people map[string]ssh.Signer

func newPeople(t *testing.T, names ...string) people {
	t.Helper()
	p := people{}
	for _, n := range names {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ssh.NewSignerFromKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		p[n] = s
	}
	return p
}

// allowed returns an allowed-signers file listing the named people for
// the approval and waiver namespaces.
func (p people) allowed(t *testing.T, names ...string) *governance.Signers {
	t.Helper()
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s namespaces=\"mlrun-approval,mlrun-waiver\" %s", n, ssh.MarshalAuthorizedKey(p[n].PublicKey()))
	}
	s, err := governance.ParseSigners([]byte(b.String()), "test")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (p people) sign(t *testing.T, who, namespace string, payload []byte) []byte {
	t.Helper()
	sig, err := sshsig.Sign(p[who], namespace, payload)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// protectedModel registers versions 1 (auc 0.8) and 2 (auc 0.82) of "pd",
// as actor alice, with production held by 1 and protected by approvals.
func protectedModel(t *testing.T, approvals int) (*Registry, *lineage.Store) {
	t.Helper()
	st, err := lineage.Open(t.TempDir(), lineage.WithActor("alice@bank.example", "test"))
	if err != nil {
		t.Fatal(err)
	}
	r := New(st, gateCompiler)
	ctx := context.Background()
	for i, auc := range []float64{0.8, 0.82} {
		run := fixture(t, st, auc)
		req := RegisterRequest{Name: "pd", Run: run, Step: "model", Gates: []string{"auc >= 0.75"}}
		if i == 0 {
			req.Aliases, req.Reason = []string{"production"}, "first"
		}
		if _, err := r.Register(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, _, err := r.Protect(ctx, "pd", "production", approvals, "model risk policy"); err != nil {
		t.Fatal(err)
	}
	return r, st
}

func TestProtectedAliasNeedsApprovals(t *testing.T) {
	ctx := context.Background()
	r, st := protectedModel(t, 2)
	ppl := newPeople(t, "alice@bank.example", "bob@bank.example", "carol@bank.example", "mallory@evil.example")
	signers := ppl.allowed(t, "alice@bank.example", "bob@bank.example", "carol@bank.example")

	p, err := r.Promote(ctx, PromoteRequest{Name: "pd", Version: 2, Alias: "production", Reason: "better auc"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Move != nil || p.Request == nil || p.Request.Status != RequestPending || p.Request.Proposer != "alice@bank.example" {
		t.Fatalf("promotion to a protected alias: %+v", p)
	}
	q := *p.Request
	decide := func(who, ns, decision string, payload []byte) (*Decided, error) {
		var sig []byte
		if who != "" {
			sig = ppl.sign(t, who, ns, payload)
		}
		return r.Decide(ctx, DecideRequest{Model: "pd", Request: q.ID, Decision: decision, Reason: "reviewed", Signature: sig, Signers: signers})
	}
	approve := ApprovalPayload("pd", &q, "approve", "reviewed")

	cases := []struct {
		name, who, ns string
		payload       []byte
		want          string
		code          int
	}{
		{"unsigned", "", "", approve, "not signed", 1},
		{"key not allowed", "mallory@evil.example", governance.NamespaceApproval, approve, "not an allowed signer", 1},
		{"wrong namespace", "bob@bank.example", governance.NamespaceWaiver, approve, "namespace", 1},
		{"signed another payload", "bob@bank.example", governance.NamespaceApproval, ApprovalPayload("pd", &q, "approve", "other reason"), "signature", 1},
		{"self-approval", "alice@bank.example", governance.NamespaceApproval, approve, "cannot approve it", 1},
	}
	for _, c := range cases {
		_, err := decide(c.who, c.ns, "approve", c.payload)
		if err == nil || !strings.Contains(err.Error(), c.want) || pipeline.ExitCode(err) != c.code {
			t.Errorf("%s: err = %v (exit %d), want %q (exit %d)", c.name, err, pipeline.ExitCode(err), c.want, c.code)
		}
	}
	m, _ := r.Get(ctx, "pd")
	if m.Aliases["production"] != 1 || m.Requests[0].Approved() != 0 {
		t.Fatalf("refused approvals changed the model: %+v", m)
	}
	// The self-approval attempt (validly signed) is audited.
	entries, _, err := st.AuditLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var refused int
	for _, e := range entries {
		if e.Type == AuditApprovalRefused && e.Detail["approver"] == "alice@bank.example" {
			refused++
		}
		if e.Actor == "" {
			t.Errorf("entry %d %s has no actor", e.Seq, e.Type)
		}
	}
	if refused != 1 {
		t.Errorf("%d approval.refused entries, want 1", refused)
	}

	d, err := decide("bob@bank.example", governance.NamespaceApproval, "approve", approve)
	if err != nil || d.Move != nil || d.Request.Approved() != 1 {
		t.Fatalf("first approval: %+v, %v", d, err)
	}
	if _, err := decide("bob@bank.example", governance.NamespaceApproval, "approve", approve); err == nil || !strings.Contains(err.Error(), "already decided") {
		t.Fatalf("second approval by the same principal: %v", err)
	}
	d, err = decide("carol@bank.example", governance.NamespaceApproval, "approve", approve)
	if err != nil || d.Move == nil || d.Move.To != 2 || d.Request.Status != RequestApproved {
		t.Fatalf("second approval: %+v, %v", d, err)
	}
	if got := strings.Join(d.Move.Approvers, ","); got != "bob@bank.example,carol@bank.example" {
		t.Errorf("approvers %s", got)
	}
	m, _ = r.Get(ctx, "pd")
	if m.Aliases["production"] != 2 {
		t.Fatalf("production = %d after approval", m.Aliases["production"])
	}
	// The decisions re-verify against the recorded allowed-signers file.
	for _, x := range m.Requests[0].Decisions {
		if err := governance.Reverify(ctx, st, &x.Decision, governance.NamespaceApproval, ApprovalPayload("pd", &m.Requests[0], x.Verdict, x.Reason), x.Time); err != nil {
			t.Errorf("reverify %s: %v", x.Principal, err)
		}
	}

	// Registering with a protected alias is refused.
	if _, err := r.Register(ctx, RegisterRequest{Name: "pd", Run: fixture(t, st, 0.9), Step: "model", Aliases: []string{"production"}, Reason: "x"}); err == nil || !strings.Contains(err.Error(), "protected") {
		t.Fatalf("register with a protected alias: %v", err)
	}
}

func TestRejectionAndLoweredProtection(t *testing.T) {
	ctx := context.Background()
	r, _ := protectedModel(t, 1)
	ppl := newPeople(t, "alice@bank.example", "bob@bank.example")
	signers := ppl.allowed(t, "alice@bank.example", "bob@bank.example")

	p, err := r.Promote(ctx, PromoteRequest{Name: "pd", Version: 2, Alias: "production", Reason: "try"})
	if err != nil {
		t.Fatal(err)
	}
	q := *p.Request
	d, err := r.Decide(ctx, DecideRequest{Model: "pd", Request: q.ID, Decision: "reject", Reason: "not yet",
		Signature: ppl.sign(t, "bob@bank.example", governance.NamespaceApproval, ApprovalPayload("pd", &q, "reject", "not yet")), Signers: signers})
	if err != nil || d.Request.Status != RequestRejected {
		t.Fatalf("reject: %+v %v", d, err)
	}
	// Lowering the protection is a request too.
	prot, req, _, err := r.Protect(ctx, "pd", "production", 0, "retire the policy")
	if err != nil || prot != nil || req == nil || req.Approvals != 1 {
		t.Fatalf("lowering: %v %+v %v", prot, req, err)
	}
	m, _ := r.Get(ctx, "pd")
	if m.Protected["production"].Approvals != 1 {
		t.Fatal("lowering took effect without approval")
	}
	lq := *req
	if _, err := r.Decide(ctx, DecideRequest{Model: "pd", Request: lq.ID, Decision: "approve", Reason: "ok",
		Signature: ppl.sign(t, "bob@bank.example", governance.NamespaceApproval, ApprovalPayload("pd", &lq, "approve", "ok")), Signers: signers}); err != nil {
		t.Fatal(err)
	}
	m, _ = r.Get(ctx, "pd")
	if _, ok := m.Protected["production"]; ok {
		t.Fatal("protection not removed after approval")
	}
	if pr, err := r.Promote(ctx, PromoteRequest{Name: "pd", Version: 2, Alias: "production", Reason: "now free"}); err != nil || pr.Move == nil {
		t.Fatalf("promotion after unprotecting: %+v %v", pr, err)
	}
}

func TestGateWaiver(t *testing.T) {
	ctx := context.Background()
	st, err := lineage.Open(t.TempDir(), lineage.WithActor("alice@bank.example", "test"))
	if err != nil {
		t.Fatal(err)
	}
	r := New(st, gateCompiler)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return now }
	ppl := newPeople(t, "alice@bank.example", "bob@bank.example")
	signers := ppl.allowed(t, "alice@bank.example", "bob@bank.example")
	if _, err := r.Register(ctx, RegisterRequest{Name: "pd", Run: fixture(t, st, 0.7), Step: "model", Gates: []string{"auc >= 0.75"}}); err != nil {
		t.Fatal(err)
	}
	_, err = r.Promote(ctx, PromoteRequest{Name: "pd", Version: 1, Alias: "production", Reason: "x"})
	var ge *GateError
	if !errors.As(err, &ge) || ge.Head == "" {
		t.Fatalf("failing gate: %v", err)
	}
	target := governance.Target{Kind: governance.TargetGate, Model: "pd", Version: 1, Gate: "auc >= 0.75"}
	expires := now.Add(48 * time.Hour)
	waive := func(who string, at time.Time) (*governance.Waiver, error) {
		w, _, err := governance.Waive(ctx, st, governance.WaiveRequest{Target: target, Reason: "regulator-agreed interim model", Expires: expires,
			Signature: ppl.sign(t, who, governance.NamespaceWaiver, governance.WaiverPayload(target, "regulator-agreed interim model", expires)),
			Signers:   signers, Check: r.GateWaiverCheck(target)}, at)
		return w, err
	}
	// The registrar cannot waive the gate of the version they registered.
	if _, err := waive("alice@bank.example", now); err == nil || !strings.Contains(err.Error(), "own waiver") {
		t.Fatalf("self-waiver: %v", err)
	}
	w, err := waive("bob@bank.example", now)
	if err != nil {
		t.Fatal(err)
	}
	// An expired waiver stops counting.
	now = expires.Add(time.Minute)
	if _, err := r.Promote(ctx, PromoteRequest{Name: "pd", Version: 1, Alias: "production", Reason: "x"}); !errors.As(err, &ge) {
		t.Fatalf("promotion with an expired waiver: %v", err)
	}
	now = expires.Add(-time.Hour)
	p, err := r.Promote(ctx, PromoteRequest{Name: "pd", Version: 1, Alias: "production", Reason: "x"})
	if err != nil || p.Move == nil {
		t.Fatalf("promotion with a waiver: %v", err)
	}
	g := p.Move.Gates[0]
	if g.Passed || g.Waiver == nil || g.Waiver.ID != w.ID || !strings.Contains(g.String(), "FAILED, WAIVED") {
		t.Fatalf("waived gate shown as %s", g.String())
	}
	m, _ := r.Get(ctx, "pd")
	if len(m.Refused) != 2 {
		t.Errorf("%d refusals recorded, want 2", len(m.Refused))
	}
}

func TestRegisterRefusesFailedChecks(t *testing.T) {
	ctx := context.Background()
	st, err := lineage.Open(t.TempDir(), lineage.WithActor("alice@bank.example", "test"))
	if err != nil {
		t.Fatal(err)
	}
	r := New(st, gateCompiler)
	run := fixture(t, st, 0.8)
	ev := run.Step("evaluation")
	ev.Checks = []pipeline.Check{{Name: "fair_age", Kind: "gate", Severity: pipeline.SeverityError, Passed: false, Message: "demographic_parity_difference 0.23 > 0.1"}}
	run.Status, run.Actor = lineage.RunCheckFailed, "alice@bank.example"
	if _, err := st.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error { _, err := tx.PutRun(ctx, run); return err }); err != nil {
		t.Fatal(err)
	}
	_, err = r.Register(ctx, RegisterRequest{Name: "pd", Run: run, Step: "model"})
	if !errors.Is(err, ErrChecksFailed) || pipeline.ExitCode(err) != 1 || !strings.Contains(err.Error(), "evaluation/fair_age") {
		t.Fatalf("register of a run with a failed fairness gate: %v", err)
	}
	ppl := newPeople(t, "alice@bank.example", "bob@bank.example")
	signers := ppl.allowed(t, "alice@bank.example", "bob@bank.example")
	target := governance.Target{Kind: governance.TargetCheck, Run: run.ID, Step: "evaluation", Check: "fair_age"}
	expires := time.Now().Add(24 * time.Hour).Truncate(time.Second)
	sign := func(who string) []byte {
		return ppl.sign(t, who, governance.NamespaceWaiver, governance.WaiverPayload(target, "board exception 7", expires))
	}
	if _, _, err := governance.Waive(ctx, st, governance.WaiveRequest{Target: target, Reason: "board exception 7", Expires: expires, Signature: sign("alice@bank.example"), Signers: signers}, time.Now()); err == nil || !strings.Contains(err.Error(), "own waiver") {
		t.Fatalf("the run's actor waived its own check: %v", err)
	}
	w, _, err := governance.Waive(ctx, st, governance.WaiveRequest{Target: target, Reason: "board exception 7", Expires: expires, Signature: sign("bob@bank.example"), Signers: signers}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Register(ctx, RegisterRequest{Name: "pd", Run: run, Step: "model"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Version.Waivers) != 1 || res.Version.Waivers[0].ID != w.ID {
		t.Errorf("version waivers %+v", res.Version.Waivers)
	}
	// A revoked waiver stops counting.
	if _, _, err := governance.Revoke(ctx, st, w.ID, "exception withdrawn", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Register(ctx, RegisterRequest{Name: "pd2", Run: run, Step: "model"}); !errors.Is(err, ErrChecksFailed) {
		t.Fatalf("register after revocation: %v", err)
	}
}

func TestRequestExpires(t *testing.T) {
	ctx := context.Background()
	r, st := protectedModel(t, 1)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return now }
	ppl := newPeople(t, "alice@bank.example", "bob@bank.example")
	signers := ppl.allowed(t, "alice@bank.example", "bob@bank.example")

	if _, err := r.Promote(ctx, PromoteRequest{Name: "pd", Version: 2, Alias: "production", Reason: "r", TTL: time.Second}); err == nil || pipeline.ExitCode(err) != pipeline.ExitInvalid {
		t.Fatalf("a 1s time to live: err = %v, want exit 2", err)
	}
	p, err := r.Promote(ctx, PromoteRequest{Name: "pd", Version: 2, Alias: "production", Reason: "better auc", TTL: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	q := *p.Request
	if want := now.Add(48 * time.Hour); !q.Expires.Equal(want) {
		t.Fatalf("expires %v, want %v", q.Expires, want)
	}
	approve := func() (*Decided, error) {
		sig := ppl.sign(t, "bob@bank.example", governance.NamespaceApproval, ApprovalPayload("pd", &q, "approve", "reviewed"))
		return r.Decide(ctx, DecideRequest{Model: "pd", Request: q.ID, Decision: "approve", Reason: "reviewed", Signature: sig, Signers: signers})
	}

	// One minute past its expiry, a valid approval is refused, and the
	// request is recorded as expired.
	now = q.Expires.Add(time.Minute)
	if q.State(now) != RequestExpired || q.State(q.Expires) != RequestPending {
		t.Fatalf("State around the expiry: %s, %s", q.State(now), q.State(q.Expires))
	}
	d, err := approve()
	if err == nil || !strings.Contains(err.Error(), "expired") || pipeline.ExitCode(err) != pipeline.ExitCheckFailed {
		t.Fatalf("approval of an expired request: err = %v (exit %d)", err, pipeline.ExitCode(err))
	}
	if d.Request.Status != RequestExpired || !d.Request.Closed.Equal(q.Expires) {
		t.Fatalf("expired request recorded as %+v", d.Request)
	}
	m, _ := r.Get(ctx, "pd")
	if m.Aliases["production"] != 1 {
		t.Fatalf("an expired request moved the alias: %v", m.Aliases)
	}
	entries, _, err := st.AuditLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last := entries[len(entries)-1]; last.Type != AuditRequestExpired || last.Detail["request"] != "pd/1" {
		t.Fatalf("last audit entry %+v, want %s of pd/1", last, AuditRequestExpired)
	}
	// Decided on again: it is closed.
	if _, err := approve(); err == nil || pipeline.ExitCode(err) != pipeline.ExitInvalid {
		t.Fatalf("second approval of the expired request: err = %v", err)
	}

	// Proposed again, it is a new request, and approved in time it moves
	// the alias.
	p, err = r.Promote(ctx, PromoteRequest{Name: "pd", Version: 2, Alias: "production", Reason: "better auc, again"})
	if err != nil {
		t.Fatal(err)
	}
	q = *p.Request
	if q.ID != 2 || !q.Expires.Equal(now.Add(DefaultRequestTTL)) {
		t.Fatalf("new request %+v", q)
	}
	now = now.Add(DefaultRequestTTL - time.Hour)
	if d, err := approve(); err != nil || d.Move == nil || d.Move.To != 2 {
		t.Fatalf("approval in time: %+v, %v", d, err)
	}
}

func TestExpiredRequestDoesNotBlockANewOne(t *testing.T) {
	ctx := context.Background()
	r, _ := protectedModel(t, 1)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return now }
	if _, err := r.Promote(ctx, PromoteRequest{Name: "pd", Version: 2, Alias: "production", Reason: "a", TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	// Pending: the same promotion again is refused.
	if _, err := r.Promote(ctx, PromoteRequest{Name: "pd", Version: 2, Alias: "production", Reason: "b"}); err == nil || !strings.Contains(err.Error(), "pending already") {
		t.Fatalf("duplicate pending request: err = %v", err)
	}
	// Expired: a new request replaces it, and the old one is recorded as
	// expired, not superseded.
	now = now.Add(2 * time.Hour)
	p, err := r.Promote(ctx, PromoteRequest{Name: "pd", Version: 2, Alias: "production", Reason: "c"})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := r.Get(ctx, "pd")
	if p.Request.ID != 2 || m.Requests[0].Status != RequestExpired || m.Requests[1].Status != RequestPending {
		t.Fatalf("requests after expiry: %+v", m.Requests)
	}
}
