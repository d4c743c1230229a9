package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/pfmt"
)

func (a *app) fmtCommand() *cobra.Command {
	var write, check bool
	cmd := &cobra.Command{
		Use:   "fmt [-w] [--check] FILE...",
		Short: "Format pipeline files canonically",
		Long: `Format pipeline files in mlrun's canonical form, so that diffs stay minimal:

  - top-level keys in the order mlrun, name, description, params, protected,
    reasons, model_card, steps;
  - in a step: kind, doc, the kind's input ports, its required settings, then
    its other settings sorted by name (steps, params and the entries of
    rules, columns, gates and checks keep their order);
  - two-space indentation; strings plain when unambiguous, else double-quoted;
  - a blank line before each block section and between steps;
  - comments kept.

Without -w the formatted files are printed; with -w they are rewritten in
place; with --check nothing is written and the files that are not formatted
are listed (exit 1), for CI: mlrun fmt --check examples/pipelines/*.yaml

Exit codes: 0 ok, 1 --check found unformatted files, 2 a file is not YAML,
3 an I/O error.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if write && check {
				return pipeline.Invalidf("-w and --check exclude each other")
			}
			reg, err := a.registry()
			if err != nil {
				return err
			}
			var unformatted []string
			for _, file := range args {
				src, err := os.ReadFile(file)
				if err != nil {
					return pipeline.WithExitCode(pipeline.ExitRuntime, err)
				}
				out, err := pfmt.Format(src, reg)
				if err != nil {
					return pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("%s: %w", file, err))
				}
				same := bytes.Equal(src, out)
				switch {
				case check:
					if !same {
						unformatted = append(unformatted, file)
						fmt.Fprintln(a.stdout, file)
					}
				case write:
					if !same {
						if err := writeFileKeepMode(file, out); err != nil {
							return pipeline.WithExitCode(pipeline.ExitRuntime, err)
						}
					}
				default:
					if _, err := a.stdout.Write(out); err != nil {
						return err
					}
				}
			}
			if len(unformatted) > 0 {
				fmt.Fprintf(a.stderr, "mlrun: %d file(s) not formatted; run mlrun fmt -w\n", len(unformatted))
				return &silentError{code: pipeline.ExitCheckFailed}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&write, "write", "w", false, "rewrite the files in place")
	cmd.Flags().BoolVar(&check, "check", false, "list the files that are not formatted and exit 1 if any")
	return cmd
}

// writeFileKeepMode replaces file's content through a temporary file in the
// same directory, keeping its permissions.
func writeFileKeepMode(file string, data []byte) error {
	fi, err := os.Stat(file)
	if err != nil {
		return err
	}
	tmp := file + ".mlrun-fmt.tmp"
	if err := os.WriteFile(tmp, data, fi.Mode().Perm()); err != nil {
		return err
	}
	if err := os.Rename(tmp, file); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
