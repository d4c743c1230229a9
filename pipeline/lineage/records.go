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

// Run statuses.
const (
	RunRunning     = "running"
	RunOK          = "ok"
	RunCheckFailed = "check-failed"
	RunFailed      = "failed"
)

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
	ID         string         `json:"id"`
	Pipeline   string         `json:"pipeline"`
	File       string         `json:"file"`
	FileSHA256 string         `json:"file_sha256"`
	Params     map[string]any `json:"params,omitempty"`
	User       string         `json:"user,omitempty"`
	Host       string         `json:"host,omitempty"`
	Git        *GitInfo       `json:"git,omitempty"`
	Version    string         `json:"mlrun_version"`
	Start      time.Time      `json:"start"`
	End        time.Time      `json:"end,omitzero"`
	// Status is RunRunning, RunOK, RunCheckFailed or RunFailed.
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

func (s *Store) putJSON(ctx context.Context, ns, name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode record %s/%s: %w", ns, name, err)
	}
	return s.b.PutRecord(ctx, ns, name, append(b, '\n'))
}

func (s *Store) getJSON(ctx context.Context, ns, name string, v any) error {
	b, err := s.b.GetRecord(ctx, ns, name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode record %s/%s: %w", ns, name, err)
	}
	return nil
}

// PutRun stores (or atomically replaces) a run record.
func (s *Store) PutRun(ctx context.Context, r *RunRecord) error {
	c := *r
	c.Steps = make([]StepRecord, len(r.Steps))
	for i, st := range r.Steps {
		st.Checks = cleanChecks(st.Checks)
		c.Steps[i] = st
	}
	return s.putJSON(ctx, nsRuns, r.ID, &c)
}

// GetRun returns the run with the given id, or the only run whose id
// starts with it. No match wraps ErrNotFound; several matches are an error
// listing them.
func (s *Store) GetRun(ctx context.Context, idOrPrefix string) (*RunRecord, error) {
	var r RunRecord
	err := s.getJSON(ctx, nsRuns, idOrPrefix, &r)
	if err == nil {
		return &r, nil
	}
	if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrInvalidName) {
		return nil, err
	}
	names, err := s.b.ListRecords(ctx, nsRuns)
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
		if err := s.getJSON(ctx, nsRuns, match[0], &r); err != nil {
			return nil, err
		}
		return &r, nil
	}
	if len(match) > 5 {
		match = append(match[:5], "...")
	}
	return nil, fmt.Errorf("run %q is ambiguous: it matches %s", idOrPrefix, strings.Join(match, ", "))
}

// ListRuns returns every run record, oldest first: by start time, then id
// (ids only have one-second resolution, so two runs started within the same
// second would otherwise sort at random). A record that cannot be
// decoded is an error (GC must not guess what it references).
func (s *Store) ListRuns(ctx context.Context) ([]*RunRecord, error) {
	names, err := s.b.ListRecords(ctx, nsRuns)
	if err != nil {
		return nil, err
	}
	runs := make([]*RunRecord, 0, len(names))
	for _, n := range names {
		var r RunRecord
		if err := s.getJSON(ctx, nsRuns, n, &r); err != nil {
			if errors.Is(err, ErrNotFound) {
				continue // deleted meanwhile
			}
			return nil, err
		}
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

// DeleteRun removes a run record.
func (s *Store) DeleteRun(ctx context.Context, id string) error {
	return s.b.DeleteRecord(ctx, nsRuns, id)
}

// PutCache stores a cache entry under e.Key.
func (s *Store) PutCache(ctx context.Context, e *CacheEntry) error {
	c := *e
	c.Checks = cleanChecks(e.Checks)
	return s.putJSON(ctx, nsCache, e.Key, &c)
}

// GetCache returns the cache entry for key, or an error wrapping ErrNotFound.
func (s *Store) GetCache(ctx context.Context, key string) (*CacheEntry, error) {
	var e CacheEntry
	if err := s.getJSON(ctx, nsCache, key, &e); err != nil {
		return nil, err
	}
	if e.Key != key {
		return nil, fmt.Errorf("cache entry %s: records key %q", key, e.Key)
	}
	return &e, nil
}

// ListCache returns the keys of every cache entry, sorted.
func (s *Store) ListCache(ctx context.Context) ([]string, error) {
	return s.b.ListRecords(ctx, nsCache)
}

// DeleteCache removes a cache entry.
func (s *Store) DeleteCache(ctx context.Context, key string) error {
	return s.b.DeleteRecord(ctx, nsCache, key)
}

func lastKeyName(pipelineName, step string) string {
	return Hash([]byte(pipelineName + "\x00" + step)).String()
}

// PutLastKey remembers the last key computed for rec.Pipeline, rec.Step.
// A record that differs from the stored one only by its run id is not
// rewritten (a cached re-run would otherwise write and fsync one per step):
// RunID is then the first of the runs since which the key is unchanged.
func (s *Store) PutLastKey(ctx context.Context, rec *KeyRecord) error {
	name := lastKeyName(rec.Pipeline, rec.Step)
	if old, err := s.b.GetRecord(ctx, nsLastKey, name); err == nil {
		var prev KeyRecord
		if json.Unmarshal(old, &prev) == nil {
			same := *rec
			same.RunID = prev.RunID
			if b, err := json.MarshalIndent(&same, "", "  "); err == nil && bytes.Equal(append(b, '\n'), old) {
				return nil
			}
		}
	}
	return s.putJSON(ctx, nsLastKey, name, rec)
}

// GetLastKey returns the last key computed for a step of a pipeline, or an
// error wrapping ErrNotFound.
func (s *Store) GetLastKey(ctx context.Context, pipelineName, step string) (*KeyRecord, error) {
	var rec KeyRecord
	if err := s.getJSON(ctx, nsLastKey, lastKeyName(pipelineName, step), &rec); err != nil {
		return nil, err
	}
	if rec.Pipeline != pipelineName || rec.Step != step {
		return nil, fmt.Errorf("last key of %s/%s: %w", pipelineName, step, ErrNotFound)
	}
	return &rec, nil
}
