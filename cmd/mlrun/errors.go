package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
)

// How errors are printed. As text: a pipeline's diagnostics one per line
// ("file:line:col: message", warnings prefixed "warning: "), then
// "mlrun: N problem(s) found"; any other error as "mlrun: message". Under
// GitHub Actions each diagnostic is also an ::error (or ::warning)
// annotation.
//
// As JSON, when the command's --json flag is set or --log-format is json:
// one line on stderr holding one object,
//
//	{"error": "...", "exit_code": 2, "diagnostics": [{"file": "p.yaml",
//	 "line": 7, "col": 5, "severity": "error", "message": "..."}]}
//
// ("diagnostics" only for an invalid pipeline), and no annotations: stderr
// is then meant for a program.

// jsonDiagnostic is a diagnostic as JSON: in errors, in validate --json and
// in the document run --json and plan --json print for an invalid pipeline.
type jsonDiagnostic struct {
	File     string `json:"file"`
	Line     int    `json:"line,omitempty"`
	Col      int    `json:"col,omitempty"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
	Snippet  string `json:"snippet,omitempty"`
}

func jsonDiagnostics(ds []diag.Diagnostic) []jsonDiagnostic {
	out := make([]jsonDiagnostic, 0, len(ds))
	for _, d := range ds {
		out = append(out, jsonDiagnostic{File: d.Pos.File, Line: d.Pos.Line, Col: d.Pos.Col,
			Severity: d.Severity.String(), Message: d.Message, Snippet: d.Snippet})
	}
	return out
}

// jsonError is an error as JSON.
type jsonError struct {
	Error       string           `json:"error"`
	ExitCode    int              `json:"exit_code"`
	Diagnostics []jsonDiagnostic `json:"diagnostics,omitempty"`
}

// invalidDoc is what run --json and plan --json print on stdout for an
// invalid pipeline instead of a run record or a plan (the shape of
// validate --json, with the status and exit code).
type invalidDoc struct {
	File        string           `json:"file"`
	Valid       bool             `json:"valid"`
	Status      string           `json:"status"`
	ExitCode    int              `json:"exit_code"`
	Diagnostics []jsonDiagnostic `json:"diagnostics"`
}

func newInvalidDoc(file string, de *diag.Errors) invalidDoc {
	return invalidDoc{File: file, Status: "invalid", ExitCode: de.ExitCode(), Diagnostics: jsonDiagnostics(de.Diagnostics)}
}

// jsonErrors reports whether errors are printed as JSON: --log-format json,
// or --json on the command. When the command line could not be parsed (a
// flag error) the raw arguments decide.
func (a *app) jsonErrors() bool {
	if a.logFormat == "json" {
		return true
	}
	if a.cmd != nil {
		if f := a.cmd.Flags().Lookup("json"); f != nil && f.Value.Type() == "bool" && f.Value.String() == "true" {
			return true
		}
	}
	for i, arg := range a.args {
		switch {
		case arg == "--":
			return false
		case arg == "--json" || arg == "--json=true" || arg == "--log-format=json":
			return true
		case arg == "--log-format" && i+1 < len(a.args) && a.args[i+1] == "json":
			return true
		}
	}
	return false
}

// countProblems returns the number of errors and warnings among ds.
func countProblems(ds []diag.Diagnostic) (errs, warns int) {
	for _, d := range ds {
		if d.Severity == diag.Error {
			errs++
		} else {
			warns++
		}
	}
	return errs, warns
}

// problemsLine is "N problem(s) found", with the warnings when there are.
func problemsLine(ds []diag.Diagnostic) string {
	errs, warns := countProblems(ds)
	s := fmt.Sprintf("%d problem(s) found", errs)
	if warns > 0 {
		s += fmt.Sprintf(" (and %s)", plural(warns, "warning"))
	}
	return s
}

// diagSummary is the error message of an invalid pipeline as one line: its
// only problem, or "FILE: N problem(s) found".
func diagSummary(ds []diag.Diagnostic) string {
	var errs []diag.Diagnostic
	for _, d := range ds {
		if d.Severity == diag.Error {
			errs = append(errs, d)
		}
	}
	if len(errs) == 1 {
		return errs[0].String()
	}
	s := problemsLine(ds)
	if len(errs) > 0 && errs[0].Pos.File != "" {
		s = errs[0].Pos.File + ": " + s
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// printError prints err to stderr, as text or as JSON (see above).
func (a *app) printError(err error) {
	code := pipeline.ExitCode(err)
	de, isDiag := diag.AsErrors(err)
	if a.jsonErrors() {
		je := jsonError{Error: err.Error(), ExitCode: code}
		if isDiag {
			je.Error = diagSummary(de.Diagnostics)
			je.Diagnostics = jsonDiagnostics(de.Diagnostics)
		}
		b, _ := json.Marshal(je)
		fmt.Fprintf(a.stderr, "%s\n", b)
		return
	}
	if isDiag {
		for _, d := range de.Diagnostics {
			fmt.Fprintln(a.stderr, d.String())
			if d.Snippet != "" {
				fmt.Fprintln(a.stderr, d.Snippet)
			}
		}
		a.annotateDiagnostics(de.Diagnostics)
		fmt.Fprintf(a.stderr, "mlrun: %s\n", problemsLine(de.Diagnostics))
		return
	}
	fmt.Fprintf(a.stderr, "mlrun: %v\n", err)
}

// printWarnings prints the warnings of a pipeline that loaded: as text
// (with GitHub annotations), or one JSON diagnostic per line when errors
// are JSON.
func (a *app) printWarnings(ds []diag.Diagnostic) {
	if len(ds) == 0 {
		return
	}
	if a.jsonErrors() {
		for _, d := range jsonDiagnostics(ds) {
			b, _ := json.Marshal(d)
			fmt.Fprintf(a.stderr, "%s\n", b)
		}
		return
	}
	for _, d := range ds {
		fmt.Fprintln(a.stderr, d.String())
		if d.Snippet != "" {
			fmt.Fprintln(a.stderr, d.Snippet)
		}
	}
	a.annotateDiagnostics(ds)
}

// githubActions reports whether mlrun runs in GitHub Actions.
func githubActions() bool { return os.Getenv("GITHUB_ACTIONS") == "true" }

// annotateDiagnostics prints an ::error or ::warning workflow command per
// diagnostic under GitHub Actions.
func (a *app) annotateDiagnostics(ds []diag.Diagnostic) {
	if !githubActions() {
		return
	}
	for _, d := range ds {
		level := "error"
		if d.Severity == diag.Warning {
			level = "warning"
		}
		a.annotate(level, d.Pos, "", d.Message)
	}
}

// annotate prints one GitHub workflow command (::error or ::warning) with
// the position (file, line, col, as known) and an optional title.
func (a *app) annotate(level string, pos diag.Pos, title, msg string) {
	var props []string
	if pos.File != "" {
		props = append(props, "file="+ghProperty(pos.File))
	}
	if pos.Line > 0 {
		props = append(props, fmt.Sprintf("line=%d", pos.Line))
	}
	if pos.Col > 0 {
		props = append(props, fmt.Sprintf("col=%d", pos.Col))
	}
	if title != "" {
		props = append(props, "title="+ghProperty(title))
	}
	line := "::" + level
	if len(props) > 0 {
		line += " " + strings.Join(props, ",")
	}
	fmt.Fprintf(a.stderr, "%s::%s\n", line, ghEscape(msg))
}

// ghEscape escapes the message of a workflow command.
func ghEscape(s string) string {
	r := strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	return r.Replace(s)
}

// ghProperty escapes a property value of a workflow command.
func ghProperty(s string) string {
	r := strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
	return r.Replace(s)
}

// usageError marks err, from cobra's checks of the command line, as a
// usage error (exit 2) pointing at the command's help, as flag errors are.
func usageError(cmd *cobra.Command, err error) error {
	return pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("%w\nRun '%s --help' for usage.", err, cmd.CommandPath()))
}

// finishTree is called once every command is in the tree: a command group
// ("runs", "store", "models", ...) alone prints its help, and with an
// argument fails with "unknown command" (a usage error, see Main) instead
// of printing its help with exit 0; then the completions of step ids, run
// ids and model names are registered.
func (a *app) finishTree(root *cobra.Command) {
	// The completion command cobra adds at Execute is added now, so that
	// it gets the same treatment.
	root.InitDefaultCompletionCmd()
	walkCommands(root, func(c *cobra.Command) {
		if c == root || !c.HasSubCommands() {
			return
		}
		if !c.Runnable() {
			c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
		}
		if c.Args == nil {
			c.Args = unknownSubcommand
		}
	})
	a.registerCompletions(root)
}

// unknownSubcommand is the argument check of a command group: any
// argument is an unknown command, with the near misses cobra suggests.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if sugg := cmd.SuggestionsFor(args[0]); len(sugg) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(sugg, "\n\t") + "\n"
	}
	return fmt.Errorf("%s", msg)
}

// walkCommands calls fn for c and every command below it, depth first.
func walkCommands(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range slices.Clone(c.Commands()) {
		walkCommands(sub, fn)
	}
}
