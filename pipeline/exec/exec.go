package exec

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// Options configure Run and Plan.
type Options struct {
	// Store is the lineage store (required).
	Store *lineage.Store
	// Registry decodes stored objects by type name (required); it also
	// supplies a step's kind when StepSpec.KindImpl is nil.
	Registry *pipeline.Registry
	// Jobs bounds the steps running at once and is passed to each step as
	// RunRequest.Jobs; <= 0 means the number of CPUs.
	Jobs int
	// Force re-runs every step, ignoring the cache.
	Force bool
	// ForceSteps re-runs the named steps (their dependants re-run only if
	// their inputs change).
	ForceSteps []string
	// Rehash ignores the fingerprint memo of external files.
	Rehash bool
	// CacheVerify runs steps even on a cache hit and fails a step whose
	// outputs differ from the cached ones (MLRUN_CACHEVERIFY=1).
	CacheVerify bool
	// Logger receives the executor's logs; nil discards them.
	Logger hclog.Logger
	// Progress returns the progress sink of a step; nil means none.
	Progress func(stepID string) pipeline.Progress
	// Events receives step events as they happen; calls are serialised.
	Events func(Event)
	// Version is the mlrun version, recorded in the run record.
	Version string
	// MemoryLimit is the Go runtime's soft memory limit while Run runs
	// (see runMemoryLimit): 0 derives it from the size of the files the
	// pipeline reads, a negative value leaves the runtime's limit alone.
	MemoryLimit int64
	// Only, when not empty, runs just these steps: step ids, or the id a
	// matrix sweep was written with (every variant of it). The steps they
	// read, transitively, are taken from the store (the cache entries
	// earlier runs recorded under the same keys) and never run; one that
	// has no usable entry fails the run with a *MissingError (exit 2).
	// Other steps are left out of the run and its record. This is what one
	// task of a cluster workflow runs (mlrun run --only); the run is
	// recorded and audited like any other, so that later steps and a
	// later full run reuse what it computed.
	Only []string
	// Require lists more steps an Only run takes from the store and
	// records, with what they read: the CLI requires every step for a
	// register or report step, which acts on the whole run.
	Require []string
}

// EventType names what happened to a step.
type EventType string

// Event types. A step gets Started then Finished (status ok, failed or
// check-failed), or only Cached, or only Skipped.
const (
	EventStarted  EventType = "started"
	EventFinished EventType = "finished"
	EventCached   EventType = "cached"
	EventSkipped  EventType = "skipped"
)

// Event reports a step's progress through a run, for live output.
type Event struct {
	Type EventType
	// RunID is the id of the run record being written.
	RunID string
	Step  string
	Kind  string
	// Record is the step's record, set on Finished, Cached and Skipped.
	Record *lineage.StepRecord
}

type stepState struct {
	spec *pipeline.StepSpec
	kind pipeline.Kind
	done chan struct{}
	// Set before done is closed.
	rec     lineage.StepRecord
	outputs map[string]lineage.ObjectRef
	err     error
	// entry is the cache entry of a step that ran, committed with it.
	entry *lineage.CacheEntry
}

type runner struct {
	p     *pipeline.Pipeline
	opts  Options
	log   hclog.Logger
	rec   *lineage.RunRecord
	steps map[string]*stepState
	force map[string]bool
	sem   chan struct{}

	mu       sync.Mutex
	objects  map[lineage.ID]pipeline.Object
	finished map[string]lineage.StepRecord
	// pending counts, by step id, the dependants that have not finished;
	// at zero the step's outputs are dropped from objects (see release).
	pending map[string]int
	// held lists, by step id, the objects the step's outputs keep in
	// memory until it is released; holders counts, by object id, the
	// steps holding it (a step may pass its input on as an output: the
	// object stays until the last of them is released).
	held    map[string][]lineage.ID
	holders map[lineage.ID]int
	// lastKeys are the last-key records computed and not yet committed.
	lastKeys   []*lineage.KeyRecord
	lastKeysMu sync.Mutex
	// committed marks the steps whose outcome a step commit recorded.
	committed map[string]bool
	// commits queues the steps that ran for the committer.
	commits     chan *stepState
	commitsDone chan struct{}
	// git returns the git state of the pipeline's directory (read in the
	// background; see start and the run's end).
	git func() *lineage.GitInfo
	// started is set once the run's start is committed (see start).
	started bool
	startMu sync.Mutex
	// scope is the part of the pipeline an Options.Only run covers (nil:
	// all of it).
	scope *scope
	// view is what cache lookups read (see cacheView).
	view   *lineage.View
	viewMu sync.Mutex
	evMu   sync.Mutex
}

// prepare checks the pipeline and options and fills defaults.
func prepare(p *pipeline.Pipeline, opts *Options) (map[string]*stepState, map[string]bool, error) {
	if len(opts.Only) > 0 || len(opts.Require) > 0 {
		return nil, nil, errors.New("exec: Options.Only and Options.Require are for Run only")
	}
	return prepareSteps(p, opts)
}

// prepareSteps is prepare without the check that Only is not set.
func prepareSteps(p *pipeline.Pipeline, opts *Options) (map[string]*stepState, map[string]bool, error) {
	if p == nil {
		return nil, nil, errors.New("exec: nil pipeline")
	}
	if opts.Store == nil || opts.Registry == nil {
		return nil, nil, errors.New("exec: Options.Store and Options.Registry are required")
	}
	if opts.Jobs <= 0 {
		opts.Jobs = runtime.NumCPU()
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	steps := make(map[string]*stepState, len(p.Steps))
	for _, spec := range p.Steps {
		if spec.Compiled == nil {
			return nil, nil, pipeline.Invalidf("step %q did not compile", spec.ID)
		}
		kind := spec.KindImpl
		if kind == nil {
			k, ok := opts.Registry.Kind(spec.Kind)
			if !ok {
				return nil, nil, pipeline.Invalidf("step %q: unknown kind %q", spec.ID, spec.Kind)
			}
			kind = k
		}
		for _, dep := range spec.Deps() {
			if _, ok := steps[dep]; !ok {
				return nil, nil, fmt.Errorf("exec: step %q depends on %q, which does not come before it", spec.ID, dep)
			}
		}
		steps[spec.ID] = &stepState{spec: spec, kind: kind, done: make(chan struct{})}
	}
	force := map[string]bool{}
	for _, id := range opts.ForceSteps {
		if _, ok := steps[id]; !ok {
			return nil, nil, pipeline.Invalidf("cannot force step %q: the pipeline has no such step", id)
		}
		force[id] = true
	}
	return steps, force, nil
}

// Run executes p: every step whose inputs are ready runs (up to Jobs at
// once) unless its cache entry is present and intact; outputs are stored,
// cache entries and the run record committed with their audit entries:
//
//   - before its first step runs, the run record (status "running"), marked
//     active, and "run.started" (a run whose steps are all cached commits
//     them with its end: one commit);
//   - as each step that ran finishes, its cache entry, the run record so
//     far and "step.executed", so that what a killed run computed is cached
//     for the next;
//   - at the end, in one commit, the final record, "step.cached" for the
//     steps taken from the cache and "run.finished": the run's one commit
//     point, so no run is recorded finished without its audit entries.
//
// The final commit is made even when ctx is cancelled (SIGTERM). The run
// holds its liveness lock (lineage.Store.LockRun) from before its start
// until its end, so that a run whose process died is found interrupted by
// the next command. It holds the store's "gc" lock shared for its whole
// duration (waiting while a GC holds it), so GC never removes what the run
// references.
//
// The error is nil when every step succeeded; it has exit code 1 when a
// check failed (and nothing else went wrong), otherwise the failing step's
// error keeps its own exit code, 3 by default.
func Run(ctx context.Context, p *pipeline.Pipeline, opts Options) (*lineage.RunRecord, error) {
	steps, force, err := prepareSteps(p, &opts)
	if err != nil {
		return nil, err
	}
	sc, err := newScope(p, opts.Only, opts.Require, opts.ForceSteps)
	if err != nil {
		return nil, err
	}
	unlock, err := opts.Store.RunLock(ctx)
	if err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	defer unlock()
	defer runMemoryLimit(p, opts.MemoryLimit)()

	r := &runner{
		p: p, opts: opts, steps: steps, force: force,
		log:       opts.Logger,
		sem:       make(chan struct{}, opts.Jobs),
		objects:   map[lineage.ID]pipeline.Object{},
		finished:  map[string]lineage.StepRecord{},
		pending:   map[string]int{},
		held:      map[string][]lineage.ID{},
		holders:   map[lineage.ID]int{},
		committed: map[string]bool{},
		scope:     sc,
	}
	for _, spec := range p.Steps {
		if !sc.in(spec.ID) {
			continue
		}
		for _, dep := range spec.Deps() {
			r.pending[dep]++
		}
	}
	// The git state is read while the steps are looked up and run; the
	// first commit waits for it.
	r.git = lineage.GitStateOf(ctx, p)
	r.rec = lineage.NewRunRecordNoGit(p, opts.Version, time.Now())
	r.rec.Actor, r.rec.Via = opts.Store.Actor()
	r.log = r.log.With("run", r.rec.ID)
	if len(p.Source) > 0 {
		// The pipeline's source, so that the run can be re-read (scoring,
		// monitoring, reports) whatever becomes of the file.
		id, err := opts.Store.PutBytes(ctx, p.Source)
		if err != nil {
			return nil, fmt.Errorf("run: pipeline source: %w", err)
		}
		r.rec.Source = id
	}
	release, err := opts.Store.LockRun(ctx, r.rec.ID)
	if err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	defer release()
	r.log.Debug("run started", "pipeline", p.Name, "steps", len(p.Steps), "jobs", opts.Jobs)

	r.commits = make(chan *stepState, len(p.Steps))
	r.commitsDone = make(chan struct{})
	go r.committer(ctx)
	var wg sync.WaitGroup
	for _, spec := range p.Steps {
		if !sc.in(spec.ID) {
			continue
		}
		st := steps[spec.ID]
		wg.Go(func() { r.step(ctx, st) })
	}
	wg.Wait()
	close(r.commits)
	<-r.commitsDone

	r.mu.Lock()
	defer r.mu.Unlock()
	r.rec.Steps = r.records()
	r.rec.End = time.Now().UTC()
	r.rec.Git = r.git()
	var failed, checkFailed []*stepState
	var missing *MissingError
	for _, spec := range p.Steps {
		if !sc.in(spec.ID) {
			continue
		}
		st := steps[spec.ID]
		if me := (*MissingError)(nil); missing == nil && errors.As(st.err, &me) {
			missing = me
		}
		switch st.rec.Status {
		case lineage.StepFailed:
			failed = append(failed, st)
		case lineage.StepCheckFailed:
			checkFailed = append(checkFailed, st)
		}
	}
	var runErr error
	switch {
	case ctx.Err() != nil:
		r.rec.Status = lineage.RunInterrupted
		runErr = pipeline.WithExitCode(pipeline.ExitRuntime, fmt.Errorf("run %s interrupted: %w", r.rec.ID, ctx.Err()))
	case len(failed) > 0:
		r.rec.Status = lineage.RunFailed
		e := fmt.Errorf("step %q: %w", failed[0].spec.ID, failed[0].err)
		if len(failed) > 1 {
			e = fmt.Errorf("%w (and %d more failed steps)", e, len(failed)-1)
		}
		if pipeline.ExitCode(e) == pipeline.ExitCheckFailed {
			e = pipeline.WithExitCode(pipeline.ExitRuntime, e) // only checks mean exit 1
		}
		runErr = e
	case len(checkFailed) > 0:
		r.rec.Status = lineage.RunCheckFailed
		var parts []string
		for _, st := range checkFailed {
			var names []string
			for _, c := range st.rec.Checks {
				if c.Failed() {
					names = append(names, c.Name)
				}
			}
			parts = append(parts, fmt.Sprintf("step %q: %s", st.spec.ID, strings.Join(names, ", ")))
		}
		runErr = pipeline.WithExitCode(pipeline.ExitCheckFailed, fmt.Errorf("checks failed: %s", strings.Join(parts, "; ")))
	default:
		r.rec.Status = lineage.RunOK
	}
	r.rec.ExitCode = pipeline.ExitCode(runErr)
	if runErr != nil {
		r.rec.Error = runErr.Error()
	}
	// The commit point, made even when ctx is cancelled (Update does not
	// give up on a cancelled context), so an interrupted run is recorded.
	r.lastKeysMu.Lock()
	keys := r.lastKeys
	r.lastKeys = nil
	r.lastKeysMu.Unlock()
	r.startMu.Lock()
	started := r.started
	r.startMu.Unlock()
	if missing != nil && !started && ctx.Err() == nil {
		// Nothing ran: the run could not start as invoked (exit 2) and
		// leaves no record.
		return nil, missing
	}
	if _, err := opts.Store.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
		if !started {
			// No step ran (all cached, or failed before running): the
			// start and the end are one commit.
			tx.Audit(r.startEntry())
		}
		if _, err := tx.PutRun(ctx, r.rec); err != nil {
			return err
		}
		tx.ClearActive(ctx, r.rec.ID)
		for _, k := range keys {
			if err := tx.PutLastKey(ctx, k); err != nil {
				return err
			}
		}
		// What the step commits did not record: cached and failed steps,
		// and steps whose own commit failed.
		for _, rec := range r.rec.Steps {
			if r.committed[rec.ID] || rec.Status == lineage.StepSkipped {
				continue
			}
			if e := steps[rec.ID].entry; e != nil && !rec.CacheHit {
				if _, err := tx.PutCache(ctx, e); err != nil {
					return err
				}
			}
			tx.Audit(StepAuditEntry(r.rec, &rec))
		}
		tx.Audit(r.onlyDetail(RunAuditEntry(r.rec)))
		return nil
	}); err != nil {
		return r.rec, errors.Join(runErr, pipeline.WithExitCode(pipeline.ExitRuntime, fmt.Errorf("run %s: record its outcome: %w", r.rec.ID, err)))
	}
	r.log.Debug("run finished", "status", r.rec.Status, "exit_code", r.rec.ExitCode)
	return r.rec, runErr
}

// start commits the run's start, once, before its first step runs: the
// record (status running, with the steps found cached so far), marked
// active, and "run.started". A run whose steps are all cached commits its
// start with its end instead (one commit for a no-op run).
func (r *runner) start(ctx context.Context) error {
	r.startMu.Lock()
	defer r.startMu.Unlock()
	if r.started {
		return nil
	}
	g := r.git()
	r.mu.Lock()
	r.rec.Git = g
	rec := *r.rec
	rec.Steps = r.records()
	r.mu.Unlock()
	c, err := r.opts.Store.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
		id, err := tx.PutRun(ctx, &rec)
		if err != nil {
			return err
		}
		tx.SetActive(ctx, rec.ID, id)
		tx.Audit(r.startEntry())
		return nil
	})
	if err != nil {
		return fmt.Errorf("record the run's start: %w", err)
	}
	r.started = true
	r.setView(c)
	return nil
}

// startEntry is the run's "run.started" entry.
func (r *runner) startEntry() lineage.AuditEntry {
	d := map[string]string{"file": r.p.File, "file_sha256": r.p.SHA256}
	if !r.rec.Source.IsNull() {
		d["source"] = r.rec.Source.String()
	}
	return r.onlyDetail(lineage.AuditEntry{Type: lineage.AuditRunStarted, Run: r.rec.ID, Pipeline: r.p.Name, Detail: d})
}

// onlyDetail adds to a run's entry the steps an Options.Only run selected
// ("only": the names given) and took from the store ("from_store").
func (r *runner) onlyDetail(e lineage.AuditEntry) lineage.AuditEntry {
	if r.scope == nil {
		return e
	}
	if e.Detail == nil {
		e.Detail = map[string]string{}
	}
	e.Detail["only"] = strings.Join(r.scope.names, ",")
	e.Detail["from_store"] = strings.Join(sortedKeys(r.scope.cacheOnly), ",")
	return e
}

// cacheView returns the view cache lookups read: the store at the run's
// start, moved on by the run's own commits.
func (r *runner) cacheView(ctx context.Context) (*lineage.View, error) {
	r.viewMu.Lock()
	defer r.viewMu.Unlock()
	if r.view == nil {
		v, err := r.opts.Store.View(ctx)
		if err != nil {
			return nil, err
		}
		r.view = v
	}
	return r.view, nil
}

func (r *runner) setView(c *lineage.Commit) {
	r.viewMu.Lock()
	defer r.viewMu.Unlock()
	if r.view == nil || c.N > r.view.Commit {
		r.view = r.opts.Store.ViewOf(c)
	}
}

// StepAuditEntry is the audit entry of a step of a run: "step.executed" or
// "step.cached", with its kind, status, cache key, outputs and the SHA-256
// of the files it read.
func StepAuditEntry(rec *lineage.RunRecord, s *lineage.StepRecord) lineage.AuditEntry {
	typ := lineage.AuditStepExecuted
	if s.CacheHit {
		typ = lineage.AuditStepCached
	}
	d := map[string]string{"kind": s.Kind, "status": s.Status}
	if s.CacheKey != "" {
		d["cache_key"] = s.CacheKey
	}
	for name, o := range s.Outputs {
		d["output."+name] = o.Type + ":" + o.ID.String()
	}
	for name, o := range s.Inputs {
		d["input."+name] = o.Type + ":" + o.ID.String()
	}
	for _, f := range s.Files {
		d["file."+f.Path] = f.SHA256
	}
	return lineage.AuditEntry{Type: typ, Run: rec.ID, Step: s.ID, Pipeline: rec.Pipeline, Detail: d}
}

// RunAuditEntry is the "run.finished" entry of a run ("run.interrupted"
// for a run cancelled by a signal).
func RunAuditEntry(rec *lineage.RunRecord) lineage.AuditEntry {
	d := map[string]string{"status": rec.Status, "exit_code": fmt.Sprint(rec.ExitCode), "mlrun_version": rec.Version, "file_sha256": rec.FileSHA256}
	if rec.Git != nil {
		d["git_commit"] = rec.Git.Commit
	}
	typ := lineage.AuditRunFinished
	if rec.Status == lineage.RunInterrupted {
		typ = lineage.AuditRunInterrupted
		d["reason"] = "cancelled (signal)"
	}
	return lineage.AuditEntry{Type: typ, Run: rec.ID, Pipeline: rec.Pipeline, Detail: d}
}

// records returns the records of the finished steps in pipeline order.
// Callers hold r.mu.
func (r *runner) records() []lineage.StepRecord {
	out := make([]lineage.StepRecord, 0, len(r.p.Steps))
	for _, spec := range r.p.Steps {
		if rec, ok := r.finished[spec.ID]; ok {
			out = append(out, rec)
		}
	}
	return out
}

func (r *runner) event(e Event) {
	if r.opts.Events == nil {
		return
	}
	r.evMu.Lock()
	defer r.evMu.Unlock()
	r.opts.Events(e)
}

// finish records a step's outcome and emits the event. A step that ran is
// queued for its commit (its cache entry, the run record so far and its
// "step.executed" entry), made in the background (see committer), so that
// its dependants do not wait for it (nor, on S3, for its outputs'
// uploads); cached and skipped steps are committed with the run's end.
func (r *runner) finish(ctx context.Context, st *stepState, typ EventType) {
	if typ == EventFinished && (st.rec.Status == lineage.StepOK || st.rec.Status == lineage.StepCheckFailed) {
		r.commits <- st
	}
	r.mu.Lock()
	r.finished[st.spec.ID] = st.rec
	r.rec.Steps = r.records()
	for _, dep := range st.spec.Deps() {
		if r.pending[dep]--; r.pending[dep] == 0 {
			r.release(dep)
		}
	}
	if r.pending[st.spec.ID] == 0 {
		r.release(st.spec.ID)
	}
	r.mu.Unlock()
	rec := st.rec
	r.event(Event{Type: typ, RunID: r.rec.ID, Step: st.spec.ID, Kind: st.kind.Name(), Record: &rec})
}

// committer commits the steps that ran, in the order they finished. A
// commit that fails is left to the run's end, which records what the step
// commits did not (and fails the run if it cannot either).
func (r *runner) committer(ctx context.Context) {
	defer close(r.commitsDone)
	for st := range r.commits {
		if err := r.commitStep(ctx, st); err != nil {
			r.log.Warn("cannot record the step yet; the run's end records it", "step", st.spec.ID, "error", err)
		}
	}
}

// commitStep commits a step that ran: its cache entry, the last keys
// computed so far, the run record with the step and its "step.executed"
// entry.
func (r *runner) commitStep(ctx context.Context, st *stepState) error {
	r.lastKeysMu.Lock()
	keys := r.lastKeys
	r.lastKeys = nil
	r.lastKeysMu.Unlock()
	c, err := r.opts.Store.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
		if st.entry != nil {
			if _, err := tx.PutCache(ctx, st.entry); err != nil {
				return err
			}
		}
		for _, k := range keys {
			if err := tx.PutLastKey(ctx, k); err != nil {
				return err
			}
		}
		r.mu.Lock()
		rec := *r.rec
		finished := make(map[string]lineage.StepRecord, len(r.finished)+1)
		for k, v := range r.finished {
			finished[k] = v
		}
		r.mu.Unlock()
		finished[st.spec.ID] = st.rec
		rec.Steps = make([]lineage.StepRecord, 0, len(finished))
		for _, spec := range r.p.Steps {
			if s, ok := finished[spec.ID]; ok {
				rec.Steps = append(rec.Steps, s)
			}
		}
		if _, err := tx.PutRun(ctx, &rec); err != nil {
			return err
		}
		tx.Audit(StepAuditEntry(&rec, &st.rec))
		return nil
	})
	if err != nil {
		// The keys go with the next commit.
		r.lastKeysMu.Lock()
		r.lastKeys = append(keys, r.lastKeys...)
		r.lastKeysMu.Unlock()
		return fmt.Errorf("record the step: %w", err)
	}
	r.setView(c)
	r.mu.Lock()
	r.committed[st.spec.ID] = true
	r.mu.Unlock()
	return nil
}

// step runs one step once its dependencies are done.
func (r *runner) step(ctx context.Context, st *stepState) {
	defer close(st.done)
	spec := st.spec
	st.rec = lineage.StepRecord{ID: spec.ID, Kind: st.kind.Name(), KindVersion: st.kind.Version()}
	if v := spec.Variant; v != nil {
		st.rec.Group, st.rec.Variant = v.Group, v.String()
	}
	deps := spec.Deps()
	for _, dep := range deps {
		<-r.steps[dep].done
	}
	for _, dep := range deps {
		ds := r.steps[dep]
		var reason string
		switch ds.rec.Status {
		case lineage.StepFailed:
			reason = fmt.Sprintf("upstream step %q failed", dep)
		case lineage.StepCheckFailed:
			reason = fmt.Sprintf("upstream step %q failed checks", dep)
		case lineage.StepSkipped:
			reason = ds.rec.Reason
		default:
			continue
		}
		r.skip(ctx, st, reason)
		return
	}
	select {
	case r.sem <- struct{}{}:
		defer func() { <-r.sem }()
	case <-ctx.Done():
		r.skip(ctx, st, "run interrupted")
		return
	}
	if ctx.Err() != nil {
		r.skip(ctx, st, "run interrupted")
		return
	}
	start := time.Now()
	typ := r.execute(ctx, st)
	st.rec.Duration = time.Since(start)
	if st.err != nil {
		st.rec.Status = lineage.StepFailed
		st.rec.Error = st.err.Error()
		if me := (*MissingError)(nil); errors.As(st.err, &me) {
			// The run's error says it; it is not a failure of the step.
			r.log.Debug("upstream step not in the store", "step", spec.ID, "key", me.Key)
		} else {
			r.log.Error("step failed", "step", spec.ID, "error", st.err)
		}
	}
	r.finish(ctx, st, typ)
}

func (r *runner) skip(ctx context.Context, st *stepState, reason string) {
	st.rec.Status = lineage.StepSkipped
	st.rec.Reason = reason
	r.log.Info("step skipped", "step", st.spec.ID, "reason", reason)
	r.finish(ctx, st, EventSkipped)
}

// execute computes the step's key, reuses its cache entry or runs it. It
// sets st.rec, st.outputs and st.err, and returns the event to emit.
func (r *runner) execute(ctx context.Context, st *stepState) EventType {
	spec, store := st.spec, r.opts.Store
	log := r.log.Named(spec.ID)
	inputs := make(map[string]lineage.ObjectRef, len(spec.Inputs))
	for _, in := range spec.Inputs {
		ref, ok := r.steps[in.Step].outputs[in.Output]
		if !ok {
			st.err = fmt.Errorf("input %s: step %q has no output %q", in.Port, in.Step, in.Output)
			return EventFinished
		}
		inputs[in.Port] = lineage.ObjectRef{ID: ref.ID, Type: ref.Type}
	}
	st.rec.Inputs = inputs
	desc, files, err := stepDesc(ctx, r.p, spec, st.kind, inputs, store, r.opts.Rehash)
	if err != nil {
		st.err = err
		return EventFinished
	}
	if len(files) > 0 {
		st.rec.Files = make([]pipeline.FileInfo, 0, len(files))
		for _, fi := range files {
			st.rec.Files = append(st.rec.Files, fi)
		}
		sort.Slice(st.rec.Files, func(i, j int) bool { return st.rec.Files[i].Path < st.rec.Files[j].Path })
	}
	key, err := desc.key()
	if err != nil {
		st.err = err
		return EventFinished
	}
	st.rec.CacheKey = key
	st.rec.Config = desc.Config
	r.lastKeysMu.Lock()
	r.lastKeys = append(r.lastKeys, keyRecord(r.p, spec, desc, key, r.rec.ID))
	r.lastKeysMu.Unlock()

	var hit *lineage.CacheEntry
	fromStore := r.scope.only(spec.ID)
	if (r.opts.Force || r.force[spec.ID]) && !fromStore {
		st.rec.Reason = "forced"
	} else if view, err := r.cacheView(ctx); err != nil {
		st.err = err
		return EventFinished
	} else if e, err := view.GetCache(ctx, key); err == nil {
		if why := r.usable(ctx, st, e); why == "" {
			hit = e
		} else {
			st.rec.Reason = why
			log.Warn("cache entry not reused", "key", key, "reason", why)
		}
	} else if !errors.Is(err, lineage.ErrNotFound) {
		st.rec.Reason = "cache entry unreadable"
		log.Warn("cache entry not reused", "key", key, "error", err)
	}
	if fromStore && hit == nil {
		// An upstream step of an Only run is never run here.
		st.err = &MissingError{File: r.p.File, Step: spec.ID, Key: key, Reason: st.rec.Reason, For: r.scope.readers(r.p, spec.ID)}
		st.rec.Reason = ""
		return EventFinished
	}
	if hit != nil && (!r.opts.CacheVerify || fromStore) {
		r.hold(spec.ID, hit.Outputs)
		st.outputs = hit.Outputs
		st.rec.CacheHit = true
		st.rec.Outputs = hit.Outputs
		st.rec.Metrics, st.rec.Checks, st.rec.Notes = hit.Metrics, hit.Checks, hit.Notes
		st.rec.Status = lineage.StepCached
		if hit.Failed() {
			st.rec.Status = lineage.StepCheckFailed
		}
		log.Info("step cached", "key", key[:12])
		return EventCached
	}

	if err := r.start(ctx); err != nil {
		st.err = err
		return EventFinished
	}
	r.event(Event{Type: EventStarted, RunID: r.rec.ID, Step: spec.ID, Kind: st.kind.Name()})
	objs := make(map[string]pipeline.Object, len(spec.Inputs))
	var passed []inputObject
	for _, in := range spec.Inputs {
		o, err := r.load(ctx, inputs[in.Port])
		if err != nil {
			st.err = fmt.Errorf("input %s (%s): %w", in.Port, in, err)
			return EventFinished
		}
		objs[in.Port] = o
		passed = append(passed, inputObject{o, r.steps[in.Step].outputs[in.Output]})
	}
	prog := pipeline.Progress(pipeline.NoProgress{})
	if r.opts.Progress != nil {
		if pr := r.opts.Progress(spec.ID); pr != nil {
			prog = pr
		}
	}
	log.Info("step started", "kind", st.kind.Name())
	req := &pipeline.RunRequest{
		Inputs: objs, Files: files, Jobs: r.opts.Jobs, Logger: log, Progress: prog,
	}
	res, err := spec.Compiled.Run(ctx, req)
	// The inputs are not needed to store the outputs, only which outputs
	// pass an input on: drop the ones no other step is waiting for before
	// encoding the outputs (peak memory).
	var same map[string]lineage.ObjectRef
	if err == nil && res != nil && !r.opts.CacheVerify {
		// In cache verify mode every output is encoded, so that a
		// changed input is caught.
		same = passedOn(res, passed)
	}
	req.Inputs, objs, passed = nil, nil, nil
	r.releaseInputs(spec)
	if err != nil {
		st.err = err
		return EventFinished
	}
	if res == nil {
		st.err = errors.New("step returned no result")
		return EventFinished
	}
	outputs, err := r.storeOutputs(ctx, st, res, same)
	same = nil
	if err != nil {
		st.err = err
		return EventFinished
	}
	if hit != nil { // cache verify mode
		for _, name := range sortedKeys(outputs) {
			if old := hit.Outputs[name]; old.ID != outputs[name].ID {
				st.err = fmt.Errorf("cache verify: output %q differs from the cached one (cached %s, recomputed %s): the step is not deterministic or its cache key misses an input",
					name, old.ID.Short(), outputs[name].ID.Short())
				return EventFinished
			}
		}
		st.rec.CacheHit = true
	}
	st.outputs = outputs
	st.rec.Outputs = outputs
	st.rec.Metrics, st.rec.Checks, st.rec.Notes = lineage.Metrics(res.Metrics), res.Checks, res.Notes
	st.rec.Status = lineage.StepOK
	if res.Failed() {
		st.rec.Status = lineage.StepCheckFailed
	}
	// The outcome, failed checks included, is a function of the key; it is
	// committed by finish.
	st.entry = &lineage.CacheEntry{
		Key: key, Step: spec.ID, Kind: st.kind.Name(), KindVersion: st.kind.Version(),
		Outputs: outputs, Metrics: st.rec.Metrics, Checks: res.Checks, Notes: res.Notes, RunID: r.rec.ID,
	}
	log.Info("step finished", "status", st.rec.Status)
	return EventFinished
}

// usable reports why a cache entry cannot be reused, or "" when it can:
// it must hold every declared output, each present and intact.
func (r *runner) usable(ctx context.Context, st *stepState, e *lineage.CacheEntry) string {
	return checkEntry(ctx, r.opts.Store, st.kind, e, true)
}

func checkEntry(ctx context.Context, store *lineage.Store, kind pipeline.Kind, e *lineage.CacheEntry, repair bool) string {
	for _, name := range kind.Outputs() {
		ref, ok := e.Outputs[name]
		if !ok {
			return fmt.Sprintf("cached result lacks output %q", name)
		}
		err := store.VerifyObjectCached(ctx, ref.ID)
		switch {
		case err == nil:
			continue
		case errors.Is(err, lineage.ErrNotFound):
			return fmt.Sprintf("cached output %q (%s) is missing", name, ref.ID.Short())
		case errors.Is(err, lineage.ErrInvalidData):
			if repair {
				// Remove it so that the recomputed object can be stored.
				_, _ = store.DeleteCorrupt(ctx, ref.ID)
			}
			return fmt.Sprintf("cached output %q (%s) is corrupt", name, ref.ID.Short())
		default:
			return fmt.Sprintf("cached output %q (%s) cannot be checked: %v", name, ref.ID.Short(), err)
		}
	}
	return ""
}

// inputObject is an input of a running step and its stored object.
type inputObject struct {
	obj pipeline.Object
	ref lineage.ObjectRef
}

// sameObject reports whether a and b are the same object in memory (the
// same pointer), not merely equal.
func sameObject(a, b pipeline.Object) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	if ta != tb || ta.Kind() != reflect.Pointer {
		return false
	}
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// passedOn returns, by output name, the stored objects of the inputs
// that res passes on unchanged as outputs: the very object in memory,
// e.g. the dataset a validate step checked (objects are never modified
// once produced).
func passedOn(res *pipeline.Result, passed []inputObject) map[string]lineage.ObjectRef {
	same := map[string]lineage.ObjectRef{}
	for name, o := range res.Outputs {
		if o == nil {
			continue
		}
		for _, in := range passed {
			if in.ref.Type == o.TypeName() && in.ref.Size > 0 && sameObject(o, in.obj) {
				same[name] = in.ref
				break
			}
		}
	}
	return same
}

// storeOutputs checks the result against the kind's declared outputs and
// stores each object, keeping it in memory for the rest of the run. An
// output in same (an input passed on, see passedOn) is already stored: it
// takes the input's id without being encoded again.
func (r *runner) storeOutputs(ctx context.Context, st *stepState, res *pipeline.Result, same map[string]lineage.ObjectRef) (map[string]lineage.ObjectRef, error) {
	declared := map[string]bool{}
	for _, name := range st.kind.Outputs() {
		declared[name] = true
		if res.Outputs[name] == nil {
			return nil, fmt.Errorf("step produced no %q output", name)
		}
	}
	outputs := make(map[string]lineage.ObjectRef, len(res.Outputs))
	for _, name := range sortedKeys(res.Outputs) {
		if !declared[name] {
			return nil, fmt.Errorf("step produced undeclared output %q", name)
		}
		o := res.Outputs[name]
		ref, ok := same[name]
		if !ok {
			id, size, err := r.opts.Store.PutObject(ctx, o.TypeName(), o)
			if err != nil {
				return nil, fmt.Errorf("output %q: %w", name, err)
			}
			ref = lineage.ObjectRef{ID: id, Type: o.TypeName(), Size: size}
		}
		outputs[name] = ref
		r.mu.Lock()
		if _, ok := r.objects[ref.ID]; !ok {
			r.objects[ref.ID] = o
		}
		r.held[st.spec.ID] = append(r.held[st.spec.ID], ref.ID)
		r.holders[ref.ID]++
		r.mu.Unlock()
	}
	return outputs, nil
}

// hold records that a step's outputs (taken from the cache) keep their
// objects in memory once loaded, until the step is released.
func (r *runner) hold(id string, outputs map[string]lineage.ObjectRef) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ref := range outputs {
		r.held[id] = append(r.held[id], ref.ID)
		r.holders[ref.ID]++
	}
}

// releaseInputs releases, once a step's Run has returned, the steps whose
// only unfinished dependant it is (finish would release them next).
func (r *runner) releaseInputs(spec *pipeline.StepSpec) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, dep := range spec.Deps() {
		if r.pending[dep] == 1 {
			r.release(dep)
		}
	}
}

// release drops the in-memory outputs of a step whose dependants have all
// finished, so that a run holds only the datasets still to be read (peak
// memory); an object another step still holds stays. Should another step
// still want a dropped object, load reads it back from the store. Calling
// it again for the same step does nothing. Callers hold r.mu.
func (r *runner) release(id string) {
	for _, obj := range r.held[id] {
		if r.holders[obj]--; r.holders[obj] <= 0 {
			delete(r.holders, obj)
			delete(r.objects, obj)
		}
	}
	delete(r.held, id)
}

// load returns the object ref names: from memory when this run produced or
// loaded it, otherwise read (and re-hashed) from the store and decoded.
func (r *runner) load(ctx context.Context, ref lineage.ObjectRef) (pipeline.Object, error) {
	r.mu.Lock()
	o, ok := r.objects[ref.ID]
	r.mu.Unlock()
	if ok {
		return o, nil
	}
	data, err := r.opts.Store.GetObject(ctx, ref.ID)
	if err != nil {
		return nil, err
	}
	o, err = r.opts.Registry.Decode(ref.Type, data)
	if err != nil {
		return nil, fmt.Errorf("decode object %s: %w", ref.ID.Short(), err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.objects[ref.ID]; ok {
		return prev, nil
	}
	r.objects[ref.ID] = o
	return o, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
