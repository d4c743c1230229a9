package explain

import (
	"context"
	"math"
	"math/bits"
	"slices"
	"testing"

	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/table"
	"github.com/mlrun-cli/mlrun/steps/tree"
)

var (
	treeTarget   = model.Target{Name: "default", Type: table.Int}
	treeFeatures = []string{"income", "dti", "age", "owner", "home"}
)

// fitTrees fits a forest and boosted trees to applications (income has
// nulls, home is a string with nulls).
func fitTrees(t *testing.T, train *table.Dataset, trees, depth int) map[string]*model.Ensemble {
	t.Helper()
	fc := tree.DefaultForestConfig()
	fc.Trees, fc.MaxDepth, fc.MinSamplesLeaf, fc.Seed = trees, depth, 5, 3
	forest, err := tree.FitForest(context.Background(), train, treeTarget, treeFeatures, fc, 2)
	if err != nil {
		t.Fatal(err)
	}
	bc := tree.DefaultBoostConfig()
	bc.Trees, bc.MaxDepth, bc.MinChildSamples, bc.Subsample, bc.Colsample, bc.Seed = trees, depth, 10, 0.8, 0.8, 3
	boost, err := tree.FitBoosting(context.Background(), train, nil, treeTarget, treeFeatures, bc, 2)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*model.Ensemble{model.RandomForest: forest, model.GradientBoosting: boost}
}

// hasSplitKinds reports whether m splits on a string feature and sends
// missing values both ways somewhere.
func hasSplitKinds(m *model.Ensemble) (cat, missRight, missLeft bool) {
	nodes, _ := m.Nodes()
	for _, nd := range nodes {
		switch {
		case nd.Flags&model.NodeLeaf != 0:
		case nd.Flags&model.NodeCategorical != 0:
			cat = true
		case nd.Flags&model.NodeMissingRight != 0:
			missRight = true
		default:
			missLeft = true
		}
	}
	return
}

// TestTreeContributionsSum checks, for every row of a test set (with
// missing values and a level unseen in training), that the TreeSHAP values
// plus the baseline sum to the raw output to 1e-9, and that the raw output
// is the model's: the probability for a forest, the log-odds for boosting.
func TestTreeContributionsSum(t *testing.T) {
	train, test := applications(3000, 1, false), applications(2000, 2, true)
	for _, depth := range []int{3, 8} {
		for alg, m := range fitTrees(t, train, 40, depth) {
			if cat, _, _ := hasSplitKinds(m); !cat {
				t.Errorf("%s depth %d: no categorical split to explain", alg, depth)
			}
			e, err := For(m, train)
			if err != nil {
				t.Fatal(err)
			}
			p, err := m.Predict(test, 1)
			if err != nil {
				t.Fatal(err)
			}
			raw, contrib, err := e.Explain(test)
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for i := range test.Rows {
				sum := e.Baseline()
				for _, c := range contrib[i] {
					sum += c
				}
				d := math.Abs(sum - raw[i])
				worst = max(worst, d)
				if d > 1e-9 {
					t.Fatalf("%s depth %d row %d: baseline + contributions %v, raw %v (diff %g)", alg, depth, i, sum, raw[i], d)
				}
				want := raw[i]
				if alg == model.GradientBoosting {
					want = 1 / (1 + math.Exp(-raw[i]))
				}
				if math.Abs(want-p[i]) > 1e-12 {
					t.Fatalf("%s row %d: raw %v gives %v, Predict %v", alg, i, raw[i], want, p[i])
				}
			}
			t.Logf("%s depth %d: largest |baseline + Σ contributions − raw| = %.3g over %d rows", alg, depth, worst, test.Rows)
		}
	}
}

// condExpect is the path-dependent conditional expectation of a tree's
// output from node i when the features in the bit set known take x's
// values: a split on a known feature follows x, one on an unknown feature
// averages its children weighted by their covers.
func condExpect(m *model.Ensemble, i int32, x []uint8, known uint) float64 {
	nodes, _ := m.Nodes()
	nd := nodes[i]
	if nd.Flags&model.NodeLeaf != 0 {
		return nd.Value
	}
	l, r := nd.Left, nd.Left+1
	if known>>nd.Feature&1 == 1 {
		if m.GoesRight(i, x[nd.Feature]) {
			return condExpect(m, r, x, known)
		}
		return condExpect(m, l, x, known)
	}
	cl, cr := nodes[l].Cover, nodes[r].Cover
	wl, wr := 0.5, 0.5
	if cl+cr > 0 {
		wl, wr = cl/(cl+cr), cr/(cl+cr)
	}
	return wl*condExpect(m, l, x, known) + wr*condExpect(m, r, x, known)
}

// bruteShapley is the defining formula: over all subsets S of the other
// features,
//
//	φ_i = Σ_S |S|!(M−|S|−1)!/M! · (v(S ∪ {i}) − v(S)),
//
// with v(S) the sum over trees of condExpect.
func bruteShapley(m *model.Ensemble, x []uint8) []float64 {
	_, roots := m.Nodes()
	nf := len(x)
	v := make([]float64, 1<<nf)
	for s := range v {
		for _, r := range roots {
			v[s] += condExpect(m, r, x, uint(s))
		}
	}
	fact := func(n int) float64 {
		f := 1.0
		for k := 2; k <= n; k++ {
			f *= float64(k)
		}
		return f
	}
	phi := make([]float64, nf)
	for i := range nf {
		for s := range v {
			if s>>i&1 == 1 {
				continue
			}
			k := bits.OnesCount(uint(s))
			phi[i] += fact(k) * fact(nf-k-1) / fact(nf) * (v[s|1<<i] - v[s])
		}
	}
	return phi
}

// TestTreeBruteForce checks TreeSHAP against the exact Shapley values of
// the path-dependent conditional expectation, enumerated over all 32
// feature subsets, on small ensembles (features repeat along paths,
// categorical splits, missing values both ways).
func TestTreeBruteForce(t *testing.T) {
	train, test := applications(2000, 4, false), applications(300, 5, true)
	for alg, m := range fitTrees(t, train, 6, 5) {
		cat, mr, ml := hasSplitKinds(m)
		t.Logf("%s: categorical %v, missing right %v, missing left %v", alg, cat, mr, ml)
		e := NewTree(m, 1)
		bins, err := m.BinDataset(test, 1)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]uint8, len(bins))
		worst := 0.0
		for i := range test.Rows {
			for k := range x {
				x[k] = bins[k][i]
			}
			got, want := e.row(x, nil), bruteShapley(m, x)
			for k := range got {
				d := math.Abs(got[k] - want[k])
				worst = max(worst, d)
				if d > 1e-10 {
					t.Fatalf("%s row %d feature %s: TreeSHAP %v, brute force %v", alg, i, treeFeatures[k], got[k], want[k])
				}
			}
		}
		t.Logf("%s: largest |TreeSHAP − brute force| = %.3g over %d rows", alg, worst, test.Rows)
	}
}

// TestTreeHandBuilt checks TreeSHAP on a hand-built tree against the brute
// force where a child has zero cover (its subtree must be skipped, not
// divide by zero), a feature splits twice on a path, a categorical split
// sends the missing bin right, and a numeric one sends it right.
func TestTreeHandBuilt(t *testing.T) {
	features := []model.TreeFeature{
		{Name: "a", Type: table.Float, Edges: []float64{1, 2, 3}},
		{Name: "b", Type: table.String, Levels: []string{"x", "y", "z"}},
		{Name: "c", Type: table.Float, Edges: []float64{0}},
	}
	leaf := func(v, c float64) model.Node { return model.Node{Flags: model.NodeLeaf, Value: v, Cover: c} }
	nodes := []model.Node{
		{Left: 1, Feature: 0, Bin: 2, Flags: model.NodeMissingRight, Cover: 10}, // 0: a ≤ 2 | a > 2 or missing
		{Left: 3, Feature: 1, Flags: model.NodeCategorical, Cover: 6},           // 1: b ∈ {missing, z} right
		{Left: 5, Feature: 0, Bin: 3, Cover: 4},                                 // 2: a again, missing left
		leaf(0.1, 4), leaf(0.7, 2),
		{Left: 7, Feature: 2, Bin: 1, Cover: 3}, // 5: c, missing left
		leaf(0.9, 1),
		leaf(0.2, 0), leaf(0.4, 3), // 7: zero cover
	}
	cats := []uint64{1 | 1<<3, 0, 0, 0}
	m, err := model.NewEnsemble(model.EnsembleSpec{
		Algorithm: model.RandomForest, Target: model.Target{Name: "y", Type: table.Int}, Features: features,
		Roots: []int32{0}, Nodes: nodes, CatBits: cats,
		Importance: []model.Importance{{Feature: "a"}, {Feature: "b"}, {Feature: "c"}},
		Training:   model.EnsembleTraining{Params: []byte(`{}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := NewTree(m, 1)
	if want := 0.6*(4.0/6*0.1+2.0/6*0.7) + 0.4*(0.75*(0*0.2+1*0.4)+0.25*0.9); math.Abs(e.Baseline()-want) > 1e-15 {
		t.Errorf("baseline %v, want %v", e.Baseline(), want)
	}
	for a := range uint8(5) {
		for b := range uint8(4) {
			for c := range uint8(3) {
				x := []uint8{a, b, c}
				got, want := e.row(x, nil), bruteShapley(m, x)
				sum := e.Baseline()
				for k := range got {
					sum += got[k]
					if math.Abs(got[k]-want[k]) > 1e-14 || math.IsNaN(got[k]) {
						t.Errorf("x=%v feature %s: TreeSHAP %v, brute force %v", x, features[k].Name, got[k], want[k])
					}
				}
				if out := nodes[m.LeafOf(0, x)].Value; math.Abs(sum-out) > 1e-15 {
					t.Errorf("x=%v: baseline + Σφ = %v, output %v", x, sum, out)
				}
			}
		}
	}
}

// TestTreeDeterminism checks that the contributions are bit-identical
// whatever the number of workers and from one call to the next.
func TestTreeDeterminism(t *testing.T) {
	train, test := applications(2000, 6, false), applications(1000, 7, true)
	for alg, m := range fitTrees(t, train, 20, 6) {
		var ref [][]float64
		for _, jobs := range []int{1, 2, 3, 1} {
			_, c, err := NewTree(m, jobs).Explain(test)
			if err != nil {
				t.Fatal(err)
			}
			if ref == nil {
				ref = c
				continue
			}
			for i := range c {
				for k := range c[i] {
					if math.Float64bits(c[i][k]) != math.Float64bits(ref[i][k]) {
						t.Fatalf("%s jobs %d row %d feature %d: %v, with 1 job %v", alg, jobs, i, k, c[i][k], ref[i][k])
					}
				}
			}
		}
	}
}

// TestTreeTablesMatchRecursion checks the leaf tables (Fast TreeSHAP v2),
// read through follow masks, against the
// EXTEND/UNWIND recursion on every row, for deep trees where features
// repeat along paths.
func TestTreeTablesMatchRecursion(t *testing.T) {
	train, test := applications(3000, 8, false), applications(500, 9, true)
	for _, depth := range []int{6, 9} {
		for alg, m := range fitTrees(t, train, 15, depth) {
			masks, recursive := NewTree(m, 1), NewTree(m, 1)
			recursive.masks, recursive.tables = nil, nil
			for i := range masks.roots {
				// Depth 6 has at most 64 leaves: every tree has its masks.
				if masks.tables[i] == nil || (depth == 6 && masks.masks[i] == nil) {
					t.Fatalf("%s depth %d: tree %d has no tables or masks", alg, depth, i)
				}
			}
			bins, err := m.BinDataset(test, 1)
			if err != nil {
				t.Fatal(err)
			}
			x := make([]uint8, len(bins))
			worst := 0.0
			for i := range test.Rows {
				for k := range x {
					x[k] = bins[k][i]
				}
				want := recursive.row(x, nil)
				for name, e := range map[string]*Tree{"masks": masks} {
					got := e.row(x, nil)
					for k := range got {
						d := math.Abs(got[k] - want[k])
						worst = max(worst, d)
						if d > 1e-12*max(1, math.Abs(want[k])) {
							t.Fatalf("%s row %d feature %s: %s %v, recursion %v", alg, i, treeFeatures[k], name, got[k], want[k])
						}
					}
				}
			}
			t.Logf("%s depth %d: largest |tables − recursion| = %.3g over %d rows", alg, depth, worst, test.Rows)
		}
	}
}

// TestLeafValues checks a leaf table on a hand-worked case: one feature
// with z = 0.25 and value 2 gives φ = 2·(1 − 0.25) when the row follows
// the path and 2·(0 − 0.25) when not; two features with z = (0.5, 0.5)
// and the row following both give each (1 − 0.5)·(½·0.5 + ½·1)·v.
func TestLeafValues(t *testing.T) {
	if got := leafValues([]float64{0.25}, 2); !slices.Equal(got, []float64{-0.5, 1.5}) {
		t.Errorf("one feature: %v", got)
	}
	got := leafValues([]float64{0.5, 0.5}, 4)
	if want := 0.5 * 0.75 * 4; got[3*2+0] != want || got[3*2+1] != want {
		t.Errorf("two features, both followed: %v, want %v each", got[6:8], want)
	}
}
