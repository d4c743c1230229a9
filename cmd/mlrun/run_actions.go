package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mlrun-cli/mlrun/internal/runquery"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
	"github.com/mlrun-cli/mlrun/steps/register"
	reportstep "github.com/mlrun-cli/mlrun/steps/report"
)

// runActions carries out what a finished run's register and report steps
// declare: register steps add the model to the registry when the run
// passed (once per model object), report steps write the run's report.
// Each outcome becomes a note of its step in rec; lines are for the
// summary. A failed action fails its step and the run in rec (status
// failed, the action's exit code), so the run record never says ok for a
// run whose model was not registered or whose report was not written. The
// error is the first failure, with its exit code.
func (a *app) runActions(ctx context.Context, st *lineage.Store, rec *lineage.RunRecord) (lines []string, changed bool, err error) {
	fail := func(s *lineage.StepRecord, e error) {
		s.Status = lineage.StepFailed
		if code := pipeline.ExitCode(e); code > rec.ExitCode {
			rec.Status, rec.ExitCode = lineage.RunFailed, code
		}
		s.Notes = append(s.Notes, "failed: "+e.Error())
		lines = append(lines, fmt.Sprintf("step %s failed: %v", s.ID, e))
		if err == nil {
			err = fmt.Errorf("step %s: %w", s.ID, e)
		}
	}
	for i := range rec.Steps {
		s := &rec.Steps[i]
		if s.Kind != "register" || !done(s) || len(s.Config) == 0 {
			continue
		}
		changed = true
		line, e := a.registerStep(ctx, st, rec, s)
		if e != nil {
			fail(s, e)
			continue
		}
		s.Notes = append(s.Notes, line)
		lines = append(lines, line)
	}
	for i := range rec.Steps {
		s := &rec.Steps[i]
		if s.Kind != "report" || !done(s) || len(s.Config) == 0 {
			continue
		}
		changed = true
		var cfg reportstep.Config
		if e := json.Unmarshal(s.Config, &cfg); e != nil {
			fail(s, e)
			continue
		}
		data, e := a.report(ctx, []string{rec.ID}, "", cfg.Format)
		if e != nil {
			fail(s, e)
			continue
		}
		path := cfg.Path(rec.File)
		guard := a.outputGuard()
		if e := guard.Check(path); e != nil {
			fail(s, e)
			continue
		}
		if e := os.MkdirAll(filepath.Dir(path), 0o755); e != nil {
			fail(s, pipeline.WithExitCode(pipeline.ExitRuntime, e))
			continue
		}
		if e := guard.WriteFile(path, data); e != nil {
			fail(s, e)
			continue
		}
		line := fmt.Sprintf("wrote %s (%s, %s)", relToWD(path), cfg.Format, fmtBytes(int64(len(data))))
		s.Notes = append(s.Notes, line)
		lines = append(lines, line)
	}
	return lines, changed, err
}

// done reports whether a step ran or was taken from the cache.
func done(s *lineage.StepRecord) bool {
	return s.Status == lineage.StepOK || s.Status == lineage.StepCached
}

// registerStep registers the model a register step read, unless the run
// did not pass or the model already is a version of the name.
func (a *app) registerStep(ctx context.Context, st *lineage.Store, rec *lineage.RunRecord, s *lineage.StepRecord) (string, error) {
	var cfg register.Config
	if err := json.Unmarshal(s.Config, &cfg); err != nil {
		return "", err
	}
	if rec.Status != lineage.RunOK {
		return fmt.Sprintf("not registered as %s: the run did not pass (%s)", cfg.Name, rec.Status), nil
	}
	if a.noRegister {
		return fmt.Sprintf("not registered as %s: --no-register (a merge-request or review job)", cfg.Name), nil
	}
	// In a matrix sweep only the best variant by auc is registered.
	if s.Group != "" && !runquery.BestStep(runquery.BestVariants(rec), s) {
		return fmt.Sprintf("not registered as %s: variant %s is not the sweep's best by auc", cfg.Name, s.Variant), nil
	}
	in, ok := s.Inputs["model"]
	if !ok {
		return "", fmt.Errorf("no model input recorded")
	}
	trainStep := rec.Producer(s.ID, in.ID)
	if trainStep == "" {
		return "", fmt.Errorf("no step of run %s produced model %s", rec.ID, in.ID.Short())
	}
	reason := cfg.Reason
	if reason == "" {
		reason = fmt.Sprintf("registered by pipeline %s, run %s", rec.Pipeline, rec.ID)
	}
	res, err := newRegistry(st).Register(ctx, registry.RegisterRequest{
		Name: cfg.Name, Run: rec, Step: trainStep, Gates: cfg.Gates, Aliases: cfg.Aliases, Reason: reason,
		Describe: a.describeModel(st), Scoring: a.versionScoring(st, rec),
	})
	if err != nil {
		return "", err
	}
	v := res.Version
	if res.Existing {
		return fmt.Sprintf("model %s already is %s (run %s); not registered again", in.ID.Short(), v.Ref(), v.Run), nil
	}
	line := fmt.Sprintf("registered %s (model %s of step %s)", v.Ref(), v.Object.ID.Short(), trainStep)
	for _, al := range cfg.Aliases {
		line += fmt.Sprintf(", alias %s -> %d", al, v.Version)
	}
	return line, nil
}

// relToWD shortens path to be relative to the working directory when it
// is below it.
func relToWD(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if r, err := filepath.Rel(wd, path); err == nil && filepath.IsLocal(r) {
		return r
	}
	return path
}
