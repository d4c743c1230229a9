package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// builder returns a report builder over the fixture's store, for its
// object readers.
func (f *fixture) builder() *builder {
	return &builder{ctx: context.Background(), opts: Options{Store: f.st, Registry: f.reg, Jobs: 2}, run: f.run, r: &Report{}, ds: map[lineage.ID]*table.Dataset{}}
}

// scored is a dataset's scores and labels under a model.
type scored struct{ p, y []float64 }

// scoreStep scores the dataset on a step's input port with the model on
// its "model" input (an evaluate step) or output (a train step).
func (f *fixture) scoreStep(t *testing.T, step, port string) scored {
	t.Helper()
	b := f.builder()
	s := f.run.Step(step)
	mref, ok := s.Inputs["model"]
	if !ok {
		mref = s.Outputs["model"]
	}
	m, err := b.model(mref.ID)
	if err != nil {
		t.Fatal(err)
	}
	d, err := b.dataset(s.Inputs[port].ID)
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Predict(d, 2)
	if err != nil {
		t.Fatal(err)
	}
	tg := m.Target()
	if c := d.Column(tg.Name); c != nil {
		tg.Type = c.Type
	}
	y, err := tg.Labels(d)
	if err != nil {
		t.Fatal(err)
	}
	return scored{p, y}
}

const (
	creditScores    = "testdata/credit/scores.csv"
	creditReference = "testdata/credit/reference.json"
)

// creditRef is what testdata/credit/reference.py computes with pandas and
// numpy from scores.csv.
type creditRef struct {
	Train, Test struct {
		Rows    int        `json:"rows"`
		Bads    int        `json:"bads"`
		BadRate float64    `json:"bad_rate"`
		AUC     float64    `json:"auc"`
		KS      float64    `json:"ks"`
		Gini    float64    `json:"gini"`
		Gains   []GainsRow `json:"gains"`
	}
	PSI     float64 `json:"psi"`
	PSIBins int     `json:"psi_bins"`
}

// TestCreditReference checks the credit validation pack of the fixture's
// evaluation against an independent computation in Python (pandas and
// numpy, testdata/credit/reference.py): the gains table of the test split
// (deciles of the score: rows, bads, goods, bad rate, cumulative shares of
// bads and goods, KS and lift), AUC, KS and Gini, and the train vs test
// comparison with the PSI of the score. scores.csv holds the fixture's
// scores; go test -update rewrites it, after which reference.py must be
// run again (the test says so when they disagree).
func TestCreditReference(t *testing.T) {
	f := newFixture(t)
	train := f.scoreStep(t, "model", "input")
	test := f.scoreStep(t, "evaluation", "data")

	var csvBuf bytes.Buffer
	w := csv.NewWriter(&csvBuf)
	_ = w.Write([]string{"set", "score", "label"})
	for _, part := range []struct {
		name string
		s    scored
	}{{"train", train}, {"test", test}} {
		for i := range part.s.p {
			_ = w.Write([]string{part.name, exact(part.s.p[i]), strconv.Itoa(int(part.s.y[i]))})
		}
	}
	w.Flush()
	if *update {
		if err := os.MkdirAll("testdata/credit", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(creditScores, csvBuf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if old, err := os.ReadFile(creditScores); err != nil || !bytes.Equal(old, csvBuf.Bytes()) {
		t.Fatalf("%s does not hold the fixture's scores (%v): go test . -run TestCreditReference -update, then python3 testdata/credit/reference.py", creditScores, err)
	}
	data, err := os.ReadFile(creditReference)
	if err != nil {
		t.Fatalf("%v: python3 testdata/credit/reference.py writes it", err)
	}
	var ref creditRef
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}

	r := f.build(t)
	if len(r.Evaluation) != 1 {
		t.Fatalf("%d evaluations", len(r.Evaluation))
	}
	ev := r.Evaluation[0]
	// AUC (trapezoids over tied groups against Mann–Whitney ranks), KS and
	// the PSI (summed in another order) agree to rounding.
	close := func(what string, got, want float64) {
		t.Helper()
		if !(math.Abs(got-want) <= 1e-12*math.Max(1, math.Abs(want))) {
			t.Errorf("%s = %s, Python reference %s", what, exact(got), exact(want))
		}
	}
	metric := map[string]float64{}
	for _, m := range ev.Metrics {
		metric[m.Name] = m.Value
	}
	close("test AUC", metric["AUC"], ref.Test.AUC)
	close("test KS", metric["KS"], ref.Test.KS)
	close("test Gini", metric["Gini"], ref.Test.Gini)

	if len(ev.Gains) != len(ref.Test.Gains) {
		t.Fatalf("%d deciles, reference %d", len(ev.Gains), len(ref.Test.Gains))
	}
	for i, g := range ev.Gains {
		w := ref.Test.Gains[i]
		if g.Decile != w.Decile || g.Rows != w.Rows || g.Bads != w.Bads || g.Goods != w.Goods {
			t.Errorf("decile %d: %d rows, %d bads, %d goods; reference decile %d: %d, %d, %d", g.Decile, g.Rows, g.Bads, g.Goods, w.Decile, w.Rows, w.Bads, w.Goods)
		}
		for _, c := range []struct {
			name      string
			got, want float64
		}{{"min score", g.MinScore, w.MinScore}, {"max score", g.MaxScore, w.MaxScore}, {"bad rate", g.BadRate, w.BadRate},
			{"cum bads", g.CumBads, w.CumBads}, {"cum goods", g.CumGoods, w.CumGoods}, {"KS", g.KS, w.KS},
			{"lift", g.Lift, w.Lift}, {"cum lift", g.CumLift, w.CumLift}} {
			// The same arithmetic on the same numbers: equal to the bit.
			if c.got != c.want {
				t.Errorf("decile %d %s = %s, Python reference %s", g.Decile, c.name, exact(c.got), exact(c.want))
			}
		}
	}

	tt := ev.TrainTest
	if tt == nil || tt.Error != "" {
		t.Fatalf("no train vs test comparison: %+v", tt)
	}
	if tt.TrainRows != ref.Train.Rows || tt.TestRows != ref.Test.Rows {
		t.Errorf("rows %d/%d, reference %d/%d", tt.TrainRows, tt.TestRows, ref.Train.Rows, ref.Test.Rows)
	}
	want := map[string][2]float64{
		"AUC":      {ref.Train.AUC, ref.Test.AUC},
		"KS":       {ref.Train.KS, ref.Test.KS},
		"Gini":     {ref.Train.Gini, ref.Test.Gini},
		"Bad rate": {ref.Train.BadRate, ref.Test.BadRate},
	}
	for _, row := range tt.Rows {
		wv, ok := want[row.Name]
		if !ok {
			continue
		}
		delete(want, row.Name)
		close("train "+row.Name, row.Train, wv[0])
		close("test "+row.Name, row.Test, wv[1])
	}
	if len(want) > 0 {
		t.Errorf("train vs test lacks %v", sortedKeys(want))
	}
	close("score PSI train vs test", tt.ScorePSI, ref.PSI)
	if tt.PSIBins != ref.PSIBins {
		t.Errorf("PSI over %d bins, reference %d", tt.PSIBins, ref.PSIBins)
	}

	// The page and the card show them.
	var page, md bytes.Buffer
	if err := HTML(&page, r); err != nil {
		t.Fatal(err)
	}
	if err := Markdown(&md, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`id="evaluation-gains"`, "Gains by score decile", "Train vs test", "Cumulative bads", "Lift"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, want := range []string{"Gains by score decile", "Train vs test", "| Decile |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("Markdown card lacks %q", want)
		}
	}
}

// TestGainsTies checks the decile cut on a small hand-worked sample: 12
// rows, sorted by decreasing score, ties kept in row order, cut into 10
// groups of sizes 2, 2, 1, ... (numpy.array_split).
func TestGainsTies(t *testing.T) {
	p := []float64{0.9, 0.1, 0.8, 0.8, 0.5, 0.4, 0.3, 0.2, 0.7, 0.6, 0.05, 0.95}
	y := []float64{1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 1}
	g := gainsTable(p, y, 10)
	if len(g) != 10 {
		t.Fatalf("%d groups", len(g))
	}
	// Decreasing order: 0.95(1) 0.9(1) | 0.8(0, row 2) 0.8(1, row 3) | 0.7(1) | 0.6(0) | 0.5(0) | 0.4(1) | 0.3 | 0.2 | 0.1 | 0.05
	wantRows := []int{2, 2, 1, 1, 1, 1, 1, 1, 1, 1}
	wantBads := []int{2, 1, 1, 0, 0, 1, 0, 0, 0, 0}
	for i := range g {
		if g[i].Rows != wantRows[i] || g[i].Bads != wantBads[i] {
			t.Errorf("decile %d: %d rows %d bads, want %d and %d", i+1, g[i].Rows, g[i].Bads, wantRows[i], wantBads[i])
		}
	}
	// 5 bads, 7 goods. After decile 2: 3/5 bads, 1/7 goods.
	if g[1].CumBads != 3.0/5 || g[1].CumGoods != 1.0/7 || g[1].KS != 3.0/5-1.0/7 {
		t.Errorf("decile 2: cum bads %v goods %v KS %v", g[1].CumBads, g[1].CumGoods, g[1].KS)
	}
	if g[0].Lift != 1/(5.0/12) || g[9].CumBads != 1 || g[9].CumGoods != 1 || g[9].CumLift != 1 {
		t.Errorf("lift %v; last decile cum %v %v lift %v", g[0].Lift, g[9].CumBads, g[9].CumGoods, g[9].CumLift)
	}
	if g[1].MinScore != 0.8 || g[1].MaxScore != 0.8 || g[0].MinScore != 0.9 || g[0].MaxScore != 0.95 {
		t.Errorf("score ranges %v–%v, %v–%v", g[0].MinScore, g[0].MaxScore, g[1].MinScore, g[1].MaxScore)
	}
}

// TestCoefficients checks the signed coefficients of the logistic model:
// one row per design column with its sign, on the standardised scale and in
// original units, and the intercepts; the original-unit coefficients must
// give back the model's probabilities.
func TestCoefficients(t *testing.T) {
	f := newFixture(t)
	r := f.build(t)
	tr := r.Training[0]
	c := tr.Coefficients
	if c == nil {
		t.Fatal("no coefficients for a logistic regression")
	}
	b := f.builder()
	s := f.run.Step("model")
	mm, err := b.model(s.Outputs["model"].ID)
	if err != nil {
		t.Fatal(err)
	}
	m := mm.(*model.Logistic)
	cols := m.Columns()
	if len(c.Rows) != len(cols) {
		t.Fatalf("%d coefficient rows, the model has %d design columns", len(c.Rows), len(cols))
	}
	is, io := m.Intercept()
	if c.Intercept != is || c.InterceptOriginal != io {
		t.Errorf("intercept %v / %v, model %v / %v", c.Intercept, c.InterceptOriginal, is, io)
	}
	byName := map[string]Coefficient{}
	for _, row := range c.Rows {
		byName[row.Column] = row
	}
	for _, col := range cols {
		row, ok := byName[col.Name()]
		if !ok {
			t.Errorf("no row for %s", col.Name())
			continue
		}
		if row.Coef != col.Coef || row.CoefOriginal != col.CoefOriginal || row.Mean != col.Mean || row.Scale != col.Scale {
			t.Errorf("%s: %+v, model %+v", col.Name(), row, col)
		}
	}
	// Rows are ordered by |standardised coefficient|, largest first.
	for i := 1; i < len(c.Rows); i++ {
		if math.Abs(c.Rows[i].Coef) > math.Abs(c.Rows[i-1].Coef) {
			t.Errorf("rows not ordered by |coefficient|: %s after %s", c.Rows[i].Column, c.Rows[i-1].Column)
		}
	}
	// σ(b' + Σ β'_j x_j) on raw training rows is the model's probability.
	d, err := b.dataset(s.Inputs["input"].ID)
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Predict(d, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		z := c.InterceptOriginal
		for _, row := range c.Rows {
			col := d.Column(row.Feature)
			x := row.Median
			if !col.IsNull(i) {
				x = col.Float(i)
			}
			z += row.CoefOriginal * x
		}
		if got := 1 / (1 + math.Exp(-z)); math.Abs(got-p[i]) > 1e-9 {
			t.Fatalf("row %d: σ(b' + Σβ'x) = %v, model %v", i, got, p[i])
		}
	}
	var page, md bytes.Buffer
	if err := HTML(&page, r); err != nil {
		t.Fatal(err)
	}
	if err := Markdown(&md, r); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{page.String(), md.String()} {
		for _, want := range []string{"Coefficients", "Intercept", "original units", "raises the probability of default", "lowers the probability of default"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
	}
	if !strings.Contains(page.String(), `id="coefficients-model"`) {
		t.Error("page lacks the coefficients table")
	}
}

// TestTreeModelNoCoefficients: a tree ensemble has no coefficients; the
// report says that coefficients apply to logistic regression only and shows
// the feature importance, the gains table and the train vs test comparison.
func TestTreeModelNoCoefficients(t *testing.T) {
	f := newFixtureFrom(t, "testdata/trees.yaml", nil, pipeline.ExitOK)
	r := f.build(t)
	tr := r.Training[0]
	if tr.Coefficients != nil {
		t.Fatal("coefficients for a tree ensemble")
	}
	if !strings.Contains(tr.CoefNote, "logistic regression only") || len(tr.Importance) == 0 {
		t.Errorf("note %q, %d importances", tr.CoefNote, len(tr.Importance))
	}
	if ev := r.Evaluation[0]; len(ev.Gains) != 10 || ev.TrainTest == nil || ev.TrainTest.Error != "" {
		t.Errorf("gains %d rows, train vs test %+v", len(ev.Gains), ev.TrainTest)
	}
	var page, md bytes.Buffer
	if err := HTML(&page, r); err != nil {
		t.Fatal(err)
	}
	if err := Markdown(&md, r); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{page.String(), md.String()} {
		if !strings.Contains(out, "logistic regression only") {
			t.Error("output lacks the note that coefficients apply to logistic regression only")
		}
	}
}
