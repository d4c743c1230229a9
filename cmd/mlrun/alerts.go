package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/internal/alert"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/steps/monitor"
)

// Audit event types of mlrun monitor.
const (
	auditBatchMonitored = "batch.monitored"
	auditCheckFailed    = "monitor.check_failed"
)

// alertSinks returns the sinks of a monitor: the config's alerts, with
// --alert-file and --webhook replacing the file and the webhook; and the
// lowest severity that raises an alert.
func alertSinks(cfg *monitor.Config, file, webhook string) ([]alert.Sink, string) {
	var s []alert.Sink
	on := monitor.Critical
	timeout, retries := alert.DefaultTimeout.Seconds(), alert.DefaultRetries
	if a := cfg.Alerts; a != nil {
		if file == "" {
			file = a.File
		}
		if webhook == "" {
			webhook = a.Webhook
		}
		if a.Timeout > 0 {
			timeout = a.Timeout
		}
		if a.Retries != nil {
			retries = *a.Retries
		}
		if a.On != "" {
			on = a.On
		}
	}
	if file != "" {
		s = append(s, alert.Sink{File: file})
	}
	if webhook != "" {
		s = append(s, alert.Sink{Webhook: webhook, Timeout: timeout, Retries: retries})
	}
	return s, on
}

// newAlert describes the failed checks of a monitored batch (failed
// critical checks, and failed warnings when on is warn); nil when nothing
// to alert on.
func newAlert(r *monitor.Report, rec *monitorRecord, on string) *alert.Alert {
	what := rec.Step + " of run " + rec.Run
	if rec.Model != "" {
		what = fmt.Sprintf("%s@%d", rec.Model, rec.Version)
	}
	base := alert.Alert{ID: rec.name, Time: rec.Time, Model: rec.Model, Version: rec.Version,
		Run: rec.Run, Step: rec.Step, Data: rec.Data, Report: rec.Report.String()}
	return alert.New(base, r.Checks, on, alert.Subject{Source: "mlrun monitor", What: what, Report: rec.Report.Short()})
}

// alertBackoff is the first wait between webhook attempts:
// MLRUN_ALERT_BACKOFF (a Go duration), else alert.DefaultBackoff.
func alertBackoff() time.Duration {
	if b := os.Getenv("MLRUN_ALERT_BACKOFF"); b != "" {
		if d, err := time.ParseDuration(b); err == nil && d > 0 {
			return d
		}
	}
	return alert.DefaultBackoff
}

// flushAlerts delivers every alert of the store's outbox (see
// alert.Flush), the ones just queued and the ones kept from earlier runs,
// and returns the outcomes by delivery key. Failures are reported on
// stderr, never as an error that would change the exit code.
//
// fresh are the delivery keys of the alerts this command queued; the others
// were kept from earlier commands.
func (a *app) flushAlerts(ctx context.Context, st *lineage.Store, fresh ...[]string) map[string]alert.Outcome {
	out, err := alert.Flush(ctx, st, alert.FlushOptions{Backoff: alertBackoff(), Guard: a.outputGuard()})
	if err != nil {
		fmt.Fprintf(a.stderr, "mlrun: alerts: %v\n", err)
	}
	isFresh := map[string]bool{}
	for _, keys := range fresh {
		for _, k := range keys {
			isFresh[k] = true
		}
	}
	byKey := map[string]alert.Outcome{}
	kept := 0
	for _, o := range out {
		byKey[o.Key] = o
		switch {
		case o.Delivered && !isFresh[o.Key]:
			kept++
		case !o.Delivered && isFresh[o.Key]:
			fmt.Fprintf(a.stderr, "mlrun: alert to %s not delivered, kept for the next run: %v\n", o.Sink.Name(), o.Err)
		case !o.Delivered:
			fmt.Fprintf(a.stderr, "mlrun: kept alert %s still not delivered to %s (%d attempt(s) in all): %v\n", o.Alert.ID, o.Sink.Name(), o.Attempts, o.Err)
		}
	}
	if kept > 0 {
		fmt.Fprintf(a.stderr, "mlrun: delivered %d kept alert(s)\n", kept)
	}
	return byKey
}

// alertsCommand lists the alerts waiting in the store's outbox.
func (a *app) alertsCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "List the alerts kept in the store until they are delivered",
		Long: `List the alerts of monitor steps and 'mlrun monitor' that are queued in the
store's outbox: every alert is stored before its first delivery attempt and
removed once delivered (audit entry alert.delivered); an alert a sink did not
take stays, with its attempts and last error, and every later 'mlrun run' or
'mlrun monitor' tries it again.

Exit codes: 0 listed, 3 the store cannot be read.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStoreRead()
			if err != nil {
				return err
			}
			v, err := st.View(cmd.Context())
			if err != nil {
				return err
			}
			queued, err := alert.Queued(cmd.Context(), v)
			if err != nil {
				return err
			}
			if asJSON {
				if queued == nil {
					queued = []alert.Pending{}
				}
				return a.writeJSON(queued)
			}
			if len(queued) == 0 {
				fmt.Fprintln(a.stdout, "no alerts waiting")
				return nil
			}
			for _, p := range queued {
				fmt.Fprintf(a.stdout, "%s  %s -> %s  queued %s, %d attempt(s)", p.Key[:12], p.Alert.ID, p.Sink.String(), p.Since.Format(time.RFC3339), p.Attempts)
				if p.LastError != "" {
					fmt.Fprintf(a.stdout, ", last error: %s", p.LastError)
				}
				fmt.Fprintln(a.stdout)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the queued alerts as JSON")
	return cmd
}

// alertStatuses says what became of an alert's deliveries.
func alertStatuses(sinks []alert.Sink, keys []string, outcomes map[string]alert.Outcome) []lineage.AlertStatus {
	var out []lineage.AlertStatus
	for i, s := range sinks {
		st := lineage.AlertStatus{Sink: s.String()}
		if o, ok := outcomes[keys[i]]; ok {
			st.Delivered, st.Attempts = o.Delivered, o.Attempts
			if o.Err != nil {
				st.Error = o.Err.Error()
			}
		} else {
			st.Error = "not attempted: another mlrun process holds the outbox; it stays queued"
		}
		out = append(out, st)
	}
	return out
}

// monitorEntries are "batch.monitored" and one "monitor.check_failed" per
// failed critical check.
func monitorEntries(r *monitor.Report, rec *monitorRecord) []lineage.AuditEntry {
	failed := 0
	var entries []lineage.AuditEntry
	for _, c := range r.Checks {
		if !c.Failed() {
			continue
		}
		failed++
		entries = append(entries, lineage.AuditEntry{Type: auditCheckFailed, Run: rec.Run, Step: rec.Step,
			Detail: map[string]string{"check": c.Name, "message": c.Message, "report": rec.Report.String(), "batch": rec.name}})
	}
	d := map[string]string{"batch": rec.name, "data": rec.Data, "data_sha256": rec.SHA256, "rows": strconv.Itoa(rec.Rows),
		"report": rec.Report.String(), "failed_critical": strconv.Itoa(failed), "config": rec.Config, "status": "ok"}
	if rec.Failed {
		d["status"] = "check-failed"
	}
	if rec.Model != "" {
		d["model"] = fmt.Sprintf("%s@%d", rec.Model, rec.Version)
	}
	return append([]lineage.AuditEntry{{Type: auditBatchMonitored, Run: rec.Run, Step: rec.Step, Detail: d}}, entries...)
}

// monitorRunRecord shapes a monitored batch as a one-step run record, so
// that --junit and --summary write it as they write a run's.
func monitorRunRecord(r *monitor.Report, rec *monitorRecord) *lineage.RunRecord {
	name := "monitor " + rec.Step
	if rec.Model != "" {
		name = fmt.Sprintf("monitor %s@%d", rec.Model, rec.Version)
	}
	out := &lineage.RunRecord{ID: rec.name, Pipeline: name, Start: rec.Time, End: rec.Time, Status: lineage.RunOK}
	step := lineage.StepRecord{ID: rec.Step, Kind: "monitor", Status: lineage.StepOK, Checks: r.Checks, Metrics: lineage.Metrics{},
		Notes: append([]string{fmt.Sprintf("run %s, data %s (%d rows), report %s", rec.Run, rec.Data, rec.Rows, rec.Report)}, r.Notes...)}
	for k, v := range r.Dataset {
		if f := float64(v); f == f && f-f == 0 {
			step.Metrics[k] = f
		}
	}
	if rec.Failed {
		out.Status, out.ExitCode, step.Status = lineage.RunCheckFailed, pipeline.ExitCheckFailed, lineage.StepCheckFailed
	}
	out.Steps = []lineage.StepRecord{step}
	return out
}

// runAlert is an alert a monitor step of a run raised, with its sinks.
type runAlert struct {
	step  int // index in the run record's steps
	alert *alert.Alert
	sinks []alert.Sink
	keys  []string
}

// runAlerts returns the alerts of the monitor steps that ran in rec: for
// each whose alerts setting is given and whose checks failed at or above
// its alerts.on severity, an alert for its sinks (a relative file is
// relative to the pipeline file). A monitor step taken from the cache
// raises none: the run that computed it raised its alert.
func (a *app) runAlerts(rec *lineage.RunRecord, file, webhook string) []*runAlert {
	var out []*runAlert
	for i := range rec.Steps {
		s := &rec.Steps[i]
		if s.Kind != "monitor" || s.CacheHit || len(s.Config) == 0 ||
			(s.Status != lineage.StepOK && s.Status != lineage.StepCheckFailed) {
			continue
		}
		var cfg monitor.Config
		if err := json.Unmarshal(s.Config, &cfg); err != nil {
			fmt.Fprintf(a.stderr, "mlrun: step %q: alerts: %v\n", s.ID, err)
			continue
		}
		if cfg.Alerts == nil && file == "" && webhook == "" {
			continue
		}
		if cfg.Alerts != nil {
			if f := cfg.Alerts.File; f != "" && !filepath.IsAbs(f) {
				cfg.Alerts.File = filepath.Join(filepath.Dir(rec.File), f)
			}
		}
		sinks, on := alertSinks(&cfg, file, webhook)
		report := s.Outputs["report"].ID
		base := alert.Alert{ID: rec.ID + "--" + s.ID, Time: rec.End, Run: rec.ID, Step: s.ID,
			Data: monitoredData(rec, s), Report: report.String()}
		al := alert.New(base, s.Checks, on, alert.Subject{Source: "mlrun run",
			What: fmt.Sprintf("%s of run %s (%s)", s.ID, rec.ID, rec.Pipeline), Report: report.Short()})
		if al == nil || len(sinks) == 0 {
			continue
		}
		out = append(out, &runAlert{step: i, alert: al, sinks: sinks})
	}
	return out
}

// monitoredData names the batch a monitor step compared: the files read
// by the steps upstream of its current input, else that input's step.
func monitoredData(rec *lineage.RunRecord, s *lineage.StepRecord) string {
	cur, ok := s.Inputs["current"]
	if !ok {
		return "its current input"
	}
	first := rec.Producer(s.ID, cur.ID)
	if first == "" {
		return "its current input"
	}
	files := upstreamFiles(rec, s)
	if len(files) == 0 {
		return "the output of step " + first
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f.Path
	}
	return strings.Join(paths, ", ")
}

// upstreamFiles returns the files read by the steps upstream of a monitor
// step's current input, nearest first, each path once.
func upstreamFiles(rec *lineage.RunRecord, s *lineage.StepRecord) []pipeline.FileInfo {
	cur, ok := s.Inputs["current"]
	if !ok {
		return nil
	}
	first := rec.Producer(s.ID, cur.ID)
	if first == "" {
		return nil
	}
	var out []pipeline.FileInfo
	seen := map[string]bool{first: true}
	for queue := []string{first}; len(queue) > 0; queue = queue[1:] {
		up := rec.Step(queue[0])
		if up == nil {
			continue
		}
		for _, f := range up.Files {
			if !slices.ContainsFunc(out, func(o pipeline.FileInfo) bool { return o.Path == f.Path }) {
				out = append(out, f)
			}
		}
		for _, name := range sortedKeys(up.Inputs) {
			if p := rec.Producer(up.ID, up.Inputs[name].ID); p != "" && !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	return out
}
