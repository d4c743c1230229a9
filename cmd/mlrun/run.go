package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/internal/alert"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/pipeline/exec"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// execFlags are the flags shared by run and plan.
type execFlags struct {
	params []string
	jobs   int
	force  []string
	rehash bool
}

func (f *execFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.params, "param", "p", nil, "override a parameter: name=value (repeatable)")
	fl.IntVarP(&f.jobs, "jobs", "j", defaultJobs(), "steps (and workers inside a step) running at once")
	fl.StringSliceVar(&f.force, "force", nil, "re-run every step (--force) or the named ones (--force=STEP,...), ignoring the cache")
	fl.Lookup("force").NoOptDefVal = forceAll
	fl.BoolVar(&f.rehash, "rehash", false, "re-hash input files instead of trusting the fingerprint memo")
}

const forceAll = "*all*"

// options builds executor options for p.
func (f *execFlags) options(a *app, p *pipeline.Pipeline, st *lineage.Store, reg *pipeline.Registry) (exec.Options, error) {
	if f.jobs < 1 {
		return exec.Options{}, pipeline.Invalidf("--jobs must be at least 1, not %d", f.jobs)
	}
	opts := exec.Options{
		Store:    st,
		Registry: reg,
		Jobs:     f.jobs,
		Rehash:   f.rehash,
		Logger:   a.log,
		Version:  buildVersion().String(),
	}
	for _, s := range f.force {
		if s == forceAll {
			opts.Force = true
			continue
		}
		if p.Step(s) == nil {
			return exec.Options{}, pipeline.Invalidf("--force: no step %q in %s (steps: %s)", s, p.File, strings.Join(stepIDs(p), ", "))
		}
		opts.ForceSteps = append(opts.ForceSteps, s)
	}
	return opts, nil
}

// pipelineArg returns the pipeline file among args. "--force STEP FILE"
// parses as --force (every step) followed by two arguments; the one that is
// not a pipeline file is then taken as the step(s) to force.
func (f *execFlags) pipelineArg(args []string) (string, error) {
	if len(args) == 1 {
		return args[0], nil
	}
	if len(f.force) == 1 && f.force[0] == forceAll {
		file, steps := args[1], args[0]
		if isPipelineFile(args[0]) && !isPipelineFile(args[1]) {
			file, steps = args[0], args[1]
		}
		f.force = strings.Split(steps, ",")
		return file, nil
	}
	return "", pipeline.Invalidf("want one pipeline file, got %d arguments: %s", len(args), strings.Join(args, " "))
}

func isPipelineFile(name string) bool {
	if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
		return true
	}
	fi, err := os.Stat(name)
	return err == nil && fi.Mode().IsRegular()
}

func stepIDs(p *pipeline.Pipeline) []string {
	ids := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		ids[i] = s.ID
	}
	return ids
}

func (a *app) runCommand() *cobra.Command {
	var (
		ef                 execFlags
		rf                 reportFlags
		asJSON             bool
		quiet              bool
		alertFile, webhook string
		only               []string
	)
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Run a pipeline, reusing cached steps",
		Long: `Run a pipeline: every step whose inputs are ready runs, in parallel up to
--jobs, unless an intact cache entry exists for the exact same inputs, input
files (by SHA-256) and resolved settings. Outputs, the cache entry and a run
record go to the lineage store.

--only STEP runs one step (a step id, a matrix variant's id, or a sweep's
written id for all its variants; comma-separated for several): the steps it
reads are taken from the store, as earlier runs with the same cache keys
recorded them, and never run here; when one is missing the command exits 2
naming it. A register or report step acts on the whole run, so every other
step must be in the store. The run is recorded and audited like any other,
so later steps and a later full run reuse it. This is what one task of a
cluster workflow runs (mlrun export argo).

Set MLRUN_CACHEVERIFY=1 to run cached steps anyway and fail when their outputs
differ from the cached ones (a check that steps are deterministic).

Alerts: a monitor step with an alerts setting whose checks fail (critical
ones, or warnings too with alerts.on: warn) sends an alert to its sinks, as
'mlrun monitor' does: a line of JSON to alerts.file (relative to the pipeline
file) and an HTTP POST of the same JSON, with a "text" field, to
alerts.webhook, with its timeout and retries. The run record says where each
went. --alert-file and --webhook send the alerts of every monitor step that
runs there instead (e.g. a CI job's own channel), whether or not the step
declares alerts. A monitor step taken from the cache sends none. An alert that cannot be
delivered is kept in the store and retried by every later 'mlrun run' and
'mlrun monitor'; a failed delivery is reported on stderr and never changes
the exit code.

Reports: --junit writes every rule, gate and check as a JUnit test case
and --summary appends a Markdown summary, for every run (interrupted ones
too) and for an invalid pipeline (a failed test case per problem). With
--json an invalid pipeline prints {"file", "valid": false, "status":
"invalid", "exit_code": 2, "diagnostics": [...]} on stdout. Under GitHub
Actions (GITHUB_ACTIONS=true) failed rules, gates and checks are ::error
annotations (failed warn-severity ones ::warning) at their line in FILE.

Exit codes: 0 ok, 1 a validation rule, gate or critical monitor check
failed, 2 invalid pipeline or input, 3 runtime failure.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			file, err := ef.pipelineArg(args)
			if err != nil {
				return err
			}
			if err := rf.check(a.outputGuard()); err != nil {
				return err
			}
			a.memoIgnore = ef.rehash
			a.keepWarnings = quiet // -q prints nothing but errors
			p, err := a.loadPipeline(file, ef.params)
			if de, ok := diag.AsErrors(err); ok {
				// An invalid pipeline still gets its reports: CI shows
				// the problems where it shows a run's checks.
				if werr := rf.writeInvalid(a.outputGuard(), file, de); werr != nil {
					fmt.Fprintf(a.stderr, "mlrun: %v\n", werr)
				}
				if asJSON {
					if jerr := a.writeJSON(newInvalidDoc(file, de)); jerr != nil {
						return jerr
					}
				}
			}
			if err != nil {
				return err
			}
			reg, err := a.registry()
			if err != nil {
				return err
			}
			st, err := a.openStore()
			if err != nil {
				return err
			}
			opts, err := ef.options(a, p, st, reg)
			if err != nil {
				return err
			}
			opts.CacheVerify = os.Getenv("MLRUN_CACHEVERIFY") == "1"
			opts.Only, opts.Require = onlyOptions(p, only)
			var live *liveOutput
			if !asJSON && !quiet {
				live = newLiveOutput(a.stdout, p)
			}
			var prog *progressDisplay // nil unless stderr is a terminal
			if !quiet {
				prog = newProgressDisplay(a.stderr, p)
			}
			if prog != nil {
				opts.Progress = prog.step
				defer prog.close()
			}
			opts.Events = func(e exec.Event) {
				show := func() {
					if live != nil {
						live.event(e)
					}
				}
				if prog != nil {
					prog.event(e, show) // erases the bar around the step's line
				} else {
					show()
				}
			}
			rec, runErr := exec.Run(cmd.Context(), p, opts)
			if prog != nil {
				prog.close()
			}
			if rec == nil {
				return runErr
			}
			actionLines, actionErr := a.afterRun(cmd.Context(), st, rec, alertFile, webhook)
			if len(only) == 0 {
				// on_critical: retrain of a monitor step (retrain.go).
				lines, err := a.retrainOnCritical(cmd.Context(), st, p, rec)
				actionLines = append(actionLines, lines...)
				actionErr = errors.Join(actionErr, err)
			}
			a.annotateRun(p, rec)
			// The reports of an interrupted run too: the context is
			// cancelled then, which must not keep them from being written.
			if err := rf.write(a.outputGuard(), rec); err != nil {
				return err
			}
			head, _, err := st.AuditHead(context.WithoutCancel(cmd.Context()))
			if err != nil {
				return err
			}
			if asJSON {
				if err := a.writeJSON(rec); err != nil {
					return err
				}
			} else if !quiet {
				writeRunSummary(a.stdout, rec)
				for _, l := range actionLines {
					fmt.Fprintln(a.stdout, l)
				}
				fmt.Fprintf(a.stdout, "audit head %s\n", head)
			}
			if runErr == nil && actionErr != nil {
				return actionErr
			}
			if runErr != nil {
				if asJSON || pipeline.ExitCode(runErr) == pipeline.ExitCheckFailed {
					// The summary (or JSON) already says what failed.
					return &silentError{code: pipeline.ExitCode(runErr)}
				}
				return runErr
			}
			return nil
		},
	}
	ef.register(cmd)
	rf.register(cmd)
	cmd.Flags().StringVar(&alertFile, "alert-file", "", "append an alert for the failed checks of every monitor step that runs to this JSON-lines `FILE` (replaces the step's)")
	cmd.Flags().StringVar(&webhook, "webhook", "", "POST an alert for the failed checks of every monitor step that runs to this `URL`; $VAR is expanded at sending (replaces the step's)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the run record as JSON instead of the summary")
	cmd.Flags().StringSliceVar(&only, "only", nil, "run only this `STEP` (or matrix variant), reading its inputs from the store; exit 2 naming a missing upstream step")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing but errors")
	cmd.Flags().BoolVar(&a.noRegister, "no-register", os.Getenv("MLRUN_NO_REGISTER") == "1", "register steps register nothing (say so in their notes): for merge-request jobs on a shared store (env MLRUN_NO_REGISTER=1)")
	return cmd
}

// afterRun does what a finished run leaves to do, each step committed
// before the next: the alerts of its monitor steps are queued in the
// store's outbox with the records of its monitored batches (for monitor
// history), the outbox is delivered (these alerts and any kept from earlier
// runs; a failed delivery never changes the exit code), the register and
// report steps act, and the run record is updated with what became of its
// alerts and actions ("run.updated"). It returns the actions' summary lines
// and the first action's failure.
func (a *app) afterRun(ctx context.Context, st *lineage.Store, rec *lineage.RunRecord, alertFile, webhook string) ([]string, error) {
	if rec.Status == lineage.RunRunning {
		return nil, nil // its outcome could not be recorded
	}
	raised := a.runAlerts(rec, alertFile, webhook)
	monitors := runMonitorRecords(rec)
	if len(raised) > 0 || len(monitors) > 0 {
		_, err := st.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
			for _, ra := range raised {
				keys, err := alert.Queue(ctx, tx, ra.alert, ra.sinks, time.Now())
				if err != nil {
					return err
				}
				ra.keys = keys
			}
			for _, mr := range monitors {
				if err := putMonitorRecord(ctx, tx, mr); err != nil {
					return err
				}
			}
			tx.Audit(lineage.AuditEntry{Type: lineage.AuditRecordsUpdated, Run: rec.ID, Pipeline: rec.Pipeline,
				Detail: map[string]string{"alerts_queued": fmt.Sprint(len(raised)), "monitored_batches": fmt.Sprint(len(monitors))}})
			return nil
		})
		if err != nil {
			fmt.Fprintf(a.stderr, "mlrun: run %s: cannot queue its alerts and record its monitored batches: %v\n", rec.ID, err)
			raised, monitors = nil, nil
		}
	}
	var fresh [][]string
	for _, ra := range raised {
		fresh = append(fresh, ra.keys)
	}
	outcomes := a.flushAlerts(ctx, st, fresh...)
	for _, ra := range raised {
		rec.Steps[ra.step].Alerts = alertStatuses(ra.sinks, ra.keys, outcomes)
	}
	// Register and report steps act once the run has finished.
	lines, acted, actionErr := a.runActions(ctx, st, rec)
	if len(raised) > 0 || acted {
		_, err := st.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
			if _, err := tx.PutRun(ctx, rec); err != nil {
				return err
			}
			for _, mr := range monitors {
				if s := rec.Step(mr.monitorStep); s != nil && len(s.Alerts) > 0 {
					mr.Alerts = s.Alerts
					if err := putMonitorRecord(ctx, tx, mr); err != nil {
						return err
					}
				}
			}
			tx.Audit(lineage.AuditEntry{Type: lineage.AuditRunUpdated, Run: rec.ID, Pipeline: rec.Pipeline,
				Detail: map[string]string{"what": "alerts and actions"}})
			return nil
		})
		if err != nil {
			fmt.Fprintf(a.stderr, "mlrun: run %s: cannot record its alerts and actions: %v\n", rec.ID, err)
		}
	}
	return lines, actionErr
}

// liveOutput prints one line per step as it finishes (or is found cached).
type liveOutput struct {
	w      io.Writer
	width  int
	header bool
	p      *pipeline.Pipeline
}

func newLiveOutput(w io.Writer, p *pipeline.Pipeline) *liveOutput {
	width := 4
	for _, s := range p.Steps {
		width = max(width, len(s.ID))
	}
	return &liveOutput{w: w, width: width, p: p}
}

// event is exec.Options.Events; the executor serialises calls.
func (l *liveOutput) event(e exec.Event) {
	if !l.header {
		l.header = true
		fmt.Fprintf(l.w, "run %s  pipeline %s  (%s)\n", e.RunID, l.p.Name, l.p.File)
	}
	if e.Type == exec.EventStarted || e.Record == nil {
		return
	}
	fmt.Fprintln(l.w, stepLine(e.Record, l.width))
}

// stepLine renders a step record as one aligned line.
func stepLine(s *lineage.StepRecord, width int) string {
	status := s.Status
	if s.CacheHit {
		status = "cached"
		if s.Status == lineage.StepCheckFailed {
			status = "cached, check failed"
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  %-*s  %-9s %-8s", width, s.ID, s.Kind, statusMark(s)+" "+status)
	if !s.CacheHit && s.Status != lineage.StepSkipped {
		fmt.Fprintf(&b, "  %s", fmtDuration(s.Duration))
	}
	if m := fmtMetrics(s.Metrics, 6); m != "" {
		fmt.Fprintf(&b, "  %s", m)
	}
	if s.Reason != "" {
		fmt.Fprintf(&b, "  (%s)", s.Reason)
	}
	if s.Error != "" {
		fmt.Fprintf(&b, "\n      error: %s", s.Error)
	}
	return b.String()
}

func statusMark(s *lineage.StepRecord) string {
	switch {
	case s.Status == lineage.StepFailed:
		return "x"
	case s.Status == lineage.StepCheckFailed:
		return "!"
	case s.Status == lineage.StepSkipped:
		return "-"
	case s.CacheHit:
		return "="
	default:
		return "+"
	}
}

// writeRunSummary prints failing checks, warnings, the metrics of the
// final steps and the run id.
func writeRunSummary(w io.Writer, rec *lineage.RunRecord) {
	var ran, cached, skipped, failed int
	for _, s := range rec.Steps {
		switch {
		case s.Status == lineage.StepSkipped:
			skipped++
		case s.Status == lineage.StepFailed:
			failed++
		case s.CacheHit:
			cached++
		default:
			ran++
		}
	}
	var failing, warnings []string
	for _, s := range rec.Steps {
		for _, c := range s.Checks {
			line := fmt.Sprintf("  %s/%s: %s", s.ID, c.Name, c.Message)
			if len(c.Rows) > 0 {
				line += fmt.Sprintf(" (first rows: %s)", joinInts(c.Rows, 10))
			}
			switch {
			case c.Failed():
				failing = append(failing, line)
			case !c.Passed:
				warnings = append(warnings, line)
			}
		}
	}
	if len(failing) > 0 {
		fmt.Fprintln(w, "\nFAILED checks:")
		for _, l := range failing {
			fmt.Fprintln(w, l)
		}
	}
	if len(warnings) > 0 {
		fmt.Fprintln(w, "\nwarnings:")
		for _, l := range warnings {
			fmt.Fprintln(w, l)
		}
	}
	writeRunAlerts(w, rec)
	for _, s := range rec.Steps {
		if s.Kind != "evaluate" || len(s.Metrics) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s metrics:\n", s.ID)
		fair := map[string]map[string]float64{} // attribute ("": all) -> measure -> value
		for _, k := range sortedKeys(s.Metrics) {
			if m, attr, ok := fairnessMetric(k); ok {
				if fair[attr] == nil {
					fair[attr] = map[string]float64{}
				}
				fair[attr][m] = s.Metrics[k]
				continue
			}
			fmt.Fprintf(w, "  %-14s %s\n", k, fmtFloat(s.Metrics[k]))
		}
		if len(fair) > 0 {
			fmt.Fprintf(w, "  fairness (metric names: demographic_parity_difference_ATTR, ...; without _ATTR the worst):\n")
			fmt.Fprintf(w, "    %-16s %11s %10s %10s\n", "attribute", "parity diff", "disp. imp.", "eq. opp.")
			for _, attr := range sortedKeys(fair) {
				name := attr
				if name == "" {
					name = "(worst)"
				}
				f := fair[attr]
				cell := func(k string) string {
					if v, ok := f[k]; ok {
						return fmtFloat(v)
					}
					return "undefined"
				}
				fmt.Fprintf(w, "    %-16s %11s %10s %10s\n", name, cell("demographic_parity_difference"), cell("disparate_impact"), cell("equal_opportunity_difference"))
			}
		}
		for _, c := range s.Checks {
			if c.Kind == "gate" {
				mark := "pass"
				switch {
				case c.Passed:
				case c.Severity == pipeline.SeverityWarn:
					mark = "warn"
				default:
					mark = "FAIL"
				}
				fmt.Fprintf(w, "  gate %-7s %s  %s\n", c.Name, mark, c.Expr)
			}
		}
	}
	writeBestVariants(w, rec)
	fmt.Fprintf(w, "\n%s: %s in %s  (%d ran, %d cached, %d skipped, %d failed)\nrun id %s\n",
		rec.Pipeline, strings.ToUpper(rec.Status), fmtDuration(rec.End.Sub(rec.Start)), ran, cached, skipped, failed, rec.ID)
}

// writeRunAlerts prints a line per alert a monitor step sent, per sink.
func writeRunAlerts(w io.Writer, rec *lineage.RunRecord) {
	header := false
	for _, s := range rec.Steps {
		for _, al := range s.Alerts {
			if !header {
				header = true
				fmt.Fprintln(w, "\nalerts:")
			}
			status := fmt.Sprintf("delivered (%d attempt(s))", al.Attempts)
			if !al.Delivered {
				status = fmt.Sprintf("NOT delivered (%d attempt(s)), kept for the next run", al.Attempts)
			}
			fmt.Fprintf(w, "  %s -> %s: %s\n", s.ID, al.Sink, status)
		}
	}
}

func joinInts(xs []int, limit int) string {
	var parts []string
	for i, x := range xs {
		if i == limit {
			parts = append(parts, "...")
			break
		}
		parts = append(parts, fmt.Sprint(x))
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// fmtMetrics renders up to limit metrics as k=v, sorted by name.
func fmtMetrics(m lineage.Metrics, limit int) string {
	var parts []string
	for i, k := range sortedKeys(m) {
		if i == limit {
			parts = append(parts, fmt.Sprintf("(+%d)", len(m)-limit))
			break
		}
		parts = append(parts, k+"="+fmtFloat(m[k]))
	}
	return strings.Join(parts, " ")
}

func fmtFloat(v float64) string {
	if v == float64(int64(v)) && v < 1e15 && v > -1e15 {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.4g", v)
}

func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.2fs", d.Seconds())
	default:
		return d.Round(time.Second).String()
	}
}

// notFound turns a lineage.ErrNotFound into a usage error (exit 2).
func notFound(err error) error {
	if errors.Is(err, lineage.ErrNotFound) {
		return pipeline.WithExitCode(pipeline.ExitInvalid, err)
	}
	return err
}

// fairnessMetric splits an evaluate fairness metric name into its measure
// and attribute suffix ("" for the worst over the attributes).
func fairnessMetric(k string) (measure, attr string, ok bool) {
	for _, m := range []string{"demographic_parity_difference", "disparate_impact", "equal_opportunity_difference"} {
		if k == m {
			return m, "", true
		}
		if a, found := strings.CutPrefix(k, m+"_"); found {
			return m, a, true
		}
	}
	return "", "", false
}
