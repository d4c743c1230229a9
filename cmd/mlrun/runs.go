package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/internal/runquery"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/governance"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

func (a *app) runsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List, show and compare recorded runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(a.runsListCommand(), a.runsShowCommand(), a.runsDiffCommand())
	return cmd
}

type runsListFlags struct {
	where    string
	sortBy   string
	limit    int
	pipeline string
	status   string
	asJSON   bool
}

func (a *app) runsListCommand() *cobra.Command {
	var f runsListFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List runs, newest first",
		Long: `List recorded runs, newest first.

--where takes an expression over the runs' metrics and params, e.g.
  --where 'auc >= 0.8 && params.seed == 42'
A metric is named by itself (auc: the last step of the run reporting it) or
qualified by its step (evaluation_auc). Runs lacking a metric the expression
reads do not match.

--sort takes a metric name, '-' in front for descending (--sort -auc), or
"time" (the default, newest first).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runsList(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.where, "where", "", "keep runs for which this expression over metrics and params is true")
	fl.StringVar(&f.sortBy, "sort", "time", "sort by a metric (prefix - for descending) or time")
	fl.IntVarP(&f.limit, "limit", "n", 20, "show at most N runs (0: all)")
	fl.StringVar(&f.pipeline, "pipeline", "", "only runs of this pipeline name")
	fl.StringVar(&f.status, "status", "", "only runs with this status: ok, check-failed, failed, running")
	fl.BoolVar(&f.asJSON, "json", false, "print the run records as JSON")
	return cmd
}

func (a *app) runsList(ctx context.Context, f runsListFlags) error {
	st, err := a.openStoreRead()
	if err != nil {
		return err
	}
	snap, err := runquery.NewIndex(st, defaultJobs()).Snapshot(ctx)
	if err != nil {
		return err
	}
	res, err := snap.Query(runquery.Query{Where: f.where, Sort: f.sortBy, Pipeline: f.pipeline, Status: f.status, Limit: max(f.limit, 0)})
	var fe *runquery.FieldError
	switch {
	case errors.Is(err, runquery.ErrNoSuchMetric):
		return pipeline.Invalidf("--sort: no run has a metric %q (see the metrics of 'mlrun runs show RUN')", strings.TrimLeft(f.sortBy, "-+"))
	case errors.As(err, &fe):
		return pipeline.Invalidf("--%s: %v", fe.Field, fe.Err)
	case err != nil:
		return err
	}
	if f.asJSON {
		recs := make([]*lineage.RunRecord, 0, len(res.Runs))
		for _, s := range res.Runs {
			r, err := runquery.Record(ctx, st, s)
			if err != nil {
				return err
			}
			recs = append(recs, r)
		}
		return a.writeJSON(recs)
	}
	if len(res.Runs) == 0 {
		fmt.Fprintln(a.stdout, "no runs")
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tPIPELINE\tSTATUS\tSTEPS\tDURATION\tMETRICS")
	for _, r := range res.Runs {
		dur := "-"
		if !r.End.IsZero() {
			dur = fmtDuration(r.Duration())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d ran, %d cached\t%s\t%s\n", r.ID, r.Pipeline, r.Status, r.Ran, r.Cached, dur, headlineMetrics(r.Headlines))
	}
	return tw.Flush()
}

// headlineMetrics shows the metrics of the run's evaluate steps.
func headlineMetrics(hs []runquery.Headline) string {
	var parts []string
	for _, h := range hs {
		if h.Variant != "" {
			parts = append(parts, "best["+h.Variant+"]")
		}
		for _, m := range h.Metrics {
			parts = append(parts, m.Name+"="+fmtFloat(float64(m.Value)))
		}
	}
	return strings.Join(parts, " ")
}

func (a *app) runsShowCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show RUN",
		Short: "Show a run: its data, config, steps, metrics and checks",
		Long: `Show everything recorded about a run: the pipeline file and its SHA-256,
params, the mlrun version and git commit, who ran it where, and for each step
its cache key, input files (path, SHA-256, size), input and output object
ids, duration, metrics and checks. RUN may be a unique prefix of a run id,
or "latest".`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStoreRead()
			if err != nil {
				return err
			}
			r, err := getRun(cmd.Context(), st, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return a.writeJSON(r)
			}
			var waivers governance.Waivers
			if v, err := st.View(cmd.Context()); err == nil {
				if ws, err := governance.ListWaivers(cmd.Context(), v); err == nil {
					waivers = ws.ForRun(r.ID)
				}
			}
			writeRunDetail(a.stdout, r, waivers, time.Now())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the run record as JSON")
	return cmd
}

// getRun resolves a run id, a unique prefix of one, or "latest" (the newest
// finished run).
func getRun(ctx context.Context, st *lineage.Store, ref string) (*lineage.RunRecord, error) {
	r, err := st.GetRun(ctx, ref)
	if err != nil {
		if ref == "latest" && errors.Is(err, lineage.ErrNotFound) {
			return nil, pipeline.Invalidf("no finished run in store %s (%v)", st.Dir(), err)
		}
		return nil, notFound(err) // GetRun's errors name the run
	}
	return r, nil
}

func writeRunDetail(w io.Writer, r *lineage.RunRecord, waivers governance.Waivers, now time.Time) {
	fmt.Fprintf(w, "run       %s\n", r.ID)
	fmt.Fprintf(w, "pipeline  %s\n", r.Pipeline)
	fmt.Fprintf(w, "file      %s  sha256:%s\n", r.File, r.FileSHA256)
	fmt.Fprintf(w, "status    %s (exit %d)\n", r.Status, r.ExitCode)
	if r.Error != "" {
		fmt.Fprintf(w, "error     %s\n", r.Error)
	}
	fmt.Fprintf(w, "mlrun     %s\n", r.Version)
	if r.Git != nil {
		dirty := ""
		if r.Git.Dirty {
			dirty = " (uncommitted changes)"
		}
		fmt.Fprintf(w, "git       %s%s\n", r.Git.Commit, dirty)
	}
	if r.User != "" || r.Host != "" || r.Actor != "" {
		fmt.Fprintf(w, "by        %s\n", actorText(r.Actor, r.Via, r.User, r.Host))
	}
	fmt.Fprintf(w, "started   %s\n", r.Start.UTC().Format("2006-01-02 15:04:05.000 MST"))
	if !r.End.IsZero() {
		fmt.Fprintf(w, "duration  %s\n", fmtDuration(r.End.Sub(r.Start)))
	}
	if len(r.Params) > 0 {
		fmt.Fprintln(w, "params")
		for _, k := range sortedKeys(r.Params) {
			fmt.Fprintf(w, "  %s = %v\n", k, r.Params[k])
		}
	}
	fmt.Fprintln(w, "steps")
	for i := range r.Steps {
		s := &r.Steps[i]
		status := s.Status
		if s.CacheHit {
			status += ", cache hit"
		}
		fmt.Fprintf(w, "  %s (%s v%d): %s", s.ID, s.Kind, s.KindVersion, status)
		if !s.CacheHit && s.Status != lineage.StepSkipped {
			fmt.Fprintf(w, " in %s", fmtDuration(s.Duration))
		}
		fmt.Fprintln(w)
		if s.Reason != "" {
			fmt.Fprintf(w, "      reason   %s\n", s.Reason)
		}
		if s.CacheKey != "" {
			fmt.Fprintf(w, "      key      %s\n", s.CacheKey)
		}
		for _, f := range s.Files {
			fmt.Fprintf(w, "      file     %s  sha256:%s  %d bytes\n", f.Path, f.SHA256, f.Size)
		}
		for _, k := range sortedKeys(s.Inputs) {
			ref := s.Inputs[k]
			fmt.Fprintf(w, "      in       %-8s %s %s\n", k, ref.Type, ref.ID)
		}
		for _, k := range sortedKeys(s.Outputs) {
			ref := s.Outputs[k]
			fmt.Fprintf(w, "      out      %-8s %s %s (%d bytes)\n", k, ref.Type, ref.ID, ref.Size)
		}
		if len(s.Metrics) > 0 {
			fmt.Fprintf(w, "      metrics  %s\n", fmtMetrics(s.Metrics, 1000))
		}
		for _, c := range s.Checks {
			mark, waived := "pass", ""
			switch {
			case c.Failed():
				mark = "FAIL"
				if wv := waivers.Check(r.ID, s.ID, c.Name, now); wv != nil {
					mark = "WAIVED"
					waived = fmt.Sprintf(" (waiver %s by %s until %s: %s)", wv.ID, wv.Approval.Principal, wv.Expires.Format("2006-01-02"), wv.Reason)
				}
			case !c.Passed:
				mark = "warn"
			}
			fmt.Fprintf(w, "      check    %s %s: %s%s\n", mark, c.Name, c.Message, waived)
		}
		for _, n := range s.Notes {
			fmt.Fprintf(w, "      note     %s\n", n)
		}
		if s.Error != "" {
			fmt.Fprintf(w, "      error    %s\n", s.Error)
		}
	}
}

func (a *app) runsDiffCommand() *cobra.Command {
	var (
		asJSON bool
		format string
	)
	cmd := &cobra.Command{
		Use:   "diff RUN_A RUN_B",
		Short: "Compare two runs: params, data fingerprints, steps and metrics",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStoreRead()
			if err != nil {
				return err
			}
			ra, err := getRun(cmd.Context(), st, args[0])
			if err != nil {
				return err
			}
			rb, err := getRun(cmd.Context(), st, args[1])
			if err != nil {
				return err
			}
			d := runquery.DiffRuns(ra, rb) // shared with the ui
			switch {
			case asJSON || format == "json":
				return a.writeJSON(d)
			case format == "md":
				writeRunDiffMarkdown(a.stdout, d)
				return nil
			case format != "text":
				return pipeline.Invalidf("--format must be text, md or json, not %q", format)
			}
			writeRunDiff(a.stdout, d)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the difference as JSON")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text, md (a pull-request comment) or json")
	return cmd
}

func short(hex string) string {
	if len(hex) > 12 {
		return hex[:12]
	}
	return hex
}

func writeRunDiff(w io.Writer, d *runquery.Diff) {
	fmt.Fprintf(w, "--- %s\n+++ %s\n", d.A, d.B)
	empty := true
	if d.Pipeline != nil {
		empty = false
		fmt.Fprintf(w, "pipeline file: %v -> %v\n", d.Pipeline.A, d.Pipeline.B)
	}
	if d.Version != nil {
		empty = false
		fmt.Fprintf(w, "mlrun version: %v -> %v\n", d.Version.A, d.Version.B)
	}
	if len(d.Params) > 0 {
		empty = false
		fmt.Fprintln(w, "params:")
		for _, p := range d.Params {
			fmt.Fprintf(w, "  %s: %v -> %v\n", p.Name, fmtAny(p.A), fmtAny(p.B))
		}
	}
	if len(d.Files) > 0 {
		empty = false
		fmt.Fprintln(w, "data:")
		for _, f := range d.Files {
			fmt.Fprintf(w, "  %s %s: sha256 %s -> %s\n", f.Step, f.Path, orNone(short(f.A)), orNone(short(f.B)))
		}
	}
	if len(d.Steps) > 0 {
		empty = false
		fmt.Fprintln(w, "steps:")
		for _, s := range d.Steps {
			fmt.Fprintf(w, "  %s: %s\n", s.Step, s.Change)
		}
	}
	if len(d.Metrics) > 0 {
		empty = false
		fmt.Fprintln(w, "metrics:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, m := range d.Metrics {
			fmt.Fprintf(tw, "  %s.%s\t%s\t->\t%s\t(%+.4g)\n", m.Step, m.Metric, fmtFloat(m.A), fmtFloat(m.B), m.Delta)
		}
		tw.Flush()
	}
	if empty {
		fmt.Fprintln(w, "no differences in params, data, steps or metrics")
	}
}

func fmtAny(v any) string {
	if v == nil {
		return "(unset)"
	}
	return fmt.Sprint(v)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
