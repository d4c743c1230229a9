package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/internal/argo"
	"github.com/mlrun-cli/mlrun/internal/retrain"
	"github.com/mlrun-cli/mlrun/pipeline"
)

func (a *app) exportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export a pipeline to a cluster workflow engine (Argo Workflows)",
	}
	cmd.AddCommand(a.exportArgoCommand())
	return cmd
}

func (a *app) exportArgoCommand() *cobra.Command {
	var (
		o         argo.Options
		params    []string
		tmpl      bool
		noRetrain bool
	)
	cmd := &cobra.Command{
		Use:   "argo FILE",
		Short: "Print an Argo Workflow running the pipeline's steps as pods against a shared S3 store",
		Long: `Print an Argo Workflows manifest (multi-document YAML, for kubectl apply -f
or argo submit) that runs the pipeline on Kubernetes:

  - a ConfigMap holding the pipeline file, named by a hash of its content and
    immutable (a running workflow never sees an edited file);
  - a Workflow (--template: a WorkflowTemplate; --cron: a CronWorkflow) with
    one DAG task per step and matrix variant, each depending on the tasks of
    the steps it reads, each running 'mlrun run FILE --only STEP' in --image
    against the shared store (--store s3://..., required).

mlrun's cache is the workflow's memoization: a task whose step is in the
store with the same key finishes at once, so a re-submitted workflow only
runs what changed. The pipeline's data files are S3 input artifacts under
--data s3://BUCKET/PREFIX, each at its path relative to the directory that
holds the pipeline file and every data file (the header lists the keys to
upload), so that cache keys match a local run's.

Credentials never appear in the manifest: --secret NAME reads
AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from that Secret (secretKeyRef);
--service-account NAME runs the pods under a service account, e.g. one
annotated with an IAM role (IRSA), and the artifacts use its credentials.
Tasks retry (--retries) on runtime failures only: a failed check (exit 1) or
an invalid pipeline (exit 2) would fail again.

With --cron, a monitor step that declares on_critical: retrain makes the
CronWorkflow the whole loop: the monitor task may fail (continueOn); when it
fails a critical check (exit 1), the training pipeline's steps run as tasks
(retrain-STEP, on the new data window the step names), then a task runs
'mlrun retrain', which registers the challenger and promotes it, or leaves a
pending approval request on a protected alias (--no-retrain leaves it out).

Exit codes: 0 printed, 2 invalid pipeline or usage.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.loadPipeline(args[0], params)
			if err != nil {
				return err
			}
			o.Store, o.Params = a.storeDir, params
			if tmpl {
				o.Kind = argo.KindWorkflowTemplate
			}
			if o.Schedule != "" && !noRetrain {
				if o.Retrain, err = a.exportRetrain(p); err != nil {
					return err
				}
			}
			ex, err := argo.Build(p, o)
			if err != nil {
				return err
			}
			out, err := ex.YAML(exportHeader(args[0], ex))
			if err != nil {
				return err
			}
			_, err = a.stdout.Write(out)
			return err
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&params, "param", "p", nil, "override a parameter in every task: name=value (repeatable)")
	f.StringVar(&o.Image, "image", "", "the mlrun container `IMAGE` (required; pin it by digest)")
	f.StringVar(&o.Data, "data", "", "`s3://BUCKET/PREFIX` the pipeline's data files are uploaded under")
	f.StringVar(&o.Name, "name", "", "name of the objects (default: the pipeline's name)")
	f.StringVarP(&o.Namespace, "namespace", "n", "", "namespace of the objects")
	f.BoolVar(&tmpl, "template", false, "print a WorkflowTemplate instead of a Workflow")
	f.BoolVar(&noRetrain, "no-retrain", false, "with --cron: leave the monitor step's on_critical retraining out")
	f.StringVar(&o.Schedule, "cron", "", "print a CronWorkflow on this cron `SCHEDULE` (\"0 6 * * *\")")
	f.StringVar(&o.Timezone, "timezone", "", "the CronWorkflow's time zone (e.g. Europe/London)")
	f.StringVar(&o.Secret, "secret", "", "Secret `NAME` holding AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	f.StringVar(&o.ServiceAccount, "service-account", "", "the pods' service account (IRSA)")
	f.StringVar(&o.Region, "region", "", "S3 region (default us-east-1)")
	f.StringVar(&o.Endpoint, "s3-endpoint", "", "`URL` of an S3-compatible server (default AWS)")
	f.IntVar(&o.Retries, "retries", 0, "retries of a task that failed at run time (default 2; -1: none)")
	f.StringVar(&o.CPU, "cpu", "", "CPU request of each task (default 500m)")
	f.StringVar(&o.Memory, "memory", "", "memory request of each task (default 512Mi)")
	f.StringVar(&o.MemoryLimit, "memory-limit", "", "memory limit of each task (default none)")
	return cmd
}

// exportHeader says what to upload before submitting.
func exportHeader(file string, ex *argo.Export) string {
	var b strings.Builder
	fmt.Fprintf(&b, "mlrun export argo %s\n", filepath.ToSlash(file))
	for _, id := range ex.Skipped {
		fmt.Fprintf(&b, "report step %s left out (a pod would lose its file): mlrun report RUN reads the run from the store\n", id)
	}
	if len(ex.Data) > 0 {
		b.WriteString("upload the data files before submitting:\n")
		for _, d := range ex.Data {
			fmt.Fprintf(&b, "  aws s3 cp %s s3://%s/%s\n", relOrAbs(d.Local), ex.Bucket, d.Key)
		}
	}
	return b.String()
}

// relOrAbs shortens a path to one relative to the working directory.
func relOrAbs(p string) string {
	if rel, err := filepath.Rel(".", p); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	if wd, err := filepath.Abs("."); err == nil {
		if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.ToSlash(p)
}

// exportRetrain is the retraining a monitor step of p declares, for a
// CronWorkflow (nil when none does).
func (a *app) exportRetrain(p *pipeline.Pipeline) (*argo.Retrain, error) {
	var found []string
	var spec retrain.Spec
	for _, s := range p.Steps {
		if sp, ok := retrain.FromMonitor(p, s.ID); ok {
			found, spec = append(found, s.ID), sp
		}
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, pipeline.Invalidf("export: monitor steps %s each declare a retraining: a CronWorkflow runs one (or give --no-retrain)", strings.Join(found, ", "))
	}
	tp, err := a.loadPipeline(spec.Pipeline, spec.Params)
	if err != nil {
		return nil, fmt.Errorf("export: on_critical: retrain of step %s: %w", found[0], err)
	}
	return &argo.Retrain{Monitor: found[0], Pipeline: tp, Params: spec.Params, Step: spec.Step, Model: spec.Model,
		Alias: spec.Alias, Gates: spec.Gates}, nil
}
