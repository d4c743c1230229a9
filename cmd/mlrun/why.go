package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/exec"
)

func (a *app) whyCommand() *cobra.Command {
	var (
		ef     execFlags
		runID  string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "why STEP [FILE] [--run RUN]",
		Short: "Explain, field by field, why a step would re-run or did re-run",
		Long: `Explain why a step would re-run: the plan's verdict, then every part of its
cache key that differs from the last key recorded for it, with old and new
values: which setting of its resolved configuration (e.g. a param read by a
gate: "setting params.min_auc: 0.7 -> 0.99", or a derive expression:
"setting columns[credit_utilization].expr: ... -> ..."), which input object,
which input file (SHA-256), or the kind's version. Each upstream step that
will re-run is explained the same way.

With --run RUN it explains what happened to the step in that run instead,
compared with the same step in the latest earlier run of the pipeline.

  mlrun why evaluation pipeline.yaml
  mlrun why features --run 20261126T165100Z

FILE defaults to the file of the latest run in the store (or of RUN).

Exit codes: 0 ok, 2 invalid pipeline, unknown step or run, 3 runtime failure.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			step := args[0]
			st, err := a.openStoreRead()
			if err != nil {
				return err
			}
			var rep *exec.WhyReport
			if runID != "" {
				if len(args) == 2 {
					return pipeline.Invalidf("give FILE or --run, not both")
				}
				rep, err = exec.WhyRun(ctx, st, runID, step)
				if err != nil {
					return notFound(err)
				}
			} else {
				file := ""
				if len(args) == 2 {
					file = args[1]
				} else {
					runs, err := st.ListRuns(ctx)
					if err != nil {
						return err
					}
					if len(runs) == 0 {
						return pipeline.Invalidf("no pipeline file given and no run in the store %s", a.storeDir)
					}
					file = runs[len(runs)-1].File
				}
				p, err := a.loadPipeline(file, ef.params)
				if err != nil {
					return err
				}
				reg, err := a.registry()
				if err != nil {
					return err
				}
				opts, err := ef.options(a, p, st, reg)
				if err != nil {
					return err
				}
				rep, err = exec.Why(ctx, p, opts, step)
				if err != nil {
					return err
				}
			}
			if asJSON {
				return a.writeJSON(rep)
			}
			writeWhy(a.stdout, rep)
			return nil
		},
	}
	ef.register(cmd)
	cmd.Flags().StringVar(&runID, "run", "", "explain the step's outcome in this run (id or unique prefix)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the explanation as JSON")
	return cmd
}

func writeWhy(w io.Writer, rep *exec.WhyReport) {
	s := rep.Step
	verb := map[string]string{exec.ActionRun: "would re-run", exec.ActionCached: "is cached", exec.ActionSkip: "would be skipped"}[s.Action]
	if rep.Run != "" {
		verb = map[string]string{exec.ActionRun: "ran", exec.ActionCached: "was cached", exec.ActionSkip: "was skipped"}[s.Action]
		fmt.Fprintf(w, "run %s, pipeline %s\n", rep.Run, rep.Pipeline)
	}
	fmt.Fprintf(w, "%s (%s) %s", s.ID, s.Kind, verb)
	if len(s.Reasons) > 0 {
		fmt.Fprintf(w, ": %s", strings.Join(s.Reasons, "; "))
	}
	fmt.Fprintln(w)
	writeWhyStep(w, s, "  ")
	for _, u := range rep.Upstream {
		fmt.Fprintf(w, "upstream %s (%s)", u.ID, u.Kind)
		if len(u.Reasons) > 0 {
			fmt.Fprintf(w, ": %s", strings.Join(u.Reasons, "; "))
		}
		fmt.Fprintln(w)
		writeWhyStep(w, u, "  ")
	}
}

func writeWhyStep(w io.Writer, s exec.WhyStep, indent string) {
	if s.LastKey != "" {
		fmt.Fprintf(w, "%scompared with key %s of run %s\n", indent, short12(s.LastKey), s.LastRun)
	}
	for _, c := range s.Changes {
		fmt.Fprintf(w, "%s%s\n", indent, c)
	}
	if s.LastKey != "" && len(s.Changes) == 0 && s.Action == exec.ActionRun && s.Key != s.LastKey && s.Key != "" {
		fmt.Fprintf(w, "%sno recorded component differs\n", indent)
	}
}

func short12(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
