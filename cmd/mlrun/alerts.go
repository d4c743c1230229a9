package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mlrun-cli/mlrun/internal/alert"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/steps/monitor"
)

// alertsNS holds the alerts that could not be delivered, one record per
// alert and sink (records/alerts/<alert>--<sink>.json), until a later
// `mlrun monitor` or `mlrun run` delivers them.
const alertsNS = "alerts"

// Audit event types of mlrun monitor, and of the alerts of mlrun run.
const (
	auditBatchMonitored   = "batch.monitored"
	auditCheckFailed      = "monitor.check_failed"
	auditAlertDelivered   = "alert.delivered"
	auditAlertUndelivered = "alert.undelivered"
)

// pendingAlert is an undelivered alert.
type pendingAlert struct {
	Sink      alert.Sink   `json:"sink"`
	Alert     *alert.Alert `json:"alert"`
	Attempts  int          `json:"attempts"`
	LastError string       `json:"last_error"`
	Since     time.Time    `json:"since"`
}

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

// sendAlerts delivers the alert to every sink; an alert a sink did not
// take is kept in the store (alertsNS) for the next run. Failures are
// reported on stderr and in the returned statuses, never as an error that
// would change the exit code.
func (a *app) sendAlerts(ctx context.Context, st *lineage.Store, al *alert.Alert, sinks []alert.Sink) []lineage.AlertStatus {
	var out []lineage.AlertStatus
	// What a sink did not take is kept even when ctx was cancelled.
	keepCtx := context.WithoutCancel(ctx)
	for _, s := range sinks {
		n, err := s.Deliver(ctx, al, alertBackoff())
		status := lineage.AlertStatus{Sink: s.String(), Delivered: err == nil, Attempts: n}
		entry := lineage.AuditEntry{Type: auditAlertDelivered, Run: al.Run, Step: al.Step,
			Detail: map[string]string{"alert": al.ID, "sink": s.Name(), "attempts": strconv.Itoa(n)}}
		if err != nil {
			status.Error = err.Error()
			entry.Type, entry.Detail["error"] = auditAlertUndelivered, err.Error()
			fmt.Fprintf(a.stderr, "mlrun: alert to %s not delivered, kept for the next run: %v\n", s.Name(), err)
			p := &pendingAlert{Sink: s, Alert: al, Attempts: n, LastError: err.Error(), Since: time.Now().UTC()}
			if perr := putPending(keepCtx, st, p); perr != nil {
				fmt.Fprintf(a.stderr, "mlrun: cannot keep the undelivered alert: %v\n", perr)
			}
		}
		if _, err := st.AppendAudit(keepCtx, entry); err != nil {
			fmt.Fprintf(a.stderr, "mlrun: audit: %v\n", err)
		}
		out = append(out, status)
	}
	return out
}

// putPending keeps an undelivered alert, replacing the earlier record of
// the same alert and sink.
func putPending(ctx context.Context, st *lineage.Store, p *pendingAlert) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return st.Backend().PutRecord(ctx, alertsNS, p.Alert.ID+"--"+p.Sink.Name(), b)
}

// retryPending tries to deliver every kept alert, oldest first, removing
// those delivered; it reports how many it delivered and how many remain.
// Failures are reported on stderr, never as an error.
func (a *app) retryPending(ctx context.Context, st *lineage.Store) (delivered, kept int) {
	names, err := st.Backend().ListRecords(ctx, alertsNS)
	if err != nil {
		fmt.Fprintf(a.stderr, "mlrun: kept alerts: %v\n", err)
		return 0, 0
	}
	for _, n := range names {
		b, err := st.Backend().GetRecord(ctx, alertsNS, n)
		if err != nil {
			kept++
			continue
		}
		var p pendingAlert
		if err := json.Unmarshal(b, &p); err != nil || p.Alert == nil {
			fmt.Fprintf(a.stderr, "mlrun: kept alert %s is unreadable: %v\n", n, err)
			kept++
			continue
		}
		attempts, err := p.Sink.Deliver(ctx, p.Alert, alertBackoff())
		p.Attempts += attempts
		entry := lineage.AuditEntry{Type: auditAlertDelivered, Run: p.Alert.Run, Step: p.Alert.Step,
			Detail: map[string]string{"alert": p.Alert.ID, "sink": p.Sink.Name(), "attempts": strconv.Itoa(p.Attempts), "kept_since": p.Since.Format(time.RFC3339)}}
		if err != nil {
			kept++
			p.LastError = err.Error()
			if perr := putPending(ctx, st, &p); perr != nil {
				fmt.Fprintf(a.stderr, "mlrun: kept alert %s: %v\n", n, perr)
			}
			fmt.Fprintf(a.stderr, "mlrun: kept alert %s still not delivered: %v\n", p.Alert.ID, err)
			continue
		}
		if err := st.Backend().DeleteRecord(ctx, alertsNS, n); err != nil && !errors.Is(err, lineage.ErrNotFound) {
			fmt.Fprintf(a.stderr, "mlrun: kept alert %s: %v\n", n, err)
		}
		if _, err := st.AppendAudit(ctx, entry); err != nil {
			fmt.Fprintf(a.stderr, "mlrun: audit: %v\n", err)
		}
		delivered++
	}
	if delivered > 0 {
		fmt.Fprintf(a.stderr, "mlrun: delivered %d kept alert(s)\n", delivered)
	}
	return delivered, kept
}

// monitorAudit appends "batch.monitored" and one "monitor.check_failed"
// per failed critical check.
func monitorAudit(ctx context.Context, st *lineage.Store, r *monitor.Report, rec *monitorRecord) (string, error) {
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
	entries = append([]lineage.AuditEntry{{Type: auditBatchMonitored, Run: rec.Run, Step: rec.Step, Detail: d}}, entries...)
	return st.AppendAudit(ctx, entries...)
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

// runAlerts raises the alerts of the monitor steps that ran in rec: for
// each whose alerts setting is given and whose checks failed at or above
// its alerts.on severity, an alert goes to its sinks (a relative file is
// relative to the pipeline file), and the step's record says where it went
// (lineage.StepRecord.Alerts). A monitor step taken from the cache raises
// none: the run that computed it raised its alert, and a kept one is
// retried by retryPending. It reports whether an alert was raised; a
// failed delivery is reported on stderr, never as an error.
func (a *app) runAlerts(ctx context.Context, st *lineage.Store, rec *lineage.RunRecord, file, webhook string) bool {
	raised := false
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
		s.Alerts = a.sendAlerts(ctx, st, al, sinks)
		raised = true
	}
	return raised
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
