package exec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/pdiff"
)

// Plan actions.
const (
	ActionRun    = "run"
	ActionCached = "cached"
	ActionSkip   = "skip"
)

// PlanStep says what Run would do with a step, and why.
type PlanStep struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Action is ActionRun, ActionCached or ActionSkip.
	Action string `json:"action"`
	// Reasons explain a run or skip: "no previous run", "forced",
	// "input X changed (old -> new)", "file F changed (old -> new)",
	// "setting changed: a, b", "kind version changed (1 -> 2)",
	// "upstream step S will re-run", ...
	Reasons []string `json:"reasons,omitempty"`
	// Key is the step's cache key, empty when it depends on a step that
	// will re-run (its inputs are not known yet).
	Key string `json:"key,omitempty"`
	// CheckFailed is true for a cached step whose recorded checks failed.
	CheckFailed bool `json:"check_failed,omitempty"`
	// Changes details Reasons field by field: each key component that
	// differs from the last key recorded for the step, with old and new
	// values (e.g. setting params.min_auc: 0.7 -> 0.99).
	Changes []KeyChange `json:"changes,omitempty"`
}

// PlanReport is the outcome of Plan, steps in pipeline order.
type PlanReport struct {
	Pipeline string     `json:"pipeline"`
	Steps    []PlanStep `json:"steps"`
}

// Plan reports, for each step, whether Run would run it or reuse its cache
// entry, and why, by comparing the step's key components with the last
// ones recorded for the same pipeline and step. It reads the store and
// writes only memos.
func Plan(ctx context.Context, p *pipeline.Pipeline, opts Options) (*PlanReport, error) {
	steps, force, err := prepare(p, &opts)
	if err != nil {
		return nil, err
	}
	rep := &PlanReport{Pipeline: p.Name}
	outputs := map[string]map[string]lineage.ObjectRef{}
	byID := map[string]*PlanStep{}
	for _, spec := range p.Steps {
		st := steps[spec.ID]
		ps := PlanStep{ID: spec.ID, Kind: st.kind.Name()}
		planStep(ctx, p, opts, st, force[spec.ID], byID, outputs, &ps)
		rep.Steps = append(rep.Steps, ps)
		byID[spec.ID] = &rep.Steps[len(rep.Steps)-1]
	}
	return rep, nil
}

func planStep(ctx context.Context, p *pipeline.Pipeline, opts Options, st *stepState, forced bool,
	byID map[string]*PlanStep, outputs map[string]map[string]lineage.ObjectRef, ps *PlanStep) {
	spec := st.spec
	for _, dep := range spec.Deps() {
		d := byID[dep]
		switch {
		case d.Action == ActionRun:
			ps.Action = ActionRun
			ps.Reasons = append(ps.Reasons, fmt.Sprintf("upstream step %q will re-run", dep))
		case d.Action == ActionSkip && ps.Action != ActionRun:
			ps.Action = ActionSkip
			ps.Reasons = d.Reasons
		case d.CheckFailed && ps.Action != ActionRun:
			ps.Action = ActionSkip
			ps.Reasons = []string{fmt.Sprintf("upstream step %q failed checks", dep)}
		}
	}
	if ps.Action == ActionRun {
		if forced || opts.Force {
			ps.Reasons = append([]string{"forced"}, ps.Reasons...)
		}
		return
	}
	if ps.Action == ActionSkip {
		return
	}
	inputs := map[string]lineage.ObjectRef{}
	for _, in := range spec.Inputs {
		ref, ok := outputs[in.Step][in.Output]
		if !ok {
			ps.Action = ActionRun
			ps.Reasons = []string{fmt.Sprintf("input %s: step %q has no output %q", in.Port, in.Step, in.Output)}
			return
		}
		inputs[in.Port] = lineage.ObjectRef{ID: ref.ID, Type: ref.Type}
	}
	desc, _, err := stepDesc(ctx, p, spec, st.kind, inputs, opts.Store, opts.Rehash)
	if err == nil {
		ps.Key, err = desc.key()
	}
	if err != nil {
		ps.Action = ActionRun
		ps.Reasons = []string{fmt.Sprintf("cannot compute cache key: %v", err)}
		return
	}
	if forced || opts.Force {
		ps.Action = ActionRun
		ps.Reasons = []string{"forced"}
		return
	}
	entry, err := opts.Store.GetCache(ctx, ps.Key)
	var why string
	switch {
	case err == nil:
		why = checkEntry(ctx, opts.Store, st.kind, entry, false)
		if why == "" {
			ps.Action = ActionCached
			ps.CheckFailed = entry.Failed()
			outputs[spec.ID] = entry.Outputs
			return
		}
	case !errors.Is(err, lineage.ErrNotFound):
		why = "cache entry unreadable"
	}
	ps.Action = ActionRun
	last, err := opts.Store.GetLastKey(ctx, p.Name, spec.ID)
	if err != nil {
		ps.Reasons = []string{"no previous run"}
		if why != "" {
			ps.Reasons = []string{why}
		}
		return
	}
	cur := keyRecord(p, spec, desc, ps.Key, "")
	ps.Reasons = diffKeys(last, cur)
	ps.Changes = CompareKeys(last, cur)
	if why != "" {
		ps.Reasons = append(ps.Reasons, why)
	}
	if len(ps.Reasons) == 0 {
		if last.Key == ps.Key {
			ps.Reasons = []string{"no cached result (the previous run of this step failed or was interrupted)"}
		} else {
			ps.Reasons = []string{"cache key changed"}
		}
	}
}

// diffKeys explains how the key components of cur differ from last.
func diffKeys(last, cur *lineage.KeyRecord) []string {
	var out []string
	if last.Kind != cur.Kind {
		out = append(out, fmt.Sprintf("kind changed (%s -> %s)", last.Kind, cur.Kind))
	} else if last.KindVersion != cur.KindVersion {
		out = append(out, fmt.Sprintf("kind version changed (%d -> %d)", last.KindVersion, cur.KindVersion))
	}
	if !bytes.Equal(compactJSON(last.Config), compactJSON(cur.Config)) {
		if keys := changedSettings(last.Config, cur.Config); len(keys) > 0 {
			out = append(out, "setting changed: "+strings.Join(keys, ", "))
		} else {
			out = append(out, "setting changed")
		}
	}
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
			out = append(out, fmt.Sprintf("input %s added", port))
		case !has:
			out = append(out, fmt.Sprintf("input %s removed", port))
		case o.ID != n.ID:
			out = append(out, fmt.Sprintf("input %s changed (%s -> %s)", port, o.ID.Short(), n.ID.Short()))
		}
	}
	oldFiles := map[string]lineage.KeyFile{}
	for _, f := range last.Files {
		oldFiles[f.Path] = f
	}
	newFiles := map[string]lineage.KeyFile{}
	for _, f := range cur.Files {
		newFiles[f.Path] = f
	}
	for _, f := range cur.Files {
		o, ok := oldFiles[f.Path]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("file %s added", f.Path))
		case o.SHA256 != f.SHA256:
			out = append(out, fmt.Sprintf("file %s changed (sha256 %s -> %s)", f.Path, short(o.SHA256), short(f.SHA256)))
		}
	}
	for _, f := range last.Files {
		if _, ok := newFiles[f.Path]; !ok {
			out = append(out, fmt.Sprintf("file %s removed", f.Path))
		}
	}
	return out
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func compactJSON(b []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}

// changedKeys lists the top-level keys whose values differ between two
// JSON objects, or nil when either is not an object.
// maxSettingPaths is how many changed settings plan names one by one
// (e.g. columns[credit_utilization].expr); beyond, it names the top-level
// keys and `mlrun why` has the rest.
const maxSettingPaths = 3

// changedSettings names the settings that differ between two configs: the
// paths of the changed values when there are few, else the top-level keys.
func changedSettings(a, b []byte) []string {
	if len(a) > 0 && len(b) > 0 {
		if cs := pdiff.JSON(a, b); len(cs) > 0 && len(cs) <= maxSettingPaths {
			paths := make([]string, 0, len(cs))
			for _, c := range cs {
				if c.Path == "" { // not an object: the whole config
					return nil
				}
				paths = append(paths, c.Path)
			}
			return paths
		}
	}
	return changedKeys(a, b)
}

func changedKeys(a, b []byte) []string {
	var ma, mb map[string]json.RawMessage
	if json.Unmarshal(a, &ma) != nil || json.Unmarshal(b, &mb) != nil || ma == nil || mb == nil {
		return nil
	}
	var keys []string
	for k, va := range ma {
		if vb, ok := mb[k]; !ok || !bytes.Equal(compactJSON(va), compactJSON(vb)) {
			keys = append(keys, k)
		}
	}
	for k := range mb {
		if _, ok := ma[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}
