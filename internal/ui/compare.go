package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/mlrun-cli/mlrun/internal/report"
	"github.com/mlrun-cli/mlrun/internal/runquery"
	"github.com/mlrun-cli/mlrun/internal/scoring"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/pdiff"
	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/stats"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// maxCompare bounds the runs of one comparison.
const maxCompare = 8

// compareRuns reads the runs ?run=A&run=B... names (2 to maxCompare).
func (s *Server) compareRuns(r *http.Request) ([]*lineage.RunRecord, error) {
	ids := r.URL.Query()["run"]
	if len(ids) < 2 || len(ids) > maxCompare {
		return nil, badRequest("compare needs from 2 to %d runs (?run=A&run=B), got %d: tick them in the run list", maxCompare, len(ids))
	}
	ctx := r.Context()
	snap, err := s.index.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	var out []*lineage.RunRecord
	for _, id := range ids {
		if !nameRe.MatchString(id) {
			return nil, notFound("no run %q in the store", id)
		}
		sum := snap.Get(id)
		if sum == nil {
			rec, err := s.st.GetRun(ctx, id)
			if err != nil || snap.Get(rec.ID) == nil {
				return nil, notFound("no run %q in the store", id)
			}
			sum = snap.Get(rec.ID)
		}
		rec, err := runquery.Record(ctx, s.st, sum)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// sideRow is a row of a side-by-side table: a name and one value per run.
type sideRow struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
	// Differs is true when the runs do not all agree.
	Differs bool `json:"differs"`
}

// semanticDiff is the semantic pipeline diff of two runs' pipelines.
type semanticDiff struct {
	A, B   string
	Report *pdiff.Report `json:",omitempty"`
	Text   string        `json:"-"`
	Error  string        `json:",omitempty"`
}

// comparison is what the compare page and /api/compare show.
type comparison struct {
	Runs     []string             `json:"runs"`
	Params   []sideRow            `json:"params"`
	Metrics  []sideRow            `json:"metrics"`
	Diffs    []*runDiffView       `json:"diffs"`
	Roc      []*rocCurve          `json:"roc"`
	Chart    template.HTML        `json:"-"`
	Semantic []*semanticDiff      `json:"semantic"`
	Recs     []*lineage.RunRecord `json:"-"`
}

// runDiffView is a run diff (runquery.DiffRuns) with NaN-safe metrics.
type runDiffView struct {
	*runquery.Diff
	Metrics []metricDelta `json:"metrics,omitempty"`
}

type metricDelta struct {
	Step   string    `json:"step"`
	Metric string    `json:"metric"`
	A      stats.Num `json:"a"`
	B      stats.Num `json:"b"`
	Delta  stats.Num `json:"delta"`
}

func (s *Server) compare(ctx context.Context, recs []*lineage.RunRecord) *comparison {
	c := &comparison{Recs: recs}
	for _, r := range recs {
		c.Runs = append(c.Runs, r.ID)
	}
	params := map[string]bool{}
	metrics := map[string]bool{}
	var order []string // metric rows in the first run's step order
	for _, r := range recs {
		for k := range r.Params {
			params[k] = true
		}
		for i := range r.Steps {
			st := &r.Steps[i]
			for _, k := range sortedKeys(st.Metrics) {
				if name := st.ID + "." + k; !metrics[name] {
					metrics[name] = true
					order = append(order, name)
				}
			}
		}
	}
	for _, k := range sortedKeys(params) {
		row := sideRow{Name: k}
		for _, r := range recs {
			v, ok := r.Params[k]
			if !ok {
				row.Values = append(row.Values, "(unset)")
				continue
			}
			row.Values = append(row.Values, fmtAny(v))
		}
		row.Differs = differs(row.Values)
		c.Params = append(c.Params, row)
	}
	for _, name := range order {
		step, k, _ := strings.Cut(name, ".")
		row := sideRow{Name: name}
		for _, r := range recs {
			v := math.NaN()
			if st := r.Step(step); st != nil {
				if x, ok := st.Metrics[k]; ok {
					v = x
				}
			}
			row.Values = append(row.Values, num(v))
		}
		row.Differs = differs(row.Values)
		c.Metrics = append(c.Metrics, row)
	}
	for _, r := range recs[1:] {
		d := runquery.DiffRuns(recs[0], r)
		v := &runDiffView{Diff: d}
		for _, m := range d.Metrics {
			v.Metrics = append(v.Metrics, metricDelta{m.Step, m.Metric, stats.Num(m.A), stats.Num(m.B), stats.Num(m.Delta)})
		}
		c.Diffs = append(c.Diffs, v)
		c.Semantic = append(c.Semantic, s.semantic(ctx, recs[0], r))
	}
	for _, r := range recs {
		c.Roc = append(c.Roc, s.roc(ctx, r))
	}
	c.Chart = rocChart(c.Roc)
	return c
}

func differs(vals []string) bool {
	for _, v := range vals[1:] {
		if v != vals[0] {
			return true
		}
	}
	return false
}

func (s *Server) comparePage(r *http.Request) (*view, error) {
	recs, err := s.compareRuns(r)
	if err != nil {
		return nil, err
	}
	return &view{Page: "compare", Title: fmt.Sprintf("Compare %d runs", len(recs)), Nav: "runs", Data: s.compare(r.Context(), recs)}, nil
}

func (s *Server) apiCompare(r *http.Request) (any, error) {
	recs, err := s.compareRuns(r)
	if err != nil {
		return nil, err
	}
	return s.compare(r.Context(), recs), nil
}

// semantic is the semantic diff (pipeline/pdiff) of the pipelines two runs
// read, each re-read from the copy the store keeps with the run's params;
// cached by the two sources and params. Loading needs each load step's
// data file where the run read it (or its schema in the memo): when it
// cannot load, Error says why.
func (s *Server) semantic(ctx context.Context, a, b *lineage.RunRecord) *semanticDiff {
	pa, _ := json.Marshal(a.Params)
	pb, _ := json.Marshal(b.Params)
	key := a.FileSHA256 + "\x00" + string(pa) + "\x00" + b.FileSHA256 + "\x00" + string(pb)
	d, _ := s.pdiffs.get(key, func() (*semanticDiff, error) {
		d := &semanticDiff{A: a.ID, B: b.ID}
		oldP, err := s.loadRunPipeline(ctx, a)
		if err != nil {
			d.Error = fmt.Sprintf("the pipeline of run %s cannot be re-read: %v", a.ID, err)
			return d, nil
		}
		newP, err := s.loadRunPipeline(ctx, b)
		if err != nil {
			d.Error = fmt.Sprintf("the pipeline of run %s cannot be re-read: %v", b.ID, err)
			return d, nil
		}
		rep := pdiff.Compare(oldP, newP)
		rep.Old, rep.New = a.ID+":"+a.File, b.ID+":"+b.File
		var sb strings.Builder
		if err := rep.WriteText(&sb); err != nil {
			d.Error = err.Error()
			return d, nil
		}
		d.Report, d.Text = rep, sb.String()
		return d, nil
	})
	if d.A != a.ID || d.B != b.ID { // cached for other runs with the same pipelines
		c := *d
		c.A, c.B = a.ID, b.ID
		d = &c
	}
	return d
}

// loadRunPipeline parses the pipeline a run read (scoring.Source: the copy
// in the store) with the run's params as overrides.
func (s *Server) loadRunPipeline(ctx context.Context, r *lineage.RunRecord) (*pipeline.Pipeline, error) {
	src, err := scoring.Source(ctx, s.st, r, "")
	if err != nil {
		return nil, err
	}
	ov := map[string]string{}
	for k, v := range r.Params {
		b, err := json.Marshal(v) // JSON is YAML's flow syntax
		if err != nil {
			return nil, err
		}
		ov[k] = string(b)
	}
	return pipeline.Parse(s.runFile(r), src, pipeline.LoadOptions{Registry: s.opts.Kinds, Overrides: ov, SchemaMemo: s.opts.SchemaMemo})
}

// runFile is where a run's pipeline file is, for the relative paths in it
// (its load steps' data): as recorded, relative to the working directory;
// else, when only that exists, relative to the directory holding a local
// store (mlrun run's working directory with the default --store .mlrun).
func (s *Server) runFile(r *lineage.RunRecord) string {
	if filepath.IsAbs(r.File) {
		return r.File
	}
	if _, err := os.Stat(r.File); err == nil {
		return r.File
	}
	if dir := s.st.Dir(); dir != "" {
		alt := filepath.Join(filepath.Dir(dir), r.File)
		if _, err := os.Stat(alt); err == nil {
			return alt
		}
	}
	return r.File
}

// rocCurve is the ROC curve of a run's evaluate step, recomputed from the
// stored model and data (as the report does).
type rocCurve struct {
	Run   string    `json:"run"`
	Step  string    `json:"step,omitempty"`
	AUC   stats.Num `json:"auc"`
	FPR   []float64 `json:"fpr,omitempty"`
	TPR   []float64 `json:"tpr,omitempty"`
	Error string    `json:"error,omitempty"`
}

// maxROCPoints bounds the points of a curve drawn or sent.
const maxROCPoints = 400

// roc computes the ROC curve of the evaluate step that stands for the run
// (the first headline step: the best variant of a sweep), cached by its
// model and data objects.
func (s *Server) roc(ctx context.Context, r *lineage.RunRecord) *rocCurve {
	hs := runquery.Headlines(r)
	if len(hs) == 0 {
		return &rocCurve{Run: r.ID, AUC: stats.Num(math.NaN()), Error: "the run has no evaluate step"}
	}
	st := r.Step(hs[0].Step)
	mref, okm := st.Inputs["model"]
	dref, okd := st.Inputs["data"]
	if !okm || !okd {
		return &rocCurve{Run: r.ID, Step: st.ID, AUC: stats.Num(math.NaN()), Error: "the evaluate step did not run"}
	}
	c, err := s.rocs.get(mref.ID.String()+dref.ID.String(), func() (*rocCurve, error) {
		return computeROC(ctx, s.st, mref.ID, dref.ID, s.opts.Jobs)
	})
	if err != nil {
		return &rocCurve{Run: r.ID, Step: st.ID, AUC: stats.Num(math.NaN()), Error: err.Error()}
	}
	out := *c
	out.Run, out.Step = r.ID, st.ID
	return &out
}

func computeROC(ctx context.Context, st *lineage.Store, modelID, dataID lineage.ID, jobs int) (*rocCurve, error) {
	mb, err := st.GetObject(ctx, modelID)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", modelID.Short(), err)
	}
	m, err := model.Decode(mb)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", modelID.Short(), err)
	}
	db, err := st.GetObject(ctx, dataID)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", dataID.Short(), err)
	}
	d, err := table.Decode(db)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", dataID.Short(), err)
	}
	p, err := m.Predict(d, jobs)
	if err != nil {
		return nil, fmt.Errorf("scoring: %w", err)
	}
	t := m.Target()
	if c := d.Column(t.Name); c != nil {
		t.Type = c.Type
	}
	y, err := t.Labels(d)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	roc, err := stats.NewROC(p, y, nil)
	if err != nil {
		return nil, fmt.Errorf("the data holds one class only: %w", err)
	}
	fpr, tpr := []float64{0}, []float64{0}
	for k := range roc.Thresholds {
		fpr = append(fpr, roc.FP[k]/roc.Neg)
		tpr = append(tpr, roc.TP[k]/roc.Pos)
	}
	fx, fy := report.Thin(fpr, tpr, maxROCPoints)
	return &rocCurve{AUC: stats.Num(roc.AUC()), FPR: fx, TPR: fy}, nil
}

// rocChart overlays the curves in one SVG chart ("" when none).
func rocChart(curves []*rocCurve) template.HTML {
	pl := report.NewPlot("ROC curves", "false positive rate (goods flagged)", "true positive rate (bads caught)")
	report.UnitAxes(pl)
	n := 0
	for i, c := range curves {
		if c.Error != "" {
			continue
		}
		col, dashes, marker := report.SeriesStyle(i)
		if err := report.Line(pl, fmt.Sprintf("%s %s (AUC %s)", c.Run, c.Step, num(float64(c.AUC))), report.XYs(c.FPR, c.TPR), col, 1.5, dashes, marker, max(len(c.FPR)/10, 1)); err != nil {
			continue
		}
		n++
	}
	if n == 0 {
		return ""
	}
	if err := report.Diagonal(pl, "chance"); err != nil {
		return ""
	}
	svg, err := report.Render(pl, "ROC curves of the compared runs")
	if err != nil {
		return ""
	}
	return template.HTML(svg)
}
