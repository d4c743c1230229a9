package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/pdiff"
)

func (a *app) diffCommand() *cobra.Command {
	var (
		asJSON   bool
		format   string
		exitCode bool
	)
	cmd := &cobra.Command{
		Use:   "diff OLD.yaml NEW.yaml | diff [REV] -- FILE",
		Short: "Show what a change to a pipeline means: steps, settings, expressions, params, re-runs",
		Long: `Compare two versions of a pipeline semantically, not as text: steps added,
removed and renamed (same definition under a new id), settings changed field
by field, expressions changed (old and new text), params changed and the
steps that use them, and which steps' cache keys change and so would re-run,
directly or because an upstream step does. Key order, quoting and comments do
not matter: a reordered file gives an empty diff.

The re-runs are computed from the two definitions (each step's kind, resolved
settings and wiring), without the lineage store; 'mlrun plan' and 'mlrun why'
compare with what the store recorded.

  mlrun diff old.yaml new.yaml         two files
  mlrun diff HEAD~1 -- pipeline.yaml   the file at a git revision (git show) vs the working tree
  mlrun diff -- pipeline.yaml          the same against HEAD

Both versions must load (their data files must exist). The old version of
a file read from git is loaded under the file's own name, so that relative
paths resolve the same way.

Output: text, --json, or --format md (a pull-request comment).

Exit codes: 0 ok (with --exit-code: 0 no semantic change, 1 changes), 2 an
invalid pipeline or usage, 3 runtime failure (git).`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch format {
			case "text", "md", "json":
			default:
				return pipeline.Invalidf("--format must be text, md or json, not %q", format)
			}
			if asJSON {
				format = "json"
			}
			reg, err := a.registry()
			if err != nil {
				return err
			}
			v := pipeline.NewValidator(reg)
			opts := pipeline.LoadOptions{Registry: reg, Validator: v}
			var oldP, newP *pipeline.Pipeline
			var oldLabel string
			dash := cmd.ArgsLenAtDash()
			switch {
			case dash < 0 && len(args) == 2:
				if oldP, err = pipeline.Load(args[0], opts); err != nil {
					return err
				}
				oldLabel = args[0]
				if newP, err = pipeline.Load(args[1], opts); err != nil {
					return err
				}
			case dash >= 0 && dash <= 1 && len(args)-dash == 1:
				rev, file := "HEAD", args[dash]
				if dash == 1 {
					rev = args[0]
				}
				src, err := gitShow(rev, file)
				if err != nil {
					return err
				}
				oldLabel = rev + ":" + file
				if oldP, err = pipeline.Parse(file, src, opts); err != nil {
					return fmt.Errorf("%s: %w", oldLabel, err)
				}
				if newP, err = pipeline.Load(file, opts); err != nil {
					return err
				}
			default:
				return pipeline.Invalidf("want OLD.yaml NEW.yaml, or REV -- FILE")
			}
			rep := pdiff.Compare(oldP, newP)
			rep.Old, rep.New = oldLabel, newP.File
			switch format {
			case "json":
				err = a.writeJSON(rep)
			case "md":
				err = rep.WriteMarkdown(a.stdout)
			default:
				err = rep.WriteText(a.stdout)
			}
			if err != nil {
				return err
			}
			if exitCode && !rep.Empty() {
				return &silentError{code: pipeline.ExitCheckFailed}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the diff as JSON (same as --format json)")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text, md or json")
	cmd.Flags().BoolVar(&exitCode, "exit-code", false, "exit 1 when the pipelines differ, 0 when they mean the same")
	return cmd
}

// gitShow returns the content of file at git revision rev, read with
// `git show REV:./NAME` in the file's directory.
func gitShow(rev, file string) ([]byte, error) {
	if strings.HasPrefix(rev, "-") {
		return nil, pipeline.Invalidf("invalid revision %q", rev)
	}
	c := exec.Command("git", "show", rev+":./"+filepath.Base(file))
	c.Dir = filepath.Dir(file)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("git show %s:%s: %s", rev, file, msg))
	}
	return out, nil
}
