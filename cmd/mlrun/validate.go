package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/pipeline/diag"
)

func (a *app) validateCommand() *cobra.Command {
	var (
		params []string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a pipeline file without running it",
		Long: `Check a pipeline file without running anything: YAML syntax, the JSON Schema,
step references and cycles, parameters, and every expression compiled and
type-checked against the columns of its input. Every problem is reported at
once as file:line:col: message, with the warnings (which do not make the
pipeline invalid) as file:line:col: warning: message.

With --json: {"file", "valid", "steps", "diagnostics": [{"file", "line",
"col", "severity" (error or warning), "message"}]} on stdout.

Exit codes: 0 valid, 2 invalid.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.keepWarnings = asJSON
			p, err := a.loadPipeline(args[0], params)
			if asJSON {
				out := struct {
					File        string           `json:"file"`
					Valid       bool             `json:"valid"`
					Steps       int              `json:"steps,omitempty"`
					Diagnostics []jsonDiagnostic `json:"diagnostics"`
				}{File: args[0], Valid: err == nil, Diagnostics: jsonDiagnostics(a.warnings)}
				if de, ok := diag.AsErrors(err); ok {
					out.Diagnostics = jsonDiagnostics(de.Diagnostics)
				} else if err != nil {
					return err
				}
				if p != nil {
					out.Steps = len(p.Steps)
				}
				if jerr := a.writeJSON(out); jerr != nil {
					return jerr
				}
				if err != nil {
					return &silentError{code: 2}
				}
				return nil
			}
			if err != nil {
				return err
			}
			line := fmt.Sprintf("%s: ok (%d steps", args[0], len(p.Steps))
			if n := len(a.warnings); n > 0 {
				line += ", " + plural(n, "warning")
			}
			fmt.Fprintln(a.stdout, line+")")
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&params, "param", "p", nil, "override a parameter: name=value (repeatable)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
