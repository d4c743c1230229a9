package registry

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/governance"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// RegisterRequest asks for a new version of a model.
type RegisterRequest struct {
	// Name is the model's name.
	Name string
	// Run is the run record and Step the id of the step (a train step)
	// whose "model" output is registered.
	Run  *lineage.RunRecord
	Step string
	// Gates, when not empty, replace the model's promotion gates.
	Gates []string
	// Aliases are set to the new version without gates (e.g. challenger).
	Aliases []string
	// Reason is recorded with the aliases set.
	Reason string
	// Describe fills Algorithm, Features and Target from the model object;
	// nil leaves them empty.
	Describe func(ctx context.Context, ref lineage.ObjectRef) (algorithm string, features []string, target string, err error)
	// Scoring fills what the version needs to be scored, monitored and
	// reported without the pipeline file: Source, Chain, ModelCard,
	// Protected and Reasons, storing the objects it names; nil leaves
	// them empty.
	Scoring func(ctx context.Context, v *Version) error
}

// Registration is the outcome of Register.
type Registration struct {
	// Version is the new version, or the version that already held the
	// model object (Existing).
	Version *Version
	// Existing is set when the model object already was a version of the
	// name: nothing was registered.
	Existing bool
	// Head is the audit head after the registration ("" when Existing).
	Head string
}

// Describe builds the version description of a run's step, without
// storing anything: the model object, the training data fingerprints
// (files read by the load steps upstream of the step), the training dataset
// and the evaluate steps that read the model.
func Describe(run *lineage.RunRecord, stepID string) (*Version, error) {
	s := run.Step(stepID)
	if s == nil {
		return nil, pipeline.Invalidf("run %s has no step %q", run.ID, stepID)
	}
	obj, ok := s.Outputs["model"]
	if !ok {
		for _, o := range s.Outputs {
			if o.Type == "model" {
				obj, ok = o, true
			}
		}
	}
	if !ok {
		return nil, pipeline.Invalidf("step %q of run %s (%s) has no model output", stepID, run.ID, s.Kind)
	}
	switch s.Status {
	case lineage.StepOK, lineage.StepCached:
	default:
		return nil, pipeline.Invalidf("step %q of run %s has status %s; only a step that succeeded can be registered", stepID, run.ID, s.Status)
	}
	v := &Version{
		Run: run.ID, Step: stepID, Object: obj,
		Pipeline: run.Pipeline, PipelineFile: run.File, PipelineSHA256: run.FileSHA256,
		Params: run.Params, Git: run.Git, MlrunVersion: run.Version,
		Threshold:    0.5,
		TrainingData: []pipeline.FileInfo{},
		Metrics:      lineage.Metrics{},
	}
	if in, ok := s.Inputs["input"]; ok {
		in := in
		v.TrainingSet = &in
	}
	seen := map[string]bool{}
	walkUpstream(run, stepID, map[string]bool{}, func(u *lineage.StepRecord) {
		for _, f := range u.Files {
			if k := f.Path + "\x00" + f.SHA256; !seen[k] {
				seen[k] = true
				v.TrainingData = append(v.TrainingData, f)
			}
		}
	})
	sort.Slice(v.TrainingData, func(i, j int) bool { return v.TrainingData[i].Path < v.TrainingData[j].Path })
	for i := range run.Steps {
		e := &run.Steps[i]
		reads := false
		for _, in := range e.Inputs {
			reads = reads || in.ID == obj.ID
		}
		// Steps that read the model without judging it (register) are
		// not evaluations.
		if !reads || e.ID == stepID || (len(e.Metrics) == 0 && len(e.Checks) == 0) {
			continue
		}
		v.Evaluations = append(v.Evaluations, Evaluation{Step: e.ID, Kind: e.Kind, Metrics: e.Metrics, Checks: e.Checks, Outputs: e.Outputs})
		for k, x := range e.Metrics {
			if _, dup := v.Metrics[k]; !dup {
				v.Metrics[k] = x
			}
		}
	}
	if len(v.Evaluations) > 0 {
		if t, ok := v.Evaluations[0].Metrics["threshold"]; ok {
			v.Threshold = t
		}
	}
	for k, x := range s.Metrics {
		if _, dup := v.Metrics[k]; !dup {
			v.Metrics[k] = x
		}
	}
	return v, nil
}

// walkUpstream calls fn for the step and every step it read from,
// transitively. Steps are recorded in pipeline (topological) order, and a
// step that passes its input through (validate) outputs the same object as
// its producer, so the producer of an input is the nearest earlier step
// that output it (as `mlrun lineage` does).
func walkUpstream(run *lineage.RunRecord, stepID string, visited map[string]bool, fn func(*lineage.StepRecord)) {
	s := run.Step(stepID)
	if s == nil || visited[stepID] {
		return
	}
	visited[stepID] = true
	fn(s)
	for _, ref := range s.Inputs {
		if producer := run.Producer(stepID, ref.ID); producer != "" {
			walkUpstream(run, producer, visited, fn)
		}
	}
}

// Register adds the next version of req.Name, unless the model object
// already is a version of the name (then it returns that version, with
// Existing set, and changes nothing): registration is idempotent, also
// between processes registering at once, since the check, the numbering and
// the commit are one transaction. The version description is stored as an
// object and pinned (with the model, the training dataset, the evaluation
// outputs and the run record) in the commit that names it.
func (r *Registry) Register(ctx context.Context, req RegisterRequest) (*Registration, error) {
	if err := CheckName(req.Name); err != nil {
		return nil, err
	}
	for _, a := range req.Aliases {
		if err := CheckAlias(a); err != nil {
			return nil, err
		}
	}
	v, err := Describe(req.Run, req.Step)
	if err != nil {
		return nil, err
	}
	if err := r.st.VerifyObjectCached(ctx, v.Object.ID); err != nil {
		return nil, fmt.Errorf("model object %s of %s %s: %w", v.Object.ID.Short(), req.Run.ID, req.Step, err)
	}
	if req.Describe != nil {
		v.Algorithm, v.Features, v.Target, err = req.Describe(ctx, v.Object)
		if err != nil {
			return nil, err
		}
	}
	// Gates must compile against the version's metrics.
	for _, g := range req.Gates {
		if _, err := r.compileGate(g, v.Metrics, v.Metrics); err != nil {
			return nil, err
		}
	}
	unlockRun, err := r.st.RunLock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlockRun()
	if req.Scoring != nil {
		if err := req.Scoring(ctx, v); err != nil {
			return nil, err
		}
	}

	v.Model = req.Name
	v.User, v.Host = lineage.Who()
	v.Actor, v.Via = r.st.Actor()
	var existing *Version
	head, err := r.update(ctx, req.Name, true, func(ctx context.Context, tx *lineage.Tx, m *Model) ([]lineage.AuditEntry, error) {
		existing = nil
		v.Waivers = nil
		for _, a := range req.Aliases {
			if p := m.Protected[a]; p.Approvals > 0 {
				return nil, pipeline.Invalidf("alias %s of %s is protected (%d approvals): register without --alias and promote, which asks for approvals", a, m.Name, p.Approvals)
			}
		}
		// A run's failed checks block the registration of its model unless
		// waived: evaluate gates (fairness, performance), and the checks of
		// the steps upstream of the train step.
		waivers, err := governance.ListWaivers(ctx, tx)
		if err != nil {
			return nil, err
		}
		if unwaived, used := waivers.Unwaived(req.Run, checkedSteps(req.Run, v), r.now()); len(unwaived) > 0 {
			return nil, pipeline.WithExitCode(pipeline.ExitCheckFailed, fmt.Errorf("%w: run %s failed %s: not registered (fix the cause, or waive each failed check with 'mlrun waive')",
				ErrChecksFailed, req.Run.ID, strings.Join(unwaived, ", ")))
		} else {
			for _, w := range used {
				v.Waivers = append(v.Waivers, WaiverRef{ID: w.ID, By: w.Approval.Principal, Expires: w.Expires, Reason: w.Reason})
			}
		}
		for _, ref := range m.Versions {
			obj := ref.ModelObject
			var old *Version
			if obj.IsNull() {
				var err error
				if old, err = readVersion(ctx, r.st, m, ref.Version); err != nil {
					return nil, err
				}
				obj = old.Object.ID
			}
			if obj == v.Object.ID {
				if old == nil {
					var err error
					if old, err = readVersion(ctx, r.st, m, ref.Version); err != nil {
						return nil, err
					}
				}
				existing = old
				return nil, nil // nothing to commit
			}
		}
		nv := *v
		nv.Version = m.Latest() + 1
		nv.Registered = r.now().UTC()
		id, _, err := r.st.PutObject(ctx, VersionType, &pipeline.Document{Type: VersionType, Value: &nv})
		if err != nil {
			return nil, err
		}
		*v = nv
		pin := &lineage.Pin{Objects: []lineage.ID{id, v.Object.ID}, Runs: []string{v.Run}, Why: "registered model " + v.Ref()}
		if v.TrainingSet != nil {
			pin.Objects = append(pin.Objects, v.TrainingSet.ID)
		}
		for _, e := range v.Evaluations {
			for _, o := range sortedKeys(e.Outputs) {
				pin.Objects = append(pin.Objects, e.Outputs[o].ID)
			}
		}
		for _, o := range []lineage.ID{v.Source, v.Chain} {
			if !o.IsNull() {
				pin.Objects = append(pin.Objects, o)
			}
		}
		if err := tx.PutPin(ctx, fmt.Sprintf("model-%s-v%d", v.Model, v.Version), pin); err != nil {
			return nil, err
		}
		m.Versions = append(m.Versions, VersionRef{Version: v.Version, Doc: id, Registered: v.Registered, Run: v.Run, ModelObject: v.Object.ID})
		if len(req.Gates) > 0 {
			m.Gates = append([]string(nil), req.Gates...)
		}
		var files []string
		for _, f := range v.TrainingData {
			files = append(files, f.Path+"@"+f.SHA256)
		}
		entries := []lineage.AuditEntry{{
			Type: AuditModelRegistered, User: v.User, Host: v.Host, Actor: v.Actor, Via: v.Via, Time: v.Registered,
			Run: v.Run, Step: v.Step, Pipeline: v.Pipeline,
			Detail: map[string]string{
				"model": v.Model, "version": strconv.Itoa(v.Version), "version_object": id.String(),
				"model_object": v.Object.ID.String(), "training_data": strings.Join(files, ","),
				"pipeline_sha256": v.PipelineSHA256, "gates": strings.Join(m.Gates, " ; "),
			},
		}}
		for _, a := range req.Aliases {
			mv := Move{Alias: a, Action: "register", From: m.Aliases[a], To: v.Version, Time: v.Registered, Actor: v.Actor, Via: v.Via, User: v.User, Host: v.Host, Reason: req.Reason}
			m.History = append(m.History, mv)
			if m.Aliases == nil {
				m.Aliases = map[string]int{}
			}
			m.Aliases[a] = v.Version
			entries = append(entries, moveEntry(m.Name, mv))
		}
		return entries, nil
	})
	if err != nil {
		return nil, err
	}
	if existing != nil {
		return &Registration{Version: existing, Existing: true}, nil
	}
	return &Registration{Version: v, Head: head}, nil
}

// checkedSteps are the steps whose failed checks block registering v: the
// train step, the steps upstream of it and the evaluations of its model.
func checkedSteps(run *lineage.RunRecord, v *Version) []string {
	var out []string
	walkUpstream(run, v.Step, map[string]bool{}, func(s *lineage.StepRecord) { out = append(out, s.ID) })
	for _, e := range v.Evaluations {
		out = append(out, e.Step)
	}
	return out
}

// moveEntry is the audit entry of an alias move.
func moveEntry(model string, mv Move) lineage.AuditEntry {
	d := map[string]string{
		"model": model, "alias": mv.Alias, "action": mv.Action,
		"from": strconv.Itoa(mv.From), "to": strconv.Itoa(mv.To), "reason": mv.Reason,
	}
	var gates []string
	for _, g := range mv.Gates {
		gates = append(gates, g.String())
	}
	if len(gates) > 0 {
		d["gates"] = strings.Join(gates, " ; ")
	}
	return lineage.AuditEntry{Type: AuditAliasMoved, Time: mv.Time, User: mv.User, Host: mv.Host, Detail: d}
}
