package ui

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/mlrun-cli/mlrun/internal/report"
	"github.com/mlrun-cli/mlrun/internal/runquery"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/governance"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/steps/monitor"
)

// getRun resolves a run id (or a unique prefix, or "latest") from a route
// parameter: the record as the index summarised it (re-hashed on read).
func (s *Server) getRun(ctx context.Context, r *http.Request) (*lineage.RunRecord, *runquery.Summary, error) {
	id, err := validName(r, "id")
	if err != nil {
		return nil, nil, err
	}
	snap, err := s.index.Snapshot(ctx)
	if err != nil {
		return nil, nil, err
	}
	sum := snap.Get(id)
	if sum == nil {
		rec, err := s.st.GetRun(ctx, id) // a prefix, or latest
		if err != nil {
			return nil, nil, notFound("no run %q in the store", id)
		}
		if sum = snap.Get(rec.ID); sum == nil {
			return nil, nil, notFound("no run %q in the store", id)
		}
	}
	rec, err := runquery.Record(ctx, s.st, sum)
	if err != nil {
		return nil, nil, err
	}
	return rec, sum, nil
}

// checkRow is a check or gate of a step with its outcome.
type checkRow struct {
	Step    string `json:"step"`
	Name    string `json:"name"`
	Kind    string `json:"kind,omitempty"`
	Expr    string `json:"expr,omitempty"`
	Outcome string `json:"outcome"`
	// Class is the CSS class of the outcome.
	Class    string `json:"-"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
	Waiver   string `json:"waiver,omitempty"`
}

// checkRows lists a run's checks with their outcome: pass, FAIL, warn,
// WAIVED (an active waiver covers the failure) or not evaluated.
func checkRows(rec *lineage.RunRecord, waivers governance.Waivers, now time.Time) []checkRow {
	var out []checkRow
	for i := range rec.Steps {
		st := &rec.Steps[i]
		for _, c := range st.Checks {
			row := checkRow{Step: st.ID, Name: c.Name, Kind: c.Kind, Expr: c.Expr, Severity: c.Severity, Message: c.Message, Outcome: "pass", Class: "pass"}
			switch {
			case monitor.NotEvaluated(c):
				row.Outcome, row.Class = "not evaluated", "warn"
				if c.Failed() {
					row.Class = "fail"
				}
			case c.Failed():
				row.Outcome, row.Class = "FAIL", "fail"
				if w := waivers.Check(rec.ID, st.ID, c.Name, now); w != nil {
					row.Outcome, row.Class = "WAIVED", "waived"
					row.Waiver = fmt.Sprintf("waiver %s by %s until %s: %s", w.ID, w.Approval.Principal, w.Expires.Format("2006-01-02"), w.Reason)
				}
			case !c.Passed:
				row.Outcome, row.Class = "warn", "warn"
			}
			out = append(out, row)
		}
	}
	return out
}

// metricRow is one step's metric.
type metricRow struct {
	Step, Name string
	Value      float64
}

// runData is the run page.
type runData struct {
	Rec     *lineage.RunRecord
	Sum     *runquery.Summary
	Params  [][2]string
	Files   []fileRow
	Metrics []metricRow
	Checks  []checkRow
	Graph   template.HTML
	// Previous is the run of the same pipeline before this one ("": none),
	// for a comparison link.
	Previous string
	// Models are the registered versions the run trained.
	Models []modelVersion
}

type modelVersion struct {
	Name    string
	Version int
}

type fileRow struct {
	Step string
	pipeline.FileInfo
}

func (s *Server) runPage(r *http.Request) (*view, error) {
	ctx := r.Context()
	rec, sum, err := s.getRun(ctx, r)
	if err != nil {
		return nil, err
	}
	d := &runData{Rec: rec, Sum: sum}
	for _, k := range sortedKeys(rec.Params) {
		d.Params = append(d.Params, [2]string{k, fmtAny(rec.Params[k])})
	}
	for i := range rec.Steps {
		st := &rec.Steps[i]
		for _, f := range st.Files {
			d.Files = append(d.Files, fileRow{st.ID, f})
		}
		for _, k := range sortedKeys(st.Metrics) {
			d.Metrics = append(d.Metrics, metricRow{st.ID, k, st.Metrics[k]})
		}
	}
	sv, err := s.st.View(ctx)
	if err != nil {
		return nil, err
	}
	ws, err := governance.ListWaivers(ctx, sv)
	if err != nil {
		return nil, err
	}
	d.Checks = checkRows(rec, ws.ForRun(rec.ID), s.opts.Now())
	d.Graph = lineageGraph(rec)
	if snap, err := s.index.Snapshot(ctx); err == nil {
		runs := snap.Runs()
		for i := len(runs) - 1; i >= 0; i-- {
			if runs[i].Pipeline == rec.Pipeline && runs[i].Start.Before(rec.Start) {
				d.Previous = runs[i].ID
				break
			}
		}
	}
	if models, err := s.reg.List(ctx); err == nil {
		for _, m := range models {
			for _, v := range m.Versions {
				if v.Run == rec.ID {
					d.Models = append(d.Models, modelVersion{m.Name, v.Version})
				}
			}
		}
	}
	return &view{Page: "run", Title: "Run " + rec.ID, Nav: "runs", Data: d, Frame: true}, nil
}

// apiRun is GET /api/runs/{id}: the run record, its checks' outcomes and
// its summary.
func (s *Server) apiRun(r *http.Request) (any, error) {
	ctx := r.Context()
	rec, sum, err := s.getRun(ctx, r)
	if err != nil {
		return nil, err
	}
	view, err := s.st.View(ctx)
	if err != nil {
		return nil, err
	}
	ws, err := governance.ListWaivers(ctx, view)
	if err != nil {
		return nil, err
	}
	return struct {
		Run     *lineage.RunRecord `json:"run"`
		Summary *runquery.Summary  `json:"summary"`
		Checks  []checkRow         `json:"checks"`
	}{rec, sum, checkRows(rec, ws.ForRun(rec.ID), s.opts.Now())}, nil
}

// serveReport serves the run's report (internal/report): the page mlrun
// report writes, cached by the run record and the store's state (the
// report shows later monitoring and governance).
func (s *Server) serveReport(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx := r.Context()
	rec, sum, err := s.getRun(ctx, r)
	if err != nil {
		s.serveError(w, r, err)
		return
	}
	view, err := s.st.View(ctx)
	if err != nil {
		s.serveError(w, r, err)
		return
	}
	page, err := s.reports.get(sum.Record.String()+"@"+view.Root.String(), func() ([]byte, error) {
		rep, err := report.Build(ctx, rec, report.Options{Store: s.st, Registry: s.opts.Kinds, Jobs: s.opts.Jobs, MonitorNS: s.opts.MonitorNS, Now: s.opts.Now()})
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if err := report.HTML(&b, rep); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	})
	if err != nil {
		s.serveError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", csp(page, false, "'self'", "'none'"))
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Server-Timing", serverTiming(start))
	if r.Method != http.MethodHead {
		w.Write(page)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// stepClass is the CSS class of a step's status.
func stepClass(st *lineage.StepRecord) string {
	switch {
	case st.Status == lineage.StepFailed || st.Status == lineage.StepCheckFailed:
		return "failed"
	case st.CacheHit:
		return "hit"
	}
	return strings.ReplaceAll(st.Status, " ", "-")
}
