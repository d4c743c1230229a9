package lineage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Signed audit heads. The hash chain makes every change to the log
// visible except one: whoever can write the store can append entries that
// chain correctly. A head signed with a key the writer does not have closes
// that gap: with a HeadSigner configured (WithHeadSigner), every commit's
// head is signed right after the commit, into records/auditsig/<head>.json,
// and VerifyHeads checks the signatures against the keys allowed to sign.
// A signature of commit n covers every entry up to it, since the head
// chains through them all, so what VerifyHeads reports is the tail: commits
// after the last validly signed one were appended without the key (or
// their signing failed: 'mlrun audit sign' signs the tip after a review).
// A valid signature of a head that is no longer in the chain proves the log
// was rewritten or truncated from that commit on.
//
// Signatures are named by the head they sign, not by commit number, so
// that writers racing for commit n never overwrite each other's.
const nsAuditSig = "auditsig"

// HeadSigner signs audit heads: Sign returns a signature of message. The
// CLI signs with an SSH key (ssh-keygen -Y sign, namespace "mlrun-audit");
// KeyID names the key that signed (its fingerprint), after a Sign.
type HeadSigner interface {
	Sign(message []byte) ([]byte, error)
	KeyID() string
}

// HeadVerifier checks signature as a signature of message made at time at,
// and returns who made it (the allowed signer's principal).
type HeadVerifier func(message, signature []byte, at time.Time) (signer string, err error)

// SignedHead is a signature of an audit head: records/auditsig/<head>.json.
type SignedHead struct {
	Commit uint64    `json:"commit"`
	Seq    uint64    `json:"seq"`
	Head   string    `json:"head"`
	Time   time.Time `json:"time"`
	// Key names the signing key (its fingerprint; the verifier names the
	// key's principal).
	Key string `json:"key,omitempty"`
	// Signature is the signature of Message() (an armored SSH
	// signature).
	Signature string `json:"signature"`
}

// Message returns the signed text: the commit, sequence number, head and
// time, one per line.
func (h *SignedHead) Message() []byte {
	return fmt.Appendf(nil, "mlrun audit head v1\ncommit %d\nseq %d\nhead %s\ntime %s\n",
		h.Commit, h.Seq, h.Head, h.Time.UTC().Format(time.RFC3339Nano))
}

// Anchor renders the head as one line, for a CI job summary or a ticket:
// it names the commit, sequence number, head and signing key, so that
// 'mlrun audit verify --head HASH' can check it later.
func (h *SignedHead) Anchor() string {
	return fmt.Sprintf("mlrun audit head commit=%d seq=%d head=%s time=%s key=%s",
		h.Commit, h.Seq, h.Head, h.Time.UTC().Format(time.RFC3339), h.Key)
}

// signHead signs commit c's head and stores the signature.
func (s *Store) signHead(ctx context.Context, c *Commit, at time.Time) (*SignedHead, error) {
	sh := &SignedHead{Commit: c.N, Seq: c.Seq, Head: c.Head, Time: at.UTC()}
	sig, err := s.signer.Sign(sh.Message())
	if err != nil {
		return nil, fmt.Errorf("sign audit head %s: %w", short(c.Head), err)
	}
	sh.Signature, sh.Key = string(sig), s.signer.KeyID()
	data, err := json.Marshal(sh)
	if err != nil {
		return nil, fmt.Errorf("sign audit head: %w", err)
	}
	if err := s.b.PutRecord(ctx, nsAuditSig, c.Head, append(data, '\n')); err != nil {
		return nil, fmt.Errorf("sign audit head %s: %w", short(c.Head), err)
	}
	return sh, nil
}

// SignHead signs the tip of the audit log with the store's HeadSigner
// (after a review of commits appended unsigned) and returns the signature.
func (s *Store) SignHead(ctx context.Context) (*SignedHead, error) {
	if s.signer == nil {
		return nil, errors.New("sign audit head: no signing key configured (MLRUN_SIGNING_KEY)")
	}
	if s.readOnly {
		return nil, fmt.Errorf("sign audit head: %w", ErrReadOnly)
	}
	t, err := s.readTip(ctx)
	if err != nil {
		return nil, err
	}
	if t.commit == 0 {
		return nil, errors.New("sign audit head: the audit log is empty")
	}
	return s.signHead(ctx, &Commit{N: t.commit, Seq: t.seq, Head: t.hash, State: t.state}, s.now())
}

// HeadSignature returns the stored signature of the head hash, or an error
// wrapping ErrNotFound.
func (s *Store) HeadSignature(ctx context.Context, head string) (*SignedHead, error) {
	b, err := s.b.GetRecord(ctx, nsAuditSig, head)
	if err != nil {
		return nil, fmt.Errorf("signature of audit head %s: %w", short(head), err)
	}
	var sh SignedHead
	if err := json.Unmarshal(b, &sh); err != nil {
		return nil, fmt.Errorf("signature of audit head %s: %w: %v", short(head), ErrInvalidData, err)
	}
	return &sh, nil
}

// HeadReport is the outcome of VerifyHeads.
type HeadReport struct {
	// Commits is the number of commits in the log.
	Commits uint64 `json:"commits"`
	// Signed lists the valid signatures, oldest commit first.
	Signed []HeadCheck `json:"signed,omitempty"`
	// LastSigned is the last commit a valid signature covers (0: none).
	LastSigned uint64 `json:"last_signed"`
	// Unsigned counts the commits after LastSigned.
	Unsigned uint64 `json:"unsigned"`
	// Problems: invalid signatures, signed heads no longer in the log,
	// and an unsigned tail.
	Problems []string `json:"problems,omitempty"`
}

// HeadCheck is one valid head signature.
type HeadCheck struct {
	Commit uint64    `json:"commit"`
	Head   string    `json:"head"`
	Signer string    `json:"signer"`
	Time   time.Time `json:"time"`
}

// OK reports whether every commit is covered by a valid signature and no
// signed head was rewritten.
func (r *HeadReport) OK() bool { return len(r.Problems) == 0 }

// VerifyHeads checks every stored head signature with verify: each must be
// valid and sign a head that is in the log at the commit it names, and the
// log's last commit must be covered by a valid signature (of itself, or of
// no earlier commit: a signature covers the commits up to the one it
// signs). An empty log is fine.
func (s *Store) VerifyHeads(ctx context.Context, verify HeadVerifier) (*HeadReport, error) {
	heads := map[string]uint64{} // a commit's head -> commit number
	var last uint64
	err := s.auditCommits(ctx, func(name string, c *auditCommit, err error) error {
		if err != nil {
			return fmt.Errorf("audit log: %w (run mlrun audit verify)", err)
		}
		_, h := c.last()
		heads[h] = c.n
		last = max(last, c.n)
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep := &HeadReport{Commits: last}
	names, err := s.b.ListRecords(ctx, nsAuditSig)
	if err != nil {
		return nil, fmt.Errorf("audit head signatures: %w", err)
	}
	for _, name := range names {
		sh, err := s.HeadSignature(ctx, name)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			rep.Problems = append(rep.Problems, err.Error())
			continue
		}
		where := "commit " + strconv.FormatUint(sh.Commit, 10)
		if sh.Head != name {
			rep.Problems = append(rep.Problems, fmt.Sprintf("signature record %s names head %s (moved)", short(name), short(sh.Head)))
			continue
		}
		signer, verr := verify(sh.Message(), []byte(sh.Signature), sh.Time)
		n, inLog := heads[sh.Head]
		switch {
		case verr != nil && inLog:
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: head signature invalid: %v", where, verr))
		case verr != nil:
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: an invalid signature (%v) of head %s, which is not in the log", where, verr, short(sh.Head)))
		case !inLog:
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: head %s, signed by %s at %s, is no longer in the log: the log was rewritten or truncated from commit %d on",
				where, short(sh.Head), signer, sh.Time.UTC().Format(time.RFC3339), sh.Commit))
		case n != sh.Commit:
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: the signed head is commit %d of the log (renumbered)", where, n))
		default:
			rep.Signed = append(rep.Signed, HeadCheck{Commit: n, Head: sh.Head, Signer: signer, Time: sh.Time})
			rep.LastSigned = max(rep.LastSigned, n)
		}
	}
	sort.Slice(rep.Signed, func(i, j int) bool { return rep.Signed[i].Commit < rep.Signed[j].Commit })
	rep.Unsigned = last - rep.LastSigned
	switch {
	case last == 0:
	case rep.LastSigned == 0:
		rep.Problems = append(rep.Problems, fmt.Sprintf("no commit of the %d is covered by a valid head signature", last))
	case rep.Unsigned > 0:
		var how []string
		for n := rep.LastSigned + 1; n <= last && len(how) < 5; n++ {
			if c, err := s.readCommit(ctx, n); err == nil && len(c.entries) > 0 {
				e := c.entries[len(c.entries)-1]
				how = append(how, fmt.Sprintf("commit %d %s by %s", n, e.Type, firstNonEmpty(e.Actor, e.User+"@"+e.Host)))
			}
		}
		rep.Problems = append(rep.Problems, fmt.Sprintf("commits %d to %d are not covered by a valid head signature: appended without the signing key (forged?) or their signing failed (%s); after review, 'mlrun audit sign' covers them",
			rep.LastSigned+1, last, strings.Join(how, "; ")))
	}
	return rep, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
