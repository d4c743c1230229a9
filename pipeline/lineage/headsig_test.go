package lineage_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// edSigner signs heads with an ed25519 key (the CLI uses SSH signatures;
// the store does not care).
type edSigner struct {
	name string
	key  ed25519.PrivateKey
}

func (s edSigner) Sign(msg []byte) ([]byte, error) {
	return []byte(base64.StdEncoding.EncodeToString(ed25519.Sign(s.key, msg))), nil
}
func (s edSigner) KeyID() string { return s.name }

func newEdSigner(t *testing.T, name string) edSigner {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return edSigner{name, k}
}

// verifierFor accepts signatures by the given signers only.
func verifierFor(signers ...edSigner) lineage.HeadVerifier {
	return func(msg, sig []byte, at time.Time) (string, error) {
		raw, err := base64.StdEncoding.DecodeString(string(sig))
		if err != nil {
			return "", err
		}
		for _, s := range signers {
			if ed25519.Verify(s.key.Public().(ed25519.PublicKey), msg, raw) {
				return s.name, nil
			}
		}
		return "", errors.New("not signed by an allowed key")
	}
}

func TestSignedHeads(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ci := newEdSigner(t, "ci@bank.example")
	st, err := lineage.Open(dir, lineage.WithHeadSigner(ci), lineage.WithActor("ci@bank.example", "test"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := st.AppendAudit(ctx, lineage.AuditEntry{Type: "test.event"}); err != nil {
			t.Fatal(err)
		}
	}
	verify := verifierFor(ci)
	check := func(s *lineage.Store, want ...string) *lineage.HeadReport {
		t.Helper()
		rep, err := s.VerifyHeads(ctx, verify)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(rep.Problems, "\n")
		if len(want) == 0 && !rep.OK() {
			t.Fatalf("problems: %s", got)
		}
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Fatalf("problems %q, want %q", got, w)
			}
		}
		return rep
	}
	rep := check(st)
	if rep.LastSigned != 3 || len(rep.Signed) != 3 || rep.Signed[2].Signer != "ci@bank.example" {
		t.Fatalf("report %+v", rep)
	}
	head, _, _ := st.AuditHead(ctx)
	sh, err := st.HeadSignature(ctx, head)
	if err != nil || sh.Commit != 3 || !strings.Contains(sh.Anchor(), "head="+head) || sh.Key != "ci@bank.example" {
		t.Fatalf("head signature %+v %v", sh, err)
	}

	// Someone with write access but not the key appends a forged entry
	// that chains correctly: the hash chain is intact, the signatures
	// show the tail is not covered.
	forger, err := lineage.Open(dir, lineage.WithActor("ci@bank.example", "forged"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := forger.AppendAudit(ctx, lineage.AuditEntry{Type: "model.registered", Detail: map[string]string{"forged": "yes"}}); err != nil {
		t.Fatal(err)
	}
	if a, err := st.VerifyAudit(ctx); err != nil || !a.OK() {
		t.Fatalf("the chain itself is intact: %+v %v", a, err)
	}
	check(st, "commits 4 to 4 are not covered by a valid head signature", "commit 4 model.registered")

	// Signing with a key not allowed does not cover it.
	other, _ := lineage.Open(dir, lineage.WithHeadSigner(newEdSigner(t, "mallory")))
	if _, err := other.SignHead(ctx); err != nil {
		t.Fatal(err)
	}
	check(st, "commit 4: head signature invalid", "commits 4 to 4 are not covered")

	// Rewriting the tail from commit 3 on (consistently) leaves the
	// signature of the old commit 3 naming a head no longer in the log.
	rewriteTail(t, dir, 3, 2)
	check(st, "commit 3: head", "is no longer in the log: the log was rewritten or truncated from commit 3 on")
}

func TestSignHeadCoversTail(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	plain, err := lineage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := plain.AppendAudit(ctx, lineage.AuditEntry{Type: "test.event"}); err != nil {
			t.Fatal(err)
		}
	}
	ci := newEdSigner(t, "ci")
	rep, _ := plain.VerifyHeads(ctx, verifierFor(ci))
	if rep.OK() || !strings.Contains(rep.Problems[0], "no commit of the 2") {
		t.Fatalf("unsigned store: %+v", rep)
	}
	signed, _ := lineage.Open(dir, lineage.WithHeadSigner(ci))
	if _, err := signed.SignHead(ctx); err != nil {
		t.Fatal(err)
	}
	rep, _ = plain.VerifyHeads(ctx, verifierFor(ci))
	if !rep.OK() || rep.LastSigned != 2 {
		t.Fatalf("after audit sign: %+v", rep)
	}
	if _, err := plain.SignHead(ctx); err == nil {
		t.Fatal("SignHead without a signer succeeded")
	}
}
