package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/pipeline/exec"
)

func (a *app) planCommand() *cobra.Command {
	var (
		ef       execFlags
		asJSON   bool
		detailed bool
	)
	cmd := &cobra.Command{
		Use:   "plan FILE",
		Short: "Show which steps a run would execute, and why",
		Long: `Show what 'mlrun run' would do with each step without running anything:
"cached" when an intact cache entry exists for the step's current inputs and
settings, "run" with the reasons (input file changed, setting changed, upstream
step will re-run, no previous run, forced), or "skip".

Exit codes: 0 ok, 2 invalid pipeline, 3 runtime failure. With
--detailed-exitcode (the convention of 'terraform plan'): 0 when every step is
cached, 2 when some step would run, 1 on any error.

With --json an invalid pipeline prints {"file", "valid": false, "status":
"invalid", "exit_code": 2, "diagnostics": [...]} (as validate --json) on
stdout instead of the plan, and the error as JSON on stderr.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			file, err := ef.pipelineArg(args)
			var rep *exec.PlanReport
			if err == nil {
				rep, err = a.plan(cmd, file, &ef)
			}
			if de, ok := diag.AsErrors(err); ok && asJSON {
				// An invalid pipeline: the plan's place on stdout says so.
				if jerr := a.writeJSON(newInvalidDoc(file, de)); jerr != nil {
					return jerr
				}
			}
			if err != nil {
				if detailed {
					a.printError(pipeline.WithExitCode(1, err)) // its JSON says 1
					return &silentError{code: 1}
				}
				return err
			}
			if asJSON {
				if err := a.writeJSON(rep); err != nil {
					return err
				}
			} else {
				writePlan(a, rep)
			}
			if detailed && planHasWork(rep) {
				return &silentError{code: 2}
			}
			return nil
		},
	}
	ef.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON")
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 0 when all cached, 2 when work would run, 1 on error")
	return cmd
}

func (a *app) plan(cmd *cobra.Command, file string, ef *execFlags) (*exec.PlanReport, error) {
	p, err := a.loadPipeline(file, ef.params)
	if err != nil {
		return nil, err
	}
	reg, err := a.registry()
	if err != nil {
		return nil, err
	}
	st, err := a.openStore()
	if err != nil {
		return nil, err
	}
	opts, err := ef.options(a, p, st, reg)
	if err != nil {
		return nil, err
	}
	return exec.Plan(cmd.Context(), p, opts)
}

func planHasWork(rep *exec.PlanReport) bool {
	for _, s := range rep.Steps {
		if s.Action != exec.ActionCached {
			return true
		}
	}
	return false
}

func writePlan(a *app, rep *exec.PlanReport) {
	width := 4
	for _, s := range rep.Steps {
		width = max(width, len(s.ID))
	}
	var run, cached int
	for _, s := range rep.Steps {
		action := s.Action
		if s.CheckFailed {
			action += " (check failed)"
		}
		if s.Action == exec.ActionCached {
			cached++
		} else {
			run++
		}
		line := fmt.Sprintf("  %-*s  %-9s %s", width, s.ID, s.Kind, action)
		if len(s.Reasons) > 0 {
			line += ": " + strings.Join(s.Reasons, "; ")
		}
		fmt.Fprintln(a.stdout, line)
	}
	if run == 0 {
		fmt.Fprintf(a.stdout, "%s: up to date, all %d steps cached\n", rep.Pipeline, cached)
		return
	}
	fmt.Fprintf(a.stdout, "%s: %d step(s) would run, %d cached\n", rep.Pipeline, run, cached)
}
