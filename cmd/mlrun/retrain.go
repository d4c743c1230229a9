package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/internal/retrain"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/exec"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
)

func (a *app) retrainCommand() *cobra.Command {
	var spec retrain.Spec
	cmd := &cobra.Command{
		Use:   "retrain FILE",
		Short: "Retrain on a new data window, register the challenger, promote it through the gates",
		Long: `Run the training pipeline FILE (with -p overrides: the new data window),
register the model of its train step (--step, or its only train step) as a
new version of --model with alias challenger, and promote that version to
--alias (default champion) when the model's promotion gates and --gate pass;
current.METRIC is the alias holder's (the champion's) metric, so
'auc >= current.auc' keeps a challenger that is not better out. An alias
that is not protected moves at once; a protected one (mlrun models protect)
gets a pending approval request instead (mlrun models approve).

A monitor step declares the same loop with on_critical: retrain, carried out
by mlrun run (and mlrun monitor --retrain) when the batch fails a critical
check; export argo --cron schedules it.

Exit codes: 0 promoted, pending approval or unchanged, 1 the training run
failed a check or a gate refused the promotion, 2 invalid usage, 3 runtime
failure.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec.Pipeline = args[0]
			if spec.Model == "" {
				return pipeline.Invalidf("retrain: --model is required")
			}
			st, err := a.openStore()
			if err != nil {
				return err
			}
			out, err := retrain.Run(cmd.Context(), a.retrainEnv(st), spec)
			if out != nil {
				for _, l := range out.Lines(spec) {
					fmt.Fprintln(a.stdout, l)
				}
			}
			if err != nil {
				return err
			}
			if out.Status == retrain.Refused || out.Status == retrain.NotRegistered {
				return &silentError{code: pipeline.ExitCheckFailed}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&spec.Params, "param", "p", nil, "override a parameter of the training pipeline: name=value (the new data window; repeatable)")
	f.StringVar(&spec.Model, "model", "", "the registered model's `NAME` (required)")
	f.StringVar(&spec.Alias, "alias", "champion", "the alias to promote the challenger to")
	f.StringVar(&spec.Step, "step", "", "the train step whose model is registered (default: the only one)")
	f.StringArrayVar(&spec.Gates, "gate", nil, "a promotion gate besides the model's own, e.g. 'auc >= current.auc' (repeatable)")
	f.StringVar(&spec.Reason, "reason", "", "recorded with the registration and the promotion")
	return cmd
}

// retrainEnv runs retrainings as mlrun run does, into st.
func (a *app) retrainEnv(st *lineage.Store) retrain.Env {
	return retrain.Env{
		Load: a.loadPipeline,
		Run: func(ctx context.Context, p *pipeline.Pipeline) (*lineage.RunRecord, error) {
			reg, err := a.registry()
			if err != nil {
				return nil, err
			}
			return exec.Run(ctx, p, exec.Options{Store: st, Registry: reg, Jobs: defaultJobs(), Logger: a.log,
				Version: buildVersion().String()})
		},
		Register: func(ctx context.Context, req registry.RegisterRequest) (*registry.Registration, error) {
			req.Describe, req.Scoring = a.describeModel(st), a.versionScoring(st, req.Run)
			return newRegistry(st).Register(ctx, req)
		},
		Registry: newRegistry(st),
	}
}

// retrainOnCritical carries out the retraining declared by the monitor
// steps of a finished run that failed a critical check (on_critical:
// retrain), and returns the lines to print. A --only run (a task of a
// cluster workflow, whose DAG retrains by its own tasks) retrains nothing.
func (a *app) retrainOnCritical(ctx context.Context, st *lineage.Store, p *pipeline.Pipeline, rec *lineage.RunRecord) ([]string, error) {
	specs := retrain.Triggered(p, rec)
	ids := make([]string, 0, len(specs))
	for id := range specs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var lines []string
	if len(ids) > 0 && a.noRegister {
		return []string{fmt.Sprintf("monitor step %s failed a critical check: not retraining: --no-register", ids[0])}, nil
	}
	for _, id := range ids {
		spec := specs[id]
		lines = append(lines, fmt.Sprintf("monitor step %s failed a critical check: retraining %s", id, spec.Model))
		out, err := retrain.Run(ctx, a.retrainEnv(st), spec)
		if out != nil {
			lines = append(lines, out.Lines(spec)...)
		}
		if err != nil {
			return lines, fmt.Errorf("monitor step %s: %w", id, err)
		}
	}
	return lines, nil
}

// retrainFlags are mlrun monitor's --retrain flags: the retraining to run
// when the batch fails a critical check.
type retrainFlags struct {
	spec retrain.Spec
}

func (r *retrainFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&r.spec.Pipeline, "retrain", "", "when the batch fails a critical check, retrain with this training pipeline `FILE` (see mlrun retrain)")
	f.StringArrayVar(&r.spec.Params, "retrain-param", nil, "a -p override of the training pipeline: the new data window, name=value (repeatable)")
	f.StringVar(&r.spec.Alias, "retrain-alias", "", "the alias the retrained challenger is promoted to (default: --model's alias, else champion)")
	f.StringArrayVar(&r.spec.Gates, "retrain-gate", nil, "a promotion gate besides the model's own, e.g. 'auc >= current.auc' (repeatable)")
}

// monitorRetrain carries out monitor --retrain for a batch that failed a
// critical check of the registered model modelRef (NAME[@ALIAS]).
func (a *app) monitorRetrain(ctx context.Context, st *lineage.Store, r retrainFlags, modelRef string) error {
	if r.spec.Pipeline == "" {
		return nil
	}
	spec := r.spec
	var alias string
	spec.Model, alias, _ = strings.Cut(modelRef, "@")
	if _, err := strconv.Atoi(alias); spec.Alias == "" && alias != "" && err != nil {
		spec.Alias = alias
	}
	if spec.Model == "" {
		return pipeline.Invalidf("monitor --retrain needs --model NAME@ALIAS: the registered model to retrain")
	}
	spec.Reason = "retrained: a batch monitored against " + modelRef + " failed a critical check"
	fmt.Fprintf(a.stdout, "the batch failed a critical check: retraining %s\n", spec.Model)
	out, err := retrain.Run(ctx, a.retrainEnv(st), spec)
	if out != nil {
		for _, l := range out.Lines(spec) {
			fmt.Fprintln(a.stdout, l)
		}
	}
	return err
}
