package lineage

import (
	"context"
	"errors"
	"fmt"
	"sort"
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
	runs, err := s.ListRuns(ctx)
	if err != nil {
		return nil, fmt.Errorf("gc: %w (fix or remove the record first; gc never guesses)", err)
	}
	rep.Runs = len(runs)

	byPipeline := map[string][]*RunRecord{}
	for _, r := range runs {
		byPipeline[r.Pipeline] = append(byPipeline[r.Pipeline], r)
	}
	pins, err := s.Pins(ctx)
	if err != nil {
		return nil, fmt.Errorf("gc: %w (fix or remove the pin first; gc never guesses)", err)
	}
	live := map[ID]bool{}
	pinnedRuns := map[string]bool{}
	for name, p := range pins {
		if p.expired(opts.RetainSince) {
			rep.ExpiredPins = append(rep.ExpiredPins, name)
			continue
		}
		for _, id := range p.Objects {
			live[id] = true
		}
		for _, r := range p.Runs {
			pinnedRuns[r] = true
		}
	}
	dropped := map[string]bool{}
	var kept []*RunRecord
	for _, rs := range byPipeline { // each is sorted by start time (ListRuns)
		cut := 0
		if opts.KeepLast > 0 && len(rs) > opts.KeepLast {
			cut = len(rs) - opts.KeepLast
		}
		for i, r := range rs {
			if i < cut && !pinnedRuns[r.ID] {
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
			for _, m := range []map[string]ObjectRef{st.Inputs, st.Outputs} {
				for _, o := range m {
					live[o.ID] = true
				}
			}
		}
	}
	keys, err := s.ListCache(ctx)
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	for _, key := range keys {
		e, err := s.GetCache(ctx, key)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			// An undecodable entry is never reused: prune it.
			rep.PrunedCache = append(rep.PrunedCache, key)
			continue
		}
		if dropped[e.RunID] && !usedKeys[key] {
			rep.PrunedCache = append(rep.PrunedCache, key)
			continue
		}
		for _, o := range e.Outputs {
			live[o.ID] = true
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

	// Records first: a GC killed half-way leaves unreferenced objects
	// (removed by the next GC), never records pointing at nothing.
	for _, id := range rep.DroppedRuns {
		if err := s.DeleteRun(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
			return rep, fmt.Errorf("gc: %w", err)
		}
	}
	for _, key := range rep.PrunedCache {
		if err := s.DeleteCache(ctx, key); err != nil && !errors.Is(err, ErrNotFound) {
			return rep, fmt.Errorf("gc: %w", err)
		}
	}
	for _, name := range rep.ExpiredPins {
		if err := s.b.DeleteRecord(ctx, nsPins, name); err != nil && !errors.Is(err, ErrNotFound) {
			return rep, fmt.Errorf("gc: %w", err)
		}
	}
	for _, o := range dead {
		if err := s.b.DeleteObject(ctx, o.id); err != nil && !errors.Is(err, ErrNotFound) {
			return rep, fmt.Errorf("gc: %w", err)
		}
		_ = s.b.DeleteRecord(ctx, nsVerified, o.id.String())
	}
	n, err := s.b.CleanTemp(ctx, TempMaxAge)
	rep.TempFiles = n
	if err != nil {
		return rep, fmt.Errorf("gc: %w", err)
	}
	return rep, nil
}
