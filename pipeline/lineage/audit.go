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

// The audit log is an append-only, hash-chained sequence of entries, grouped
// in commits: records/audit/<n>.json holds commit n (zero-padded to 12
// digits, from 1), one or more entries written together, atomically and
// exclusively (Backend.CreateRecord): a commit is there whole or not at all,
// and two writers can never both create commit n.
//
// Each entry is stored as {"hash": H, "entry": E} where E is the compact JSON
// of an AuditEntry and H the hex SHA-256 of exactly the bytes of E. An entry
// holds the hash of the entry before it (Prev; 64 zeros for the first), so
// that changing, removing or reordering any entry breaks every later link.
// The last entry of every commit names the state tree after the commit
// (State) and the records it wrote (Writes): the chain is the store's
// history and its tip is the store's state (see state.go).
//
// records/audithead/head.json is a hint, the last commit seen: readers move
// forward over commits beyond it, so a hint lost or lagging costs a few
// reads and changes nothing. The last entry's hash (the head) is printed by
// every command that commits, so that it can be copied into a ticket or a
// signed git tag: an attacker who rewrites the tail of the chain
// consistently still cannot match a head recorded elsewhere.
//
// Stores of layout version 1 hold one entry per record, {"hash", "entry"}:
// such a record is read as a commit of one entry.
const (
	nsAudit     = "audit"
	nsAuditHead = "audithead"
	lockAudit   = "audit"
)

// ZeroHash is the Prev of the first audit entry.
const ZeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// Audit event types.
const (
	AuditRunStarted     = "run.started"
	AuditRunFinished    = "run.finished"
	AuditRunInterrupted = "run.interrupted"
	AuditRunUpdated     = "run.updated"
	AuditStepExecuted   = "step.executed"
	AuditStepCached     = "step.cached"
	AuditGC             = "gc"
	// AuditRecordsUpdated is the entry of a commit that gave none.
	AuditRecordsUpdated = "records.updated"
	// AuditStoreUpgraded records the import of a layout version 1 store's
	// records into the state tree.
	AuditStoreUpgraded = "store.upgraded"
)

// AuditEntry is one event of the audit log.
type AuditEntry struct {
	// Seq numbers entries from 1 without gaps.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Type is one of the Audit* constants (or a later kind's own).
	Type string `json:"type"`
	// Actor is the principal who acted (an e-mail address, a CI
	// account) and Via where the claim came from (MLRUN_ACTOR, GitHub
	// Actions, git config, os): a claim, not a proof (see Store.Actor).
	Actor string `json:"actor,omitempty"`
	Via   string `json:"via,omitempty"`
	// User and Host are the operating system's user and host.
	User string `json:"user,omitempty"`
	Host string `json:"host,omitempty"`
	// Run and Step name what the event is about, when it is about a run.
	Run  string `json:"run,omitempty"`
	Step string `json:"step,omitempty"`
	// Pipeline is the pipeline's name, for run and step events.
	Pipeline string `json:"pipeline,omitempty"`
	// Detail holds the event's facts: status, cache key, object ids, counts.
	Detail map[string]string `json:"detail,omitempty"`
	// Writes (last entry of a commit) lists the records the commit wrote:
	// "namespace/name" -> the record's object id, "" for a removed record.
	Writes map[string]string `json:"writes,omitempty"`
	// State (last entry of a commit) is the id of the state tree's root
	// after the commit.
	State string `json:"state,omitempty"`
	// Prev is the hash of the previous entry.
	Prev string `json:"prev"`
}

// AuditRecord is a stored entry with its hash.
type AuditRecord struct {
	Hash  string          `json:"hash"`
	Entry json.RawMessage `json:"entry"`
}

// commitRecord is the stored form of a commit: records/audit/<n>.json.
type commitRecord struct {
	Commit  uint64        `json:"commit"`
	Entries []AuditRecord `json:"entries"`
}

// auditCommit is a decoded commit.
type auditCommit struct {
	n uint64
	// claimed is the number the record holds (n unless it was renamed).
	claimed uint64
	records []AuditRecord
	entries []AuditEntry
}

// last returns the commit's last entry and its hash.
func (c *auditCommit) last() (*AuditEntry, string) {
	if len(c.entries) == 0 {
		return nil, ZeroHash
	}
	return &c.entries[len(c.entries)-1], c.records[len(c.records)-1].Hash
}

type auditHead struct {
	Commit uint64 `json:"commit"`
	Seq    uint64 `json:"seq"`
	Hash   string `json:"hash"`
}

func auditName(n uint64) string { return fmt.Sprintf("%012d", n) }

// parseCommit decodes commit n. It does not check hashes or links.
func parseCommit(n uint64, b []byte) (*auditCommit, error) {
	var cr commitRecord
	if err := json.Unmarshal(b, &cr); err != nil {
		return nil, fmt.Errorf("audit commit %d: %w", n, err)
	}
	if len(cr.Entries) == 0 {
		// Layout 1: one {"hash", "entry"} per record.
		var rec AuditRecord
		if err := json.Unmarshal(b, &rec); err != nil || rec.Hash == "" || len(rec.Entry) == 0 {
			return nil, fmt.Errorf("audit commit %d: holds no entries", n)
		}
		cr.Entries = []AuditRecord{rec}
		cr.Commit = n
	}
	c := &auditCommit{n: n, claimed: cr.Commit, records: cr.Entries, entries: make([]AuditEntry, len(cr.Entries))}
	for i, r := range cr.Entries {
		if err := json.Unmarshal(r.Entry, &c.entries[i]); err != nil {
			return nil, fmt.Errorf("audit commit %d: entry %d: %w", n, i+1, err)
		}
	}
	return c, nil
}

// readCommit reads and decodes commit n; a missing one wraps ErrNotFound.
func (s *Store) readCommit(ctx context.Context, n uint64) (*auditCommit, error) {
	b, err := s.b.GetRecord(ctx, nsAudit, auditName(n))
	if err != nil {
		return nil, err
	}
	return parseCommit(n, b)
}

// checkEntries re-hashes a commit's entries and checks their links from
// prev, the hash of the entry before the commit.
func checkEntries(c *auditCommit, prev string, seq uint64) error {
	for i, r := range c.records {
		sum := sha256.Sum256(r.Entry)
		if got := hex.EncodeToString(sum[:]); got != r.Hash {
			return fmt.Errorf("audit commit %d entry %d: content does not match its hash (altered): %w", c.n, i+1, ErrInvalidData)
		}
		e := &c.entries[i]
		if prev != "" && e.Prev != prev {
			return fmt.Errorf("audit commit %d entry %d: prev does not match the entry before it: %w", c.n, i+1, ErrInvalidData)
		}
		if seq != 0 && e.Seq != seq+uint64(i) {
			return fmt.Errorf("audit commit %d entry %d: seq %d, want %d: %w", c.n, i+1, e.Seq, seq+uint64(i), ErrInvalidData)
		}
		prev = r.Hash
	}
	return nil
}

// tip is the last commit of the chain.
type tip struct {
	commit uint64
	seq    uint64
	hash   string
	// state is the root the last commit names (zero for an empty store).
	state ID
	// legacy is set when the last entry names no state (a layout 1 chain).
	legacy bool
}

// readTip finds the last commit: from the head hint, moving forward over the
// commits beyond it. The last commit's entries are re-hashed and linked, so
// an altered tip is an error wrapping ErrInvalidData.
func (s *Store) readTip(ctx context.Context) (tip, error) {
	var h auditHead
	if b, err := s.b.GetRecord(ctx, nsAuditHead, "head"); err == nil {
		if json.Unmarshal(b, &h) == nil && h.Commit == 0 {
			h.Commit = h.Seq // a layout 1 hint: one entry per commit
		}
	} else if !errors.Is(err, ErrNotFound) {
		return tip{}, fmt.Errorf("audit log: %w", err)
	}
	n := h.Commit
	var last *auditCommit
	for {
		c, err := s.readCommit(ctx, n+1)
		if errors.Is(err, ErrNotFound) {
			break
		}
		if err != nil {
			return tip{}, fmt.Errorf("audit log: %w", err)
		}
		n, last = n+1, c
	}
	if n == 0 {
		return tip{hash: ZeroHash}, nil
	}
	if last == nil {
		c, err := s.readCommit(ctx, n)
		if errors.Is(err, ErrNotFound) {
			// The hint is ahead of the log: entries removed from the end.
			return tip{}, fmt.Errorf("audit log: the head names commit %d, which is missing (commits removed from the end?): %w", n, ErrInvalidData)
		}
		if err != nil {
			return tip{}, fmt.Errorf("audit log: %w", err)
		}
		last = c
	}
	if err := checkEntries(last, "", 0); err != nil {
		return tip{}, fmt.Errorf("audit log: %w", err)
	}
	if last.claimed != n {
		return tip{}, fmt.Errorf("audit log: commit %d holds commit %d: %w", n, last.claimed, ErrInvalidData)
	}
	e, hash := last.last()
	t := tip{commit: n, seq: e.Seq, hash: hash}
	if e.State == "" {
		t.legacy = true
		return t, nil
	}
	id, err := ParseID(e.State)
	if err != nil {
		return tip{}, fmt.Errorf("audit log: commit %d: state: %w", n, err)
	}
	t.state = id
	return t, nil
}

// AppendAudit commits entries that write no record and returns the new
// head. See Update.
func (s *Store) AppendAudit(ctx context.Context, entries ...AuditEntry) (string, error) {
	c, err := s.Update(ctx, func(ctx context.Context, tx *Tx) error {
		tx.Audit(entries...)
		return nil
	})
	if err != nil {
		return "", err
	}
	return c.Head, nil
}

// AuditHead returns the hash of the last audit entry (ZeroHash for an
// empty log) and its sequence number.
func (s *Store) AuditHead(ctx context.Context) (string, uint64, error) {
	t, err := s.readTip(ctx)
	return t.hash, t.seq, err
}

// auditCommits reads every commit, oldest first, calling fn on each;
// undecodable commits are passed with their error.
func (s *Store) auditCommits(ctx context.Context, fn func(name string, c *auditCommit, err error) error) error {
	names, err := s.b.ListRecords(ctx, nsAudit)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	for _, name := range names {
		n, perr := strconv.ParseUint(strings.TrimLeft(name, "0"), 10, 64)
		b, err := s.b.GetRecord(ctx, nsAudit, name)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("audit log: %s: %w", name, err)
		}
		var c *auditCommit
		if perr != nil {
			err = fmt.Errorf("audit record %s: not a commit number", name)
		} else {
			c, err = parseCommit(n, b)
		}
		if ferr := fn(name, c, err); ferr != nil {
			return ferr
		}
	}
	return nil
}

// AuditLog returns every audit entry, oldest first, with its hash. It does
// not check the chain: VerifyAudit does.
func (s *Store) AuditLog(ctx context.Context) ([]AuditEntry, []string, error) {
	var entries []AuditEntry
	var hashes []string
	err := s.auditCommits(ctx, func(name string, c *auditCommit, err error) error {
		if err != nil {
			return fmt.Errorf("audit log: %w", err)
		}
		entries = append(entries, c.entries...)
		for _, r := range c.records {
			hashes = append(hashes, r.Hash)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return entries, hashes, nil
}

// AuditReport is the outcome of VerifyAudit.
type AuditReport struct {
	// Entries counts the entries checked, Commits the commits.
	Entries int `json:"entries"`
	Commits int `json:"commits"`
	// Head is the hash of the last entry.
	Head string `json:"head"`
	// Problems describe broken links, bad hashes and gaps, by entry.
	Problems []string `json:"problems,omitempty"`
}

// OK reports whether the chain is intact.
func (r *AuditReport) OK() bool { return len(r.Problems) == 0 }

// VerifyAudit re-hashes every audit entry and checks the chain: commits
// numbered from 1 without gaps, entries numbered from 1 without gaps, each
// entry's Prev equal to the hash of the one before, each hash equal to the
// SHA-256 of the entry's bytes, and the head hint not ahead of the log
// (commits removed from the end). It does not check the states the commits
// name: Verify does.
func (s *Store) VerifyAudit(ctx context.Context) (*AuditReport, error) {
	rep := &AuditReport{Head: ZeroHash}
	prev := ZeroHash
	var wantCommit, wantSeq uint64 = 1, 1
	err := s.auditCommits(ctx, func(name string, c *auditCommit, err error) error {
		rep.Commits++
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("commit %s: unreadable: %v", name, err))
			prev = ""
			wantCommit++
			return nil
		}
		if c.n != wantCommit {
			rep.Problems = append(rep.Problems, fmt.Sprintf("commit %s: expected commit %d here (commits missing or renamed)", name, wantCommit))
		}
		if c.claimed != c.n {
			rep.Problems = append(rep.Problems, fmt.Sprintf("commit %s holds commit %d (commits renamed or swapped)", name, c.claimed))
		}
		wantCommit = c.n + 1
		for i, r := range c.records {
			rep.Entries++
			e := &c.entries[i]
			where := fmt.Sprintf("entry %d", e.Seq)
			sum := sha256.Sum256(r.Entry)
			if got := hex.EncodeToString(sum[:]); got != r.Hash {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s (commit %d): content does not match its hash (altered): hash %s, content hashes to %s", where, c.n, short(r.Hash), short(got)))
			}
			if e.Seq != wantSeq {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s (commit %d): expected entry %d here (entries missing, renumbered or inserted)", where, c.n, wantSeq))
			}
			wantSeq = e.Seq + 1
			if prev != "" && e.Prev != prev {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s (commit %d): prev %s does not match the hash of the entry before, %s (an entry was altered, removed or inserted)", where, c.n, short(e.Prev), short(prev)))
			}
			if (e.State != "" || len(e.Writes) > 0) && i != len(c.records)-1 {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s (commit %d): names a state but is not the commit's last entry", where, c.n))
			}
			prev = r.Hash
			rep.Head = r.Hash
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var h auditHead
	b, err := s.b.GetRecord(ctx, nsAuditHead, "head")
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		rep.Problems = append(rep.Problems, fmt.Sprintf("head record: %v", err))
	case json.Unmarshal(b, &h) != nil:
		rep.Problems = append(rep.Problems, "head record: unreadable")
	default:
		if h.Commit == 0 {
			h.Commit = h.Seq
		}
		if h.Commit > uint64(rep.Commits) {
			rep.Problems = append(rep.Problems, fmt.Sprintf("head record names commit %d but the log ends at %d (commits removed from the end)", h.Commit, rep.Commits))
		} else if h.Commit > 0 {
			if c, err := s.readCommit(ctx, h.Commit); err == nil {
				if _, hash := c.last(); hash != h.Hash {
					rep.Problems = append(rep.Problems, fmt.Sprintf("head record hash %s does not match commit %d (%s)", short(h.Hash), h.Commit, short(hash)))
				}
			}
		}
	}
	return rep, nil
}

// AuditContains reports whether an entry with the given hash is in the
// audit log (the ZeroHash, the head of an empty log, always is). Checked
// against a head recorded elsewhere, it catches what VerifyAudit alone
// cannot: a tail removed or rewritten consistently, with a head record to
// match.
func (s *Store) AuditContains(ctx context.Context, hash string) (bool, error) {
	if strings.EqualFold(hash, ZeroHash) {
		return true, nil
	}
	_, hashes, err := s.AuditLog(ctx)
	if err != nil {
		return false, err
	}
	for _, h := range hashes {
		if strings.EqualFold(h, hash) {
			return true, nil
		}
	}
	return false, nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
