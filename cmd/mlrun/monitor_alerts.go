package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mlrun-cli/mlrun/internal/alert"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/steps/monitor"
)

// alertsNS holds the alerts that could not be delivered, one record per
// alert and sink (records/alerts/<batch>--<sink>.json), until a later
// `mlrun monitor` delivers them.
const alertsNS = "alerts"

// Audit event types of mlrun monitor.
const (
	auditBatchMonitored    = "batch.monitored"
	auditCheckFailed       = "monitor.check_failed"
	auditAlertDelivered    = "alert.delivered"
	auditAlertUndelivered  = "alert.undelivered"
	defaultAlertRetries    = alert.DefaultRetries
	defaultAlertTimeoutSec = 10
)

// sink is one alert destination: a JSON-lines file or a webhook URL (kept
// unexpanded: $VAR is read from the environment at each delivery).
type sink struct {
	File    string  `json:"file,omitempty"`
	Webhook string  `json:"webhook,omitempty"`
	Timeout float64 `json:"timeout,omitempty"`
	Retries int     `json:"retries"`
}

func (s sink) name() string {
	if s.File != "" {
		return "file"
	}
	return "webhook"
}

func (s sink) String() string {
	if s.File != "" {
		return "file " + s.File
	}
	return "webhook " + s.Webhook
}

// pendingAlert is an undelivered alert.
type pendingAlert struct {
	Sink      sink         `json:"sink"`
	Alert     *alert.Alert `json:"alert"`
	Attempts  int          `json:"attempts"`
	LastError string       `json:"last_error"`
	Since     time.Time    `json:"since"`
}

// alertStatus is what became of an alert at one sink, kept in the
// monitor record.
type alertStatus struct {
	Sink      string `json:"sink"`
	Delivered bool   `json:"delivered"`
	Attempts  int    `json:"attempts"`
	Error     string `json:"error,omitempty"`
}

// alertSinks returns the sinks of a monitor: the config's alerts, with
// --alert-file and --webhook replacing the file and the webhook.
func alertSinks(cfg *monitor.Config, file, webhook string) ([]sink, string) {
	var s []sink
	on := monitor.Critical
	timeout, retries := float64(defaultAlertTimeoutSec), defaultAlertRetries
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
		s = append(s, sink{File: file})
	}
	if webhook != "" {
		s = append(s, sink{Webhook: webhook, Timeout: timeout, Retries: retries})
	}
	return s, on
}

// newAlert describes the failed checks of a batch (failed critical checks,
// and failed warnings when on is warn); nil when nothing to alert on.
func newAlert(r *monitor.Report, rec *monitorRecord, on string) *alert.Alert {
	a := &alert.Alert{ID: rec.name, Time: rec.Time, Severity: monitor.Warn, Model: rec.Model, Version: rec.Version,
		Run: rec.Run, Step: rec.Step, Data: rec.Data, Report: rec.Report.String()}
	var lines []string
	for _, c := range r.Checks {
		if c.Passed || (!c.Failed() && on != monitor.Warn) {
			continue
		}
		sev := monitor.Warn
		if c.Failed() {
			sev, a.Severity = monitor.Critical, monitor.Critical
		}
		a.Failed = append(a.Failed, alert.Check{Name: c.Name, Severity: sev, Message: c.Message, Values: c.Values})
		if len(lines) < 5 {
			lines = append(lines, fmt.Sprintf("• %s (%s): %s", c.Name, sev, c.Message))
		}
	}
	if len(a.Failed) == 0 {
		return nil
	}
	what := rec.Step + " of run " + rec.Run
	if rec.Model != "" {
		what = fmt.Sprintf("%s@%d", rec.Model, rec.Version)
	}
	more := ""
	if n := len(a.Failed) - len(lines); n > 0 {
		more = fmt.Sprintf("\n… and %d more", n)
	}
	a.Text = fmt.Sprintf("mlrun monitor: %d %s check(s) failed for %s on %s (report %s)\n%s%s",
		len(a.Failed), a.Severity, what, rec.Data, rec.Report.Short(), strings.Join(lines, "\n"), more)
	return a
}

// deliver sends an alert to a sink once (with the webhook's retries).
func deliver(ctx context.Context, s sink, a *alert.Alert) (int, error) {
	if s.File != "" {
		return 1, alert.AppendFile(s.File, a)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = defaultAlertTimeoutSec
	}
	wh := &alert.Webhook{URL: os.ExpandEnv(s.Webhook), Timeout: time.Duration(timeout * float64(time.Second)), Retries: s.Retries}
	if b := os.Getenv("MLRUN_ALERT_BACKOFF"); b != "" {
		if d, err := time.ParseDuration(b); err == nil {
			wh.Backoff = d
		}
	}
	return wh.Send(ctx, a)
}

// sendAlerts delivers the alert to every sink; an alert a sink did not
// take is kept in the store (alertsNS) for the next run. Failures are
// reported on stderr and in the returned statuses, never as an error that
// would change the exit code.
func (a *app) sendAlerts(ctx context.Context, st *lineage.Store, al *alert.Alert, sinks []sink) []alertStatus {
	var out []alertStatus
	for _, s := range sinks {
		n, err := deliver(ctx, s, al)
		status := alertStatus{Sink: s.String(), Delivered: err == nil, Attempts: n}
		entry := lineage.AuditEntry{Type: auditAlertDelivered, Run: al.Run, Step: al.Step,
			Detail: map[string]string{"alert": al.ID, "sink": s.name(), "attempts": strconv.Itoa(n)}}
		if err != nil {
			status.Error = err.Error()
			entry.Type, entry.Detail["error"] = auditAlertUndelivered, err.Error()
			fmt.Fprintf(a.stderr, "mlrun: alert to %s not delivered, kept for the next run: %v\n", s.name(), err)
			p := &pendingAlert{Sink: s, Alert: al, Attempts: n, LastError: err.Error(), Since: time.Now().UTC()}
			if perr := putPending(ctx, st, p); perr != nil {
				fmt.Fprintf(a.stderr, "mlrun: cannot keep the undelivered alert: %v\n", perr)
			}
		}
		if _, err := st.AppendAudit(ctx, entry); err != nil {
			fmt.Fprintf(a.stderr, "mlrun: audit: %v\n", err)
		}
		out = append(out, status)
	}
	return out
}

func putPending(ctx context.Context, st *lineage.Store, p *pendingAlert) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return st.Backend().PutRecord(ctx, alertsNS, p.Alert.ID+"--"+p.Sink.name(), b)
}

// retryPending tries to deliver every kept alert, oldest first, removing
// those delivered; it reports how many it delivered and how many remain.
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
		attempts, err := deliver(ctx, p.Sink, p.Alert)
		p.Attempts += attempts
		entry := lineage.AuditEntry{Type: auditAlertDelivered, Run: p.Alert.Run, Step: p.Alert.Step,
			Detail: map[string]string{"alert": p.Alert.ID, "sink": p.Sink.name(), "attempts": strconv.Itoa(p.Attempts), "kept_since": p.Since.Format(time.RFC3339)}}
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
