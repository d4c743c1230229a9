package lineage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// ErrNeedsUpgrade reports a store of layout version 1 opened read-only: its
// records are not yet in a state tree.
var ErrNeedsUpgrade = errors.New("the store has layout version 1 and must be upgraded: run any writing mlrun command (e.g. 'mlrun verify') with write access to it once")

// ErrReadOnly reports a write to a store opened read-only.
var ErrReadOnly = errors.New("the store is read-only")

// lockWait bounds the wait for the audit lock.
const lockWait = time.Minute

// maxCommitAttempts bounds the retries of a commit that lost a race (two
// writers creating the same commit; only backends without locks see it).
// Between attempts the writer waits a random time that doubles up to a
// second, so that many writers at once all get through.
const maxCommitAttempts = 200

// View is a consistent read-only view of the store's records at one commit:
// every read goes down the state tree that commit names, and every node and
// record read is re-hashed.
type View struct {
	s *Store
	// Commit and Seq number the commit and its last entry; Head is that
	// entry's hash (ZeroHash for an empty store).
	Commit uint64
	Seq    uint64
	Head   string
	// Root is the state tree's root (zero for an empty store).
	Root ID
}

// View returns a view of the store at its tip.
func (s *Store) View(ctx context.Context) (*View, error) {
	t, err := s.readTip(ctx)
	if err != nil {
		return nil, err
	}
	if t.legacy {
		return nil, ErrNeedsUpgrade
	}
	return s.viewAt(t), nil
}

// ViewOf returns the view of the store at a commit made by Update.
func (s *Store) ViewOf(c *Commit) *View {
	return &View{s: s, Commit: c.N, Seq: c.Seq, Head: c.Head, Root: c.State}
}

func (s *Store) viewAt(t tip) *View {
	return &View{s: s, Commit: t.commit, Seq: t.seq, Head: t.hash, Root: t.state}
}

// RecordID returns the object id of the record ns/name, or an error
// wrapping ErrNotFound.
func (v *View) RecordID(ctx context.Context, ns, name string) (ID, error) {
	id, err := treeLookup(ctx, v.s, v.Root, ns, name)
	if err != nil {
		return ID{}, fmt.Errorf("record %s/%s: %w", ns, name, err)
	}
	return id, nil
}

// Get returns the bytes of the record ns/name (re-hashed): an error
// wrapping ErrNotFound when there is none, ErrInvalidData when its object
// was altered.
func (v *View) Get(ctx context.Context, ns, name string) ([]byte, error) {
	id, err := v.RecordID(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	return v.s.getRecordObject(ctx, ns, name, id)
}

// getRecordObject reads the object of record ns/name. An object the state
// names but the store lacks is damage (ErrMissing), never ErrNotFound:
// a reader must not take a deleted record for one that was never written
// (and write a new one over it).
func (s *Store) getRecordObject(ctx context.Context, ns, name string, id ID) ([]byte, error) {
	b, err := s.GetObject(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("record %s/%s: object %s: %w", ns, name, id.Short(), ErrMissing)
	}
	if err != nil {
		return nil, fmt.Errorf("record %s/%s: %w", ns, name, err)
	}
	return b, nil
}

// GetJSON decodes the record ns/name into out.
func (v *View) GetJSON(ctx context.Context, ns, name string, out any) error {
	b, err := v.Get(ctx, ns, name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode record %s/%s: %w", ns, name, err)
	}
	return nil
}

// List returns the names of the records of ns, sorted.
func (v *View) List(ctx context.Context, ns string) ([]string, error) {
	m, err := v.Entries(ctx, ns)
	if err != nil {
		return nil, err
	}
	return sortedKeys(m), nil
}

// Namespaces returns the namespaces that hold records, sorted.
func (v *View) Namespaces(ctx context.Context) ([]string, error) {
	return treeNamespaces(ctx, v.s, v.Root)
}

// Entries returns the records of ns: name -> object id.
func (v *View) Entries(ctx context.Context, ns string) (map[string]ID, error) {
	m, err := treeEntries(ctx, v.s, v.Root, ns)
	if err != nil {
		return nil, fmt.Errorf("records %s: %w", ns, err)
	}
	return m, nil
}

// Commit describes a commit made by Update.
type Commit struct {
	// N numbers the commit, Seq its last entry; Head is that entry's hash.
	N    uint64
	Seq  uint64
	Head string
	// State is the root of the state tree after the commit.
	State ID
	// SignErr is set when the store has a HeadSigner and signing the
	// head failed: the commit stands, unsigned (VerifyHeads reports it
	// until a later commit is signed).
	SignErr error
}

// Tx is a transaction on the store's records, given to the function of
// Update. It reads the state at the tip (with its own writes), stores the
// records it writes as objects at once (durably; an object no commit
// names is removed by gc), and collects audit entries; Update commits the
// lot as one audit commit.
type Tx struct {
	s       *Store
	base    *View
	changes map[string]map[string]*ID
	entries []AuditEntry
}

// Base returns the view the transaction started from.
func (tx *Tx) Base() *View { return tx.base }

// RecordID returns the id of ns/name as the transaction sees it.
func (tx *Tx) RecordID(ctx context.Context, ns, name string) (ID, error) {
	if c, ok := tx.changes[ns][name]; ok {
		if c == nil {
			return ID{}, fmt.Errorf("record %s/%s: %w", ns, name, ErrNotFound)
		}
		return *c, nil
	}
	return tx.base.RecordID(ctx, ns, name)
}

// Get returns the bytes of ns/name as the transaction sees it.
func (tx *Tx) Get(ctx context.Context, ns, name string) ([]byte, error) {
	id, err := tx.RecordID(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	return tx.s.getRecordObject(ctx, ns, name, id)
}

// GetJSON decodes ns/name as the transaction sees it into out.
func (tx *Tx) GetJSON(ctx context.Context, ns, name string, out any) error {
	b, err := tx.Get(ctx, ns, name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode record %s/%s: %w", ns, name, err)
	}
	return nil
}

// List returns the names of the records of ns as the transaction sees
// them, sorted.
func (tx *Tx) List(ctx context.Context, ns string) ([]string, error) {
	m, err := tx.base.Entries(ctx, ns)
	if err != nil {
		return nil, err
	}
	for name, c := range tx.changes[ns] {
		if c == nil {
			delete(m, name)
		} else {
			m[name] = *c
		}
	}
	return sortedKeys(m), nil
}

// Put stores data as the record ns/name, replacing any, and returns its
// object id.
func (tx *Tx) Put(ctx context.Context, ns, name string, data []byte) (ID, error) {
	if err := ValidateName(ns); err != nil {
		return ID{}, fmt.Errorf("namespace: %w", err)
	}
	if err := ValidateName(name); err != nil {
		return ID{}, err
	}
	id, err := tx.s.putBytes(ctx, data)
	if err != nil {
		return ID{}, fmt.Errorf("record %s/%s: %w", ns, name, err)
	}
	tx.set(ctx, ns, name, &id)
	return id, nil
}

// PutJSON stores v, encoded as indented JSON, as the record ns/name.
func (tx *Tx) PutJSON(ctx context.Context, ns, name string, v any) (ID, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return ID{}, fmt.Errorf("encode record %s/%s: %w", ns, name, err)
	}
	return tx.Put(ctx, ns, name, append(b, '\n'))
}

// Delete removes the record ns/name (nothing when there is none).
func (tx *Tx) Delete(ctx context.Context, ns, name string) {
	tx.set(ctx, ns, name, nil)
}

// set records a change, dropping one that leaves the base as it is.
func (tx *Tx) set(ctx context.Context, ns, name string, id *ID) {
	if tx.changes == nil {
		tx.changes = map[string]map[string]*ID{}
	}
	if tx.changes[ns] == nil {
		tx.changes[ns] = map[string]*ID{}
	}
	old, err := tx.base.RecordID(ctx, ns, name)
	switch {
	case err == nil && id != nil && old == *id,
		errors.Is(err, ErrNotFound) && id == nil:
		delete(tx.changes[ns], name) // back to the base
	default:
		tx.changes[ns][name] = id
	}
}

// Audit adds entries to the commit, in order. Seq, Prev, and (when empty)
// Time, User, Host, Actor and Via are filled in at commit.
func (tx *Tx) Audit(entries ...AuditEntry) { tx.entries = append(tx.entries, entries...) }

// Writes returns the records the transaction wrote so far, as the commit
// will declare them ("ns/name" -> id, "" for a removed record).
func (tx *Tx) Writes() map[string]string {
	out := map[string]string{}
	for ns, m := range tx.changes {
		for name, id := range m {
			if id == nil {
				out[ns+"/"+name] = ""
			} else {
				out[ns+"/"+name] = id.String()
			}
		}
	}
	return out
}

// Update runs fn in a transaction on the records at the tip of the store
// and commits what it wrote, with its audit entries, as one audit commit:
// the records and the entries become visible together, or (should the
// process die first) not at all. fn may be called more than once when
// another writer commits first (on backends without locks), so it must not
// act outside the transaction. A commit without entries gets one
// "records.updated" entry.
//
// Commits are serialised by the store's "audit" lock (within a process and
// across processes) and hold the "gc" lock shared, so that gc never
// removes what a commit is about to name. Update does not give up when ctx
// is cancelled: a run interrupted by SIGTERM still commits its outcome; it
// waits at most a minute for the locks.
func (s *Store) Update(ctx context.Context, fn func(ctx context.Context, tx *Tx) error) (*Commit, error) {
	return s.update(ctx, false, fn)
}

func (s *Store) update(ctx context.Context, holdsGC bool, fn func(ctx context.Context, tx *Tx) error) (*Commit, error) {
	if s.readOnly {
		return nil, fmt.Errorf("commit: %w", ErrReadOnly)
	}
	ctx = context.WithoutCancel(ctx)
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	lctx, cancel := context.WithTimeout(ctx, lockWait)
	defer cancel()
	if !holdsGC {
		unlock, err := s.b.Lock(lctx, LockGC, false)
		if err != nil {
			return nil, fmt.Errorf("commit: %w", err)
		}
		defer unlock()
	}
	unlock, err := s.b.Lock(lctx, lockAudit, true)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	defer unlock()

	for attempt := 1; ; attempt++ {
		t, err := s.readTip(ctx)
		if err != nil {
			return nil, err
		}
		if t.legacy && !s.upgrading {
			return nil, ErrNeedsUpgrade
		}
		tx := &Tx{s: s, base: s.viewAt(t)}
		if err := fn(ctx, tx); err != nil {
			return nil, err
		}
		c, err := s.commit(ctx, t, tx)
		if errors.Is(err, ErrExists) && attempt < maxCommitAttempts {
			// Another writer committed first: redo on the new tip.
			backoff := min(time.Duration(1<<min(attempt, 10))*5*time.Millisecond, time.Second)
			time.Sleep(backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1)))
			continue
		}
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

// commit writes the transaction's state nodes and its commit record.
func (s *Store) commit(ctx context.Context, t tip, tx *Tx) (*Commit, error) {
	changes := map[string][]change{}
	for ns, m := range tx.changes {
		for _, name := range sortedKeys(m) {
			changes[ns] = append(changes[ns], change{name: name, id: m[name]})
		}
	}
	root := t.state
	if len(changes) > 0 || root.IsNull() {
		b := newTreeBuilder(s)
		var err error
		if root, err = b.apply(ctx, t.state, changes); err != nil {
			return nil, fmt.Errorf("commit: state: %w", err)
		}
		ids := make([]ID, 0, len(b.created))
		for id := range b.created {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
		for _, id := range ids {
			if err := s.b.PutObject(ctx, id, bytes.NewReader(b.created[id])); err != nil {
				return nil, fmt.Errorf("commit: state node: %w", err)
			}
			s.nodes.put(id, b.decoded[id])
		}
	}
	// Every object the commit names must be durable before the commit
	// record makes it visible.
	if f, ok := s.b.(Flusher); ok {
		if err := f.Flush(ctx); err != nil {
			return nil, fmt.Errorf("commit: objects not stored: %w", err)
		}
	}
	entries := tx.entries
	if len(entries) == 0 {
		entries = []AuditEntry{{Type: AuditRecordsUpdated}}
	}
	now := s.now().UTC()
	user, host := s.whoami()
	prev := t.hash
	cr := commitRecord{Commit: t.commit + 1, Entries: make([]AuditRecord, len(entries))}
	var last AuditEntry
	for i, e := range entries {
		e.Seq = t.seq + 1 + uint64(i)
		e.Prev = prev
		if e.Time.IsZero() {
			e.Time = now
		}
		e.Time = e.Time.UTC()
		if e.User == "" {
			e.User = user
		}
		if e.Host == "" {
			e.Host = host
		}
		if e.Actor == "" {
			e.Actor, e.Via = s.Actor()
		}
		e.State, e.Writes = "", nil
		if i == len(entries)-1 {
			e.State = root.String()
			if w := tx.Writes(); len(w) > 0 {
				e.Writes = w
			}
		}
		raw, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("audit log: encode entry: %w", err)
		}
		h := Hash(raw).String()
		cr.Entries[i] = AuditRecord{Hash: h, Entry: raw}
		prev, last = h, e
	}
	data, err := json.Marshal(cr)
	if err != nil {
		return nil, fmt.Errorf("audit log: encode commit: %w", err)
	}
	if err := s.b.CreateRecord(ctx, nsAudit, auditName(cr.Commit), append(data, '\n')); err != nil {
		if errors.Is(err, ErrExists) {
			return nil, err
		}
		return nil, fmt.Errorf("audit log: %w", err)
	}
	c := &Commit{N: cr.Commit, Seq: last.Seq, Head: prev, State: root}
	// The hint only saves reads: a lost one costs nothing.
	if hb, err := json.Marshal(auditHead{Commit: c.N, Seq: c.Seq, Hash: c.Head}); err == nil {
		if hp, ok := s.b.(HintPutter); ok {
			_ = hp.PutHint(ctx, nsAuditHead, "head", append(hb, '\n'))
		} else {
			_ = s.b.PutRecord(ctx, nsAuditHead, "head", append(hb, '\n'))
		}
	}
	if s.signer != nil {
		_, c.SignErr = s.signHead(ctx, c, now)
	}
	return c, nil
}

// HintPutter is implemented by backends that can replace a record without
// making it durable at once (Local: no fsync), for records whose loss costs
// only time: the audit head hint.
type HintPutter interface {
	PutHint(ctx context.Context, ns, name string, data []byte) error
}

// splitWrite splits a Writes key "ns/name".
func splitWrite(k string) (ns, name string, ok bool) {
	ns, name, ok = strings.Cut(k, "/")
	return ns, name, ok && ns != "" && name != ""
}
