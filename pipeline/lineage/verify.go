package lineage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Problems found by Verify.
const (
	ProblemCorrupt = "corrupt"
	ProblemMissing = "missing"
)

// ObjectProblem is a corrupt or missing object and what references it.
type ObjectProblem struct {
	ID ID `json:"id"`
	// Problem is ProblemCorrupt or ProblemMissing.
	Problem string `json:"problem"`
	// Error is the detail (the hash the content has, for corrupt objects).
	Error string `json:"error,omitempty"`
	// Runs lists the runs whose steps read or wrote the object, oldest first.
	Runs []string `json:"runs,omitempty"`
	// CacheKeys lists the cache entries whose outputs include it.
	CacheKeys []string `json:"cache_keys,omitempty"`
	// Records lists the other records that name it ("ns/name": a pin, a
	// registered model, a scored batch), and "ns/name" of the record when
	// the object is a record itself.
	Records []string `json:"records,omitempty"`
}

// RecordProblem is a record of the state that cannot be trusted: its object
// altered or missing, undecodable, or inconsistent with what the audit
// chain declares.
type RecordProblem struct {
	// Record is "namespace/name".
	Record string `json:"record"`
	// ID is the record's object, as the state tree names it.
	ID ID `json:"id,omitzero"`
	// Problem says what is wrong, in a few words.
	Problem string `json:"problem"`
}

// VerifyReport is the outcome of Store.Verify.
type VerifyReport struct {
	// Objects and Bytes count the objects re-hashed.
	Objects int   `json:"objects"`
	Bytes   int64 `json:"bytes"`
	// Records counts the records of the state checked, Nodes its tree
	// nodes, Commits the audit commits replayed.
	Records int `json:"records"`
	Nodes   int `json:"state_nodes"`
	Commits int `json:"commits"`
	// Runs and CacheEntries count the run records and cache entries whose
	// references were checked.
	Runs         int `json:"runs"`
	CacheEntries int `json:"cache_entries"`
	// Problems lists corrupt and missing objects, sorted by ID.
	Problems []ObjectProblem `json:"problems,omitempty"`
	// RecordProblems lists records that are altered, missing, undecodable
	// or inconsistent, sorted by record.
	RecordProblems []RecordProblem `json:"record_problems,omitempty"`
	// StateProblems lists disagreements between the audit chain and the
	// state (a commit whose state is not the one its declared writes give,
	// a state tree node that is damaged, a finished run without its audit
	// entry).
	StateProblems []string `json:"state_problems,omitempty"`
	// BadRecords lists records that cannot be decoded, as "ns/name: error".
	BadRecords []string `json:"bad_records,omitempty"`
	// Running lists the runs in progress (their process holds their lock).
	Running []string `json:"running,omitempty"`
	// Repaired lists the state nodes Verify re-created from the chain
	// (VerifyOptions.Repair).
	Repaired []ID `json:"repaired,omitempty"`
}

// OK reports whether Verify found nothing wrong.
func (r *VerifyReport) OK() bool {
	return len(r.Problems) == 0 && len(r.BadRecords) == 0 && len(r.RecordProblems) == 0 && len(r.StateProblems) == 0
}

// RefFunc returns the objects a record of some namespace names, from its
// bytes, for Verify: the records of namespaces outside this package (a
// registry model's version descriptions, a scored batch's decision log).
type RefFunc func(data []byte) ([]ID, error)

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Refs gives the references of the records of other namespaces.
	Refs map[string]RefFunc
	// Repair stores the state tree nodes that are missing or corrupt, when
	// the audit chain's declared writes rebuild them (the tree's shape is
	// a function of its records, so they come back with the same ids).
	Repair bool
}

// Verify checks everything the store holds against the audit chain:
//
//   - it replays the records every commit declares it wrote and checks that
//     each commit's state tree is the one those writes give, so that the
//     state at the tip is exactly what the chain says happened;
//   - it walks the state tree at the tip: every node and every record is
//     re-hashed and decoded, so an edited, removed or substituted record is
//     named;
//   - it re-hashes every object and checks that every object a record
//     names (a run's inputs and outputs, a cache entry's outputs, a pin's
//     objects and runs, and the references of VerifyOptions.Refs) exists and
//     is intact, naming what depends on the ones that are not;
//   - every finished run has its "run.finished" entry, every interrupted run
//     its "run.interrupted" entry, and only runs in progress are active.
//
// It does not check the chain's links and hashes: VerifyAudit does. It
// holds the "gc" lock shared, so it runs alongside `mlrun run` but not
// alongside GC; on a read-only store it takes no lock.
func (s *Store) Verify(ctx context.Context, opts VerifyOptions) (*VerifyReport, error) {
	// The lock keeps a GC from removing objects while they are checked; a
	// reader without write access (a read-only mount, an auditor's
	// credentials) verifies without it.
	unlock, err := s.b.Lock(ctx, LockGC, false)
	switch {
	case err == nil:
		defer unlock()
	case errors.Is(err, ErrLocked):
		return nil, fmt.Errorf("verify: %w", err)
	}

	rep := &VerifyReport{}
	t, err := s.readTip(ctx)
	if err != nil && !errors.Is(err, ErrInvalidData) {
		return nil, fmt.Errorf("verify: %w", err)
	}
	if err != nil {
		rep.StateProblems = append(rep.StateProblems, fmt.Sprintf("the tip of the audit chain: %v", err))
	}
	if t.legacy {
		return nil, fmt.Errorf("verify: %w", ErrNeedsUpgrade)
	}

	// 1. Replay the chain's declared writes.
	replay, finished, rebuilt := s.replayChain(ctx, rep)
	if t.commit > 0 && !t.state.IsNull() && rebuilt.root != t.state {
		rep.StateProblems = append(rep.StateProblems, fmt.Sprintf("the state at the tip (%s) is not the one the audit chain's declared writes give (%s): a record was written without an audit commit", t.state.Short(), rebuilt.root.Short()))
	}

	// 2. Every object, re-hashed.
	present := map[ID]bool{}
	corrupt := map[ID]string{}
	var ids []ID
	if err := s.b.ListObjects(ctx, func(id ID, size int64) error {
		ids = append(ids, id)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	// Objects are read from where the backend keeps them, not from a
	// local cache of them.
	read := s
	if d, ok := s.b.(DirectReader); ok {
		read = &Store{b: d.Direct(), location: s.location, memos: s.memos}
	}
	for _, id := range ids {
		data, err := read.GetObject(ctx, id)
		switch {
		case err == nil:
			rep.Objects++
			rep.Bytes += int64(len(data))
			present[id] = true
		case errors.Is(err, ErrInvalidData):
			rep.Objects++
			present[id] = true
			corrupt[id] = err.Error()
			s.forgetVerified(id)
		case errors.Is(err, ErrNotFound):
			// Deleted after listing: not referenced by anything we keep.
		default:
			return nil, fmt.Errorf("verify: %w", err)
		}
	}
	problems := map[ID]*ObjectProblem{}
	ref := func(id ID) *ObjectProblem {
		if p, ok := problems[id]; ok {
			return p
		}
		if e, bad := corrupt[id]; bad {
			p := &ObjectProblem{ID: id, Problem: ProblemCorrupt, Error: e}
			problems[id] = p
			return p
		}
		if present[id] {
			return nil
		}
		// Possibly written by a concurrent run after the listing.
		if _, err := s.b.StatObject(ctx, id); err == nil {
			if err := s.VerifyObjectCached(ctx, id); err == nil {
				present[id] = true
				return nil
			}
			p := &ObjectProblem{ID: id, Problem: ProblemCorrupt}
			problems[id] = p
			return p
		}
		p := &ObjectProblem{ID: id, Problem: ProblemMissing}
		problems[id] = p
		return p
	}

	// 3. The state tree at the tip, and what its records name.
	if !t.state.IsNull() {
		if opts.Repair {
			for id, enc := range rebuilt.nodes {
				if present[id] && corrupt[id] == "" {
					continue
				}
				if _, ok := corrupt[id]; ok {
					_ = s.b.DeleteObject(ctx, id)
				}
				if err := s.b.PutObject(ctx, id, bytes.NewReader(enc)); err == nil {
					rep.Repaired = append(rep.Repaired, id)
					present[id] = true
					delete(corrupt, id)
				}
			}
			sort.Slice(rep.Repaired, func(i, j int) bool { return bytes.Compare(rep.Repaired[i][:], rep.Repaired[j][:]) < 0 })
		}
		s.verifyState(ctx, t, rep, opts, replay, ref)
	}
	runStarts := map[string]int64{}
	v := s.viewAt(t)
	if runs, err := v.Entries(ctx, nsRuns); err == nil {
		for name, id := range runs {
			b, err := s.GetObject(ctx, id)
			if err != nil {
				continue
			}
			var r RunRecord
			if json.Unmarshal(b, &r) != nil {
				continue
			}
			runStarts[name] = r.Start.UnixNano()
			want := ""
			switch r.Status {
			case RunOK, RunCheckFailed, RunFailed:
				want = AuditRunFinished
			case RunInterrupted:
				want = AuditRunInterrupted
			case RunRunning:
				if s.runAlive(ctx, r.ID) {
					rep.Running = append(rep.Running, r.ID)
				}
			}
			if want != "" && !finished[want+"\x00"+r.ID] {
				rep.StateProblems = append(rep.StateProblems, fmt.Sprintf("run %s is %s but the audit log has no %s entry for it", r.ID, r.Status, want))
			}
		}
	}
	if active, err := v.Entries(ctx, nsActive); err == nil {
		for name := range active {
			if _, ok := runStarts[name]; !ok {
				rep.StateProblems = append(rep.StateProblems, fmt.Sprintf("run %s is marked active but has no run record", name))
			}
		}
	}
	sort.Strings(rep.Running)
	sort.Strings(rep.StateProblems)

	for id := range corrupt {
		ref(id) // a corrupt object nothing names is reported all the same
	}
	for _, p := range problems {
		// Runs in the order they started (ids have one-second resolution).
		sort.Slice(p.Runs, func(i, j int) bool {
			a, b := p.Runs[i], p.Runs[j]
			if runStarts[a] != runStarts[b] {
				return runStarts[a] < runStarts[b]
			}
			return a < b
		})
		sort.Strings(p.CacheKeys)
		sort.Strings(p.Records)
		rep.Problems = append(rep.Problems, *p)
	}
	sort.Slice(rep.Problems, func(i, j int) bool {
		a, b := rep.Problems[i].ID, rep.Problems[j].ID
		return bytes.Compare(a[:], b[:]) < 0
	})
	sort.Slice(rep.RecordProblems, func(i, j int) bool { return rep.RecordProblems[i].Record < rep.RecordProblems[j].Record })
	sort.Strings(rep.BadRecords)
	return rep, nil
}

// rebuiltState is the state the chain's declared writes give.
type rebuiltState struct {
	root  ID
	nodes map[ID][]byte
}

// replayChain replays the writes every commit declares, checking each
// commit's state against them. It returns the final records ("ns/name" ->
// id), the run outcome entries seen ("run.finished\x00RUN"), and the
// rebuilt tree of the final state.
func (s *Store) replayChain(ctx context.Context, rep *VerifyReport) (map[string]ID, map[string]bool, rebuiltState) {
	state := map[string]ID{}
	finished := map[string]bool{}
	b := newTreeBuilder(nil)
	root := ID{}
	stateful := false
	_ = s.auditCommits(ctx, func(name string, c *auditCommit, err error) error {
		rep.Commits++
		if err != nil {
			return nil // VerifyAudit reports it
		}
		for _, e := range c.entries {
			switch e.Type {
			case AuditRunFinished, AuditRunInterrupted:
				finished[e.Type+"\x00"+e.Run] = true
			}
		}
		last, _ := c.last()
		if last == nil {
			return nil
		}
		if last.State == "" {
			if stateful {
				rep.StateProblems = append(rep.StateProblems, fmt.Sprintf("commit %d names no state", c.n))
			}
			return nil
		}
		stateful = true
		changes := map[string][]change{}
		for _, k := range sortedKeys(last.Writes) {
			ns, rec, ok := splitWrite(k)
			if !ok {
				rep.StateProblems = append(rep.StateProblems, fmt.Sprintf("commit %d declares a write to %q, not a record", c.n, k))
				continue
			}
			if v := last.Writes[k]; v == "" {
				delete(state, k)
				changes[ns] = append(changes[ns], change{name: rec})
			} else if id, err := ParseID(v); err != nil {
				rep.StateProblems = append(rep.StateProblems, fmt.Sprintf("commit %d declares record %s = %q, not an object id", c.n, k, v))
			} else {
				state[k] = id
				changes[ns] = append(changes[ns], change{name: rec, id: &id})
			}
		}
		next, err := b.apply(ctx, root, changes)
		if err != nil {
			rep.StateProblems = append(rep.StateProblems, fmt.Sprintf("commit %d: replay: %v", c.n, err))
			return nil
		}
		root = next
		if got := last.State; got != root.String() {
			rep.StateProblems = append(rep.StateProblems, fmt.Sprintf("commit %d: its state %s is not the one its declared writes give (%s)", c.n, short(got), root.Short()))
			// Go on from what the commit says, so one bad commit is named once.
			if id, err := ParseID(got); err == nil {
				if full, err := s.stateOf(ctx, id); err == nil {
					state = full
					r, nodes := buildState(full)
					for k, v := range nodes {
						b.created[k] = v
						if n, err := decodeNode(k, v); err == nil {
							b.decoded[k] = n
						}
					}
					root = r
				}
			}
		}
		if len(b.decoded) > 8192 {
			b = pruneBuilder(ctx, b, root)
		}
		return nil
	})
	b = pruneBuilder(ctx, b, root)
	return state, finished, rebuiltState{root: root, nodes: b.created}
}

// pruneBuilder keeps only the nodes reachable from root.
func pruneBuilder(ctx context.Context, b *treeBuilder, root ID) *treeBuilder {
	nb := newTreeBuilder(nil)
	if root.IsNull() {
		return nb
	}
	_ = walkTree(ctx, b, root, func(id ID, rec string, err error) error {
		if rec == "" && err == nil {
			nb.created[id] = b.created[id]
			nb.decoded[id] = b.decoded[id]
		}
		return nil
	})
	return nb
}

// stateOf reads the records of a stored state tree.
func (s *Store) stateOf(ctx context.Context, root ID) (map[string]ID, error) {
	out := map[string]ID{}
	err := walkTree(ctx, s, root, func(id ID, rec string, err error) error {
		if err != nil {
			return err
		}
		if rec != "" {
			out[rec] = id
		}
		return nil
	})
	return out, err
}

// verifyState walks the tree at the tip: nodes and records re-hashed,
// records decoded and their references checked.
func (s *Store) verifyState(ctx context.Context, t tip, rep *VerifyReport, opts VerifyOptions, replay map[string]ID, ref func(ID) *ObjectProblem) {
	seen := map[string]bool{}
	_ = walkTree(ctx, s, t.state, func(id ID, rec string, err error) error {
		if rec == "" {
			rep.Nodes++
			if err != nil {
				what := "missing"
				if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrMissing) {
					what = "damaged"
				}
				rep.StateProblems = append(rep.StateProblems, fmt.Sprintf("state tree node %s is %s: the records below it cannot be read (mlrun verify --repair rebuilds it from the audit chain)", id.Short(), what))
				if p := ref(id); p != nil {
					p.Records = appendUnique(p.Records, "state tree node")
				}
			}
			return nil
		}
		rep.Records++
		seen[rec] = true
		if want, ok := replay[rec]; ok && want != id {
			rep.RecordProblems = append(rep.RecordProblems, RecordProblem{Record: rec, ID: id, Problem: fmt.Sprintf("substituted: the audit log last wrote %s", want.Short())})
		} else if !ok && len(replay) > 0 {
			rep.RecordProblems = append(rep.RecordProblems, RecordProblem{Record: rec, ID: id, Problem: "never written by an audit commit"})
		}
		data, err := s.GetObject(ctx, id)
		if err != nil {
			what := "its object is missing (deleted)"
			if errors.Is(err, ErrInvalidData) {
				what = "its object was altered (content does not match its id)"
			} else if !errors.Is(err, ErrNotFound) {
				what = err.Error()
			}
			rep.RecordProblems = append(rep.RecordProblems, RecordProblem{Record: rec, ID: id, Problem: what})
			if p := ref(id); p != nil {
				p.Records = appendUnique(p.Records, rec)
			}
			return nil
		}
		ns, name, _ := strings.Cut(rec, "/")
		s.checkRecordRefs(ns, name, data, rep, opts, ref)
		return nil
	})
	for _, rec := range sortedKeys(replay) {
		if !seen[rec] && !t.state.IsNull() {
			rep.RecordProblems = append(rep.RecordProblems, RecordProblem{Record: rec, ID: replay[rec], Problem: "removed from the state without an audit commit"})
		}
	}
}

// checkRecordRefs decodes a record and checks the objects it names.
func (s *Store) checkRecordRefs(ns, name string, data []byte, rep *VerifyReport, opts VerifyOptions, ref func(ID) *ObjectProblem) {
	rec := ns + "/" + name
	bad := func(err error) {
		rep.BadRecords = append(rep.BadRecords, fmt.Sprintf("%s: %v", rec, err))
	}
	switch ns {
	case nsRuns:
		var r RunRecord
		if err := json.Unmarshal(data, &r); err != nil {
			bad(err)
			return
		}
		if r.ID != name {
			rep.RecordProblems = append(rep.RecordProblems, RecordProblem{Record: rec, Problem: fmt.Sprintf("holds run %q", r.ID)})
		}
		rep.Runs++
		for _, st := range r.Steps {
			for _, m := range []map[string]ObjectRef{st.Inputs, st.Outputs} {
				for _, o := range m {
					if p := ref(o.ID); p != nil {
						p.Runs = appendUnique(p.Runs, r.ID)
					}
				}
			}
		}
		if !r.Source.IsNull() {
			if p := ref(r.Source); p != nil {
				p.Runs = appendUnique(p.Runs, r.ID)
			}
		}
	case nsCache:
		var e CacheEntry
		if err := json.Unmarshal(data, &e); err != nil {
			bad(err)
			return
		}
		if e.Key != name {
			rep.RecordProblems = append(rep.RecordProblems, RecordProblem{Record: rec, Problem: fmt.Sprintf("holds the entry of key %q", e.Key)})
		}
		rep.CacheEntries++
		for _, o := range e.Outputs {
			if p := ref(o.ID); p != nil {
				p.CacheKeys = appendUnique(p.CacheKeys, name)
			}
		}
	case nsPins:
		var p Pin
		if err := json.Unmarshal(data, &p); err != nil {
			bad(err)
			return
		}
		for _, id := range p.Objects {
			if op := ref(id); op != nil {
				op.Records = appendUnique(op.Records, rec)
			}
		}
	case nsLastKey, nsActive:
		if !json.Valid(data) {
			bad(errors.New("not JSON"))
		}
	default:
		fn := opts.Refs[ns]
		if fn == nil {
			if !json.Valid(data) {
				bad(errors.New("not JSON"))
			}
			return
		}
		ids, err := fn(data)
		if err != nil {
			bad(err)
			return
		}
		for _, id := range ids {
			if p := ref(id); p != nil {
				p.Records = appendUnique(p.Records, rec)
			}
		}
	}
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// String summarises a problem in one line.
func (p ObjectProblem) String() string {
	s := fmt.Sprintf("object %s %s", p.ID, p.Problem)
	if len(p.Runs) > 0 {
		b, _ := json.Marshal(p.Runs)
		s += fmt.Sprintf(", used by runs %s", b)
	}
	if len(p.CacheKeys) > 0 {
		s += fmt.Sprintf(", in %d cache entries", len(p.CacheKeys))
	}
	if len(p.Records) > 0 {
		s += ", named by " + strings.Join(p.Records, ", ")
	}
	return s
}

// String summarises a record problem in one line.
func (p RecordProblem) String() string {
	if p.ID.IsNull() {
		return fmt.Sprintf("record %s: %s", p.Record, p.Problem)
	}
	return fmt.Sprintf("record %s (object %s): %s", p.Record, p.ID.Short(), p.Problem)
}
