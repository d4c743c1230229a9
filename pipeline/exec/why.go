package exec

import (
	"context"
	"fmt"
	"sort"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/pdiff"
)

// What a KeyChange is about.
const (
	ChangeKind        = "kind"
	ChangeKindVersion = "kind version"
	ChangeSetting     = "setting"
	ChangeInput       = "input"
	ChangeFile        = "file"
)

// KeyChange is one component of a step's cache key that differs from the
// one recorded before, with its old and new values.
type KeyChange struct {
	// What is ChangeKind, ChangeKindVersion, ChangeSetting, ChangeInput or
	// ChangeFile.
	What string `json:"what"`
	// Name is the setting's path in the resolved configuration (e.g.
	// "params.min_auc", "columns[credit_utilization].expr"), the input
	// port or the file path.
	Name string `json:"name,omitempty"`
	// Op is pdiff.OpAdded, OpRemoved, OpChanged or OpReordered.
	Op  string `json:"op"`
	Old any    `json:"old,omitempty"`
	New any    `json:"new,omitempty"`
}

// String renders the change in one line, e.g.
// `setting params.min_auc: 0.7 -> 0.99` or
// `file data.csv changed (sha256 1a2b3c4d5e6f -> 0f9e8d7c6b5a)`.
func (c KeyChange) String() string {
	switch c.What {
	case ChangeSetting:
		return "setting " + pdiff.Change{Path: c.Name, Op: c.Op, Old: c.Old, New: c.New}.String()
	case ChangeKind, ChangeKindVersion:
		return fmt.Sprintf("%s: %v -> %v", c.What, c.Old, c.New)
	}
	switch c.Op {
	case pdiff.OpAdded:
		return fmt.Sprintf("%s %s added: %v", c.What, c.Name, c.New)
	case pdiff.OpRemoved:
		return fmt.Sprintf("%s %s removed (was %v)", c.What, c.Name, c.Old)
	}
	return fmt.Sprintf("%s %s changed (%v -> %v)", c.What, c.Name, c.Old, c.New)
}

// CompareKeys lists, field by field, how the key components of cur differ
// from last: kind and version, every setting of the resolved configuration
// (by path), every input (object id) and every file (SHA-256). Inputs are
// compared only when cur has some (a plan cannot know the inputs of a step
// whose upstream will re-run).
func CompareKeys(last, cur *lineage.KeyRecord) []KeyChange {
	var out []KeyChange
	if last.Kind != cur.Kind {
		out = append(out, KeyChange{What: ChangeKind, Op: pdiff.OpChanged, Old: last.Kind, New: cur.Kind})
	} else if last.KindVersion != cur.KindVersion {
		out = append(out, KeyChange{What: ChangeKindVersion, Op: pdiff.OpChanged, Old: last.KindVersion, New: cur.KindVersion})
	}
	if len(last.Config) > 0 && len(cur.Config) > 0 {
		for _, c := range pdiff.JSON(last.Config, cur.Config) {
			out = append(out, KeyChange{What: ChangeSetting, Name: c.Path, Op: c.Op, Old: c.Old, New: c.New})
		}
	}
	if cur.Inputs != nil {
		ports := map[string]bool{}
		for k := range last.Inputs {
			ports[k] = true
		}
		for k := range cur.Inputs {
			ports[k] = true
		}
		for _, port := range sortedKeys(ports) {
			o, had := last.Inputs[port]
			n, has := cur.Inputs[port]
			switch {
			case !had:
				out = append(out, KeyChange{What: ChangeInput, Name: port, Op: pdiff.OpAdded, New: n.ID.Short()})
			case !has:
				out = append(out, KeyChange{What: ChangeInput, Name: port, Op: pdiff.OpRemoved, Old: o.ID.Short()})
			case o.ID != n.ID:
				out = append(out, KeyChange{What: ChangeInput, Name: port, Op: pdiff.OpChanged, Old: o.ID.Short(), New: n.ID.Short()})
			}
		}
	}
	oldFiles := map[string]lineage.KeyFile{}
	for _, f := range last.Files {
		oldFiles[f.Path] = f
	}
	newFiles := map[string]bool{}
	for _, f := range cur.Files {
		newFiles[f.Path] = true
		o, ok := oldFiles[f.Path]
		switch {
		case !ok:
			out = append(out, KeyChange{What: ChangeFile, Name: f.Path, Op: pdiff.OpAdded, New: "sha256 " + short(f.SHA256)})
		case o.SHA256 != f.SHA256:
			out = append(out, KeyChange{What: ChangeFile, Name: f.Path, Op: pdiff.OpChanged,
				Old: fmt.Sprintf("sha256 %s, %d bytes", short(o.SHA256), o.Size), New: fmt.Sprintf("sha256 %s, %d bytes", short(f.SHA256), f.Size)})
		}
	}
	for _, f := range last.Files {
		if !newFiles[f.Path] {
			out = append(out, KeyChange{What: ChangeFile, Name: f.Path, Op: pdiff.OpRemoved, Old: "sha256 " + short(f.SHA256)})
		}
	}
	return out
}

// WhyStep explains what happens to one step, field by field: Changes are
// the key components that differ from LastKey's. For a step whose upstream
// will re-run, inputs are not compared (they are not known yet) but
// settings, kind and files are.
type WhyStep struct {
	PlanStep
	// LastRun is the run that recorded the key compared with, and LastKey
	// that key.
	LastRun string `json:"last_run,omitempty"`
	LastKey string `json:"last_key,omitempty"`
}

// WhyReport explains why a step would re-run (Why) or did re-run (WhyRun).
type WhyReport struct {
	Pipeline string `json:"pipeline"`
	// Run is the run explained, for WhyRun; Previous the run compared with.
	Run      string  `json:"run,omitempty"`
	Previous string  `json:"previous,omitempty"`
	Step     WhyStep `json:"step"`
	// Upstream are the steps upstream of Step that will re-run (or did), in
	// pipeline order, each with its own explanation.
	Upstream []WhyStep `json:"upstream,omitempty"`
}

// Why explains, field by field, why Run would re-run step id of p (or why
// it is cached): the plan's verdict, then every key component that differs
// from the last key recorded for the step, and the same for each upstream
// step that will re-run.
func Why(ctx context.Context, p *pipeline.Pipeline, opts Options, id string) (*WhyReport, error) {
	target := p.Step(id)
	if target == nil {
		return nil, pipeline.Invalidf("no step %q in %s", id, p.File)
	}
	steps, _, err := prepare(p, &opts)
	if err != nil {
		return nil, err
	}
	plan, err := Plan(ctx, p, opts)
	if err != nil {
		return nil, err
	}
	byID := map[string]PlanStep{}
	for _, ps := range plan.Steps {
		byID[ps.ID] = ps
	}
	// Outputs known without running: those of cached steps.
	outputs := map[string]map[string]lineage.ObjectRef{}
	for _, spec := range p.Steps {
		if byID[spec.ID].Action != ActionCached {
			continue
		}
		if e, err := opts.Store.GetCache(ctx, byID[spec.ID].Key); err == nil {
			outputs[spec.ID] = e.Outputs
		}
	}
	explain := func(spec *pipeline.StepSpec) WhyStep {
		ws := WhyStep{PlanStep: byID[spec.ID]}
		last, err := opts.Store.GetLastKey(ctx, p.Name, spec.ID)
		if err != nil {
			return ws
		}
		ws.LastRun, ws.LastKey = last.RunID, last.Key
		var inputs map[string]lineage.ObjectRef
		complete := true
		for _, in := range spec.Inputs {
			ref, ok := outputs[in.Step][in.Output]
			if !ok {
				complete = false
				break
			}
			if inputs == nil {
				inputs = map[string]lineage.ObjectRef{}
			}
			inputs[in.Port] = lineage.ObjectRef{ID: ref.ID, Type: ref.Type}
		}
		desc, _, err := stepDesc(ctx, p, spec, steps[spec.ID].kind, inputs, opts.Store, opts.Rehash)
		if err != nil {
			return ws
		}
		cur := keyRecord(p, spec, desc, "", "")
		if !complete || len(spec.Inputs) == 0 {
			cur.Inputs = nil
		}
		ws.Changes = CompareKeys(last, cur)
		return ws
	}
	rep := &WhyReport{Pipeline: p.Name, Step: explain(target)}
	for _, a := range ancestors(p, id) {
		if byID[a].Action == ActionRun {
			rep.Upstream = append(rep.Upstream, explain(p.Step(a)))
		}
	}
	return rep, nil
}

// ancestors returns the steps upstream of id, in pipeline order.
func ancestors(p *pipeline.Pipeline, id string) []string {
	up := map[string]bool{}
	var walk func(string)
	walk = func(s string) {
		for _, d := range p.Step(s).Deps() {
			if !up[d] {
				up[d] = true
				walk(d)
			}
		}
	}
	walk(id)
	var out []string
	for _, s := range p.Steps {
		if up[s.ID] {
			out = append(out, s.ID)
		}
	}
	return out
}

// WhyRun explains why step id ran (or was cached, or skipped) in run
// runID: field by field against the same step in the latest earlier run of
// the same pipeline that computed its key, and the same for every upstream
// step that ran.
func WhyRun(ctx context.Context, store *lineage.Store, runID, id string) (*WhyReport, error) {
	rec, err := store.GetRun(ctx, runID)
	if err != nil {
		return nil, err
	}
	var target *lineage.StepRecord
	for i := range rec.Steps {
		if rec.Steps[i].ID == id {
			target = &rec.Steps[i]
		}
	}
	if target == nil {
		return nil, pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("run %s has no step %q", rec.ID, id))
	}
	runs, err := store.ListRuns(ctx)
	if err != nil {
		return nil, err
	}
	var prev *lineage.RunRecord
	for _, r := range runs {
		if r.ID != rec.ID && r.Pipeline == rec.Pipeline && r.Start.Before(rec.Start) {
			prev = r // oldest first: the last one wins
		}
	}
	rep := &WhyReport{Pipeline: rec.Pipeline, Run: rec.ID}
	if prev != nil {
		rep.Previous = prev.ID
	}
	explain := func(s *lineage.StepRecord) WhyStep {
		ws := WhyStep{PlanStep: PlanStep{ID: s.ID, Kind: s.Kind, Key: s.CacheKey}}
		switch {
		case s.Status == lineage.StepSkipped:
			ws.Action = ActionSkip
		case s.CacheHit:
			ws.Action = ActionCached
			ws.CheckFailed = s.Status == lineage.StepCheckFailed
		default:
			ws.Action = ActionRun
		}
		if s.Reason != "" {
			ws.Reasons = []string{s.Reason}
		}
		if ws.Action != ActionRun || s.CacheKey == "" {
			return ws
		}
		var last *lineage.StepRecord
		for _, r := range runs {
			if r.ID == rec.ID || r.Pipeline != rec.Pipeline || !r.Start.Before(rec.Start) {
				continue
			}
			for i := range r.Steps {
				if r.Steps[i].ID == s.ID && r.Steps[i].CacheKey != "" {
					last = &r.Steps[i]
					ws.LastRun = r.ID
				}
			}
		}
		if last == nil {
			if len(ws.Reasons) == 0 {
				ws.Reasons = []string{"no earlier run of this step"}
			}
			return ws
		}
		ws.LastKey = last.CacheKey
		ws.Changes = CompareKeys(stepKeyRecord(last), stepKeyRecord(s))
		if len(ws.Reasons) == 0 {
			switch {
			case last.CacheKey == s.CacheKey:
				ws.Reasons = []string{"same cache key as run " + ws.LastRun + ": its cache entry was missing or unusable"}
			case len(ws.Changes) == 0:
				ws.Reasons = []string{"cache key changed (the earlier run did not record its configuration)"}
			default:
				ws.Reasons = []string{"cache key changed"}
			}
		}
		return ws
	}
	rep.Step = explain(target)
	// Upstream steps: the producer of each recorded input is the latest
	// step before the consumer that output that object (a validate step
	// passes its input through, so several steps may output it).
	index := map[string]int{}
	for i := range rec.Steps {
		index[rec.Steps[i].ID] = i
	}
	up := map[string]bool{}
	var walk func(i int)
	walk = func(i int) {
		for _, in := range rec.Steps[i].Inputs {
			if j := rec.Producer(rec.Steps[i].ID, in.ID); j != "" && !up[j] {
				up[j] = true
				walk(index[j])
			}
		}
	}
	walk(index[target.ID])
	for i := range rec.Steps {
		s := &rec.Steps[i]
		if up[s.ID] && !s.CacheHit && s.Status != lineage.StepSkipped {
			rep.Upstream = append(rep.Upstream, explain(s))
		}
	}
	return rep, nil
}

// stepKeyRecord rebuilds the key components of a step from its record.
func stepKeyRecord(s *lineage.StepRecord) *lineage.KeyRecord {
	k := &lineage.KeyRecord{Step: s.ID, Key: s.CacheKey, Kind: s.Kind, KindVersion: s.KindVersion, Config: s.Config,
		Inputs: map[string]lineage.ObjectRef{}}
	for port, in := range s.Inputs {
		k.Inputs[port] = in
	}
	for _, f := range s.Files {
		k.Files = append(k.Files, lineage.KeyFile{Path: f.Path, SHA256: f.SHA256, Size: f.Size})
	}
	sort.Slice(k.Files, func(i, j int) bool { return k.Files[i].Path < k.Files[j].Path })
	return k
}
