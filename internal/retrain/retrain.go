// Package retrain is mlrun's retraining loop: when a monitored batch fails
// a critical check, run the training pipeline on the new data window,
// register its model as a new version of the registered model (the
// challenger, alias challenger), and promote it to the champion's alias
// through the registry's promotion gates, where current.METRIC is the
// champion's metric. An alias that is not protected moves at once when
// the gates pass; a protected one gets a pending approval request, which
// people approve (mlrun models approve). Nothing is promoted when a gate
// fails, nor registered when the training run fails a check.
//
// A monitor step declares the loop (`on_critical: retrain:`, see
// steps/monitor Retrain); `mlrun run` and `mlrun monitor --retrain` carry
// it out, `mlrun retrain` runs it on its own, and `mlrun export argo
// --cron` schedules it as one CronWorkflow.
package retrain

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
	"github.com/mlrun-cli/mlrun/steps/monitor"
)

// ChallengerAlias is the alias a retrained version gets at registration.
const ChallengerAlias = "challenger"

// Spec is one retraining.
type Spec struct {
	// Pipeline is the training pipeline file; Params its -p overrides
	// (name=value), the new data window among them.
	Pipeline string
	Params   []string
	// Step is the train step whose model is registered ("": the only one).
	Step string
	// Model is the registered model's name; Alias the alias to promote to.
	Model, Alias string
	// Gates are checked besides the model's own promotion gates.
	Gates []string
	// Reason is recorded with the registration and the promotion.
	Reason string
}

// FromMonitor returns the retraining a monitor step of p declares
// (on_critical: retrain), its pipeline path resolved against p's
// directory; ok is false when it declares none.
func FromMonitor(p *pipeline.Pipeline, stepID string) (Spec, bool) {
	s := p.Step(stepID)
	if s == nil || s.Kind != "monitor" || s.Compiled == nil {
		return Spec{}, false
	}
	cfg, _ := s.Compiled.CacheConfig().(*monitor.Config)
	if cfg == nil || cfg.OnCritical == nil || cfg.OnCritical.Retrain == nil {
		return Spec{}, false
	}
	r := cfg.OnCritical.Retrain
	file := r.Pipeline
	if !filepath.IsAbs(file) {
		file = filepath.Join(p.Dir, file)
	}
	var params []string
	for k, v := range r.Params {
		params = append(params, k+"="+v)
	}
	sort.Strings(params)
	return Spec{Pipeline: file, Params: params, Step: r.Step, Model: r.Model, Alias: r.Alias, Gates: r.Gates,
		Reason: fmt.Sprintf("retrained: monitor step %s of %s failed a critical check", stepID, p.Name)}, true
}

// Triggered returns the monitor steps of a run that failed a critical
// check (their status is check-failed) and declare a retraining, with it.
func Triggered(p *pipeline.Pipeline, rec *lineage.RunRecord) map[string]Spec {
	out := map[string]Spec{}
	for _, s := range rec.Steps {
		if s.Kind != "monitor" || s.Status != lineage.StepCheckFailed {
			continue
		}
		if spec, ok := FromMonitor(p, s.ID); ok {
			out[s.ID] = spec
		}
	}
	return out
}

// Env is what a retraining needs from its caller (the CLI): loading and
// running a pipeline as mlrun run does, and registering a run's model
// with the CLI's descriptions.
type Env struct {
	// Load loads and compiles a pipeline file with -p overrides.
	Load func(file string, params []string) (*pipeline.Pipeline, error)
	// Run runs it into the store; a check that failed is an error of exit
	// code 1 with the record.
	Run func(ctx context.Context, p *pipeline.Pipeline) (*lineage.RunRecord, error)
	// Register registers the model of a run's step.
	Register func(ctx context.Context, req registry.RegisterRequest) (*registry.Registration, error)
	// Registry promotes.
	Registry *registry.Registry
}

// Status says how a retraining ended.
type Status string

// The outcomes of a retraining.
const (
	// Promoted: the alias moved to the challenger.
	Promoted Status = "promoted"
	// Pending: the alias is protected; an approval request waits.
	Pending Status = "pending"
	// Refused: a promotion gate failed; the challenger stays a challenger.
	Refused Status = "refused"
	// NotRegistered: the training run failed a check.
	NotRegistered Status = "not-registered"
	// Unchanged: the model trained is already a version of the model
	// (nothing new in the data window), or already holds the alias.
	Unchanged Status = "unchanged"
)

// Outcome is what a retraining did.
type Outcome struct {
	Status Status
	// Run is the training run.
	Run *lineage.RunRecord
	// Registration is the challenger's (nil when not registered).
	Registration *registry.Registration
	// Promotion is the move or the pending request; Refusal the failed
	// gates.
	Promotion *registry.Promotion
	Refusal   *registry.GateError
}

// Lines describes the outcome for people.
func (o *Outcome) Lines(spec Spec) []string {
	var l []string
	if o.Run != nil {
		l = append(l, fmt.Sprintf("retrain: ran %s (run %s, %s)", spec.Pipeline, o.Run.ID, o.Run.Status))
	}
	if o.Registration != nil {
		v := o.Registration.Version
		switch {
		case o.Registration.Existing && o.Status == Unchanged:
			l = append(l, fmt.Sprintf("retrain: the model trained already is %s; nothing new to promote", v.Ref()))
		case o.Registration.Existing:
			l = append(l, fmt.Sprintf("retrain: the model trained already is %s", v.Ref()))
		default:
			l = append(l, fmt.Sprintf("retrain: registered challenger %s (alias %s)", v.Ref(), ChallengerAlias))
		}
	}
	switch o.Status {
	case Promoted:
		mv := o.Promotion.Move
		l = append(l, fmt.Sprintf("retrain: promoted %s@%d to %s (was %d)", spec.Model, mv.To, spec.Alias, mv.From))
		for _, g := range mv.Gates {
			l = append(l, "  gate "+g.String())
		}
	case Pending:
		q := o.Promotion.Request
		l = append(l, fmt.Sprintf("retrain: %s is protected: request %s to promote %s@%d is pending %d approval(s) (mlrun models approve %s)",
			spec.Alias, q.Ref(spec.Model), spec.Model, q.Version, q.Approvals, q.Ref(spec.Model)))
		for _, g := range q.Gates {
			l = append(l, "  gate "+g.String())
		}
	case Refused:
		l = append(l, "retrain: not promoted: "+o.Refusal.Error())
	case NotRegistered:
		l = append(l, "retrain: not registered: the training run did not pass")
	}
	return l
}

// Run retrains: runs the training pipeline, registers its model as the
// challenger, and promotes it (or asks to). A failed check of the training
// run or a failed gate is an outcome, not an error.
func Run(ctx context.Context, env Env, spec Spec) (*Outcome, error) {
	if spec.Model == "" {
		return nil, pipeline.Invalidf("retrain: no model name")
	}
	if spec.Alias == "" {
		spec.Alias = "champion"
	}
	if spec.Reason == "" {
		spec.Reason = "retrained on " + strings.Join(spec.Params, " ")
	}
	p, err := env.Load(spec.Pipeline, spec.Params)
	if err != nil {
		return nil, fmt.Errorf("retrain: %w", err)
	}
	step, err := trainStep(p, spec.Step)
	if err != nil {
		return nil, err
	}
	rec, runErr := env.Run(ctx, p)
	out := &Outcome{Run: rec}
	if rec == nil {
		return nil, fmt.Errorf("retrain: %w", runErr)
	}
	if runErr != nil {
		if pipeline.ExitCode(runErr) == pipeline.ExitCheckFailed {
			out.Status = NotRegistered
			return out, nil
		}
		return out, fmt.Errorf("retrain: %w", runErr)
	}
	reg, err := env.Register(ctx, registry.RegisterRequest{Name: spec.Model, Run: rec, Step: step,
		Aliases: []string{ChallengerAlias}, Reason: spec.Reason})
	if err != nil {
		return out, fmt.Errorf("retrain: register %s: %w", spec.Model, err)
	}
	out.Registration = reg
	m, err := env.Registry.Get(ctx, spec.Model)
	if err != nil {
		return out, fmt.Errorf("retrain: %w", err)
	}
	if reg.Existing && m.Aliases[spec.Alias] == reg.Version.Version {
		out.Status = Unchanged
		return out, nil
	}
	prom, err := env.Registry.Promote(ctx, registry.PromoteRequest{Name: spec.Model, Version: reg.Version.Version,
		Alias: spec.Alias, Reason: spec.Reason, Gates: spec.Gates})
	var gerr *registry.GateError
	switch {
	case errors.As(err, &gerr):
		out.Status, out.Refusal = Refused, gerr
	case err != nil && reg.Existing && pipeline.ExitCode(err) == pipeline.ExitInvalid:
		// A request for this version is pending already.
		out.Status = Unchanged
		return out, nil
	case err != nil:
		return out, fmt.Errorf("retrain: promote %s@%d to %s: %w", spec.Model, reg.Version.Version, spec.Alias, err)
	case prom.Request != nil:
		out.Status, out.Promotion = Pending, prom
	default:
		out.Status, out.Promotion = Promoted, prom
	}
	return out, nil
}

// trainStep returns the train step whose model is registered.
func trainStep(p *pipeline.Pipeline, want string) (string, error) {
	var trains []string
	for _, s := range p.Steps {
		if s.Kind == "train" {
			trains = append(trains, s.ID)
		}
	}
	if want != "" {
		if s := p.Step(want); s == nil || s.Kind != "train" {
			return "", pipeline.Invalidf("retrain: %s has no train step %q (train steps: %s)", p.File, want, strings.Join(trains, ", "))
		}
		return want, nil
	}
	if len(trains) != 1 {
		return "", pipeline.Invalidf("retrain: %s has %d train steps (%s): name the one to register (step:)", p.File, len(trains), strings.Join(trains, ", "))
	}
	return trains[0], nil
}
