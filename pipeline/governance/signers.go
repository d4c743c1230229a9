package governance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/mlrun-cli/mlrun/internal/sshsig"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// Signature namespaces (ssh-keygen -Y sign -n NAMESPACE): a signature made
// for one purpose never counts for another.
const (
	NamespaceApproval = "mlrun-approval"
	NamespaceWaiver   = "mlrun-waiver"
	NamespaceAudit    = "mlrun-audit"
	NamespaceSigners  = "mlrun-signers"
)

// NS is the record namespace of the store's governance settings; its
// record "allowed_signers" names the store's allowed-signers file.
const NS = "governance"

const recordSigners = "allowed_signers"

// Audit event types appended by this package.
const (
	AuditSignersSet    = "signers.set"
	AuditWaiverAdded   = "waiver.added"
	AuditWaiverRevoked = "waiver.revoked"
)

// ErrNoSigners reports that no allowed-signers file is configured.
var ErrNoSigners = errors.New("no allowed-signers file: give --allowed-signers FILE, set MLRUN_ALLOWED_SIGNERS, or store one with 'mlrun signers set FILE'")

// Signers is an allowed-signers file (ssh-keygen(1) ALLOWED SIGNERS) and
// where it came from.
type Signers struct {
	Set *sshsig.AllowedSigners
	// Text is the file's content and Object its id (stored and pinned
	// when a decision is recorded with it, so that the decision can be
	// re-verified against the very file that allowed it).
	Text   []byte
	Object lineage.ID
	// Source names the file ("store", a path).
	Source string
}

// ParseSigners parses an allowed-signers file read from source.
func ParseSigners(data []byte, source string) (*Signers, error) {
	set, err := sshsig.ParseAllowedSigners(data)
	if err != nil {
		return nil, pipeline.Invalidf("allowed signers %s: %v", source, err)
	}
	if set.Len() == 0 {
		return nil, pipeline.Invalidf("allowed signers %s: no keys listed", source)
	}
	return &Signers{Set: set, Text: data, Object: lineage.Hash(data), Source: source}, nil
}

// SignersRecord is the store's record of its allowed-signers file.
type SignersRecord struct {
	// Object holds the file (pinned).
	Object lineage.ID `json:"object"`
	Time   time.Time  `json:"time"`
	Actor  string     `json:"actor"`
	// SignedBy is the principal whose signature (namespace
	// mlrun-signers, by a key the previous file allowed) authorised the
	// change; empty for the first file (trust on first use).
	SignedBy string `json:"signed_by,omitempty"`
	Key      string `json:"key,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// reader reads records: a lineage.View or a lineage.Tx.
type reader interface {
	Get(ctx context.Context, ns, name string) ([]byte, error)
	GetJSON(ctx context.Context, ns, name string, out any) error
}

// StoreSigners returns the store's allowed-signers file, or an error
// wrapping ErrNoSigners when it has none.
func StoreSigners(ctx context.Context, st *lineage.Store) (*Signers, error) {
	v, err := st.View(ctx)
	if err != nil {
		return nil, err
	}
	return storeSigners(ctx, st, v)
}

func storeSigners(ctx context.Context, st *lineage.Store, v reader) (*Signers, error) {
	var rec SignersRecord
	err := v.GetJSON(ctx, NS, recordSigners, &rec)
	if errors.Is(err, lineage.ErrNotFound) {
		return nil, ErrNoSigners
	}
	if err != nil {
		return nil, fmt.Errorf("allowed signers: %w", err)
	}
	data, err := st.GetObject(ctx, rec.Object)
	if err != nil {
		return nil, fmt.Errorf("allowed signers: object %s: %w", rec.Object.Short(), err)
	}
	return ParseSigners(data, "store")
}

// SignersChange returns the text a key the store's current allowed-signers
// file allows must sign (namespace mlrun-signers) to replace it with data.
func SignersChange(data []byte, reason string) []byte {
	return Payload("allowed-signers", [][2]string{{"sha256", lineage.Hash(data).String()}, {"reason", reason}})
}

// SetSigners makes data the store's allowed-signers file. The first file
// is taken as given (trust on first use); replacing it needs signature, a
// signature of SignersChange(data, reason) by a key the current file
// allows. The change is audited and the file pinned.
func SetSigners(ctx context.Context, st *lineage.Store, data []byte, reason string, signature []byte) (*SignersRecord, string, error) {
	next, err := ParseSigners(data, "the new file")
	if err != nil {
		return nil, "", err
	}
	actor, _ := st.Actor()
	var rec *SignersRecord
	unlock, err := st.RunLock(ctx)
	if err != nil {
		return nil, "", err
	}
	defer unlock()
	if _, err := st.PutBytes(ctx, data); err != nil {
		return nil, "", err
	}
	c, err := st.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
		rec = &SignersRecord{Object: next.Object, Time: time.Now().UTC(), Actor: actor, Reason: reason}
		cur, err := storeSigners(ctx, st, tx)
		switch {
		case errors.Is(err, ErrNoSigners):
		case err != nil:
			return err
		default:
			if cur.Object == next.Object {
				return pipeline.Invalidf("the store already has this allowed-signers file")
			}
			if len(signature) == 0 {
				return pipeline.Invalidf("the store has an allowed-signers file: replacing it needs a signature by a key it allows (namespace %s; --key or --signature)", NamespaceSigners)
			}
			p, sig, err := cur.Set.Verify(signature, NamespaceSigners, SignersChange(data, reason), time.Now())
			if err != nil {
				return pipeline.WithExitCode(pipeline.ExitCheckFailed, fmt.Errorf("allowed signers not replaced: %w", err))
			}
			rec.SignedBy, rec.Key = p, sshsig.Fingerprint(sig.Key)
		}
		if _, err := tx.PutJSON(ctx, NS, recordSigners, rec); err != nil {
			return err
		}
		if err := pinSigners(ctx, tx, next.Object); err != nil {
			return err
		}
		tx.Audit(lineage.AuditEntry{Type: AuditSignersSet, Detail: map[string]string{
			"object": next.Object.String(), "keys": fmt.Sprint(next.Set.Len()), "signed_by": rec.SignedBy, "reason": reason,
		}})
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return rec, c.Head, nil
}

// pinSigners pins an allowed-signers file object for good.
func pinSigners(ctx context.Context, tx *lineage.Tx, id lineage.ID) error {
	return tx.PutPin(ctx, "allowed-signers-"+id.String()[:16], &lineage.Pin{Objects: []lineage.ID{id}, Why: "allowed-signers file of recorded decisions", Created: time.Now().UTC()})
}

// RecordSigners stores s's file (when it came from elsewhere than the
// store) and pins it in tx, so that a decision it allowed can be
// re-verified later. Callers hold the store's RunLock.
func RecordSigners(ctx context.Context, st *lineage.Store, tx *lineage.Tx, s *Signers) error {
	if _, err := st.PutBytes(ctx, s.Text); err != nil {
		return err
	}
	return pinSigners(ctx, tx, s.Object)
}

// Decision is a verified signature of a decision payload.
type Decision struct {
	// Principal is the allowed signer's principal, Key the key's SHA256
	// fingerprint, Signature the armored signature.
	Principal string `json:"principal"`
	Key       string `json:"key"`
	Signature string `json:"signature"`
	// Signers is the allowed-signers file that allowed the key.
	Signers lineage.ID `json:"allowed_signers"`
}

// VerifyDecision checks signature as a signature of payload in namespace
// by a key signers allow now. An error is a refusal (exit code 1).
func VerifyDecision(signers *Signers, namespace string, payload, signature []byte, now time.Time) (*Decision, error) {
	if signers == nil {
		return nil, pipeline.WithExitCode(pipeline.ExitInvalid, ErrNoSigners)
	}
	if len(signature) == 0 {
		return nil, pipeline.WithExitCode(pipeline.ExitCheckFailed, fmt.Errorf("refused: not signed: a decision is valid only when signed by a key the allowed-signers file (%s) lists (--key or --signature)", signers.Source))
	}
	p, sig, err := signers.Set.Verify(signature, namespace, payload, now)
	if err != nil {
		return nil, pipeline.WithExitCode(pipeline.ExitCheckFailed, fmt.Errorf("refused: signature not accepted (allowed signers: %s): %w", signers.Source, err))
	}
	return &Decision{Principal: p, Key: sshsig.Fingerprint(sig.Key), Signature: string(signature), Signers: signers.Object}, nil
}

// Reverify checks a recorded decision again against the allowed-signers
// file it was recorded with (read from the store).
func Reverify(ctx context.Context, st *lineage.Store, d *Decision, namespace string, payload []byte, at time.Time) error {
	data, err := st.GetObject(ctx, d.Signers)
	if err != nil {
		return fmt.Errorf("allowed-signers file %s: %w", d.Signers.Short(), err)
	}
	s, err := ParseSigners(data, "recorded "+d.Signers.Short())
	if err != nil {
		return err
	}
	p, _, err := s.Set.Verify([]byte(d.Signature), namespace, payload, at)
	if err != nil {
		return err
	}
	if p != d.Principal {
		return fmt.Errorf("signed by %s, recorded as %s", p, d.Principal)
	}
	return nil
}

// Payload renders the text a decision's signature signs: a first line
// "mlrun KIND v1", then one "key: value" line per field, in order. Values
// are quoted (Go syntax) when they hold a newline or leading or trailing
// space, so that the text is unambiguous.
func Payload(kind string, fields [][2]string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "mlrun %s v1\n", kind)
	for _, f := range fields {
		v := f[1]
		if strings.ContainsAny(v, "\n\r\"") || strings.TrimSpace(v) != v {
			v = fmt.Sprintf("%q", v)
		}
		fmt.Fprintf(&b, "%s: %s\n", f[0], v)
	}
	return []byte(b.String())
}

// Signer signs decision payloads with an SSH key.
type Signer struct {
	Key ssh.Signer
}

// Sign signs payload in namespace (an armored SSH signature, as
// ssh-keygen -Y sign makes).
func (s Signer) Sign(namespace string, payload []byte) ([]byte, error) {
	return sshsig.Sign(s.Key, namespace, payload)
}
