package report

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
	"github.com/mlrun-cli/mlrun/steps/evaluate"
	"github.com/mlrun-cli/mlrun/steps/exprenv"
	"github.com/mlrun-cli/mlrun/steps/groups"
	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/monitor"
	"github.com/mlrun-cli/mlrun/steps/split"
	"github.com/mlrun-cli/mlrun/steps/stats"
	"github.com/mlrun-cli/mlrun/steps/table"
	"github.com/mlrun-cli/mlrun/steps/train"
	"github.com/mlrun-cli/mlrun/steps/validate"
)

// Options configure Build.
type Options struct {
	// Store is the lineage store holding the run (required).
	Store *lineage.Store
	// Registry holds the step kinds, to re-read the pipeline file for its
	// model card (required).
	Registry *pipeline.Registry
	// Model is the registered version the report was asked for (mlrun
	// report --model), or nil.
	Model *registry.Version
	// Jobs bounds the goroutines that score datasets (<= 0: 1).
	Jobs int
	// Now is the time waivers are judged at (zero: the clock).
	Now time.Time
	// MonitorNS is the record namespace of batches monitored after the run
	// (`mlrun monitor`), records named <run>--<step>--<time>; "" skips them.
	MonitorNS string
}

// builder holds what Build gathers while it goes.
type builder struct {
	ctx  context.Context
	opts Options
	run  *lineage.RunRecord
	r    *Report
	ds   map[lineage.ID]*table.Dataset
	// protected are the pipeline's protected attributes.
	protected []string
}

// Build gathers the report of run from the store. Problems with one part
// (a missing object, a changed pipeline file) are noted in that part and in
// Report.Notes; only a store that cannot be read is an error.
func Build(ctx context.Context, run *lineage.RunRecord, opts Options) (*Report, error) {
	if opts.Jobs <= 0 {
		opts.Jobs = 1
	}
	b := &builder{ctx: ctx, opts: opts, run: run, r: &Report{}, ds: map[lineage.ID]*table.Dataset{}}
	if err := b.header(); err != nil {
		return nil, err
	}
	b.card()
	b.checks()
	b.data()
	b.features()
	b.training()
	b.evaluations()
	if err := b.monitoring(); err != nil {
		return nil, err
	}
	b.governance()
	b.verdict()
	b.lineage()
	return b.r, nil
}

// now is the time waivers are judged at.
func (b *builder) now() time.Time {
	if !b.opts.Now.IsZero() {
		return b.opts.Now
	}
	return time.Now()
}

func (b *builder) note(format string, args ...any) {
	b.r.Notes = append(b.r.Notes, fmt.Sprintf(format, args...))
}

func (b *builder) header() error {
	run, h := b.run, &b.r.Header
	h.Pipeline, h.RunID, h.Created = run.Pipeline, run.ID, run.Start.UTC()
	if !run.End.IsZero() {
		h.Duration = run.End.Sub(run.Start)
	}
	h.User, h.Host, h.MlrunVersion, h.Git = run.User, run.Host, run.Version, run.Git
	h.File, h.FileSHA256, h.Status = run.File, run.FileSHA256, run.Status
	for _, k := range sortedKeys(run.Params) {
		h.Params = append(h.Params, KV{k, value(jsonValue(run.Params[k]))})
	}

	// The run's own last audit entry, not the log's head now.
	entries, hashes, err := b.opts.Store.AuditLog(b.ctx)
	if err != nil {
		return fmt.Errorf("report: reading the audit log: %w", err)
	}
	for i, e := range entries {
		if e.Run != run.ID || !(strings.HasPrefix(e.Type, "run.") || strings.HasPrefix(e.Type, "step.")) {
			continue
		}
		h.AuditHead, h.AuditSeq = hashes[i], e.Seq
		if e.Type == lineage.AuditRunFinished {
			break
		}
	}
	if h.AuditHead == "" {
		b.note("the audit log has no entry for run %s", run.ID)
	}

	// Registered versions trained by the run.
	models, err := registry.New(b.opts.Store, nil).List(b.ctx)
	if err != nil {
		return fmt.Errorf("report: reading the model registry: %w", err)
	}
	for _, m := range models {
		for _, v := range m.Versions {
			if v.Run != run.ID {
				continue
			}
			ref := ModelRef{Name: m.Name, Version: v.Version}
			for _, a := range sortedKeys(m.Aliases) {
				if m.Aliases[a] == v.Version {
					ref.Aliases = append(ref.Aliases, a)
				}
			}
			if ver, err := registry.New(b.opts.Store, nil).Version(b.ctx, m, v.Version); err == nil {
				ref.Step = ver.Step
			}
			if sel := b.opts.Model; sel != nil && sel.Model == m.Name && sel.Version == v.Version {
				ref.Selected = true
			}
			h.Models = append(h.Models, ref)
		}
	}
	return nil
}

// jsonValue normalises a param value to what JSON decoding gives.
func jsonValue(v any) any {
	data, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if json.Unmarshal(data, &out) != nil {
		return v
	}
	return out
}

// pipelineSource returns the pipeline file the run read: the copy the
// store keeps (the run's, else the registered version's), else, for a run
// recorded before mlrun kept it, the file when it is unchanged since.
func (b *builder) pipelineSource() ([]byte, string) {
	for _, id := range []lineage.ID{b.run.Source, b.modelSource()} {
		if id.IsNull() {
			continue
		}
		src, err := b.opts.Store.GetObject(b.ctx, id)
		if err != nil {
			return nil, fmt.Sprintf("the pipeline source kept in the store (%s) cannot be read: %v", id.Short(), err)
		}
		return src, ""
	}
	src, err := os.ReadFile(b.run.File)
	if err != nil {
		return nil, "the pipeline file " + b.run.File + " cannot be read (the run predates the copy mlrun keeps in the store)"
	}
	sum := sha256.Sum256(src)
	if got := hex.EncodeToString(sum[:]); got != b.run.FileSHA256 {
		return nil, fmt.Sprintf("the pipeline file changed since the run (sha256 %s then, %s now), and the run predates the copy mlrun keeps in the store", shortID(b.run.FileSHA256), shortID(got))
	}
	return src, ""
}

// modelSource is the registered version's pipeline source, when it is the
// run's.
func (b *builder) modelSource() lineage.ID {
	if b.opts.Model != nil && b.opts.Model.Run == b.run.ID {
		return b.opts.Model.Source
	}
	return lineage.ID{}
}

// card reads the model card, protected attributes and reason texts from the
// pipeline the run read (never from the working copy of the file).
func (b *builder) card() {
	c := &b.r.Card
	if v := b.opts.Model; v != nil && v.Run == b.run.ID && !v.Source.IsNull() {
		// The registered version keeps them: no need to compile the
		// pipeline (whose data files may have moved since).
		b.fillCard(v.ModelCard, v.Protected, v.Reasons, v.Description)
		return
	}
	src, why := b.pipelineSource()
	if src == nil {
		c.Unavailable = why
		b.note("model card not available: %s", c.Unavailable)
		return
	}
	p, err := pipeline.Parse(b.run.File, src, pipeline.LoadOptions{Registry: b.opts.Registry})
	if err != nil {
		c.Unavailable = "the pipeline file no longer loads: " + firstLine(err.Error())
		b.note("model card not available: %s", c.Unavailable)
		return
	}
	b.fillCard(p.ModelCard, p.Protected, p.Reasons, p.Description)
}

// fillCard fills the model card part of the report.
func (b *builder) fillCard(mc *pipeline.ModelCard, protected []string, reasons map[string]string, description string) {
	c := &b.r.Card
	if description != "" {
		b.r.Header.Description = description
	}
	b.protected = protected
	c.Protected = protected
	for _, k := range sortedKeys(reasons) {
		c.Reasons = append(c.Reasons, KV{k, reasons[k]})
	}
	if mc == nil {
		c.Missing = true
		return
	}
	c.ModelCard = *mc
	for _, k := range sortedKeys(mc.Other) {
		c.OtherKV = append(c.OtherKV, KV{k, mc.Other[k]})
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func (b *builder) checks() {
	h := &b.r.Header
	h.Passed = b.run.Status == lineage.RunOK
	for _, s := range b.run.Steps {
		for _, c := range s.Checks {
			row := CheckRow{Step: s.ID, Check: c}
			b.r.Checks = append(b.r.Checks, row)
			h.CheckSum++
			switch row.Outcome() {
			case "FAIL":
				h.Failed++
				h.Passed = false
			case "warn":
				h.Warned++
			}
		}
	}
}

// dataset decodes a dataset object, once.
func (b *builder) dataset(id lineage.ID) (*table.Dataset, error) {
	if d, ok := b.ds[id]; ok {
		return d, nil
	}
	data, err := b.opts.Store.GetObject(b.ctx, id)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", id.Short(), err)
	}
	d, err := table.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", id.Short(), err)
	}
	b.ds[id] = d
	return d, nil
}

func (b *builder) model(id lineage.ID) (model.Model, error) {
	data, err := b.opts.Store.GetObject(b.ctx, id)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", id.Short(), err)
	}
	m, err := model.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", id.Short(), err)
	}
	return m, nil
}

// document reads a JSON document object into v.
func (b *builder) document(id lineage.ID, v any) error {
	data, err := b.opts.Store.GetObject(b.ctx, id)
	if err != nil {
		return fmt.Errorf("object %s: %w", id.Short(), err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("object %s: %w", id.Short(), err)
	}
	return nil
}

// producer returns the step and output that wrote object id.
func (b *builder) producer(id lineage.ID) (string, string) {
	for _, s := range b.run.Steps {
		for _, o := range sortedKeys(s.Outputs) {
			if s.Outputs[o].ID == id {
				return s.ID, o
			}
		}
	}
	return "", ""
}

// relPath shows a recorded absolute path relative to the pipeline file.
func (b *builder) relPath(p string) string {
	if rel, err := filepath.Rel(filepath.Dir(b.run.File), p); err == nil && filepath.IsAbs(p) {
		return filepath.ToSlash(rel)
	}
	return p
}

func (b *builder) data() {
	target := b.target()
	for _, s := range b.run.Steps {
		switch s.Kind {
		case "load":
			in := Input{Step: s.ID}
			if len(s.Files) > 0 {
				f := s.Files[0]
				in.Path, in.AbsPath, in.SHA256, in.Size = b.relPath(f.Path), f.Path, f.SHA256, f.Size
			}
			if o, ok := s.Outputs["data"]; ok {
				in.Object = o.ID.String()
				if d, err := b.dataset(o.ID); err == nil {
					in.Rows = d.Rows
					for _, c := range d.Columns {
						cs := ColumnStat{Name: c.Name, Type: c.Type.String(), Missing: c.NullCount()}
						if d.Rows > 0 {
							cs.Share = float64(cs.Missing) / float64(d.Rows)
						}
						in.Columns = append(in.Columns, cs)
					}
				} else {
					b.note("input %s: %v", s.ID, err)
				}
			}
			b.r.Data.Inputs = append(b.r.Data.Inputs, in)
		case "validate":
			b.validation(&s)
		case "split":
			b.split(&s, target)
		}
	}
}

func (b *builder) validation(s *lineage.StepRecord) {
	v := Validation{Step: s.ID}
	var cfg struct {
		Rules []validate.Rule `json:"rules"`
	}
	_ = json.Unmarshal(s.Config, &cfg)
	defs := map[string]validate.Rule{}
	for _, r := range cfg.Rules {
		defs[r.Name] = r
	}
	var rep validate.Report
	if o, ok := s.Outputs["report"]; ok {
		if err := b.document(o.ID, &rep); err != nil {
			b.note("validation %s: %v", s.ID, err)
		}
	}
	v.Rows, v.Columns, v.MissingCells, v.MissingFraction, v.Passed = rep.Rows, rep.Columns, rep.MissingCells, rep.MissingFraction, rep.Passed
	rules := rep.Rules
	if rules == nil {
		rules = s.Checks
	}
	for _, c := range rules {
		d := defs[c.Name]
		desc := d.Desc
		if desc == "" {
			desc = c.Expr
		}
		v.Rules = append(v.Rules, RuleRow{CheckRow: CheckRow{Step: s.ID, Check: c}, Kind: d.Kind, Desc: desc, Mostly: d.Mostly})
	}
	b.r.Data.Validations = append(b.r.Data.Validations, v)
}

// target returns the target column and positive value of the run's first
// train step.
func (b *builder) target() model.Target {
	for _, s := range b.run.Steps {
		if s.Kind != "train" {
			continue
		}
		var cfg train.Config
		if json.Unmarshal(s.Config, &cfg) == nil {
			return model.Target{Name: cfg.Target, Positive: cfg.Positive}
		}
	}
	return model.Target{}
}

func (b *builder) split(s *lineage.StepRecord, target model.Target) {
	var cfg split.Config
	_ = json.Unmarshal(s.Config, &cfg)
	sp := Split{Step: s.ID, Method: cfg.Method, Test: cfg.Test, Valid: cfg.Valid, Seed: cfg.Seed, Target: target.Name}
	switch {
	case cfg.Stratify != "":
		sp.Extra = "stratified by " + cfg.Stratify
	case cfg.Time != nil:
		sp.Extra = "out of time by " + cfg.Time.Column
	}
	total := 0
	for _, name := range []string{"train", "valid", "test"} {
		o, ok := s.Outputs[name]
		if !ok {
			continue
		}
		part := SplitPart{Name: name, Rate: math.NaN()}
		d, err := b.dataset(o.ID)
		if err != nil {
			b.note("split %s: %v", s.ID, err)
			continue
		}
		part.Rows = d.Rows
		total += d.Rows
		if target.Name != "" && d.Rows > 0 {
			if c := d.Column(target.Name); c != nil {
				t := target
				t.Type = c.Type
				if y, err := t.Labels(d); err == nil {
					for _, v := range y {
						part.Positives += int(v)
					}
					part.Rate = float64(part.Positives) / float64(d.Rows)
				}
			}
		}
		sp.Outputs = append(sp.Outputs, part)
	}
	for i := range sp.Outputs {
		if total > 0 {
			sp.Outputs[i].Share = float64(sp.Outputs[i].Rows) / float64(total)
		}
	}
	b.r.Data.Splits = append(b.r.Data.Splits, sp)
}

var identRe = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)

func (b *builder) features() {
	// derivedBy maps a column to the derive step and expression making it.
	type origin struct {
		step string
		uses []string
	}
	derivedBy := map[string]map[string]origin{} // output dataset id -> column -> origin
	for _, s := range b.run.Steps {
		if s.Kind != "derive" {
			continue
		}
		var cfg struct {
			Columns []struct{ Name, Expr, Type string } `json:"columns"`
		}
		_ = json.Unmarshal(s.Config, &cfg)
		var schema *table.Schema
		if in, ok := s.Inputs["input"]; ok {
			if d, err := b.dataset(in.ID); err == nil {
				schema = d.Schema()
			}
		}
		origins := map[string]origin{}
		for _, c := range cfg.Columns {
			uses := b.columnsOf(c.Expr, schema)
			b.r.Features.Derived = append(b.r.Features.Derived, Derived{Step: s.ID, Name: c.Name, Expr: c.Expr, Type: c.Type, Uses: uses})
			origins[c.Name] = origin{s.ID, uses}
			if schema != nil {
				t, _ := table.ParseType(c.Type)
				if schema.Index(c.Name) < 0 {
					schema = &table.Schema{Fields: append(slices.Clone(schema.Fields), table.Field{Name: c.Name, Type: t})}
				}
			}
		}
		if o, ok := s.Outputs["data"]; ok {
			derivedBy[o.ID.String()] = origins
		}
	}

	// Column lineage: each model input back to CSV fields, through the
	// derive steps upstream of the train step.
	for _, s := range b.run.Steps {
		if s.Kind != "train" {
			continue
		}
		var cfg train.Config
		if json.Unmarshal(s.Config, &cfg) != nil {
			continue
		}
		chain := b.upstreamDerives(s.Inputs["input"].ID)
		for _, f := range cfg.Features {
			cl := ColumnLineage{Model: s.ID, Feature: f}
			frontier := []string{f}
			seen := map[string]bool{}
			var sources []string
			for len(frontier) > 0 {
				col := frontier[0]
				frontier = frontier[1:]
				if seen[col] {
					continue
				}
				seen[col] = true
				found := false
				for _, id := range chain {
					if o, ok := derivedBy[id][col]; ok {
						cl.Via = append(cl.Via, o.step+"."+col)
						frontier = append(frontier, o.uses...)
						found = true
						break
					}
				}
				if !found {
					sources = append(sources, col)
				}
			}
			sort.Strings(sources)
			cl.Sources = sources
			b.r.Features.Lineage = append(b.r.Features.Lineage, cl)
		}
	}
}

// upstreamDerives lists the output object ids of the derive steps upstream
// of object id, nearest first.
func (b *builder) upstreamDerives(id lineage.ID) []string {
	var out []string
	for range len(b.run.Steps) + 1 {
		stepID, _ := b.producer(id)
		s := b.run.Step(stepID)
		if s == nil {
			break
		}
		if s.Kind == "derive" {
			out = append(out, id.String())
		}
		in, ok := s.Inputs["input"]
		if !ok {
			break
		}
		id = in.ID
	}
	return out
}

// columnsOf returns the columns an expression reads: compiled against the
// input schema when there is one, else the identifiers that are not
// functions or keywords.
func (b *builder) columnsOf(src string, schema *table.Schema) []string {
	if schema != nil {
		if p, err := exprenv.Compile(src, schema, b.run.Params); err == nil {
			cols := slices.Clone(p.Columns())
			sort.Strings(cols)
			return slices.Compact(cols)
		}
	}
	var cols []string
	for _, m := range identRe.FindAllString(src, -1) {
		if schema != nil && schema.Index(m) < 0 {
			continue
		}
		cols = append(cols, m)
	}
	sort.Strings(cols)
	return slices.Compact(cols)
}

func (b *builder) training() {
	for _, s := range b.run.Steps {
		if s.Kind != "train" {
			continue
		}
		var cfg train.Config
		_ = json.Unmarshal(s.Config, &cfg)
		t := Training{Step: s.ID, Algorithm: cfg.Algorithm, Target: cfg.Target, Positive: cfg.Positive,
			Features: cfg.Features, Seed: cfg.Seed, Duration: s.Duration, CacheHit: s.CacheHit}
		if m, ok := jsonValue(cfg.Params).(map[string]any); ok {
			for _, k := range sortedKeys(m) {
				t.Params = append(t.Params, KV{k, value(m[k])})
			}
		}
		for _, k := range sortedKeys(s.Metrics) {
			t.Metrics = append(t.Metrics, KV{k, sig3(s.Metrics[k])})
		}
		o, ok := s.Outputs["model"]
		if !ok {
			b.r.Training = append(b.r.Training, t)
			continue
		}
		t.Object = o.ID.String()
		m, err := b.model(o.ID)
		if err != nil {
			b.note("train %s: %v", s.ID, err)
			b.r.Training = append(b.r.Training, t)
			continue
		}
		switch m := m.(type) {
		case *model.Logistic:
			ti := m.Training()
			t.Rows, t.Positives = ti.Rows, ti.Positives
			t.Fit = []KV{{"iterations", fmt.Sprint(ti.Iterations)}, {"converged", fmt.Sprint(ti.Converged)},
				{"status", ti.Status}, {"objective", sig3(ti.Objective)}, {"gradient norm", sig3(ti.GradNorm)}}
			sum := map[string]float64{}
			for _, c := range m.Columns() {
				sum[c.Feature] += math.Abs(c.Coef)
			}
			for _, f := range m.Features() {
				t.Importance = append(t.Importance, Importance{f, sum[f]})
			}
			t.ImportanceKind = "|standardised coefficient| (effect of one standard deviation on the log-odds)"
			if !ti.Standardize {
				t.ImportanceKind = "|coefficient| (standardize was off: features on their own scales, not comparable)"
			}
			t.Coefficients = coefficients(m)
		case *model.Ensemble:
			ti := m.Training()
			t.Rows, t.Positives = ti.Rows, ti.Positives
			t.Fit = []KV{{"trees", fmt.Sprint(m.Trees())}}
			if c := m.Curve(); c != nil {
				t.Fit = append(t.Fit, KV{"best iteration", fmt.Sprint(c.BestIteration)})
			}
			gain := map[string]float64{}
			for _, im := range m.Importance() {
				gain[im.Feature] = im.Gain
			}
			for _, f := range m.Features() {
				t.Importance = append(t.Importance, Importance{f, gain[f]})
			}
			t.ImportanceKind = "total split gain over the ensemble"
		}
		if t.Coefficients == nil {
			t.CoefNote = fmt.Sprintf("Coefficients apply to logistic regression only: this model (%s) has none; its global explanation is the feature importance above (%s).", orText(m.Algorithm(), "unknown algorithm"), orText(t.ImportanceKind, "not recorded"))
		}
		sort.SliceStable(t.Importance, func(i, j int) bool { return t.Importance[i].Value > t.Importance[j].Value })
		if len(t.Importance) > 0 {
			names := make([]string, len(t.Importance))
			vals := make([]float64, len(t.Importance))
			for i, im := range t.Importance {
				names[i], vals[i] = im.Feature, im.Value
			}
			if pl, err := HBarChart("Global feature importance", t.ImportanceKind[:strings.Index(t.ImportanceKind+" (", " (")], names, vals); err == nil {
				if svg, err := Render(pl, "Global feature importance of "+s.ID); err == nil {
					t.ImportanceSVG = svg
				}
			}
		}
		b.r.Training = append(b.r.Training, t)
	}
}

// coefficients returns the signed coefficients of a logistic regression,
// by decreasing |standardised coefficient| (ties in design order).
func coefficients(m *model.Logistic) *Coefficients {
	c := &Coefficients{Standardized: m.Training().Standardize}
	c.Intercept, c.InterceptOriginal = m.Intercept()
	median := map[string]float64{}
	for _, f := range m.FeatureInfo() {
		if f.Median != nil {
			median[f.Name] = *f.Median
		}
	}
	for _, col := range m.Columns() {
		row := Coefficient{Feature: col.Feature, Column: col.Name(), Indicator: col.Level != nil, Median: math.NaN(),
			Mean: col.Mean, Scale: col.Scale, Coef: col.Coef, CoefOriginal: col.CoefOriginal, OddsRatio: math.Exp(col.Coef)}
		if v, ok := median[col.Feature]; ok && !row.Indicator {
			row.Median = v
		}
		c.Rows = append(c.Rows, row)
	}
	sort.SliceStable(c.Rows, func(i, j int) bool { return math.Abs(c.Rows[i].Coef) > math.Abs(c.Rows[j].Coef) })
	return c
}

// recorded metric names checked against the recomputation.
var checkedMetrics = []string{"auc", "gini", "ks", "accuracy", "precision", "recall", "f1", "brier", "log_loss"}

func (b *builder) evaluations() {
	for _, s := range b.run.Steps {
		if s.Kind != "evaluate" {
			continue
		}
		ev := b.evaluation(&s)
		b.r.Evaluation = append(b.r.Evaluation, ev)
	}
}

func (b *builder) evaluation(s *lineage.StepRecord) Evaluation {
	ev := Evaluation{Step: s.ID, Threshold: evaluate.DefaultThreshold, Resamples: Resamples, AUCLow: math.NaN(), AUCHigh: math.NaN()}
	var cfg evaluate.Config
	if json.Unmarshal(s.Config, &cfg) == nil && s.Config != nil {
		ev.Threshold = cfg.Threshold
	}
	for _, c := range s.Checks {
		ev.Gates = append(ev.Gates, CheckRow{Step: s.ID, Check: c})
	}
	mref, okm := s.Inputs["model"]
	dref, okd := s.Inputs["data"]
	if !okm || !okd {
		ev.Error = "the step record has no model or data input (the step did not run)"
		return ev
	}
	ev.ModelStep, _ = b.producer(mref.ID)
	if st, out := b.producer(dref.ID); st != "" {
		ev.Data = st + "." + out
	}
	m, err := b.model(mref.ID)
	if err != nil {
		ev.Error = err.Error()
		return ev
	}
	d, err := b.dataset(dref.ID)
	if err != nil {
		ev.Error = err.Error()
		return ev
	}
	p, err := m.Predict(d, b.opts.Jobs)
	if err != nil {
		ev.Error = "scoring: " + err.Error()
		return ev
	}
	t := m.Target()
	if c := d.Column(t.Name); c != nil {
		t.Type = c.Type
	}
	y, err := t.Labels(d)
	if err != nil {
		ev.Error = "labels: " + err.Error()
		return ev
	}
	ev.Rows = len(y)
	for _, v := range y {
		ev.Positives += int(v)
	}
	roc, err := stats.NewROC(p, y, nil)
	if err != nil {
		ev.Error = "the data holds one class only: ROC-based metrics are undefined"
		return ev
	}
	auc, ks := roc.AUC(), roc.KS()
	conf, _ := stats.ConfusionAt(p, y, nil, ev.Threshold)
	brier, _ := stats.Brier(p, y, nil)
	ll, _ := stats.LogLoss(p, y, nil)
	ev.Confusion = conf
	ev.AUCLow, ev.AUCHigh = bootstrapAUC(p, y, Resamples)
	if hl, err := stats.HosmerLemeshow(p, y, 10); err == nil {
		ev.HL = &hl
	}
	vals := map[string]float64{"auc": auc, "gini": 2*auc - 1, "ks": ks, "accuracy": conf.Accuracy(),
		"precision": conf.Precision(), "recall": conf.Recall(), "f1": conf.F1(), "brier": brier, "log_loss": ll}
	ev.Metrics = []Metric{
		{"AUC", auc, false, "probability that a random bad scores above a random good"},
		{"Gini", 2*auc - 1, false, "2·AUC − 1"},
		{"KS", ks, false, "largest gap between the score distributions of bads and goods"},
		{"Accuracy", conf.Accuracy(), true, "share of rows classified correctly at the threshold"},
		{"Precision", conf.Precision(), true, "bads among the rows flagged"},
		{"Recall", conf.Recall(), true, "bads flagged among all bads"},
		{"F1", conf.F1(), false, "harmonic mean of precision and recall"},
		{"Brier score", brier, false, "mean squared error of the probabilities (lower is better)"},
		{"Log loss", ll, false, "mean negative log-likelihood (lower is better)"},
	}
	for _, name := range checkedMetrics {
		if rec, ok := s.Metrics[name]; ok && !near(rec, vals[name]) {
			ev.Mismatch = append(ev.Mismatch, fmt.Sprintf("%s: recorded %s, recomputed %s", name, exact(rec), exact(vals[name])))
		}
	}
	ev.Gains = gainsTable(p, y, GainsGroups)
	ev.GainsKS = math.NaN()
	for i, g := range ev.Gains {
		if i == 0 || g.KS > ev.GainsKS {
			ev.GainsKS = g.KS
		}
	}
	ev.TrainTest = b.trainTest(mref.ID, m, p, y, auc, ks)
	charts, err := evalCharts(s.ID, p, y, roc, auc, ks)
	if err != nil {
		b.note("evaluation %s: charts: %v", s.ID, err)
	}
	ev.Charts = charts
	ev.Fairness = b.fairness(s, d, p, y, ev.Threshold)
	return ev
}

// trainTest compares the model on the data it was trained on (the input
// of the train step that wrote model object id) with the evaluated data
// (scores p, labels y, its AUC and KS).
func (b *builder) trainTest(id lineage.ID, m model.Model, p, y []float64, auc, ks float64) *TrainTest {
	tt := &TrainTest{TestRows: len(p), ScorePSI: math.NaN()}
	step, _ := b.producer(id)
	s := b.run.Step(step)
	if s == nil {
		tt.Error = "the model was not trained by this run"
		return tt
	}
	in, ok := s.Inputs["input"]
	if !ok {
		tt.Error = "the train step " + step + " has no recorded input"
		return tt
	}
	if st, out := b.producer(in.ID); st != "" {
		tt.TrainData = st + "." + out
	}
	d, err := b.dataset(in.ID)
	if err != nil {
		tt.Error = err.Error()
		return tt
	}
	tp, err := m.Predict(d, b.opts.Jobs)
	if err != nil {
		tt.Error = "scoring the training data: " + err.Error()
		return tt
	}
	t := m.Target()
	if c := d.Column(t.Name); c != nil {
		t.Type = c.Type
	}
	ty, err := t.Labels(d)
	if err != nil {
		tt.Error = "training labels: " + err.Error()
		return tt
	}
	tt.TrainRows = len(ty)
	roc, err := stats.NewROC(tp, ty, nil)
	if err != nil {
		tt.Error = "the training data holds one class only"
		return tt
	}
	tauc, tks := roc.AUC(), roc.KS()
	tt.Rows = []TrainTestRow{
		{"AUC", tauc, auc, false},
		{"KS", tks, ks, false},
		{"Gini", 2*tauc - 1, 2*auc - 1, false},
		{"Bad rate", mean(ty), mean(y), true},
		{"Mean probability of default", mean(tp), mean(p), true},
	}
	tt.ScorePSI, tt.PSIBins = scorePSI(tp, p)
	return tt
}

// mean is the arithmetic mean of v, summed in order; NaN when empty.
func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return ratio(s, float64(len(v)))
}

func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(a))
}

// fairnessColumns are the protected attributes of the pipeline and the
// group columns of its monitor steps, in that order, without repeats.
func (b *builder) fairnessColumns() []string {
	var cols []string
	if b.protected != nil {
		cols = append(cols, b.protected...)
	}
	for _, s := range b.run.Steps {
		if s.Kind != "monitor" {
			continue
		}
		var cfg struct {
			Group string `json:"group"`
		}
		if json.Unmarshal(s.Config, &cfg) == nil && cfg.Group != "" && !slices.Contains(cols, cfg.Group) {
			cols = append(cols, cfg.Group)
		}
	}
	return cols
}

// fairness compares the groups of each fairness attribute on the
// evaluated data as the evaluate step s did: its fairness setting's
// attributes (with their bins) and min_group, else the protected and
// monitor group columns, grouped by steps/groups.
func (b *builder) fairness(s *lineage.StepRecord, d *table.Dataset, p, y []float64, threshold float64) []Fairness {
	step := s.ID
	var cfg struct {
		Fairness *struct {
			Attributes []struct {
				Column    string    `json:"column"`
				Bins      []float64 `json:"bins"`
				Quantiles int       `json:"quantiles"`
			} `json:"attributes"`
			MinGroup int `json:"min_group"`
		} `json:"fairness"`
	}
	_ = json.Unmarshal(s.Config, &cfg)
	type attr struct {
		col       string
		bins      []float64
		quantiles int
	}
	var attrs []attr
	minGroup := 0
	if f := cfg.Fairness; f != nil && len(f.Attributes) > 0 {
		for _, a := range f.Attributes {
			attrs = append(attrs, attr{a.Column, a.Bins, a.Quantiles})
		}
		minGroup = f.MinGroup
	}
	for _, col := range b.fairnessColumns() {
		if !slices.ContainsFunc(attrs, func(a attr) bool { return a.col == col }) {
			attrs = append(attrs, attr{col: col})
		}
	}
	var out []Fairness
	for _, a := range attrs {
		col := a.col
		f := Fairness{Column: col}
		c := d.Column(col)
		if c == nil {
			f.Error = "not a column of the evaluated data"
			out = append(out, f)
			continue
		}
		rows, order, bands, err := groups.Rows(c, a.bins, a.quantiles)
		if err != nil {
			f.Error = err.Error()
			out = append(out, f)
			continue
		}
		if bands != nil {
			f.Bands = groups.Note(col, bands, "bins", "quantiles", "the evaluated data", "datasets")
		}
		rep, err := stats.FairnessOrdered(p, y, rows, order, threshold, minGroup)
		if rep == nil {
			f.Error = err.Error()
			out = append(out, f)
			continue
		}
		if err != nil {
			f.Error = err.Error()
		}
		f.Report = rep
		names := make([]string, len(rep.Groups))
		vals := make([]float64, len(rep.Groups))
		best := 0.0
		for i, g := range rep.Groups {
			names[i], vals[i] = g.Group, float64(g.ApprovalRate)
			if !g.Small && !math.IsNaN(vals[i]) {
				best = math.Max(best, vals[i])
			}
		}
		if pl, err := barChart("Approval rate by "+col, "approval rate", names, vals, midGrey, FourFifths*best, "four-fifths of the highest rate"); err == nil {
			pl.Y.Max = 1
			if svg, err := Render(pl, "Approval rate by "+col); err == nil {
				f.Chart = &Chart{ID: step + "-fair-" + col, Title: "Approval rate by " + col,
					Caption: "Share of each group approved (probability of default below the threshold); the dashed line is four-fifths of the most favoured group's rate (the four-fifths rule).", SVG: svg}
			}
		}
		out = append(out, f)
	}
	return out
}

// FourFifths is the disparate-impact threshold drawn on the approval chart.
const FourFifths = stats.FourFifths

func (b *builder) monitoring() error {
	type batch struct {
		source, time, data string
		id                 lineage.ID
	}
	var batches []batch
	for _, s := range b.run.Steps {
		if s.Kind != "monitor" {
			continue
		}
		if o, ok := s.Outputs["report"]; ok {
			data := ""
			if in, ok := s.Inputs["current"]; ok {
				if st, out := b.producer(in.ID); st != "" {
					data = st + "." + out
				}
			}
			batches = append(batches, batch{source: "step " + s.ID, data: data, id: o.ID})
		}
	}
	// Batches monitored after the run, in time order.
	var later []batch
	var times []time.Time
	if b.opts.MonitorNS != "" {
		view, err := b.opts.Store.View(b.ctx)
		if err != nil {
			return fmt.Errorf("report: listing monitored batches: %w", err)
		}
		names, err := view.List(b.ctx, b.opts.MonitorNS)
		if err != nil {
			return fmt.Errorf("report: listing monitored batches: %w", err)
		}
		seen := map[lineage.ID]bool{}
		for _, bt := range batches {
			seen[bt.id] = true
		}
		for _, n := range names {
			if !strings.HasPrefix(n, b.run.ID+"--") {
				continue
			}
			data, err := view.Get(b.ctx, b.opts.MonitorNS, n)
			if err != nil {
				return fmt.Errorf("report: monitored batch %s: %w", n, err)
			}
			var rec struct {
				Time   string     `json:"time"`
				Step   string     `json:"step"`
				Data   string     `json:"data"`
				Report lineage.ID `json:"report"`
			}
			if err := json.Unmarshal(data, &rec); err != nil {
				b.note("monitored batch %s: %v", n, err)
				continue
			}
			if seen[rec.Report] {
				continue // the run's own monitor step, listed above
			}
			at, _ := time.Parse(time.RFC3339Nano, rec.Time)
			later = append(later, batch{source: "mlrun monitor --step " + rec.Step, time: rec.Time, data: b.relPath(rec.Data), id: rec.Report})
			times = append(times, at)
		}
	}
	order := make([]int, len(later))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return times[order[i]].Before(times[order[j]]) })
	for _, i := range order {
		batches = append(batches, later[i])
	}
	for i, bt := range batches {
		mb := MonitorBatch{Source: bt.source, Time: bt.time, Data: bt.data, Object: bt.id.String(), Share: math.NaN(), ScorePSI: math.NaN()}
		var rep monitor.Report
		if err := b.document(bt.id, &rep); err != nil {
			mb.Error = err.Error()
			b.r.Monitoring = append(b.r.Monitoring, mb)
			continue
		}
		mb.Rows, mb.Drifted, mb.Share = rep.Rows, rep.Drifted, float64(rep.DriftShare)
		if rep.Score != nil {
			mb.ScorePSI = float64(rep.Score.Vars["psi"])
		}
		for _, f := range rep.Features {
			mb.Features = append(mb.Features, DriftRow{Feature: f.Name, Kind: f.Kind, PSI: num(f.Vars["psi"]),
				KS: num(f.Vars["ks_statistic"]), KSP: num(f.Vars["ks_pvalue"]), Drifted: f.Drifted})
			if f.Drifted && len(f.ReferenceBins) > 0 && len(f.ReferenceBins) == len(f.CurrentBins) {
				names := binNames(f.Edges, len(f.ReferenceBins), rep.PSIBins == stats.BinsNumpy)
				if pl, err := groupedBars("Drift of "+f.Name, f.Name, names, stats.Shares(f.ReferenceBins), stats.Shares(f.CurrentBins), "reference (training)", "current batch"); err == nil {
					if svg, err := Render(pl, "Drift of "+f.Name); err == nil {
						mb.Charts = append(mb.Charts, Chart{ID: fmt.Sprintf("monitor%d-%s", i+1, f.Name), Title: "Drift of " + f.Name,
							Caption: "Share of rows in each frozen reference bin, training data against the batch.", SVG: svg})
					}
				}
			}
		}
		if rep.Performance != nil {
			for _, k := range sortedKeys(rep.Performance.Current) {
				base := math.NaN()
				if v, ok := rep.Performance.Baseline[k]; ok {
					base = num(v)
				}
				mb.Perf = append(mb.Perf, PerfRow{k, num(rep.Performance.Current[k]), base})
			}
		}
		mb.Fairness = rep.Fairness
		mb.CheckRows = len(rep.Checks)
		for _, c := range rep.Checks {
			if !c.Passed {
				mb.Failed = append(mb.Failed, CheckRow{Step: bt.source, Check: c})
				if c.Failed() {
					mb.Critical++
				}
			}
		}
		b.r.Monitoring = append(b.r.Monitoring, mb)
	}
	if len(b.r.Monitoring) > 1 {
		b.psiTrend()
	}
	b.latest()
	return nil
}

// latest sets the banner's account of the latest monitored batch and the
// verdict: a run that passed whose latest batch failed a critical check (or
// could not be read) is not a pass.
func (b *builder) latest() {
	h := &b.r.Header
	n := len(b.r.Monitoring)
	if n == 0 {
		return
	}
	mb := b.r.Monitoring[n-1]
	l := &LatestBatch{Batch: n, Source: mb.Source, Time: mb.Time, Data: mb.Data, Rows: mb.Rows, Error: mb.Error,
		Critical: mb.Critical, Warned: len(mb.Failed) - mb.Critical, Checks: mb.CheckRows}
	for _, c := range mb.Failed {
		if c.Failed() {
			l.CriticalNames = append(l.CriticalNames, c.Name)
		}
	}
	l.Passed = l.Error == "" && l.Critical == 0
	h.Latest = l
}

// verdict sets the banner's verdict: FAIL when the run failed, WAIVED when
// every failed check is waived, MONITORING FAILED when the run passed but
// its latest monitored batch did not, else PASS.
func (b *builder) verdict() {
	h := &b.r.Header
	h.Failed, h.Waived = 0, 0
	for _, c := range b.r.Checks {
		switch c.Outcome() {
		case "FAIL":
			h.Failed++
		case "WAIVED":
			h.Waived++
		}
	}
	switch {
	case h.Passed && h.Latest != nil && !h.Latest.Passed:
		h.Verdict = VerdictMonitoringFailed
	case h.Passed:
		h.Verdict = VerdictPass
	case b.run.Status == lineage.RunCheckFailed && h.Failed == 0 && h.Waived > 0:
		h.Verdict = VerdictWaived
	default:
		h.Verdict = VerdictFail
	}
}

// psiTrend adds a chart of the score PSI and drift share over the batches
// to the last batch.
func (b *builder) psiTrend() {
	var x, psi, share []float64
	for i, mb := range b.r.Monitoring {
		x = append(x, float64(i+1))
		psi = append(psi, mb.ScorePSI)
		share = append(share, mb.Share)
	}
	pl := NewPlot("Drift over batches", "batch", "")
	pl.Y.Min = 0
	if err := Line(pl, "score PSI", XYs(x, psi), black, 1.4, nil, circle, 1); err != nil {
		return
	}
	if err := Line(pl, "share of features drifted", XYs(x, share), darkGrey, 1.4, dashed, triangle, 1); err != nil {
		return
	}
	if svg, err := Render(pl, "Drift over batches"); err == nil {
		last := &b.r.Monitoring[len(b.r.Monitoring)-1]
		last.Charts = append(last.Charts, Chart{ID: "monitor-trend", Title: "Drift over batches",
			Caption: "Score PSI and the share of drifted features, batch by batch in the order above.", SVG: svg})
	}
}

func num(n stats.Num) float64 { return float64(n) }

// binNames labels the bins delimited by edges.
// binNames names n bins cut at edges: right-closed bins "≤e" (the last
// ">e"), or, with left (the numpy convention), left-closed ones "<e" (the
// last "≥e").
func binNames(edges []float64, n int, left bool) []string {
	upTo, over := "≤", ">"
	if left {
		upTo, over = "<", "≥"
	}
	names := make([]string, n)
	for i := range names {
		switch {
		case len(edges) == 0 || len(edges) != n-1:
			names[i] = fmt.Sprint(i + 1)
		case i == n-1:
			names[i] = over + sig3(edges[n-2])
		default:
			names[i] = upTo + sig3(edges[i])
		}
	}
	return names
}

func (b *builder) lineage() {
	for _, s := range b.run.Steps {
		ls := LineageStep{ID: s.ID, Kind: s.Kind, Status: s.Status, CacheHit: s.CacheHit, Duration: s.Duration, CacheKey: s.CacheKey}
		for _, port := range sortedKeys(s.Inputs) {
			ref := s.Inputs[port]
			from := ""
			if st, out := b.producer(ref.ID); st != "" {
				from = st + "." + out
			}
			ls.Inputs = append(ls.Inputs, PortRef{Port: port, From: from, Type: ref.Type, ID: ref.ID.String()})
		}
		for _, f := range s.Files {
			ls.Inputs = append(ls.Inputs, PortRef{Port: "file", From: b.relPath(f.Path), Type: "file", ID: f.SHA256})
		}
		for _, port := range sortedKeys(s.Outputs) {
			ref := s.Outputs[port]
			ls.Outputs = append(ls.Outputs, PortRef{Port: port, Type: ref.Type, ID: ref.ID.String()})
		}
		b.r.Lineage = append(b.r.Lineage, ls)
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
