package tree

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/table"
)

func mustDataset(t *testing.T, cols ...*table.Column) *table.Dataset {
	t.Helper()
	ds, err := table.NewDataset(cols...)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

var yTarget = model.Target{Name: "y", Type: table.Int}

func fingerprint(t *testing.T, m model.Model) string {
	t.Helper()
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(buf.Bytes())
	return hex.EncodeToString(s[:])
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*max(1, math.Abs(b)) }

// TestBoostingStump checks one tree of depth 1 by hand: x = 1..4, y =
// 0,0,1,1, base log(2/2) = 0, so p = ½, g = p − y = ±½, h = ¼. The best
// split is x ≤ 2.5: G_L = 1, H_L = ½, G_R = −1, H_R = ½; with λ = 1 and
// η = 1 the leaves are −G/(H+λ) = ∓2/3 and the gain
// ½·[1/1.5 + 1/1.5 − 0/2] = 2/3.
func TestBoostingStump(t *testing.T) {
	ds := mustDataset(t, table.NewFloatColumn("x", []float64{1, 2, 3, 4}), table.NewIntColumn("y", []int64{0, 0, 1, 1}, nil))
	cfg := DefaultBoostConfig()
	cfg.Trees, cfg.MaxDepth, cfg.LearningRate, cfg.L2, cfg.MinChildSamples = 1, 1, 1, 1, 1
	m, err := FitBoosting(context.Background(), ds, nil, yTarget, []string{"x"}, cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	nodes, _ := m.Nodes()
	if len(nodes) != 3 || nodes[0].Bin != 2 || m.Base() != 0 {
		t.Fatalf("nodes %+v, base %v; want a stump at bin 2 (x ≤ 2.5), base 0", nodes, m.Base())
	}
	if e := m.TreeFeatures()[0].Edges; e[1] != 2.5 {
		t.Errorf("edges %v, want midpoints 1.5, 2.5, 3.5", e)
	}
	if !near(nodes[1].Value, -2.0/3) || !near(nodes[2].Value, 2.0/3) {
		t.Errorf("leaf values %v, %v; want -2/3, 2/3", nodes[1].Value, nodes[2].Value)
	}
	if imp := m.Importance()[0]; !near(imp.Gain, 2.0/3) || imp.Splits != 1 {
		t.Errorf("importance %+v, want gain 2/3 and 1 split", imp)
	}
	if !near(nodes[1].Cover, 0.5) || !near(nodes[0].Cover, 1) {
		t.Errorf("covers %v, %v; want the hessian sums 1, 0.5", nodes[0].Cover, nodes[1].Cover)
	}
	p, err := m.Predict(ds, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := 1 / (1 + math.Exp(2.0/3))
	if !near(p[0], want) || !near(p[3], 1-want) {
		t.Errorf("predictions %v, want σ(∓2/3)", p)
	}
}

// TestForestStump: x = 1..5, y = 0,0,1,1,1, no bootstrap, all features:
// the root (gini 1 − 0.4² − 0.6² = 0.48) splits at x ≤ 2.5 into pure
// leaves, a decrease of W·gini = 5·0.48 = 2.4.
func TestForestStump(t *testing.T) {
	ds := mustDataset(t, table.NewFloatColumn("x", []float64{1, 2, 3, 4, 5}), table.NewIntColumn("y", []int64{0, 0, 1, 1, 1}, nil))
	cfg := DefaultForestConfig()
	cfg.Trees, cfg.Bootstrap, cfg.MaxFeatures = 3, false, MaxFeatures{Rule: "all"}
	m, err := FitForest(context.Background(), ds, yTarget, []string{"x"}, cfg, 2)
	if err != nil {
		t.Fatal(err)
	}
	nodes, roots := m.Nodes()
	if len(roots) != 3 || len(nodes) != 9 {
		t.Fatalf("%d trees of %d nodes, want 3 stumps", len(roots), len(nodes))
	}
	if nodes[0].Bin != 2 || nodes[1].Value != 0 || nodes[2].Value != 1 || !near(nodes[0].Value, 0.6) || nodes[0].Cover != 5 {
		t.Errorf("tree 0: %+v", nodes[:3])
	}
	if imp := m.Importance()[0]; !near(imp.Gain, 3*2.4) || imp.Splits != 3 {
		t.Errorf("importance %+v, want gain 7.2, 3 splits", imp)
	}
}

// bruteBestStump returns the best boosting stump gain over every feature,
// threshold between distinct values and missing side, by direct sums.
func bruteBestStump(xs [][]float64, g, h []float64, lam float64, minChild int) (int, float64) {
	term := func(g, h float64) float64 { return g * g / (h + lam) }
	var G, H float64
	for i := range g {
		G += g[i]
		H += h[i]
	}
	bestF, best := -1, 0.0
	for f, x := range xs {
		for _, thr := range x {
			for _, missRight := range []bool{false, true} {
				var gl, hl float64
				nl := 0
				for i, v := range x {
					left := v <= thr
					if math.IsNaN(v) {
						left = !missRight
					}
					if left {
						gl += g[i]
						hl += h[i]
						nl++
					}
				}
				if nl < minChild || len(g)-nl < minChild {
					continue
				}
				gain := 0.5 * (term(gl, hl) + term(G-gl, H-hl) - term(G, H))
				if gain > best+1e-12 {
					bestF, best = f, gain
				}
			}
		}
	}
	return bestF, best
}

// TestBoostingGainBruteForce compares the first split's gain with a brute
// force search on random tables with few distinct values (every value has
// its own bin) and missing values.
func TestBoostingGainBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 30 {
		n := 20 + rng.IntN(60)
		xs := make([][]float64, 3)
		var cols []*table.Column
		names := []string{"a", "b", "c"}
		for f := range xs {
			xs[f] = make([]float64, n)
			for i := range xs[f] {
				xs[f][i] = float64(rng.IntN(12))
				if rng.Float64() < 0.15 {
					xs[f][i] = math.NaN()
				}
			}
			cols = append(cols, table.NewFloatColumn(names[f], append([]float64(nil), xs[f]...)))
		}
		ys := make([]int64, n)
		yf := make([]float64, n)
		for i := range ys {
			if rng.Float64() < 0.3 {
				ys[i], yf[i] = 1, 1
			}
		}
		ys[0], yf[0], ys[1], yf[1] = 1, 1, 0, 0
		cols = append(cols, table.NewIntColumn("y", ys, nil))
		ds := mustDataset(t, cols...)
		cfg := DefaultBoostConfig()
		cfg.Trees, cfg.MaxDepth, cfg.MinChildSamples, cfg.L2 = 1, 1, 3, 0.5
		m, err := FitBoosting(context.Background(), ds, nil, yTarget, names, cfg, 1)
		if err != nil {
			t.Fatal(err)
		}
		// Gradients at the base score.
		var pos float64
		for _, v := range yf {
			pos += v
		}
		p := pos / float64(n)
		g, h := make([]float64, n), make([]float64, n)
		for i := range g {
			g[i], h[i] = p-yf[i], p*(1-p)
		}
		wantF, wantGain := bruteBestStump(xs, g, h, cfg.L2, cfg.MinChildSamples)
		var gotGain float64
		gotF := -1
		for f, im := range m.Importance() {
			if im.Splits > 0 {
				gotF, gotGain = f, im.Gain
			}
		}
		if gotF != wantF || math.Abs(gotGain-wantGain) > 1e-9 {
			t.Errorf("trial %d: split on feature %d with gain %v; brute force %d with %v", trial, gotF, gotGain, wantF, wantGain)
		}
	}
}

// TestMissingDirection: missing values mark the positives, so the split
// sends them (and only them) right.
func TestMissingDirection(t *testing.T) {
	x := make([]float64, 200)
	y := make([]int64, 200)
	for i := range x {
		x[i] = float64(i % 50)
		if i%4 == 0 {
			x[i], y[i] = math.NaN(), 1
		}
	}
	ds := mustDataset(t, table.NewFloatColumn("x", x), table.NewIntColumn("y", y, nil))
	for _, algo := range []string{"forest", "boosting"} {
		var m *model.Ensemble
		var err error
		if algo == "forest" {
			cfg := DefaultForestConfig()
			cfg.Trees, cfg.MaxDepth, cfg.Bootstrap = 1, 1, false
			m, err = FitForest(context.Background(), ds, yTarget, []string{"x"}, cfg, 1)
		} else {
			cfg := DefaultBoostConfig()
			cfg.Trees, cfg.MaxDepth, cfg.LearningRate = 1, 1, 1
			m, err = FitBoosting(context.Background(), ds, nil, yTarget, []string{"x"}, cfg, 1)
		}
		if err != nil {
			t.Fatal(err)
		}
		nodes, _ := m.Nodes()
		if nodes[0].Flags != model.NodeMissingRight || int(nodes[0].Bin) != len(m.TreeFeatures()[0].Edges)+1 {
			t.Errorf("%s: root %+v, want every value left and missing right", algo, nodes[0])
		}
	}
}

// TestCategoricalSplit: levels a and c are positive, b and d negative; one
// categorical split separates them, and an unseen level goes left.
func TestCategoricalSplit(t *testing.T) {
	levels := []string{"a", "b", "c", "d"}
	var s []string
	var y []int64
	for i := range 200 {
		l := levels[i%4]
		s = append(s, l)
		y = append(y, int64(1-i%2))
	}
	ds := mustDataset(t, table.NewStringColumn("s", s, nil), table.NewIntColumn("y", y, nil))
	cfg := DefaultBoostConfig()
	cfg.Trees, cfg.MaxDepth, cfg.LearningRate = 1, 1, 1
	m, err := FitBoosting(context.Background(), ds, nil, yTarget, []string{"s"}, cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	nodes, _ := m.Nodes()
	if nodes[0].Flags != model.NodeCategorical {
		t.Fatalf("root %+v, want a categorical split", nodes[0])
	}
	test := mustDataset(t, table.NewStringColumn("s", []string{"a", "b", "c", "d", "zz"}, nil), table.NewIntColumn("y", []int64{1, 0, 1, 0, 0}, nil))
	p, err := m.Predict(test, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !(p[0] > 0.5 && p[2] > 0.5 && p[1] < 0.5 && p[3] < 0.5) || p[0] != p[2] || p[1] != p[3] {
		t.Errorf("predictions %v", p)
	}
	if (p[4] == p[0]) == (p[4] == p[1]) {
		t.Errorf("unseen level: %v, want one of the two leaves", p[4])
	}
}

// mixedData is synthetic data with a categorical feature and missing
// values, large enough for several row chunks.
func mixedData(t *testing.T) (*table.Dataset, *table.Dataset, []string) {
	train, test := synthData(t, 30_000)
	return train, test, append(append([]string(nil), workshopFeatures...), "home_ownership", "purpose")
}

// TestDeterministicAcrossJobs: the encoded models, and so their SHA-256
// fingerprints, are identical with 1, 2 and 4 workers.
func TestDeterministicAcrossJobs(t *testing.T) {
	train, test, feats := mixedData(t)
	fits := map[string]func(jobs int) (*model.Ensemble, error){
		"random_forest": func(jobs int) (*model.Ensemble, error) {
			cfg := DefaultForestConfig()
			cfg.Trees, cfg.MaxDepth, cfg.MinSamplesSplit, cfg.ClassWeight.Balanced, cfg.Seed = 12, 8, 50, true, 7
			return FitForest(context.Background(), train, target, feats, cfg, jobs)
		},
		"gradient_boosting": func(jobs int) (*model.Ensemble, error) {
			cfg := DefaultBoostConfig()
			cfg.Trees, cfg.Subsample, cfg.Colsample, cfg.Seed, cfg.EarlyStoppingRounds = 15, 0.8, 0.7, 7, 5
			return FitBoosting(context.Background(), train, test, target, feats, cfg, jobs)
		},
		"gradient_boosting_leafwise": func(jobs int) (*model.Ensemble, error) {
			cfg := DefaultBoostConfig()
			cfg.Trees, cfg.MaxDepth, cfg.MaxLeaves, cfg.ScalePosWeight = 10, 0, 31, 3
			return FitBoosting(context.Background(), train, nil, target, feats, cfg, jobs)
		},
	}
	for name, fit := range fits {
		var first string
		for _, jobs := range []int{1, 2, 4} {
			m, err := fit(jobs)
			if err != nil {
				t.Fatal(err)
			}
			fp := fingerprint(t, m)
			t.Logf("%s jobs=%d: %d trees, sha256 %s", name, jobs, m.Trees(), fp)
			if first == "" {
				first = fp
			} else if fp != first {
				t.Errorf("%s: jobs=%d gives sha256 %s, jobs=1 %s", name, jobs, fp, first)
			}
		}
	}
}

// TestRoundTrip: a decoded model re-encodes to the same bytes and predicts
// bit-identical probabilities.
func TestRoundTrip(t *testing.T) {
	train, test, feats := mixedData(t)
	fc := DefaultForestConfig()
	fc.Trees, fc.MaxDepth = 5, 6
	rf, err := FitForest(context.Background(), train, target, feats, fc, 2)
	if err != nil {
		t.Fatal(err)
	}
	bc := DefaultBoostConfig()
	bc.Trees, bc.MaxLeaves = 8, 15
	gb, err := FitBoosting(context.Background(), train, test, target, feats, bc, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*model.Ensemble{rf, gb} {
		var buf bytes.Buffer
		if err := m.Encode(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := model.Decode(buf.Bytes())
		if err != nil {
			t.Fatalf("%s: %v", m.Algorithm(), err)
		}
		var again bytes.Buffer
		if err := back.Encode(&again); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), again.Bytes()) {
			t.Errorf("%s: re-encoding differs", m.Algorithm())
		}
		p1, err := m.Predict(test, 1)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := back.Predict(test, 3)
		if err != nil {
			t.Fatal(err)
		}
		for i := range p1 {
			if math.Float64bits(p1[i]) != math.Float64bits(p2[i]) {
				t.Fatalf("%s: row %d: %v before, %v after decoding", m.Algorithm(), i, p1[i], p2[i])
			}
		}
		// The branch-free path agrees with a plain walk of the nodes.
		bins, _ := m.BinDataset(test, 1)
		x := make([]uint8, len(bins))
		nodes, _ := m.Nodes()
		for i := range min(test.Rows, 500) {
			for k := range bins {
				x[k] = bins[k][i]
			}
			s := m.Base()
			for tr := range m.Trees() {
				s += nodes[m.LeafOf(tr, x)].Value
			}
			var want float64
			if m.Algorithm() == model.RandomForest {
				want = s / float64(m.Trees())
			} else {
				want = 1 / (1 + math.Exp(-s))
			}
			if !near(p1[i], want) {
				t.Fatalf("%s: row %d: %v, the node walk gives %v", m.Algorithm(), i, p1[i], want)
			}
		}
	}
}

// TestEarlyStopping keeps the trees up to the best validation loss.
func TestEarlyStopping(t *testing.T) {
	train, test := synthData(t, 20_000)
	cfg := DefaultBoostConfig()
	cfg.Trees, cfg.LearningRate, cfg.MaxDepth, cfg.MinChildSamples, cfg.EarlyStoppingRounds = 400, 0.5, 8, 1, 10
	m, err := FitBoosting(context.Background(), train, test, target, workshopFeatures, cfg, 2)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Curve()
	if len(c.Valid) >= 400 || m.Trees() != c.BestIteration || len(c.Valid) != m.Trees()+10 {
		t.Fatalf("%d trees kept, %d grown; want early stopping 10 trees after the best", m.Trees(), len(c.Valid))
	}
	for i, v := range c.Valid {
		if v < c.Valid[m.Trees()-1] {
			t.Errorf("valid loss %v after tree %d beats the kept %v", v, i+1, c.Valid[m.Trees()-1])
		}
	}
	if !(c.Train[len(c.Train)-1] < c.Train[0]) {
		t.Errorf("training loss did not fall: %v", c.Train)
	}
}

func TestConfigErrors(t *testing.T) {
	ds := mustDataset(t, table.NewFloatColumn("x", []float64{1, 2}), table.NewIntColumn("y", []int64{0, 1}, nil))
	bc := DefaultBoostConfig()
	bc.MaxDepth = 0
	if _, err := FitBoosting(context.Background(), ds, nil, yTarget, []string{"x"}, bc, 1); err == nil {
		t.Error("no bound on the trees: want an error")
	}
	one := mustDataset(t, table.NewFloatColumn("x", []float64{1, 2}), table.NewIntColumn("y", []int64{1, 1}, nil))
	if _, err := FitForest(context.Background(), one, yTarget, []string{"x"}, DefaultForestConfig(), 1); err == nil {
		t.Error("one class: want an error")
	}
	if _, err := FitForest(context.Background(), ds, yTarget, []string{"y"}, DefaultForestConfig(), 1); err == nil {
		t.Error("the target as a feature: want an error")
	}
}
