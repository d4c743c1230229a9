package lineage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
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
}

// VerifyReport is the outcome of Store.Verify.
type VerifyReport struct {
	// Objects and Bytes count the objects re-hashed.
	Objects int   `json:"objects"`
	Bytes   int64 `json:"bytes"`
	// Runs and CacheEntries count the records whose references were checked.
	Runs         int `json:"runs"`
	CacheEntries int `json:"cache_entries"`
	// Problems lists corrupt and missing objects, sorted by ID.
	Problems []ObjectProblem `json:"problems,omitempty"`
	// BadRecords lists records that cannot be decoded, as "ns/name: error".
	BadRecords []string `json:"bad_records,omitempty"`
}

// OK reports whether Verify found nothing wrong.
func (r *VerifyReport) OK() bool { return len(r.Problems) == 0 && len(r.BadRecords) == 0 }

// Verify re-hashes every object and checks that every object referenced by
// a run record or cache entry exists and is intact. It holds the "gc" lock
// shared, so it runs alongside `mlrun run` but not alongside GC. Corrupt
// objects lose their verify memo, so VerifyObjectCached re-hashes them.
func (s *Store) Verify(ctx context.Context) (*VerifyReport, error) {
	unlock, err := s.b.Lock(ctx, LockGC, false)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	defer unlock()

	rep := &VerifyReport{}
	present := map[ID]bool{}
	problems := map[ID]*ObjectProblem{}
	var ids []ID
	err = s.b.ListObjects(ctx, func(id ID, size int64) error {
		ids = append(ids, id)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	for _, id := range ids {
		data, err := s.GetObject(ctx, id)
		switch {
		case err == nil:
			rep.Objects++
			rep.Bytes += int64(len(data))
			present[id] = true
		case errors.Is(err, ErrInvalidData):
			rep.Objects++
			present[id] = true
			problems[id] = &ObjectProblem{ID: id, Problem: ProblemCorrupt, Error: err.Error()}
			_ = s.b.DeleteRecord(ctx, nsVerified, id.String())
		case errors.Is(err, ErrNotFound):
			// Deleted after listing: not referenced by anything we keep.
		default:
			return nil, fmt.Errorf("verify: %w", err)
		}
	}

	ref := func(id ID) *ObjectProblem {
		if p, ok := problems[id]; ok {
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

	runNames, err := s.b.ListRecords(ctx, nsRuns)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	starts := map[string]int64{}
	for _, name := range runNames {
		var r RunRecord
		if err := s.getJSON(ctx, nsRuns, name, &r); err != nil {
			if !errors.Is(err, ErrNotFound) {
				rep.BadRecords = append(rep.BadRecords, fmt.Sprintf("%s/%s: %v", nsRuns, name, err))
			}
			continue
		}
		rep.Runs++
		starts[r.ID] = r.Start.UnixNano()
		for _, st := range r.Steps {
			for _, m := range []map[string]ObjectRef{st.Inputs, st.Outputs} {
				for _, o := range m {
					if p := ref(o.ID); p != nil {
						p.Runs = appendUnique(p.Runs, r.ID)
					}
				}
			}
		}
	}
	keys, err := s.b.ListRecords(ctx, nsCache)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	for _, key := range keys {
		e, err := s.GetCache(ctx, key)
		if err != nil {
			if !errors.Is(err, ErrNotFound) {
				rep.BadRecords = append(rep.BadRecords, fmt.Sprintf("%s/%s: %v", nsCache, key, err))
			}
			continue
		}
		rep.CacheEntries++
		for _, o := range e.Outputs {
			if p := ref(o.ID); p != nil {
				p.CacheKeys = appendUnique(p.CacheKeys, key)
			}
		}
	}
	for _, p := range problems {
		// Runs in the order they started (ids have one-second resolution).
		sort.Slice(p.Runs, func(i, j int) bool {
			a, b := p.Runs[i], p.Runs[j]
			if starts[a] != starts[b] {
				return starts[a] < starts[b]
			}
			return a < b
		})
		sort.Strings(p.CacheKeys)
		rep.Problems = append(rep.Problems, *p)
	}
	sort.Slice(rep.Problems, func(i, j int) bool {
		a, b := rep.Problems[i].ID, rep.Problems[j].ID
		return string(a[:]) < string(b[:])
	})
	return rep, nil
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
	return s
}
