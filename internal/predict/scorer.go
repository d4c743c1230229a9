package predict

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mlrun-cli/mlrun/internal/decisions"
	"github.com/mlrun-cli/mlrun/internal/scoring"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
	"github.com/mlrun-cli/mlrun/steps/explain"
	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// Decisions of a row.
const (
	Approve = "approve"
	Adverse = "adverse"
)

// Options configure New.
type Options struct {
	// Kinds are the step kinds the chain is compiled with
	// (steps.Builtin). Required.
	Kinds *pipeline.Registry
	// PipelineFile is, for a run recorded before mlrun kept its pipeline
	// file, the file when it moved ("": the path the run recorded).
	PipelineFile string
	// Jobs bounds the goroutines of a batch; 0 means GOMAXPROCS. Results
	// do not depend on it.
	Jobs int
	// Log receives the chain's step logs (nil: none).
	Log hclog.Logger
	// Online compiles the chain for single records too (Scorer.Online,
	// Online.Score), as mlrun serve needs; mlrun predict does not.
	Online bool
}

// Scorer scores rows with one model version. It is compiled once (New)
// and safe for concurrent use.
type Scorer struct {
	v     *registry.Version
	kinds *pipeline.Registry
	chain *scoring.Chain
	model model.Model
	ex    explain.Explainer
	jobs  int
	log   hclog.Logger
	// online is the chain compiled for records (nil without
	// Options.Online).
	online *Online
}

// New compiles the scorer of version v: its scoring chain (the one the
// version keeps, else the chain of its run's pipeline source), its model,
// and the explainer of its reason codes (for logistic regression, the
// baseline is the mean over the version's training dataset). v.Threshold is
// the decision threshold.
func New(ctx context.Context, st *lineage.Store, v *registry.Version, opts Options) (*Scorer, error) {
	if opts.Kinds == nil {
		return nil, errors.New("predict: Options.Kinds is nil")
	}
	s := &Scorer{v: v, kinds: opts.Kinds, jobs: opts.Jobs, log: opts.Log}
	if s.jobs <= 0 {
		s.jobs = runtime.GOMAXPROCS(0)
	}
	if s.log == nil {
		s.log = hclog.NewNullLogger()
	}
	pipeFile := opts.PipelineFile
	if pipeFile == "" {
		pipeFile = v.PipelineFile
	}
	var err error
	// The steps the model was trained behind, as the run read them: the
	// version's chain, or the run's pipeline source, never the working copy.
	if s.chain, err = scoring.ForVersion(ctx, st, opts.Kinds, v, pipeFile); err != nil {
		return nil, err
	}
	b, err := st.GetObject(ctx, v.Object.ID)
	if err != nil {
		return nil, fmt.Errorf("model object %s: %w", v.Object.ID.Short(), err)
	}
	if s.model, err = model.Decode(b); err != nil {
		return nil, fmt.Errorf("model object %s: %w", v.Object.ID.Short(), err)
	}
	if v.TrainingSet == nil {
		return nil, fmt.Errorf("model %s has no recorded training dataset for the reason-code baseline", v.Object.ID.Short())
	}
	tb, err := st.GetObject(ctx, v.TrainingSet.ID)
	if err != nil {
		return nil, fmt.Errorf("training dataset %s: %w", v.TrainingSet.ID.Short(), err)
	}
	train, err := table.Decode(tb)
	if err != nil {
		return nil, fmt.Errorf("training dataset %s: %w", v.TrainingSet.ID.Short(), err)
	}
	if s.ex, err = explain.For(s.model, train); err != nil {
		return nil, pipeline.WithExitCode(pipeline.ExitInvalid, err)
	}
	if opts.Online {
		if s.online, err = compileOnline(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Version returns the model version the scorer scores with.
func (s *Scorer) Version() *registry.Version { return s.v }

// Ref names the model: NAME@VERSION, or "run RUN step STEP" for a model
// scored by run and step.
func (s *Scorer) Ref() string {
	switch {
	case s.v.Model != "" && s.v.Version > 0:
		return fmt.Sprintf("%s@%d", s.v.Model, s.v.Version)
	case s.v.Model != "":
		return s.v.Model
	}
	return "run " + s.v.Run + " step " + s.v.Step
}

// Threshold returns the decision threshold: a score at or above it is
// adverse.
func (s *Scorer) Threshold() float64 { return s.v.Threshold }

// Model returns the model.
func (s *Scorer) Model() model.Model { return s.model }

// Online returns the chain compiled for records (nil unless New had
// Options.Online).
func (s *Scorer) Online() *Online { return s.online }

// Baseline returns the reason codes' baseline row of a logistic
// regression (by design column), nil for other models.
func (s *Scorer) Baseline() map[string]float64 {
	if l, ok := s.ex.(*explain.Logistic); ok {
		return l.BaselineRow()
	}
	return nil
}

// Batch returns the record of a scored batch with the scorer's model
// fields filled in (id, time, model, version, run, step, model object,
// threshold, protected attributes and baseline); the caller adds the input
// and output, the counts and the checks.
func (s *Scorer) Batch(id string, t time.Time, protected []string) *decisions.Batch {
	return &decisions.Batch{
		ID: id, Time: t.UTC(), Model: s.v.Model, Version: s.v.Version, Run: s.v.Run, Step: s.v.Step,
		ModelObject: s.v.Object.ID, Threshold: s.v.Threshold, Protected: protected, Baseline: s.Baseline(),
	}
}

// Log returns the decision log of a batch.
func (s *Scorer) Log(batch, inputSHA256 string, ds []decisions.Decision) *decisions.Log {
	return &decisions.Log{Batch: batch, Model: s.v.Model, Version: s.v.Version, Run: s.v.Run, Step: s.v.Step,
		Input: inputSHA256, Threshold: s.v.Threshold, Decisions: ds}
}

// decide scores every row of ds (the chain's final output) and explains
// the adverse ones: each decision's Score, Decision and Reasons (up to
// decisions.MaxReasons, never a protected attribute; text from reasons).
// The other fields are the caller's. It also returns the adverse count.
func (s *Scorer) decide(ds *table.Dataset, protected []string, reasons map[string]string, jobs int) ([]decisions.Decision, int, error) {
	scores, err := s.model.Predict(ds, jobs)
	if err != nil {
		return nil, 0, pipeline.WithExitCode(pipeline.ExitInvalid, err)
	}
	out := make([]decisions.Decision, len(scores))
	var adverseRows []int
	for i, sc := range scores {
		out[i].Score, out[i].Decision = sc, Approve
		if sc >= s.v.Threshold {
			out[i].Decision = Adverse
			adverseRows = append(adverseRows, i)
		}
	}
	if len(adverseRows) == 0 {
		return out, 0, nil
	}
	// Reasons are given for adverse decisions only: explain those rows.
	sub := ds
	if len(adverseRows) < ds.Rows {
		sub = ds.Take(adverseRows)
	}
	_, contrib, err := s.ex.Explain(sub)
	if err != nil {
		return nil, 0, pipeline.WithExitCode(pipeline.ExitInvalid, err)
	}
	features := s.ex.Features()
	for k, i := range adverseRows {
		out[i].Reasons = explain.Reasons(features, contrib[k], protected, reasons, decisions.MaxReasons)
	}
	return out, len(adverseRows), nil
}

// ReasonText is how a reason reads in a decisions file or a response: its
// text, else the feature's name.
func ReasonText(r explain.Reason) string {
	if r.Text != "" {
		return r.Text
	}
	return r.Feature
}
