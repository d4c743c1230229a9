package lineage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline"
)

// Run statuses. A run is finished once it is ok, check-failed or failed;
// a run whose process died before it finished is interrupted.
const (
	RunRunning     = "running"
	RunOK          = "ok"
	RunCheckFailed = "check-failed"
	RunFailed      = "failed"
	RunInterrupted = "interrupted"
)

// Record namespaces of the state tree kept by this package.
const (
	nsRuns    = "runs"
	nsCache   = "cache"
	nsLastKey = "lastkey"
	nsActive  = "active"
)

// Finished reports whether the run finished (ok, check-failed or failed),
// as opposed to running or interrupted.
func (r *RunRecord) Finished() bool {
	switch r.Status {
	case RunOK, RunCheckFailed, RunFailed:
		return true
	}
	return false
}

// Step statuses. A cache hit of a step whose recorded checks failed has
// status StepCheckFailed with CacheHit set.
const (
	StepOK          = "ok"
	StepFailed      = "failed"
	StepCheckFailed = "check-failed"
	StepSkipped     = "skipped"
	StepCached      = "cached"
)

// ObjectRef references a stored object: its ID, type name and, for
// outputs, its size.
type ObjectRef struct {
	ID   ID     `json:"id"`
	Type string `json:"type"`
	Size int64  `json:"size,omitempty"`
}

// Metrics are a step's named numbers. Non-finite values, which JSON
// cannot hold, are encoded as the strings "NaN", "+Inf" and "-Inf".
type Metrics map[string]float64

// MarshalJSON implements json.Marshaler.
func (m Metrics) MarshalJSON() ([]byte, error) {
	if m == nil {
		return []byte("null"), nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch {
		case math.IsNaN(v):
			out[k] = "NaN"
		case math.IsInf(v, 1):
			out[k] = "+Inf"
		case math.IsInf(v, -1):
			out[k] = "-Inf"
		default:
			out[k] = v
		}
	}
	return json.Marshal(out)
}

// UnmarshalJSON implements json.Unmarshaler.
func (m *Metrics) UnmarshalJSON(b []byte) error {
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw == nil {
		*m = nil
		return nil
	}
	out := make(Metrics, len(raw))
	for k, v := range raw {
		switch x := v.(type) {
		case float64:
			out[k] = x
		case string:
			switch x {
			case "NaN":
				out[k] = math.NaN()
			case "+Inf":
				out[k] = math.Inf(1)
			case "-Inf":
				out[k] = math.Inf(-1)
			default:
				return fmt.Errorf("metric %q: invalid value %q", k, x)
			}
		default:
			return fmt.Errorf("metric %q: invalid value %v", k, v)
		}
	}
	*m = out
	return nil
}

// GitInfo is the state of the git checkout holding the pipeline file.
type GitInfo struct {
	Commit string `json:"commit"`
	// Dirty is true when tracked files have uncommitted changes.
	Dirty bool `json:"dirty"`
}

// RunRecord is the lineage of one `mlrun run`, stored as records/runs/<id>.json.
type RunRecord struct {
	// ID sorts by start time: UTC time and a random suffix,
	// e.g. 20261126T165100Z-3f9a2c.
	ID         string `json:"id"`
	Pipeline   string `json:"pipeline"`
	File       string `json:"file"`
	FileSHA256 string `json:"file_sha256"`
	// Source is the object holding the pipeline file's bytes (its id is
	// FileSHA256), so that the run can be re-read whatever becomes of the
	// file; zero for runs recorded before mlrun kept it.
	Source ID             `json:"source,omitzero"`
	Params map[string]any `json:"params,omitempty"`
	// Actor is the principal who ran it and Via where the claim came
	// from (see Store.Actor); User and Host are the OS's.
	Actor   string    `json:"actor,omitempty"`
	Via     string    `json:"via,omitempty"`
	User    string    `json:"user,omitempty"`
	Host    string    `json:"host,omitempty"`
	Git     *GitInfo  `json:"git,omitempty"`
	Version string    `json:"mlrun_version"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end,omitzero"`
	// Status is RunRunning, RunOK, RunCheckFailed, RunFailed or
	// RunInterrupted.
	Status   string       `json:"status"`
	ExitCode int          `json:"exit_code"`
	Error    string       `json:"error,omitempty"`
	Steps    []StepRecord `json:"steps"`
}

// StepRecord is the lineage of one step within a run.
type StepRecord struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	KindVersion int    `json:"kind_version"`
	// Group is the id written in the pipeline of a step a `matrix:`
	// expanded, and Variant its matrix settings ("max_depth=6,
	// algorithm=random_forest"); both empty otherwise.
	Group   string `json:"group,omitempty"`
	Variant string `json:"variant,omitempty"`
	// CacheKey is the hex SHA-256 of the step's complete description
	// (empty when the step was skipped before its key was known).
	CacheKey string `json:"cache_key,omitempty"`
	CacheHit bool   `json:"cache_hit"`
	// Status is one of the Step* constants.
	Status string `json:"status"`
	// Reason says why a step was skipped or re-run despite a cache entry.
	Reason string               `json:"reason,omitempty"`
	Inputs map[string]ObjectRef `json:"inputs,omitempty"`
	// Config is the step's resolved configuration (its part of the cache
	// key), so that `mlrun why --run` can say which setting changed.
	Config   json.RawMessage      `json:"config,omitempty"`
	Files    []pipeline.FileInfo  `json:"files,omitempty"`
	Outputs  map[string]ObjectRef `json:"outputs,omitempty"`
	Duration time.Duration        `json:"duration_ns"`
	Metrics  Metrics              `json:"metrics,omitempty"`
	Checks   []pipeline.Check     `json:"checks,omitempty"`
	Notes    []string             `json:"notes,omitempty"`
	Error    string               `json:"error,omitempty"`
	// Alerts says what became of the alert a monitor step raised in this
	// run, at each of its sinks, when the run ended (an undelivered alert
	// is kept in the store and delivered by a later run; the audit log
	// records that delivery).
	Alerts []AlertStatus `json:"alerts,omitempty"`
}

// AlertStatus is what became of an alert at one sink.
type AlertStatus struct {
	// Sink names the sink: "file PATH" or "webhook URL" (unexpanded).
	Sink      string `json:"sink"`
	Delivered bool   `json:"delivered"`
	Attempts  int    `json:"attempts"`
	// Error is the last attempt's failure, when not delivered.
	Error string `json:"error,omitempty"`
}

// CacheEntry is the remembered outcome of a step, stored as
// records/cache/<key>.json.
type CacheEntry struct {
	Key         string               `json:"key"`
	Step        string               `json:"step"`
	Kind        string               `json:"kind"`
	KindVersion int                  `json:"kind_version"`
	Outputs     map[string]ObjectRef `json:"outputs"`
	Metrics     Metrics              `json:"metrics,omitempty"`
	Checks      []pipeline.Check     `json:"checks,omitempty"`
	Notes       []string             `json:"notes,omitempty"`
	// RunID is the run that produced the entry.
	RunID string `json:"run_id"`
}

// Failed reports whether a recorded check failed with severity error.
func (e *CacheEntry) Failed() bool {
	return (&pipeline.Result{Checks: e.Checks}).Failed()
}

// KeyFile is an external file's part of a cache key.
type KeyFile struct {
	// Path is relative to the pipeline's directory when inside it.
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// KeyRecord is the last cache key computed for a step of a pipeline,
// with its components, so that `mlrun plan` can say what changed. Stored
// as records/lastkey/<hash of pipeline and step>.json.
type KeyRecord struct {
	Pipeline    string               `json:"pipeline"`
	Step        string               `json:"step"`
	Key         string               `json:"key"`
	Kind        string               `json:"kind"`
	KindVersion int                  `json:"kind_version"`
	Config      json.RawMessage      `json:"config"`
	Inputs      map[string]ObjectRef `json:"inputs,omitempty"`
	Files       []KeyFile            `json:"files,omitempty"`
	RunID       string               `json:"run_id"`
}

// NewRunID returns a run id for a run started at t: its UTC time and six
// random hex digits, so that ids sort by start time.
func NewRunID(t time.Time) string {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported systems
	}
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// cleanChecks returns a copy of checks whose non-finite numbers, which
// JSON cannot hold, are dropped.
func cleanChecks(checks []pipeline.Check) []pipeline.Check {
	if checks == nil {
		return nil
	}
	out := make([]pipeline.Check, len(checks))
	for i, c := range checks {
		if math.IsNaN(c.Fraction) || math.IsInf(c.Fraction, 0) {
			c.Fraction = 0
		}
		if c.Values != nil {
			vals := make(map[string]float64, len(c.Values))
			for k, v := range c.Values {
				if !math.IsNaN(v) && !math.IsInf(v, 0) {
					vals[k] = v
				}
			}
			c.Values = vals
		}
		out[i] = c
	}
	return out
}

func encodeRun(r *RunRecord) *RunRecord {
	c := *r
	c.Steps = make([]StepRecord, len(r.Steps))
	for i, st := range r.Steps {
		st.Checks = cleanChecks(st.Checks)
		c.Steps[i] = st
	}
	return &c
}

// PutRun stores (or replaces) a run record.
func (tx *Tx) PutRun(ctx context.Context, r *RunRecord) (ID, error) {
	return tx.PutJSON(ctx, nsRuns, r.ID, encodeRun(r))
}

// DeleteRun removes a run record.
func (tx *Tx) DeleteRun(ctx context.Context, id string) { tx.Delete(ctx, nsRuns, id) }

// GetRun returns the run record with the given id as the transaction sees it.
func (tx *Tx) GetRun(ctx context.Context, id string) (*RunRecord, error) {
	var r RunRecord
	if err := tx.GetJSON(ctx, nsRuns, id, &r); err != nil {
		return nil, fmt.Errorf("run %q: %w", id, err)
	}
	return &r, nil
}

// SetActive marks a run as in progress (see Store.RecoverInterrupted).
func (tx *Tx) SetActive(ctx context.Context, runID string, rec ID) {
	tx.set(ctx, nsActive, runID, &rec)
}

// ClearActive marks a run as no longer in progress.
func (tx *Tx) ClearActive(ctx context.Context, runID string) { tx.Delete(ctx, nsActive, runID) }

// PutCache stores a cache entry under e.Key.
func (tx *Tx) PutCache(ctx context.Context, e *CacheEntry) (ID, error) {
	c := *e
	c.Checks = cleanChecks(e.Checks)
	return tx.PutJSON(ctx, nsCache, e.Key, &c)
}

// DeleteCache removes a cache entry.
func (tx *Tx) DeleteCache(ctx context.Context, key string) { tx.Delete(ctx, nsCache, key) }

func lastKeyName(pipelineName, step string) string {
	return Hash([]byte(pipelineName + "\x00" + step)).String()
}

// PutLastKey remembers the last key computed for rec.Pipeline, rec.Step.
// A record that differs from the stored one only by its run id is not
// rewritten (a cached re-run would otherwise write one per step): RunID is
// then the first of the runs since which the key is unchanged.
func (tx *Tx) PutLastKey(ctx context.Context, rec *KeyRecord) error {
	name := lastKeyName(rec.Pipeline, rec.Step)
	var prev KeyRecord
	if err := tx.GetJSON(ctx, nsLastKey, name, &prev); err == nil {
		same := *rec
		same.RunID = prev.RunID
		a, _ := json.Marshal(&same)
		b, _ := json.Marshal(&prev)
		if bytes.Equal(a, b) {
			return nil
		}
	}
	_, err := tx.PutJSON(ctx, nsLastKey, name, rec)
	return err
}

// GetRun returns the run with the given id, or the only run whose id
// starts with it, or with "latest" the newest finished run. No match wraps
// ErrNotFound; several matches are an error listing them. A run recorded
// as running whose process is gone is returned as interrupted.
func (v *View) GetRun(ctx context.Context, idOrPrefix string) (*RunRecord, error) {
	if idOrPrefix == "latest" {
		return v.LatestRun(ctx)
	}
	var r RunRecord
	err := v.GetJSON(ctx, nsRuns, idOrPrefix, &r)
	if err == nil {
		v.s.deriveInterrupted(ctx, &r)
		return &r, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	names, err := v.List(ctx, nsRuns)
	if err != nil {
		return nil, err
	}
	var match []string
	for _, n := range names {
		if idOrPrefix != "" && strings.HasPrefix(n, idOrPrefix) {
			match = append(match, n)
		}
	}
	switch len(match) {
	case 0:
		return nil, fmt.Errorf("run %q: %w", idOrPrefix, ErrNotFound)
	case 1:
		if err := v.GetJSON(ctx, nsRuns, match[0], &r); err != nil {
			return nil, err
		}
		v.s.deriveInterrupted(ctx, &r)
		return &r, nil
	}
	if len(match) > 5 {
		match = append(match[:5], "...")
	}
	return nil, fmt.Errorf("run %q is ambiguous: it matches %s", idOrPrefix, strings.Join(match, ", "))
}

// LatestRun returns the newest finished run (unfinished runs, running or
// interrupted, are skipped), or an error wrapping ErrNotFound.
func (v *View) LatestRun(ctx context.Context) (*RunRecord, error) {
	runs, err := v.ListRuns(ctx)
	if err != nil {
		return nil, err
	}
	for i := len(runs) - 1; i >= 0; i-- {
		if runs[i].Finished() {
			return runs[i], nil
		}
	}
	if len(runs) > 0 {
		return nil, fmt.Errorf("no finished run (%d unfinished): %w", len(runs), ErrNotFound)
	}
	return nil, fmt.Errorf("no runs: %w", ErrNotFound)
}

// ListRuns returns every run record, oldest first: by start time, then id
// (ids only have one-second resolution, so two runs started within the same
// second would otherwise sort at random). A record that cannot be read or
// decoded is an error (GC must not guess what it references).
func (v *View) ListRuns(ctx context.Context) ([]*RunRecord, error) {
	entries, err := v.Entries(ctx, nsRuns)
	if err != nil {
		return nil, err
	}
	runs := make([]*RunRecord, 0, len(entries))
	for _, n := range sortedKeys(entries) {
		b, err := v.s.getRecordObject(ctx, nsRuns, n, entries[n])
		if err != nil {
			return nil, err
		}
		var r RunRecord
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("decode record %s/%s: %w", nsRuns, n, err)
		}
		v.s.deriveInterrupted(ctx, &r)
		runs = append(runs, &r)
	}
	sort.SliceStable(runs, func(i, j int) bool {
		if !runs[i].Start.Equal(runs[j].Start) {
			return runs[i].Start.Before(runs[j].Start)
		}
		return runs[i].ID < runs[j].ID
	})
	return runs, nil
}

// GetCache returns the cache entry for key, or an error wrapping ErrNotFound.
func (v *View) GetCache(ctx context.Context, key string) (*CacheEntry, error) {
	var e CacheEntry
	if err := v.GetJSON(ctx, nsCache, key, &e); err != nil {
		return nil, err
	}
	if e.Key != key {
		return nil, fmt.Errorf("cache entry %s: records key %q: %w", key, e.Key, ErrInvalidData)
	}
	return &e, nil
}

// ListCache returns the keys of every cache entry, sorted.
func (v *View) ListCache(ctx context.Context) ([]string, error) { return v.List(ctx, nsCache) }

// GetLastKey returns the last key computed for a step of a pipeline, or an
// error wrapping ErrNotFound.
func (v *View) GetLastKey(ctx context.Context, pipelineName, step string) (*KeyRecord, error) {
	var rec KeyRecord
	if err := v.GetJSON(ctx, nsLastKey, lastKeyName(pipelineName, step), &rec); err != nil {
		return nil, err
	}
	if rec.Pipeline != pipelineName || rec.Step != step {
		return nil, fmt.Errorf("last key of %s/%s: %w", pipelineName, step, ErrNotFound)
	}
	return &rec, nil
}

// GetRun is View.GetRun at the tip.
func (s *Store) GetRun(ctx context.Context, idOrPrefix string) (*RunRecord, error) {
	v, err := s.View(ctx)
	if err != nil {
		return nil, err
	}
	return v.GetRun(ctx, idOrPrefix)
}

// ListRuns is View.ListRuns at the tip.
func (s *Store) ListRuns(ctx context.Context) ([]*RunRecord, error) {
	v, err := s.View(ctx)
	if err != nil {
		return nil, err
	}
	return v.ListRuns(ctx)
}

// GetCache is View.GetCache at the tip.
func (s *Store) GetCache(ctx context.Context, key string) (*CacheEntry, error) {
	v, err := s.View(ctx)
	if err != nil {
		return nil, err
	}
	return v.GetCache(ctx, key)
}

// ListCache is View.ListCache at the tip.
func (s *Store) ListCache(ctx context.Context) ([]string, error) {
	v, err := s.View(ctx)
	if err != nil {
		return nil, err
	}
	return v.ListCache(ctx)
}

// GetLastKey is View.GetLastKey at the tip.
func (s *Store) GetLastKey(ctx context.Context, pipelineName, step string) (*KeyRecord, error) {
	v, err := s.View(ctx)
	if err != nil {
		return nil, err
	}
	return v.GetLastKey(ctx, pipelineName, step)
}
