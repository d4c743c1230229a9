package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/internal/alert"
	"github.com/mlrun-cli/mlrun/internal/monhistory"
	"github.com/mlrun-cli/mlrun/internal/predict"
	"github.com/mlrun-cli/mlrun/internal/scoring"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/exec"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
	"github.com/mlrun-cli/mlrun/steps/monitor"
	"github.com/mlrun-cli/mlrun/steps/profile"
	"github.com/mlrun-cli/mlrun/steps/stats"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// monitorNS is the record namespace of monitored batches:
// records/monitor/<run>--<step>--<time>.json.
const monitorNS = monhistory.NS

// monitorRecord is the record of one monitored batch, for history, with
// what writing it needs.
type monitorRecord struct {
	monhistory.Record

	name string // the record's name
	// monitorStep is the monitor step of a run that compared the batch.
	monitorStep string
}

// monitorOpts are the flags of mlrun monitor.
type monitorOpts struct {
	run, step, model, data, labels, group, config, psiBins string
	noLabels                                               bool
	groupBins                                              []float64
	groupQuantiles                                         int
}

func (a *app) monitorCommand() *cobra.Command {
	var (
		o                  monitorOpts
		asJSON             bool
		alertFile, webhook string
		reports            reportFlags
		rt                 retrainFlags
	)
	cmd := &cobra.Command{
		Use:   "monitor (--model NAME@ALIAS | --run RUN --step MODEL_STEP) --data BATCH.csv",
		Short: "Compare a production batch with a model's frozen training profile",
		Long: `Load a batch through the same load, validate and derive steps the model was
trained behind (as the run read them: the registered version's scoring chain,
or the run's pipeline file as the store keeps it, never the working copy),
then compare it with the reference profile
the train step froze: drift of every feature (PSI over the frozen bins, KS,
Wasserstein, Jensen-Shannon, chi-square for categories, unseen categories,
missing rates), score drift, performance against the run's evaluate metrics
and fairness between the groups of a column (--group).

PSI bins (psi_bins, --psi-bins): the reference's deciles (the profile's
bins, 10 by default), in one of two conventions that agree on continuous
data and differ on ties:
  right_closed (default)  bins (-inf, e1], (e1, e2], ..., (ek, +inf): the
      quantiles at k/10 (numpy's linear interpolation), duplicates and
      edges at the maximum dropped; an edge at a tied minimum is kept, so
      the minimum is a bin of its own (a 0/1 feature gets two bins). These
      are the bins the train step froze in the profile.
  numpy  the common recipe: edges np.unique(np.quantile(ref,
      np.linspace(0, 1, 11))) counted as np.histogram counts them,
      left-closed [e(i-1), e(i)) with the last bin closed at the maximum,
      cut from the profile's frozen sorted values; the outer bins are open
      so that batch values outside the reference's range count in them
      (np.histogram would drop them). The closed last bin merges the two
      largest values: a 0/1 feature gets one bin, and PSI 0.
Empty bins get a share of 1e-4 before PSI = sum((c - r) ln(c / r)). JS uses
the same bins. The convention is recorded in the monitor config (the step's
cache key and run record) and, when not right_closed, in the report.

Labels: the batch's labels are read when it has the model's target column
(--labels names it explicitly and requires it; --no-labels, or labels:
false in the config, turns performance off). Checks read the variables
listed in the monitor kind's schema (mlrun schema) and the README. A check
that cannot be evaluated (no labels, no group column, a feature missing
from the batch, an undefined value) is shown as "not evaluated": it never
passes, and fails the batch when critical. The built-in performance,
calibration and fairness checks do not apply to a batch without labels or
without a group; a check the config declares (checks:) is evaluated or
"not evaluated".

Fairness: a string group column is compared one group per value; a numeric
one with more than 20 distinct values (an age) in 4 quantile bands of the
batch, or in the bands of group_bins (--group-bins 18,25,35,50,65:
(-inf,18), [18,25), ..., [65,+inf)) or group_quantiles (--group-quantiles
N); groups under min_group rows are flagged, not judged; the four-fifths
rule compares the lowest approval rate with the highest.

The checks are, in order of precedence: those of a --config file (a YAML
mapping with the settings of a monitor step: threshold, group, group_bins,
group_quantiles, min_group, labels, psi_bins, drift, checks, alerts); those
of the run's monitor step that watched this model (its recorded
configuration, group included); the default checks of the monitor step
kind (see the schema). The report says which it used. --group, --group-bins,
--group-quantiles, --psi-bins and --no-labels override the config's.

The report prints failures first, is stored in the lineage store (an object
and a record; see 'mlrun monitor history'), and --json prints it whole. The
audit log gets a "batch.monitored" event and a "monitor.check_failed" event
per failed critical check. --junit and --summary write the checks as 'mlrun
run' does.

Alerts: when a critical check fails (or a warning, with the config's
alerts.on: warn), an alert goes to the config's alerts sinks, or to those of
--alert-file (JSON lines) and --webhook (HTTP POST of JSON with a "text"
field, as Slack-style incoming webhooks expect; timeout and retries with
backoff from the config, default 10s and 3). An alert that cannot be
delivered is kept in the store and retried by the next 'mlrun monitor' or
'mlrun run'; a failed delivery is reported on stderr and never changes the
exit code.
MLRUN_ALERT_BACKOFF (a Go duration, default 500ms) sets the first wait
between webhook attempts; it doubles up to 30s.

Exit codes: 0 all critical checks pass, 1 a critical check failed or could
not be evaluated, 2 invalid usage, batch or changed pipeline file, 3 runtime
failure.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.data == "" || (o.model == "") == (o.run == "" || o.step == "") || (o.model != "" && (o.run != "" || o.step != "")) {
				return pipeline.Invalidf("monitor needs --data and either --model NAME[@ALIAS] or --run and --step")
			}
			if err := reports.check(a.outputGuard()); err != nil {
				return err
			}
			st, err := a.openStore()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			r, rec, cfg, err := a.monitorBatch(ctx, st, o)
			if err != nil {
				return err
			}
			// The report, its record and its alert (queued in the outbox)
			// in one commit; then the outbox is delivered, and what became
			// of the alert recorded.
			var al *alert.Alert
			sinks, on := alertSinks(cfg, alertFile, webhook)
			if len(sinks) > 0 {
				al = newAlert(r, rec, on)
			}
			var keys []string
			if _, err := st.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
				if err := putMonitorRecord(ctx, tx, rec); err != nil {
					return err
				}
				tx.Audit(monitorEntries(r, rec)...)
				if al != nil {
					var err error
					keys, err = alert.Queue(ctx, tx, al, sinks, rec.Time)
					return err
				}
				return nil
			}); err != nil {
				return err
			}
			outcomes := a.flushAlerts(ctx, st, keys)
			if al != nil {
				rec.Alerts = alertStatuses(sinks, keys, outcomes)
				if _, err := st.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
					return putMonitorRecord(ctx, tx, rec)
				}); err != nil {
					return err
				}
			}
			if err := reports.write(a.outputGuard(), monitorRunRecord(r, rec)); err != nil {
				return err
			}
			if asJSON {
				if err := a.writeJSON(r); err != nil {
					return err
				}
			} else {
				writeMonitorReport(a.stdout, r, rec)
			}
			if rec.Failed {
				if err := a.monitorRetrain(ctx, st, rt, o.model); err != nil {
					return err
				}
				return &silentError{code: pipeline.ExitCheckFailed}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "", "the registered model: NAME (latest version), NAME@N or NAME@ALIAS (e.g. credit-risk@production)")
	f.StringVar(&o.run, "run", "", "the run that trained the model (id, unique prefix or latest)")
	f.StringVar(&o.step, "step", "", "the train step of that run")
	f.StringVar(&o.data, "data", "", "the batch: a CSV file with the columns of the training data")
	f.StringVar(&o.labels, "labels", "", "the batch's label column, the model's target: required in the batch (default: read when present)")
	f.BoolVar(&o.noLabels, "no-labels", false, "do not check performance, even when the batch has the target column")
	f.StringVar(&o.group, "group", "", "check fairness between the groups of this column (overrides the config's group)")
	f.Float64SliceVar(&o.groupBins, "group-bins", nil, "cut a numeric group column into left-closed bands at these `VALUES`, e.g. 18,25,35,50,65")
	f.IntVar(&o.groupQuantiles, "group-quantiles", 0, "cut a numeric group column into `N` quantile bands of the batch")
	f.StringVar(&o.psiBins, "psi-bins", "", "PSI bin convention: right_closed (the default, the profile's frozen bins) or numpy")
	f.StringVar(&o.config, "config", "", "the checks: a YAML `FILE` with a monitor step's settings (default: the run's monitor step of the model, else the defaults)")
	f.BoolVar(&asJSON, "json", false, "print the whole report as JSON")
	f.StringVar(&alertFile, "alert-file", "", "append an alert for failed checks to this JSON-lines `FILE` (replaces the config's)")
	f.StringVar(&webhook, "webhook", "", "POST an alert for failed checks to this `URL`; $VAR is expanded (replaces the config's)")
	reports.register(cmd)
	rt.register(cmd)
	cmd.AddCommand(a.monitorHistoryCommand())
	return cmd
}

// monitorBatch runs the comparison and stores the report.
func (a *app) monitorBatch(ctx context.Context, st *lineage.Store, o monitorOpts) (*monitor.Report, *monitorRecord, *monitor.Config, error) {
	var version *registry.Version
	if o.model != "" {
		_, reg, err := a.openRegistry()
		if err != nil {
			return nil, nil, nil, err
		}
		_, version, err = reg.Resolve(ctx, o.model)
		if err != nil {
			return nil, nil, nil, err
		}
		o.run, o.step = version.Run, version.Step
	}
	stepID, data, labels, group := o.step, o.data, o.labels, o.group
	run, err := getRun(ctx, st, o.run)
	if err != nil {
		return nil, nil, nil, err
	}
	sr := run.Step(stepID)
	if sr == nil {
		return nil, nil, nil, pipeline.Invalidf("run %s has no step %q", run.ID, stepID)
	}
	mref, okm := sr.Outputs["model"]
	pref, okp := sr.Outputs["profile"]
	if sr.Kind != "train" || !okm {
		return nil, nil, nil, pipeline.Invalidf("step %q of run %s is a %s step, not a train step", stepID, run.ID, sr.Kind)
	}
	if !okp {
		return nil, nil, nil, pipeline.Invalidf("step %q of run %s has no reference profile (trained by an older mlrun): re-run the pipeline", stepID, run.ID)
	}
	m, err := a.loadModel(ctx, st, mref.ID)
	if err != nil {
		return nil, nil, nil, err
	}
	pb, err := st.GetObject(ctx, pref.ID)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("profile object %s: %w", pref.ID.Short(), err)
	}
	prof, err := profile.FromObject(&pipeline.Document{Type: profile.TypeName, Value: json.RawMessage(pb)})
	if err != nil {
		return nil, nil, nil, err
	}
	if labels != "" && labels != prof.Target {
		return nil, nil, nil, pipeline.Invalidf("--labels %q: the model's target column is %q", labels, prof.Target)
	}
	if labels != "" && o.noLabels {
		return nil, nil, nil, pipeline.Invalidf("--labels and --no-labels exclude each other")
	}
	if o.psiBins != "" && !stats.Binning(o.psiBins).Valid() {
		return nil, nil, nil, pipeline.Invalidf("--psi-bins %q: want right_closed or numpy", o.psiBins)
	}
	if err := monitor.CheckGroupBands(o.groupBins, o.groupQuantiles); err != nil {
		return nil, nil, nil, pipeline.Invalidf("--group-bins, --group-quantiles: %v", err)
	}

	// The batch, through the steps the model was trained behind: the
	// version's chain, or the run's pipeline source (never the working copy).
	absData, err := filepath.Abs(data)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := predict.CheckInputFile(absData); err != nil {
		return nil, nil, nil, pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("--data %s: %w", data, err))
	}
	header, err := predict.CSVHeader(absData)
	if err != nil {
		return nil, nil, nil, pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("--data %s: %w", data, err))
	}
	reg, err := a.registry()
	if err != nil {
		return nil, nil, nil, err
	}
	var ch *scoring.Chain
	if version != nil {
		ch, err = scoring.ForVersion(ctx, st, reg, version, "")
	} else {
		ch, err = scoring.ForRun(ctx, st, reg, run, stepID, "")
	}
	if err != nil {
		return nil, nil, nil, err
	}
	chainSrc, err := ch.ForBatch(header, absData)
	if err != nil {
		return nil, nil, nil, err
	}
	final := ch.Final
	p, err := pipeline.Parse(run.File, chainSrc, pipeline.LoadOptions{Registry: reg})
	if err != nil {
		return nil, nil, nil, err
	}
	results, err := exec.RunInMemory(ctx, p, defaultJobs(), a.log)
	if err != nil {
		return nil, nil, nil, err
	}
	var batchChecks []pipeline.Check
	for _, s := range p.Steps {
		for _, c := range results[s.ID].Checks {
			c.Name = s.ID + "/" + c.Name
			batchChecks = append(batchChecks, c)
		}
	}
	ds, ok := results[final.Step].Outputs[final.Output].(*table.Dataset)
	if !ok {
		return nil, nil, nil, fmt.Errorf("step %q output %q is not a dataset", final.Step, final.Output)
	}

	// Baseline: the run's evaluate step of this model, if any.
	in := monitor.Input{Profile: prof, Model: m, Current: ds, Jobs: defaultJobs()}
	for _, s := range run.Steps {
		if s.Kind != "evaluate" || s.Inputs["model"].ID != mref.ID {
			continue
		}
		if o, ok := s.Outputs["metrics"]; ok {
			if b, err := st.GetObject(ctx, o.ID); err == nil {
				if base, err := monitor.BaselineFrom(&pipeline.Document{Type: "metrics", Value: json.RawMessage(b)}); err == nil {
					in.Baseline, in.BaselineSource = base, "step "+s.ID+" of run "+run.ID
				}
			}
		}
		break
	}
	cfg, source, err := monitorConfig(run, mref.ID, o.config)
	if err != nil {
		return nil, nil, nil, err
	}
	// Labels are read when the batch has the target column, unless the
	// config or --no-labels turns them off; --labels turns them on and
	// requires the column.
	switch {
	case labels != "":
		if !slices.Contains(header, labels) {
			return nil, nil, nil, pipeline.Invalidf("--labels %q is not a column of %s", labels, data)
		}
		cfg.NoLabels = false
	case o.noLabels:
		cfg.NoLabels = true
	}
	if o.psiBins != "" {
		cfg.PSIBins = stats.Binning(o.psiBins)
	}
	// A group column the config names but the batch lacks leaves the
	// fairness checks not evaluated (Compute says so).
	if group != "" {
		if !slices.Contains(header, group) {
			return nil, nil, nil, pipeline.Invalidf("--group %q is not a column of %s", group, data)
		}
		if cfg.Group != "" && group != cfg.Group {
			cfg.GroupBins, cfg.GroupQuantiles = nil, 0 // the config's bands are another column's
		}
		cfg.Group = group
	}
	if len(o.groupBins) > 0 || o.groupQuantiles > 0 {
		if cfg.Group == "" {
			return nil, nil, nil, pipeline.Invalidf("--group-bins and --group-quantiles need a group column (--group)")
		}
		cfg.GroupBins, cfg.GroupQuantiles = o.groupBins, o.groupQuantiles
	}
	r, err := monitor.Compute(in, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	r.Notes = append([]string{"checks: " + source}, r.Notes...)
	r.Checks = append(r.Checks, batchChecks...)
	monitor.SortChecks(r.Checks)

	// Store the report; the caller commits its record (and a pin that
	// keeps the report through gc).
	fileSum, err := st.Fingerprint(ctx, absData, false)
	if err != nil {
		return nil, nil, nil, err
	}
	id, _, err := st.PutObject(ctx, monitor.TypeName, &pipeline.Document{Type: monitor.TypeName, Value: r})
	if err != nil {
		return nil, nil, nil, err
	}
	now := time.Now().UTC()
	rec := &monitorRecord{Record: monhistory.Record{Time: now, Run: run.ID, Step: stepID, ModelObject: mref.ID, Data: data, SHA256: fileSum.SHA256, Rows: r.Rows, Report: id, Config: source}}
	if version != nil {
		rec.Model, rec.Version = version.Model, version.Version
	}
	rec.Failed, rec.Checks = monhistory.Condense(r.Checks)
	rec.name = monitorRecordName(run.ID, stepID, now)
	return r, rec, cfg, nil
}

// monitorRecordName names the record of a batch monitored at t. A long
// step id is shortened with a hash of the whole name, so that any legal id
// gives a legal record name.
func monitorRecordName(run, step string, t time.Time) string {
	name := run + "--" + step + "--" + t.UTC().Format("20060102T150405.000000000Z")
	if len(name) > 180 {
		sum := sha256.Sum256([]byte(name))
		name = name[:100] + "--" + hex.EncodeToString(sum[:])[:16]
	}
	return name
}

// runMonitorRecords returns, for `mlrun monitor history`, the records of
// the monitor steps a run executed (a cached one was recorded when it
// ran): the batch each compared and its checks, keyed by its model object.
func runMonitorRecords(rec *lineage.RunRecord) []*monitorRecord {
	var out []*monitorRecord
	for i := range rec.Steps {
		s := &rec.Steps[i]
		if s.Kind != "monitor" || s.CacheHit || (s.Status != lineage.StepOK && s.Status != lineage.StepCheckFailed) {
			continue
		}
		report, ok := s.Outputs["report"]
		if !ok {
			continue
		}
		m := s.Inputs["model"]
		mr := &monitorRecord{Record: monhistory.Record{
			Time: rec.End, Run: rec.ID, Step: rec.Producer(s.ID, m.ID), ModelObject: m.ID,
			Data: monitoredData(rec, s), Rows: int(s.Metrics["rows"]), Report: report.ID,
			Config: fmt.Sprintf("monitor step %s of pipeline %s", s.ID, rec.Pipeline), Alerts: s.Alerts,
		}, monitorStep: s.ID}
		if files := upstreamFiles(rec, s); len(files) == 1 {
			mr.SHA256 = files[0].SHA256
		}
		mr.Failed, mr.Checks = monhistory.Condense(s.Checks)
		mr.name = monitorRecordName(rec.ID, s.ID, rec.End)
		out = append(out, mr)
	}
	return out
}

// putMonitorRecord stages a monitored batch's record and the pin that
// keeps its report through gc.
func putMonitorRecord(ctx context.Context, tx *lineage.Tx, rec *monitorRecord) error {
	if _, err := tx.PutJSON(ctx, monitorNS, rec.name, rec); err != nil {
		return err
	}
	return tx.PutPin(ctx, "monitor--"+rec.name, &lineage.Pin{Objects: []lineage.ID{rec.Report}, Why: "monitor report of " + rec.Data})
}

// monitorConfig returns the checks of a monitored batch and says where they
// came from: the --config file, else the recorded configuration of the
// run's monitor step whose model input is the model, else the defaults.
func monitorConfig(run *lineage.RunRecord, modelID lineage.ID, file string) (*monitor.Config, string, error) {
	if file != "" {
		src, err := os.ReadFile(file)
		if err != nil {
			return nil, "", pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("--config: %w", err))
		}
		cfg, err := monitor.ParseConfig(file, src)
		if err != nil {
			return nil, "", err
		}
		if cfg.Alerts != nil && cfg.Alerts.File != "" && !filepath.IsAbs(cfg.Alerts.File) {
			cfg.Alerts.File = filepath.Join(filepath.Dir(file), cfg.Alerts.File)
		}
		return cfg, "config file " + file, nil
	}
	for _, s := range run.Steps {
		if s.Kind != "monitor" || s.Inputs["model"].ID != modelID || len(s.Config) == 0 {
			continue
		}
		cfg, err := monitor.ConfigFromRecord(s.Config)
		if err != nil {
			return nil, "", fmt.Errorf("monitor step %q of run %s: %w", s.ID, run.ID, err)
		}
		if cfg.Alerts != nil && cfg.Alerts.File != "" && !filepath.IsAbs(cfg.Alerts.File) {
			cfg.Alerts.File = filepath.Join(filepath.Dir(run.File), cfg.Alerts.File)
		}
		return cfg, fmt.Sprintf("monitor step %q of run %s", s.ID, run.ID), nil
	}
	cfg := monitor.DefaultConfig()
	if errs := cfg.Compile(nil); len(errs) > 0 {
		return nil, "", errors.Join(errs...)
	}
	return cfg, "default checks", nil
}

// writeMonitorReport prints failures first with their numbers, then the
// per-feature drift table, then the passed checks.
func writeMonitorReport(w io.Writer, r *monitor.Report, rec *monitorRecord) {
	fmt.Fprintf(w, "monitor %s (%s) on %s: %d rows vs %d reference rows\n", rec.Step, r.Model.Algorithm, rec.Data, r.Rows, r.ReferenceRows)
	var crit, warn, pass []pipeline.Check
	for _, c := range r.Checks {
		switch {
		case c.Failed():
			crit = append(crit, c)
		case !c.Passed:
			warn = append(warn, c)
		default:
			pass = append(pass, c)
		}
	}
	section := func(title string, cs []pipeline.Check) {
		if len(cs) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		for _, c := range cs {
			fmt.Fprintf(w, "  %-34s %s\n", c.Name, c.Message)
		}
	}
	section("FAILED critical checks", crit)
	section("warnings", warn)
	fmt.Fprintf(w, "\n  %-22s %-11s %8s %8s %10s %8s %8s %8s\n", "feature", "kind", "psi", "js", "ks_p", "wass/sd", "missing", "drifted")
	row := func(f monitor.FeatureDrift) {
		if f.Error != "" {
			fmt.Fprintf(w, "  %-22s %-11s %s\n", f.Name, f.Kind, f.Error)
			return
		}
		p := func(k string) string {
			v, ok := f.Vars[k]
			if !ok || math.IsNaN(float64(v)) {
				return "-"
			}
			if k == "ks_pvalue" {
				return fmt.Sprintf("%.3g", float64(v))
			}
			return fmt.Sprintf("%.4f", float64(v))
		}
		d := ""
		if f.Drifted {
			d = "yes"
		}
		fmt.Fprintf(w, "  %-22s %-11s %8s %8s %10s %8s %8s %8s\n", f.Name, f.Kind, p("psi"), p("js"), p("ks_pvalue"), p("wasserstein_norm"), p("missing_rate"), d)
	}
	for _, f := range r.Features {
		row(f)
	}
	if r.Score != nil {
		row(*r.Score)
	}
	fmt.Fprintf(w, "  drift share %s (%d of %d features)\n", fmtNum(float64(r.DriftShare)), len(r.Drifted), len(r.Features))
	if r.Fairness != nil {
		fmt.Fprintf(w, "\n  %-12s %6s %9s %7s %7s %9s %7s\n", r.Group, "rows", "approval", "tpr", "fpr", "precision", "auc")
		for _, g := range r.Fairness.Groups {
			flag := ""
			if g.Small {
				flag = "  (small: not judged)"
			}
			fmt.Fprintf(w, "  %-12s %6d %9s %7s %7s %9s %7s%s\n", g.Group, g.Count, fmtNum(float64(g.ApprovalRate)), fmtNum(float64(g.TPR)),
				fmtNum(float64(g.FPR)), fmtNum(float64(g.Precision)), fmtNum(float64(g.AUC)), flag)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	section("passed", pass)
	status := "OK"
	if rec.Failed {
		status = "CHECK-FAILED"
	}
	notEval := ""
	if n := len(r.NotEvaluated); n > 0 {
		notEval = fmt.Sprintf(" (%d not evaluated)", n)
	}
	fmt.Fprintf(w, "\n%s: %d critical and %d warning check(s) failed%s, %d passed; report %s\n", status, len(crit), len(warn), notEval, len(pass), rec.Report.Short())
}

func fmtNum(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4f", v), "0"), ".")
}

func (a *app) monitorHistoryCommand() *cobra.Command {
	var (
		runRef, step, modelRef string
		asJSON                 bool
	)
	cmd := &cobra.Command{
		Use:   "history (--model NAME[@ALIAS] | --run RUN --step STEP)",
		Short: "Show each monitor check over the batches monitored for a model",
		Long: `List the batches monitored for a model, oldest first, and each check's value
over them: a trend table (x marks a failure, n/e a check that could not be
evaluated, which never passes) and, on a terminal, a sparkline
per check. --model NAME takes the batches of every version of a registered
model (monitored by --model, by the run and step of a version, or by a
monitor step of any pipeline run on the same model object), each marked with
its version; NAME@N or NAME@ALIAS those of one version; --run and
--step those of one train step.

Exit codes: 0 ok, 2 invalid usage, 3 the store cannot be read.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (modelRef == "") == (runRef == "" || step == "") || (modelRef != "" && (runRef != "" || step != "")) {
				return pipeline.Invalidf("monitor history needs --model NAME[@ALIAS], or --run and --step")
			}
			ctx := cmd.Context()
			st, reg, err := a.openRegistryRead()
			if err != nil {
				return err
			}
			var sel *monhistory.Selector
			if modelRef != "" {
				if sel, err = monhistory.ForModel(ctx, reg, modelRef); err != nil {
					return err
				}
			} else {
				run, err := getRun(ctx, st, runRef)
				if err != nil {
					return err
				}
				sel = monhistory.ForRun(run, step)
			}
			view, err := st.View(ctx)
			if err != nil {
				return err
			}
			recs, err := monhistory.List(ctx, view, sel)
			if err != nil {
				return err
			}
			if asJSON {
				if recs == nil {
					recs = []*monhistory.Record{}
				}
				return a.writeJSON(recs)
			}
			writeHistory(a.stdout, recs, isTerminal(a.stdout))
			return nil
		},
	}
	cmd.Flags().StringVar(&modelRef, "model", "", "the registered model: NAME (every version), NAME@N or NAME@ALIAS")
	cmd.Flags().StringVar(&runRef, "run", "", "the run that trained the model")
	cmd.Flags().StringVar(&step, "step", "", "the train step")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the records as JSON")
	return cmd
}

func writeHistory(w io.Writer, recs []*monhistory.Record, spark bool) {
	if len(recs) == 0 {
		fmt.Fprintln(w, "no monitored batches")
		return
	}
	fmt.Fprintf(w, "%d batch(es):\n", len(recs))
	for i, r := range recs {
		status := "ok"
		if r.Failed {
			status = "check-failed"
		}
		ver := ""
		if r.Model != "" {
			ver = fmt.Sprintf("%s@%d  ", r.Model, r.Version)
		}
		fmt.Fprintf(w, "  #%d %s  %s%-40s %6d rows  %s  report %s\n", i+1, r.Time.Format(time.RFC3339), ver, r.Data, r.Rows, status, r.Report.Short())
	}
	values := map[string][]*monhistory.Check{}
	for i, r := range recs {
		for k := range r.Checks {
			c := &r.Checks[k]
			if values[c.Name] == nil {
				values[c.Name] = make([]*monhistory.Check, len(recs))
			}
			values[c.Name][i] = c
		}
	}
	fmt.Fprintf(w, "\n  %-34s", "check")
	for i := range recs {
		fmt.Fprintf(w, " %10s", fmt.Sprintf("#%d", i+1))
	}
	fmt.Fprintln(w)
	notEval := false
	for _, name := range sortedKeys(values) {
		fmt.Fprintf(w, "  %-34s", name)
		var series []float64
		for _, c := range values[name] {
			cell := "-"
			switch {
			case c == nil:
			case c.NotEvaluated:
				cell, notEval = "n/e", true
			case c.Defined:
				cell = fmt.Sprintf("%.4g", c.Value)
				series = append(series, c.Value)
			default:
				cell = "n/a"
			}
			if c != nil && !c.Passed && !c.NotEvaluated {
				cell += "x"
			}
			fmt.Fprintf(w, " %10s", cell)
		}
		if spark {
			fmt.Fprintf(w, "  %s", sparkline(series))
		}
		fmt.Fprintln(w)
	}
	if notEval {
		fmt.Fprintln(w, "\n  x: not passed; n/e: not evaluated (never passed; a critical one fails its batch)")
	}
}

// sparkline draws values as block characters scaled to their range.
func sparkline(v []float64) string {
	if len(v) == 0 {
		return ""
	}
	blocks := []rune("▁▂▃▄▅▆▇█")
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	var b strings.Builder
	for _, x := range v {
		k := 0
		if hi > lo {
			k = int((x - lo) / (hi - lo) * float64(len(blocks)-1))
		}
		b.WriteRune(blocks[k])
	}
	return b.String()
}
