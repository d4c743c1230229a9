package runquery

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// RunsNS is the record namespace of run records (records/runs/<id>).
const RunsNS = "runs"

// Summary is what lists of runs show and filter on, taken from one run
// record.
type Summary struct {
	ID         string           `json:"id"`
	Pipeline   string           `json:"pipeline"`
	File       string           `json:"file"`
	FileSHA256 string           `json:"file_sha256"`
	Status     string           `json:"status"`
	ExitCode   int              `json:"exit_code"`
	Error      string           `json:"error,omitempty"`
	Start      time.Time        `json:"start"`
	End        time.Time        `json:"end,omitzero"`
	Actor      string           `json:"actor,omitempty"`
	User       string           `json:"user,omitempty"`
	Host       string           `json:"host,omitempty"`
	Git        *lineage.GitInfo `json:"git,omitempty"`
	Version    string           `json:"mlrun_version"`
	// Steps counts the run's steps; Ran those executed, Cached the cache
	// hits, Failed those failed (check failures included).
	Steps  int `json:"steps"`
	Ran    int `json:"ran"`
	Cached int `json:"cached"`
	Failed int `json:"failed"`
	// Params are the run's params; Metrics its flattened metrics (see
	// Metrics); Headlines its evaluate steps' headline metrics.
	Params    map[string]any  `json:"params,omitempty"`
	Metrics   lineage.Metrics `json:"metrics,omitempty"`
	Headlines []Headline      `json:"headlines,omitempty"`
	// Record is the object id of the run record summarised.
	Record lineage.ID `json:"record"`
}

// Duration is the run's wall time (0 while it has not ended).
func (s *Summary) Duration() time.Duration {
	if s.End.IsZero() {
		return 0
	}
	return s.End.Sub(s.Start)
}

// Summarize summarises a run record stored as object id.
func Summarize(r *lineage.RunRecord, id lineage.ID) *Summary {
	s := &Summary{ID: r.ID, Pipeline: r.Pipeline, File: r.File, FileSHA256: r.FileSHA256, Status: r.Status, ExitCode: r.ExitCode,
		Error: r.Error, Start: r.Start, End: r.End, Actor: r.Actor, User: r.User, Host: r.Host, Git: r.Git, Version: r.Version,
		Steps: len(r.Steps), Params: r.Params, Metrics: Metrics(r), Headlines: Headlines(r), Record: id}
	for i := range r.Steps {
		st := &r.Steps[i]
		switch {
		case st.CacheHit:
			s.Cached++
		case st.Status != lineage.StepSkipped:
			s.Ran++
		}
		if st.Status == lineage.StepFailed || st.Status == lineage.StepCheckFailed {
			s.Failed++
		}
	}
	return s
}

// Snapshot is the summaries of every run at one state of the store, oldest
// first (by start time, then id, as lineage.View.ListRuns orders them). It
// is immutable: share it freely.
type Snapshot struct {
	// Commit numbers the audit commit the snapshot is at, Head is its
	// last entry's hash and Root the state tree's root.
	Commit uint64
	Head   string
	Root   lineage.ID

	runs    []*Summary
	byID    map[string]*Summary
	metrics []string
	pipes   []string
	// params holds every param name of any run with the newest run's
	// value, to check a where expression against.
	params map[string]any
	// sel caches the selections queries made (see Query).
	sel *selCache
}

// Len returns the number of runs.
func (s *Snapshot) Len() int { return len(s.runs) }

// Runs returns the summaries, oldest first. The slice is shared: do not
// change it.
func (s *Snapshot) Runs() []*Summary { return s.runs }

// Get returns the summary of run id, or nil.
func (s *Snapshot) Get(id string) *Summary { return s.byID[id] }

// MetricNames returns every metric name of any run, sorted.
func (s *Snapshot) MetricNames() []string { return s.metrics }

// Pipelines returns the pipeline names of the runs, sorted.
func (s *Snapshot) Pipelines() []string { return s.pipes }

// Index keeps the summaries of a store's runs in memory, refreshed
// incrementally (see the package doc). It is safe for concurrent use.
type Index struct {
	st   *lineage.Store
	jobs int

	mu      sync.Mutex
	valid   bool
	root    lineage.ID
	entries map[string]indexed
	base    *Snapshot // the summaries as recorded (running runs not re-derived)
	decoded int
}

type indexed struct {
	id  lineage.ID
	sum *Summary
}

// NewIndex returns an empty index of st's runs; jobs (>= 1) goroutines
// decode new records.
func NewIndex(st *lineage.Store, jobs int) *Index {
	return &Index{st: st, jobs: max(jobs, 1), entries: map[string]indexed{}}
}

// Decoded returns the number of run records decoded since the index was
// made: a refresh at an unchanged state decodes none, one after a new run
// only the changed records.
func (x *Index) Decoded() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.decoded
}

// Snapshot returns the summaries at the store's tip, refreshing the index
// first when the tip has moved. A run recorded as running whose process is
// gone is shown interrupted (as lineage.View.GetRun shows it).
func (x *Index) Snapshot(ctx context.Context) (*Snapshot, error) {
	v, err := x.st.View(ctx)
	if err != nil {
		return nil, fmt.Errorf("run index: %w", err)
	}
	base, err := x.refresh(ctx, v)
	if err != nil {
		return nil, err
	}
	return derive(ctx, v, base)
}

// refresh brings the index to view v and returns its base snapshot.
func (x *Index) refresh(ctx context.Context, v *lineage.View) (*Snapshot, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.valid && x.root == v.Root {
		if x.base.Commit != v.Commit {
			// Commits that left the state alone (audit entries only).
			b := *x.base
			b.Commit, b.Head = v.Commit, v.Head
			x.base = &b
		}
		return x.base, nil
	}
	entries, err := v.Entries(ctx, RunsNS)
	if err != nil {
		return nil, fmt.Errorf("run index: %w", err)
	}
	var todo []string
	next := make(map[string]indexed, len(entries))
	for name, id := range entries {
		if e, ok := x.entries[name]; ok && e.id == id {
			next[name] = e
			continue
		}
		todo = append(todo, name)
	}
	sort.Strings(todo)
	sums, err := x.decode(ctx, todo, entries)
	if err != nil {
		return nil, err
	}
	for i, name := range todo {
		next[name] = indexed{id: entries[name], sum: sums[i]}
	}
	x.decoded += len(todo)
	x.entries, x.root, x.valid = next, v.Root, true
	x.base = newSnapshot(v, next)
	return x.base, nil
}

// decode reads and summarises the records of names, jobs at a time.
func (x *Index) decode(ctx context.Context, names []string, entries map[string]lineage.ID) ([]*Summary, error) {
	out := make([]*Summary, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(x.jobs, len(names)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i], errs[i] = x.summary(ctx, names[i], entries[names[i]])
			}
		}()
	}
	for i := range names {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (x *Index) summary(ctx context.Context, name string, id lineage.ID) (*Summary, error) {
	b, err := x.st.GetObject(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("run index: record %s/%s: %w", RunsNS, name, err)
	}
	var r lineage.RunRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("run index: decode record %s/%s: %w", RunsNS, name, err)
	}
	return Summarize(&r, id), nil
}

func newSnapshot(v *lineage.View, entries map[string]indexed) *Snapshot {
	s := &Snapshot{Commit: v.Commit, Head: v.Head, Root: v.Root, runs: make([]*Summary, 0, len(entries)), sel: newSelCache()}
	for _, e := range entries {
		s.runs = append(s.runs, e.sum)
	}
	sortRuns(s.runs)
	s.index()
	return s
}

// index fills the lookups of a snapshot from its runs.
func (s *Snapshot) index() {
	s.byID = make(map[string]*Summary, len(s.runs))
	metrics, pipes := map[string]bool{}, map[string]bool{}
	s.params = map[string]any{}
	for _, r := range s.runs {
		s.byID[r.ID] = r
		pipes[r.Pipeline] = true
		for k := range r.Metrics {
			metrics[k] = true
		}
		for k, v := range r.Params {
			s.params[k] = v
		}
	}
	s.metrics, s.pipes = sortedKeys(metrics), sortedKeys(pipes)
}

// sortRuns orders runs oldest first: by start time, then id.
func sortRuns(runs []*Summary) {
	sort.SliceStable(runs, func(i, j int) bool {
		if !runs[i].Start.Equal(runs[j].Start) {
			return runs[i].Start.Before(runs[j].Start)
		}
		return runs[i].ID < runs[j].ID
	})
}

// derive returns base with the runs recorded as running re-read through
// v (which shows those whose process is gone as interrupted); base itself
// when there are none.
func derive(ctx context.Context, v *lineage.View, base *Snapshot) (*Snapshot, error) {
	var changed map[string]*Summary
	for _, r := range base.runs {
		if r.Status != lineage.RunRunning {
			continue
		}
		rec, err := v.GetRun(ctx, r.ID)
		if err != nil {
			return nil, fmt.Errorf("run index: %w", err)
		}
		if rec.Status != r.Status {
			c := *r
			c.Status, c.ExitCode, c.Error = rec.Status, rec.ExitCode, rec.Error
			if changed == nil {
				changed = map[string]*Summary{}
			}
			changed[r.ID] = &c
		}
	}
	if changed == nil {
		return base, nil
	}
	s := &Snapshot{Commit: base.Commit, Head: base.Head, Root: base.Root, runs: make([]*Summary, len(base.runs)),
		metrics: base.metrics, pipes: base.pipes, params: base.params, sel: newSelCache()}
	copy(s.runs, base.runs)
	s.byID = make(map[string]*Summary, len(base.byID))
	for i, r := range s.runs {
		if c, ok := changed[r.ID]; ok {
			s.runs[i] = c
		}
		s.byID[s.runs[i].ID] = s.runs[i]
	}
	return s, nil
}

// Record reads the run record a summary was made from (re-hashed), with
// the summary's status (a run whose process is gone shows interrupted).
func Record(ctx context.Context, st *lineage.Store, s *Summary) (*lineage.RunRecord, error) {
	b, err := st.GetObject(ctx, s.Record)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", s.ID, err)
	}
	var r lineage.RunRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("run %s: decode record: %w", s.ID, err)
	}
	r.Status, r.ExitCode, r.Error = s.Status, s.ExitCode, s.Error
	return &r, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
