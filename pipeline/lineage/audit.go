package lineage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The audit log is an append-only, hash-chained sequence of entries, one
// record per entry in records/audit/<seq>.json (seq zero-padded to 12
// digits, from 1), plus records/audithead/head.json naming the last entry.
//
// Each record is {"hash": H, "entry": E} where E is the compact JSON of an
// AuditEntry and H the hex SHA-256 of exactly the bytes of E. An entry holds
// the hash of the entry before it (Prev; 64 zeros for the first), so that
// changing, removing or reordering any entry breaks every later link. The
// last hash (the head) is printed by every command that appends, so that it
// can be copied into a ticket or a signed git tag: an attacker who rewrites
// the whole chain consistently still cannot match a head recorded elsewhere.
const (
	nsAudit     = "audit"
	nsAuditHead = "audithead"
	lockAudit   = "audit"
)

// ZeroHash is the Prev of the first audit entry.
const ZeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// Audit event types.
const (
	AuditRunStarted   = "run.started"
	AuditRunFinished  = "run.finished"
	AuditStepExecuted = "step.executed"
	AuditStepCached   = "step.cached"
	AuditGC           = "gc"
)

// AuditEntry is one event of the audit log.
type AuditEntry struct {
	// Seq numbers entries from 1 without gaps.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Type is one of the Audit* constants (or a later kind's own).
	Type string `json:"type"`
	User string `json:"user,omitempty"`
	Host string `json:"host,omitempty"`
	// Run and Step name what the event is about, when it is about a run.
	Run  string `json:"run,omitempty"`
	Step string `json:"step,omitempty"`
	// Pipeline is the pipeline's name, for run and step events.
	Pipeline string `json:"pipeline,omitempty"`
	// Detail holds the event's facts: status, cache key, object ids, counts.
	Detail map[string]string `json:"detail,omitempty"`
	// Prev is the hash of the previous entry.
	Prev string `json:"prev"`
}

// AuditRecord is a stored entry with its hash.
type AuditRecord struct {
	Hash  string          `json:"hash"`
	Entry json.RawMessage `json:"entry"`
}

type auditHead struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

func auditName(seq uint64) string { return fmt.Sprintf("%012d", seq) }

// AppendAudit appends entries to the audit log, filling in Seq, Prev, and
// (when empty) Time, User and Host, and returns the new head hash. Appends
// are serialised by the "audit" lock, across processes.
func (s *Store) AppendAudit(ctx context.Context, entries ...AuditEntry) (string, error) {
	lctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	unlock, err := s.b.Lock(lctx, lockAudit, true)
	if err != nil {
		return "", fmt.Errorf("audit log: %w", err)
	}
	defer unlock()
	head, err := s.auditTail(ctx)
	if err != nil {
		return "", err
	}
	who, host := Who()
	recs := make([]Record, 0, len(entries))
	for _, e := range entries {
		e.Seq = head.Seq + 1
		e.Prev = head.Hash
		if e.Time.IsZero() {
			e.Time = time.Now()
		}
		e.Time = e.Time.UTC()
		if e.User == "" {
			e.User = who
		}
		if e.Host == "" {
			e.Host = host
		}
		raw, err := json.Marshal(e)
		if err != nil {
			return "", fmt.Errorf("audit log: encode entry: %w", err)
		}
		sum := sha256.Sum256(raw)
		rec, err := json.Marshal(AuditRecord{Hash: hex.EncodeToString(sum[:]), Entry: raw})
		if err != nil {
			return "", fmt.Errorf("audit log: encode record: %w", err)
		}
		recs = append(recs, Record{Name: auditName(e.Seq), Data: append(rec, '\n')})
		head = auditHead{Seq: e.Seq, Hash: hex.EncodeToString(sum[:])}
	}
	// Entries first, in order, then the head (auditTail moves forward over
	// entries a crash left beyond it); a batching backend syncs once.
	if rp, ok := s.b.(RecordsPutter); ok && len(recs) > 1 {
		if err := rp.PutRecords(ctx, nsAudit, recs); err != nil {
			return "", fmt.Errorf("audit log: %w", err)
		}
	} else {
		for _, r := range recs {
			if err := s.b.PutRecord(ctx, nsAudit, r.Name, r.Data); err != nil {
				return "", fmt.Errorf("audit log: %w", err)
			}
		}
	}
	if err := s.putJSON(ctx, nsAuditHead, "head", head); err != nil {
		return "", fmt.Errorf("audit log: %w", err)
	}
	return head.Hash, nil
}

// auditTail returns the last entry's seq and hash: the head record, moved
// forward over entries written by an append that was interrupted before it
// updated the head.
func (s *Store) auditTail(ctx context.Context) (auditHead, error) {
	head := auditHead{Hash: ZeroHash}
	if err := s.getJSON(ctx, nsAuditHead, "head", &head); err != nil && !errors.Is(err, ErrNotFound) {
		return head, fmt.Errorf("audit log: %w", err)
	}
	for {
		b, err := s.b.GetRecord(ctx, nsAudit, auditName(head.Seq+1))
		if errors.Is(err, ErrNotFound) {
			return head, nil
		}
		if err != nil {
			return head, fmt.Errorf("audit log: %w", err)
		}
		var rec AuditRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return head, fmt.Errorf("audit log: entry %d: %w", head.Seq+1, err)
		}
		head = auditHead{Seq: head.Seq + 1, Hash: rec.Hash}
	}
}

// AuditHead returns the hash of the last audit entry (ZeroHash for an
// empty log) and its sequence number.
func (s *Store) AuditHead(ctx context.Context) (string, uint64, error) {
	h, err := s.auditTail(ctx)
	return h.Hash, h.Seq, err
}

// AuditLog returns every audit entry, oldest first, with its hash. It does
// not check the chain: VerifyAudit does.
func (s *Store) AuditLog(ctx context.Context) ([]AuditEntry, []string, error) {
	names, err := s.b.ListRecords(ctx, nsAudit)
	if err != nil {
		return nil, nil, fmt.Errorf("audit log: %w", err)
	}
	entries := make([]AuditEntry, 0, len(names))
	hashes := make([]string, 0, len(names))
	for _, n := range names {
		b, err := s.b.GetRecord(ctx, nsAudit, n)
		if err != nil {
			return nil, nil, fmt.Errorf("audit log: %s: %w", n, err)
		}
		var rec AuditRecord
		var e AuditEntry
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, nil, fmt.Errorf("audit log: entry %s: %w", n, err)
		}
		if err := json.Unmarshal(rec.Entry, &e); err != nil {
			return nil, nil, fmt.Errorf("audit log: entry %s: %w", n, err)
		}
		entries = append(entries, e)
		hashes = append(hashes, rec.Hash)
	}
	return entries, hashes, nil
}

// AuditReport is the outcome of VerifyAudit.
type AuditReport struct {
	// Entries counts the entries checked.
	Entries int `json:"entries"`
	// Head is the hash of the last entry.
	Head string `json:"head"`
	// Problems describe broken links, bad hashes and gaps, by entry.
	Problems []string `json:"problems,omitempty"`
}

// OK reports whether the chain is intact.
func (r *AuditReport) OK() bool { return len(r.Problems) == 0 }

// VerifyAudit re-hashes every audit entry and checks the chain: sequence
// numbers from 1 without gaps, each entry's Prev equal to the hash of the
// one before, each hash equal to the SHA-256 of the entry's bytes, and the
// head record not ahead of the log (entries removed from the end).
func (s *Store) VerifyAudit(ctx context.Context) (*AuditReport, error) {
	names, err := s.b.ListRecords(ctx, nsAudit)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	rep := &AuditReport{Head: ZeroHash}
	prev := ZeroHash
	for i, n := range names {
		want := uint64(i + 1)
		rep.Entries++
		seq, perr := strconv.ParseUint(strings.TrimLeft(n, "0"), 10, 64)
		if perr != nil || seq != want {
			rep.Problems = append(rep.Problems, fmt.Sprintf("entry %s: expected entry %d here (entries missing or renamed)", n, want))
		}
		b, err := s.b.GetRecord(ctx, nsAudit, n)
		if err != nil {
			return nil, fmt.Errorf("audit log: %s: %w", n, err)
		}
		var rec AuditRecord
		var e AuditEntry
		if err := json.Unmarshal(b, &rec); err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("entry %s: unreadable: %v", n, err))
			prev = ""
			continue
		}
		sum := sha256.Sum256(rec.Entry)
		if got := hex.EncodeToString(sum[:]); got != rec.Hash {
			rep.Problems = append(rep.Problems, fmt.Sprintf("entry %s: content does not match its hash (altered): hash %s, content hashes to %s", n, short(rec.Hash), short(got)))
		}
		if err := json.Unmarshal(rec.Entry, &e); err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("entry %s: unreadable: %v", n, err))
		} else {
			if e.Seq != seq {
				rep.Problems = append(rep.Problems, fmt.Sprintf("entry %s: holds seq %d", n, e.Seq))
			}
			if prev != "" && e.Prev != prev {
				rep.Problems = append(rep.Problems, fmt.Sprintf("entry %s: prev %s does not match the hash of the entry before, %s (an entry was altered, removed or inserted)", n, short(e.Prev), short(prev)))
			}
		}
		prev = rec.Hash
		rep.Head = rec.Hash
	}
	var head auditHead
	switch err := s.getJSON(ctx, nsAuditHead, "head", &head); {
	case errors.Is(err, ErrNotFound):
		if len(names) > 0 {
			rep.Problems = append(rep.Problems, "head record missing")
		}
	case err != nil:
		rep.Problems = append(rep.Problems, fmt.Sprintf("head record: %v", err))
	case head.Seq > uint64(len(names)):
		rep.Problems = append(rep.Problems, fmt.Sprintf("head record names entry %d but the log ends at %d (entries removed from the end)", head.Seq, len(names)))
	case head.Seq > 0 && head.Seq <= uint64(len(names)):
		// The head may lag after an interrupted append; it must match the
		// entry it names.
		var rec AuditRecord
		if b, err := s.b.GetRecord(ctx, nsAudit, auditName(head.Seq)); err == nil && json.Unmarshal(b, &rec) == nil && rec.Hash != head.Hash {
			rep.Problems = append(rep.Problems, fmt.Sprintf("head record hash %s does not match entry %d (%s)", short(head.Hash), head.Seq, short(rec.Hash)))
		}
	}
	return rep, nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
