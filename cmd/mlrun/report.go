package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/internal/report"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
)

func (a *app) reportCommand() *cobra.Command {
	var out, format, modelRef string
	cmd := &cobra.Command{
		Use:   "report [RUN] [--model NAME@ALIAS] [--out FILE] [--format html|md]",
		Short: "Write the audit report and model card of a run or a registered model",
		Long: `Write one self-contained report of a recorded run (RUN: id, unique prefix or
"latest") or of the run that trained a registered model version (--model NAME,
NAME@N or NAME@ALIAS): the banner over every check and gate and the latest
monitored batch (PASS, FAIL, WAIVED when every failure is waived, MONITORING
FAILED when the latest batch failed a critical check), the model card from
the pipeline's model_card: block, the data with its SHA-256, validation
results and splits, the derived features and their column lineage, the
training settings, performance on each evaluated dataset recomputed from the
stored model and data (AUC with a bootstrap interval, Gini, KS, accuracy,
precision, recall, F1, Brier, log loss, the confusion matrix, ROC,
precision-recall, calibration, score distribution and KS charts), feature
importance, signed coefficients and intercept (logistic regression), a gains
table by score decile, train vs test (AUC, KS, Gini, bad rate, score PSI),
fairness by protected attribute, monitored batches, governance (the actor,
waivers, protected aliases, approval requests with their signed decisions,
refused promotions) and the step graph with its object ids.

--format html (the default) writes one HTML page with inline CSS and SVG
charts: no scripts, nothing fetched, printable to PDF from a browser (every
collapsed section expanded; the pipeline, run id and page number on each
page).
--format md writes a Markdown model card (tables, no charts). The same run
gives byte-identical output: the times shown are the run's own.

Exit codes: 0 written, 2 invalid usage or unknown run or model, 3 the store
cannot be read.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch format {
			case "html", "md", "markdown":
			default:
				return pipeline.Invalidf("--format must be html or md, not %q", format)
			}
			if (len(args) == 1) == (modelRef != "") {
				return pipeline.Invalidf("report needs a RUN or --model NAME@ALIAS (not both)")
			}
			guard := a.outputGuard()
			if out != "" && out != "-" {
				if err := guard.Check(out); err != nil {
					return fmt.Errorf("--out: %w", err)
				}
			}
			data, err := a.report(cmd.Context(), args, modelRef, format)
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err := a.stdout.Write(data)
				return err
			}
			if err := guard.WriteFile(out, data); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			fmt.Fprintf(a.stderr, "wrote %s\n", out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&out, "out", "o", "", "write to FILE (default: standard output)")
	f.StringVar(&format, "format", "html", "html or md (Markdown model card)")
	f.StringVar(&modelRef, "model", "", "report on a registered model version: NAME, NAME@N or NAME@ALIAS")
	return cmd
}

// report builds and renders the report of a run or a model version.
func (a *app) report(ctx context.Context, args []string, modelRef, format string) ([]byte, error) {
	st, err := a.openStoreRead()
	if err != nil {
		return nil, err
	}
	reg, err := a.registry()
	if err != nil {
		return nil, err
	}
	opts := report.Options{Store: st, Registry: reg, Jobs: defaultJobs(), MonitorNS: monitorNS}
	var runRef string
	if modelRef != "" {
		_, v, err := registry.New(st, nil).Resolve(ctx, modelRef)
		if err != nil {
			if errors.Is(err, registry.ErrNoModel) {
				return nil, pipeline.WithExitCode(pipeline.ExitInvalid, err)
			}
			return nil, err
		}
		opts.Model, runRef = v, v.Run
	} else {
		runRef = args[0]
	}
	run, err := getRun(ctx, st, runRef)
	if err != nil {
		return nil, err
	}
	r, err := report.Build(ctx, run, opts)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if format == "html" {
		err = report.HTML(&b, r)
	} else {
		err = report.Markdown(&b, r)
	}
	return b.Bytes(), err
}
