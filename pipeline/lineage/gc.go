package lineage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// TempMaxAge is the age after which GC removes stray temporary files.
const TempMaxAge = time.Hour

// GCOptions configure GC.
type GCOptions struct {
	// DryRun reports what would be removed without removing anything.
	DryRun bool
	// KeepLast keeps the last N runs of each pipeline name and drops the
	// older run records with the cache entries they produced. Zero keeps
	// every run, so that only unreferenced objects are removed.
	KeepLast int
	// RetainSince is the retention cutoff: an expiring pin (Pin.Expires,
	// a scored batch's decision log) created before it is released and
	// removed, so that what only it kept can go. Zero keeps every pin.
	RetainSince time.Time
}

// GCReport is the outcome of GC.
type GCReport struct {
	DryRun bool `json:"dry_run"`
	// Runs counts the run records before GC; DroppedRuns lists those removed.
	Runs        int      `json:"runs"`
	DroppedRuns []string `json:"dropped_runs,omitempty"`
	// PrunedCache lists the cache entries removed.
	PrunedCache []string `json:"pruned_cache,omitempty"`
	// Objects counts the objects before GC; DeletedObjects and
	// DeletedBytes the ones removed.
	Objects        int   `json:"objects"`
	DeletedObjects int   `json:"deleted_objects"`
	DeletedBytes   int64 `json:"deleted_bytes"`
	// TempFiles counts the stray temporary files removed (0 in a dry run).
	TempFiles int `json:"temp_files"`
	// ExpiredPins lists the pins released by GCOptions.RetainSince.
	ExpiredPins []string `json:"expired_pins,omitempty"`
}

// ErrStoreBusy is returned by GC when a run holds the store.
var ErrStoreBusy = errors.New("the store is in use by a running mlrun process; try again when it has finished")

// GC removes the objects that no kept run record, no kept cache entry and
// no pin (see Pin) references, the expiring pins older than the retention
// cutoff (GCOptions.RetainSince), the records of dropped runs (see GCOptions.KeepLast) and the
// cache entries they produced (unless a kept run used them; a pinned run is
// always kept), and temporary
// files older than TempMaxAge.
//
// GC takes the "gc" lock exclusive and does not wait: while any `mlrun run`
// holds it shared, GC fails at once with an error wrapping ErrStoreBusy.
// Failing fast is chosen over waiting because a run may last long and a
// GC that hangs silently is worse than one that says why it did nothing.
func (s *Store) GC(ctx context.Context, opts GCOptions) (*GCReport, error) {
	if opts.KeepLast < 0 {
		return nil, fmt.Errorf("gc: keep-last must be >= 0, got %d", opts.KeepLast)
	}
	if s.readOnly {
		return nil, fmt.Errorf("gc: %w", ErrReadOnly)
	}
	now, cancel := context.WithCancel(ctx)
	cancel() // try the lock once, without waiting
	unlock, err := s.b.Lock(now, LockGC, true)
	if err != nil {
		if errors.Is(err, ErrLocked) {
			return nil, fmt.Errorf("gc: %w", ErrStoreBusy)
		}
		return nil, fmt.Errorf("gc: %w", err)
	}
	defer unlock()

	rep := &GCReport{DryRun: opts.DryRun}
	v, err := s.View(ctx)
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	runs, err := v.ListRuns(ctx)
	if err != nil {
		return nil, fmt.Errorf("gc: %w (gc never guesses: see mlrun verify)", err)
	}
	rep.Runs = len(runs)
	byPipeline := map[string][]*RunRecord{}
	for _, r := range runs {
		byPipeline[r.Pipeline] = append(byPipeline[r.Pipeline], r)
	}
	pins, err := v.Pins(ctx)
	if err != nil {
		return nil, fmt.Errorf("gc: %w (gc never guesses: see mlrun verify)", err)
	}
	pinnedRuns := map[string]bool{}
	for name, p := range pins {
		if p.expired(opts.RetainSince) {
			rep.ExpiredPins = append(rep.ExpiredPins, name)
			continue
		}
		for _, r := range p.Runs {
			pinnedRuns[r] = true
		}
	}
	active, err := v.Entries(ctx, nsActive)
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	dropped := map[string]bool{}
	var kept []*RunRecord
	for _, rs := range byPipeline { // each is sorted by start time (ListRuns)
		cut := 0
		if opts.KeepLast > 0 && len(rs) > opts.KeepLast {
			cut = len(rs) - opts.KeepLast
		}
		for i, r := range rs {
			if _, busy := active[r.ID]; i < cut && !pinnedRuns[r.ID] && !busy {
				dropped[r.ID] = true
				rep.DroppedRuns = append(rep.DroppedRuns, r.ID)
			} else {
				kept = append(kept, r)
			}
		}
	}
	sort.Strings(rep.DroppedRuns)
	sort.Strings(rep.ExpiredPins)
	usedKeys := map[string]bool{}
	for _, r := range kept {
		for _, st := range r.Steps {
			if st.CacheKey != "" {
				usedKeys[st.CacheKey] = true
			}
		}
	}
	keys, err := v.ListCache(ctx)
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	for _, key := range keys {
		e, err := v.GetCache(ctx, key)
		if err != nil {
			// An unreadable entry is never reused: prune it.
			rep.PrunedCache = append(rep.PrunedCache, key)
			continue
		}
		if dropped[e.RunID] && !usedKeys[key] {
			rep.PrunedCache = append(rep.PrunedCache, key)
		}
	}

	// The state after the records GC removes, built in memory: what it
	// names is live, in a dry run as in a real one.
	changes := map[string][]change{}
	for _, id := range rep.DroppedRuns {
		changes[nsRuns] = append(changes[nsRuns], change{name: id})
	}
	for _, key := range rep.PrunedCache {
		changes[nsCache] = append(changes[nsCache], change{name: key})
	}
	for _, name := range rep.ExpiredPins {
		changes[nsPins] = append(changes[nsPins], change{name: name})
	}
	b := newTreeBuilder(s)
	root := v.Root
	if len(changes) > 0 {
		if root, err = b.apply(ctx, v.Root, changes); err != nil {
			return nil, fmt.Errorf("gc: %w", err)
		}
	}
	// The removal is committed first: a GC killed half-way leaves
	// unreferenced objects (removed by the next GC), never records naming
	// nothing.
	if !opts.DryRun && len(changes) > 0 {
		c, err := s.update(ctx, true, func(ctx context.Context, tx *Tx) error {
			for _, id := range rep.DroppedRuns {
				tx.DeleteRun(ctx, id)
			}
			for _, key := range rep.PrunedCache {
				tx.DeleteCache(ctx, key)
			}
			for _, name := range rep.ExpiredPins {
				tx.DeletePin(ctx, name)
			}
			tx.Audit(AuditEntry{Type: AuditGC, Detail: map[string]string{
				"phase": "records", "dropped_runs": strings.Join(rep.DroppedRuns, ","),
				"pruned_cache": fmt.Sprint(len(rep.PrunedCache)), "expired_pins": strings.Join(rep.ExpiredPins, ","),
			}})
			return nil
		})
		if err != nil {
			return rep, fmt.Errorf("gc: %w", err)
		}
		if c.State != root {
			return rep, fmt.Errorf("gc: the state changed while gc ran (%s, expected %s); nothing removed", c.State.Short(), root.Short())
		}
	}

	// Live: the state tree at the new tip, its records and what they name.
	live := map[ID]bool{}
	var liveErr error
	err = walkTree(ctx, b, root, func(id ID, rec string, err error) error {
		if err != nil {
			liveErr = err
			return errStop
		}
		live[id] = true
		if rec == "" {
			return nil
		}
		ns, _, _ := strings.Cut(rec, "/")
		data, err := s.GetObject(ctx, id)
		if err != nil {
			liveErr = fmt.Errorf("record %s: %w", rec, err)
			return errStop
		}
		for _, ref := range recordRefs(ns, data) {
			live[ref] = true
		}
		return nil
	})
	if liveErr == nil && err != nil && !errors.Is(err, errStop) {
		liveErr = err
	}
	if liveErr != nil {
		return rep, fmt.Errorf("gc: the state cannot be read, so nothing is removed (gc never guesses: see mlrun verify): %w", liveErr)
	}
	for _, r := range kept {
		for _, st := range r.Steps {
			for _, m := range []map[string]ObjectRef{st.Inputs, st.Outputs} {
				for _, o := range m {
					live[o.ID] = true
				}
			}
		}
	}

	type obj struct {
		id   ID
		size int64
	}
	var dead []obj
	err = s.b.ListObjects(ctx, func(id ID, size int64) error {
		rep.Objects++
		if !live[id] {
			dead = append(dead, obj{id, size})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	for _, o := range dead {
		rep.DeletedObjects++
		rep.DeletedBytes += o.size
	}
	if opts.DryRun {
		return rep, nil
	}
	for _, o := range dead {
		if err := s.b.DeleteObject(ctx, o.id); err != nil && !errors.Is(err, ErrNotFound) {
			return rep, fmt.Errorf("gc: %w", err)
		}
		s.forgetVerified(o.id)
	}
	n, err := s.b.CleanTemp(ctx, TempMaxAge)
	rep.TempFiles = n
	if err != nil {
		return rep, fmt.Errorf("gc: %w", err)
	}
	return rep, nil
}

// recordRefs returns the objects a record names that GC must keep: run
// inputs, outputs and source, cache outputs, pinned objects. Records of
// other namespaces keep what they need through pins (a registered version,
// a scored batch's decision log for its retention period, a monitored
// batch's report), so that a retention period can release an object a
// record still names.
func recordRefs(ns string, data []byte) []ID {
	var out []ID
	switch ns {
	case nsRuns:
		var r RunRecord
		if json.Unmarshal(data, &r) == nil {
			for _, st := range r.Steps {
				for _, m := range []map[string]ObjectRef{st.Inputs, st.Outputs} {
					for _, o := range m {
						out = append(out, o.ID)
					}
				}
			}
			if !r.Source.IsNull() {
				out = append(out, r.Source)
			}
		}
	case nsCache:
		var e CacheEntry
		if json.Unmarshal(data, &e) == nil {
			for _, o := range e.Outputs {
				out = append(out, o.ID)
			}
		}
	case nsPins:
		var p Pin
		if json.Unmarshal(data, &p) == nil {
			out = append(out, p.Objects...)
		}
	}
	return out
}
