package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strconv"

	"gonum.org/v1/plot"

	"github.com/mlrun-cli/mlrun/internal/monhistory"
	"github.com/mlrun-cli/mlrun/internal/report"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
	"github.com/mlrun-cli/mlrun/steps/monitor"
	"github.com/mlrun-cli/mlrun/steps/stats"
)

// monitorSummary is what the monitoring page shows of one batch's monitor
// report object (steps/monitor Report).
type monitorSummary struct {
	Rows       int           `json:"rows"`
	Labels     bool          `json:"labels"`
	Features   []featureRow  `json:"features"`
	ScorePSI   stats.Num     `json:"score_psi"`
	DriftShare stats.Num     `json:"drift_share"`
	Drifted    []string      `json:"drifted,omitempty"`
	AUC        stats.Num     `json:"auc"`
	BaseAUC    stats.Num     `json:"baseline_auc"`
	Group      string        `json:"group,omitempty"`
	Fairness   *fairnessView `json:"fairness,omitempty"`
	Notes      []string      `json:"notes,omitempty"`
	Error      string        `json:"error,omitempty"`
}

type featureRow struct {
	Name        string    `json:"name"`
	Kind        string    `json:"kind"`
	Drifted     bool      `json:"drifted"`
	PSI         stats.Num `json:"psi"`
	KS          stats.Num `json:"ks_statistic"`
	KSP         stats.Num `json:"ks_pvalue"`
	MissingRate stats.Num `json:"missing_rate"`
	Error       string    `json:"error,omitempty"`
}

type fairnessView struct {
	DisparateImpact stats.Num          `json:"disparate_impact"`
	ParityDiff      stats.Num          `json:"demographic_parity_difference"`
	EqualOppDiff    stats.Num          `json:"equal_opportunity_difference"`
	Groups          []stats.GroupRates `json:"groups"`
}

func numVar(m map[string]stats.Num, k string) stats.Num {
	if v, ok := m[k]; ok {
		return v
	}
	return stats.Num(math.NaN())
}

// monitorReport summarises a batch's report object, cached by its id.
func (s *Server) monitorReport(ctx context.Context, id lineage.ID) *monitorSummary {
	nan := stats.Num(math.NaN())
	sum, err := s.monreps.get(id, func() (*monitorSummary, error) {
		b, err := s.st.GetObject(ctx, id)
		if err != nil {
			return nil, err
		}
		var rep monitor.Report
		if err := json.Unmarshal(b, &rep); err != nil {
			return nil, fmt.Errorf("monitor report %s: %w", id.Short(), err)
		}
		ms := &monitorSummary{Rows: rep.Rows, Labels: rep.Labels, DriftShare: rep.DriftShare, Drifted: rep.Drifted, ScorePSI: nan, AUC: nan, BaseAUC: nan, Group: rep.Group, Notes: rep.Notes}
		for _, f := range rep.Features {
			ms.Features = append(ms.Features, featureRow{Name: f.Name, Kind: f.Kind, Drifted: f.Drifted, PSI: numVar(f.Vars, "psi"),
				KS: numVar(f.Vars, "ks_statistic"), KSP: numVar(f.Vars, "ks_pvalue"), MissingRate: numVar(f.Vars, "missing_rate"), Error: f.Error})
		}
		if rep.Score != nil {
			ms.ScorePSI = numVar(rep.Score.Vars, "psi")
		}
		if p := rep.Performance; p != nil {
			ms.AUC, ms.BaseAUC = numVar(p.Current, "auc"), numVar(p.Baseline, "auc")
		}
		if f := rep.Fairness; f != nil {
			ms.Fairness = &fairnessView{DisparateImpact: f.DisparateImpact, ParityDiff: f.DemographicParityDiff, EqualOppDiff: f.EqualOpportunityDiff, Groups: f.Groups}
		}
		return ms, nil
	})
	if err != nil {
		return &monitorSummary{Error: err.Error(), ScorePSI: nan, DriftShare: nan, AUC: nan, BaseAUC: nan}
	}
	return sum
}

// batchRow is a monitored batch with its report's summary.
type batchRow struct {
	*monhistory.Record
	N      int                `json:"n"`
	Report *monitorSummary    `json:"summary"`
	Failed []monhistory.Check `json:"-"`
}

// monitoringData is a model's monitoring page.
type monitoringData struct {
	Model   string     `json:"model"`
	Batches []batchRow `json:"batches"`
	Latest  *batchRow  `json:"-"`
	Charts  []chart    `json:"-"`
}

type chart struct {
	Title, Caption string
	SVG            template.HTML
}

func (s *Server) monitoring(ctx context.Context, r *http.Request, charts bool) (*monitoringData, error) {
	name, err := validName(r, "name")
	if err != nil {
		return nil, err
	}
	if registry.CheckName(name) != nil {
		return nil, notFound("no model %q", name)
	}
	sel, err := monhistory.ForModel(ctx, s.reg, name)
	if err != nil {
		return nil, err
	}
	view, err := s.st.View(ctx)
	if err != nil {
		return nil, err
	}
	recs, err := monhistory.List(ctx, view, sel)
	if err != nil {
		return nil, err
	}
	d := &monitoringData{Model: name, Batches: []batchRow{}}
	for i, rec := range recs {
		row := batchRow{Record: rec, N: i + 1, Report: s.monitorReport(ctx, rec.Report)}
		for _, c := range rec.Checks {
			if !c.Passed {
				row.Failed = append(row.Failed, c)
			}
		}
		d.Batches = append(d.Batches, row)
	}
	if n := len(d.Batches); n > 0 {
		d.Latest = &d.Batches[n-1]
	}
	if charts {
		d.Charts = monitoringCharts(d.Batches)
	}
	return d, nil
}

// monitoringCharts draws drift (PSI of each feature and of the score),
// AUC and fairness over the batches.
func monitoringCharts(bs []batchRow) []chart {
	if len(bs) == 0 {
		return nil
	}
	x := make([]float64, len(bs))
	for i := range bs {
		x[i] = float64(i + 1)
	}
	series := func(f func(*monitorSummary) float64) []float64 {
		ys := make([]float64, len(bs))
		for i, b := range bs {
			ys[i] = f(b.Report)
		}
		return ys
	}
	var out []chart
	draw := func(title, ylabel, caption string, names []string, ys [][]float64) {
		pl := report.NewPlot(title, "batch", ylabel)
		pl.Y.Min = 0
		if len(bs) <= 24 {
			ticks := make(plot.ConstantTicks, len(bs))
			for i := range bs {
				ticks[i] = plot.Tick{Value: x[i], Label: strconv.Itoa(i + 1)}
			}
			pl.X.Tick.Marker = ticks
		}
		drawn := 0
		for i, name := range names {
			pts := report.XYs(x, ys[i])
			kept := pts[:0:0]
			for _, p := range pts {
				if !math.IsNaN(p.Y) && !math.IsInf(p.Y, 0) {
					kept = append(kept, p)
				}
			}
			if len(kept) == 0 {
				continue
			}
			c, dashes, marker := report.SeriesStyle(i)
			if report.Line(pl, name, kept, c, 1.4, dashes, marker, 1) == nil {
				drawn++
			}
		}
		if drawn == 0 {
			return
		}
		if svg, err := report.Render(pl, title); err == nil {
			out = append(out, chart{Title: title, Caption: caption, SVG: template.HTML(svg)})
		}
	}
	// Drift: the score and each feature of the latest batch's model.
	names := []string{"score"}
	ys := [][]float64{series(func(m *monitorSummary) float64 { return float64(m.ScorePSI) })}
	for _, f := range bs[len(bs)-1].Report.Features {
		name := f.Name
		names = append(names, name)
		ys = append(ys, series(func(m *monitorSummary) float64 {
			for _, g := range m.Features {
				if g.Name == name {
					return float64(g.PSI)
				}
			}
			return math.NaN()
		}))
	}
	draw("Drift (PSI) over batches", "PSI", "Population stability index of the score and of each feature against the training profile, batch by batch (0.1: moderate, 0.25: large shift).", names, ys)
	draw("AUC over batches", "AUC", "AUC on each labelled batch, and the baseline it is compared with.",
		[]string{"batch AUC", "baseline AUC"},
		[][]float64{series(func(m *monitorSummary) float64 { return float64(m.AUC) }), series(func(m *monitorSummary) float64 { return float64(m.BaseAUC) })})
	fair := func(f func(*fairnessView) stats.Num) func(*monitorSummary) float64 {
		return func(m *monitorSummary) float64 {
			if m.Fairness == nil {
				return math.NaN()
			}
			return float64(f(m.Fairness))
		}
	}
	draw("Fairness over batches", "", "Disparate impact (lowest approval rate over the highest; the four-fifths rule wants 0.8 or more) and the demographic parity difference of the group column, batch by batch.",
		[]string{"disparate impact", "demographic parity difference"},
		[][]float64{series(fair(func(f *fairnessView) stats.Num { return f.DisparateImpact })), series(fair(func(f *fairnessView) stats.Num { return f.ParityDiff }))})
	return out
}

func (s *Server) monitoringPage(r *http.Request) (*view, error) {
	d, err := s.monitoring(r.Context(), r, true)
	if err != nil {
		return nil, err
	}
	return &view{Page: "monitoring", Title: "Monitoring of " + d.Model, Nav: "models", Data: d}, nil
}

func (s *Server) apiMonitoring(r *http.Request) (any, error) {
	return s.monitoring(r.Context(), r, false)
}
