package tree

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// MaxFeatures is how many features a forest node draws: Rule "sqrt"
// (⌊√p⌋), "log2" (⌊log₂ p⌋), "all" (p), "count" (Count) or "fraction"
// (⌊Fraction·p⌋), at least 1 and at most p, as scikit-learn.
type MaxFeatures struct {
	Rule     string  `json:"rule"`
	Count    int     `json:"count,omitempty"`
	Fraction float64 `json:"fraction,omitempty"`
}

// N returns the number of features drawn out of p.
func (m MaxFeatures) N(p int) int {
	var k int
	switch m.Rule {
	case "sqrt":
		k = int(math.Sqrt(float64(p)))
	case "log2":
		k = int(math.Log2(float64(p)))
	case "count":
		k = m.Count
	case "fraction":
		k = int(m.Fraction * float64(p))
	default:
		k = p
	}
	return max(1, min(k, p))
}

// ForestConfig configures FitForest.
type ForestConfig struct {
	// Trees is the number of trees (scikit-learn's n_estimators).
	Trees int `json:"trees"`
	// MaxDepth bounds the depth of a tree (0: unbounded).
	MaxDepth int `json:"max_depth"`
	// MinSamplesSplit is the fewest distinct rows a node needs to split;
	// MinSamplesLeaf the fewest each child keeps.
	MinSamplesSplit int `json:"min_samples_split"`
	MinSamplesLeaf  int `json:"min_samples_leaf"`
	// MaxFeatures is how many features each node draws.
	MaxFeatures MaxFeatures `json:"max_features"`
	// Bootstrap draws each tree's rows with replacement (n draws).
	Bootstrap bool `json:"bootstrap"`
	// ClassWeight weighs rows by class.
	ClassWeight model.ClassWeight `json:"class_weight"`
	// MaxBins is the number of value bins per numeric feature (≤ 255).
	MaxBins int `json:"max_bins"`
	// SampleWeight names a column of row weights ("" for none).
	SampleWeight string `json:"sample_weight,omitempty"`
	// Seed seeds the trees: tree t draws from PCG(seed, t).
	Seed int64 `json:"seed,omitempty"`
}

// DefaultForestConfig returns scikit-learn's defaults: 100 trees, unbounded
// depth, min_samples_split 2, min_samples_leaf 1, sqrt features, bootstrap,
// and 255 bins.
func DefaultForestConfig() ForestConfig {
	return ForestConfig{Trees: 100, MinSamplesSplit: 2, MinSamplesLeaf: 1, MaxFeatures: MaxFeatures{Rule: "sqrt"}, Bootstrap: true, MaxBins: model.MaxBins}
}

func (c ForestConfig) check() error {
	switch {
	case c.Trees < 1:
		return fmt.Errorf("trees must be >= 1, not %d", c.Trees)
	case c.MaxDepth < 0:
		return fmt.Errorf("max_depth must be >= 0, not %d", c.MaxDepth)
	case c.MinSamplesSplit < 2:
		return fmt.Errorf("min_samples_split must be >= 2, not %d", c.MinSamplesSplit)
	case c.MinSamplesLeaf < 1:
		return fmt.Errorf("min_samples_leaf must be >= 1, not %d", c.MinSamplesLeaf)
	}
	return nil
}

// FitForest fits a random forest of binary classification trees, each
// grown on a bootstrap sample (integer row weights: how often the row was
// drawn) to the largest Gini impurity decrease
//
//	ΔI = W·gini(t) − W_L·gini(L) − W_R·gini(R),  gini = 1 − p² − (1−p)²,
//
// with W the weight reaching a node (class weight × sample weight ×
// bootstrap count) and p its weighted positive share, over the drawn
// features' bin thresholds (both sides tried for the missing bin) and, for
// string features, the best split of the categories ordered by p (optimal
// for two classes), categories on fewer than 10 of the node's rows pooled
// as one (see minCatRows). A leaf predicts p; the forest the mean over
// trees.
//
// Tree t uses its own generator PCG(seed, t) for its bootstrap and feature
// draws, and trees are grown on up to jobs goroutines, so the model is
// bit-identical for any jobs. Importance sums ΔI and counts splits per
// feature in tree order.
func FitForest(ctx context.Context, ds *table.Dataset, target model.Target, features []string, cfg ForestConfig, jobs int) (*model.Ensemble, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	d, err := Prepare(ds, target, features, cfg.ClassWeight, cfg.SampleWeight, cfg.MaxBins, jobs)
	if err != nil {
		return nil, err
	}
	return growForest(ctx, d, cfg, jobs)
}

// forestTree is one grown tree.
type forestTree struct {
	nodes  []model.Node
	cats   [][catWords]uint64 // bitsets of the categorical nodes, in node order
	catPos []int32            // boosting: per node, its bitset in cats
	gain   []float64
	splits []int
}

const catWords = 4

func growForest(ctx context.Context, d *Data, cfg ForestConfig, jobs int) (*model.Ensemble, error) {
	trees := make([]forestTree, cfg.Trees)
	nw := min(workers(jobs), cfg.Trees)
	spaces := make(chan *forestSpace, nw)
	for range nw {
		spaces <- newForestSpace(d)
	}
	var cancelled error
	parallelFor(cfg.Trees, nw, func(t int) {
		if ctx.Err() != nil {
			return
		}
		ws := <-spaces
		trees[t] = ws.grow(d, cfg, t)
		spaces <- ws
	})
	if err := ctx.Err(); err != nil {
		cancelled = err
	}
	if cancelled != nil {
		return nil, cancelled
	}
	return assemble(d, model.RandomForest, 0, trees, nil, cfg, 0)
}

// assemble concatenates trees into an ensemble.
func assemble(d *Data, algo string, base float64, trees []forestTree, curve *model.Curve, params any, validRows int) (*model.Ensemble, error) {
	s := model.EnsembleSpec{Algorithm: algo, Target: d.Target, Features: d.Features, Base: base, Curve: curve}
	nodes, cats := 0, 0
	for _, tr := range trees {
		nodes += len(tr.nodes)
		cats += len(tr.cats) * catWords
	}
	s.Nodes, s.Roots = make([]model.Node, 0, nodes), make([]int32, 0, len(trees))
	if cats > 0 {
		s.CatBits = make([]uint64, 0, cats)
	}
	imp := make([]model.Importance, len(d.Features))
	for k, f := range d.Features {
		imp[k].Feature = f.Name
	}
	for _, tr := range trees {
		off := int32(len(s.Nodes))
		s.Roots = append(s.Roots, off)
		for _, nd := range tr.nodes {
			if nd.Flags&model.NodeLeaf == 0 {
				nd.Left += off
			}
			s.Nodes = append(s.Nodes, nd)
		}
		for _, c := range tr.cats {
			s.CatBits = append(s.CatBits, c[:]...)
		}
		for k := range imp {
			imp[k].Gain += tr.gain[k]
			imp[k].Splits += tr.splits[k]
		}
	}
	s.Importance = imp
	p, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	s.Training = model.EnsembleTraining{Rows: d.Rows, Positives: d.Positives, ValidRows: validRows, Params: p}
	m, err := model.NewEnsemble(s)
	if err != nil {
		return nil, fmt.Errorf("internal error: %w", err)
	}
	return m, nil
}

// forestSpace is one worker's scratch memory.
type forestSpace struct {
	idx, scratch []int32
	// count is how often the tree drew each row: its weight in the tree
	// is d.W × count (see weight).
	count  []int32
	feats  []int
	cnt    []int32
	hw, hp []float64
	order  []int
	nodes  []model.Node // the tree being grown
	stack  []pending
}

func newForestSpace(d *Data) *forestSpace {
	n := d.Rows
	return &forestSpace{
		idx: make([]int32, n), scratch: make([]int32, n), count: make([]int32, n), feats: make([]int, len(d.Features)),
		cnt: make([]int32, 256), hw: make([]float64, 256), hp: make([]float64, 256), order: make([]int, 0, 256),
	}
}

// weight returns row r's weight in the tree, d.W[r] × count[r], and that
// weight × its label.
func (ws *forestSpace) weight(d *Data, r int32) (w, wy float64) {
	w = d.W[r] * float64(ws.count[r])
	return w, w * d.Y[r]
}

// split is a candidate split.
type split struct {
	feature   int
	bin       uint8 // numeric threshold
	missRight bool
	cats      [catWords]uint64 // categorical: bins going right
	score     float64          // criterion-specific, larger is better
}

func (s *split) left(d *Data, b uint8) bool {
	switch {
	case d.cat[s.feature]:
		return s.cats[b>>6]>>(b&63)&1 == 0
	case b == 0:
		return !s.missRight
	default:
		return b <= s.bin
	}
}

type pending struct {
	node   int32
	lo, hi int
	depth  int
	w, wp  float64
}

// grow grows tree t.
func (ws *forestSpace) grow(d *Data, cfg ForestConfig, t int) forestTree {
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(t)))
	n := d.Rows
	idx := ws.idx[:0]
	if cfg.Bootstrap {
		clear(ws.count)
		for range n {
			ws.count[rng.IntN(n)]++
		}
		for i, c := range ws.count {
			if c > 0 && d.W[i] > 0 {
				idx = append(idx, int32(i))
			}
		}
	} else {
		for i := range n {
			ws.count[i] = 1
			if d.W[i] > 0 {
				idx = append(idx, int32(i))
			}
		}
	}
	p := len(d.Features)
	tr := forestTree{gain: make([]float64, p), splits: make([]int, p), nodes: ws.nodes[:0]}
	var w, wp float64
	for _, r := range idx {
		rw, rwy := ws.weight(d, r)
		w += rw
		wp += rwy
	}
	tr.nodes = append(tr.nodes, model.Node{})
	stack := append(ws.stack[:0], pending{node: 0, lo: 0, hi: len(idx), w: w, wp: wp})
	mf := cfg.MaxFeatures.N(p)
	for len(stack) > 0 {
		nd := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		rows := idx[nd.lo:nd.hi]
		node := &tr.nodes[nd.node]
		node.Cover = nd.w
		node.Value = 0
		if nd.w > 0 {
			node.Value = min(1, max(0, nd.wp/nd.w))
		}
		node.Flags = model.NodeLeaf
		if (cfg.MaxDepth > 0 && nd.depth >= cfg.MaxDepth) || len(rows) < cfg.MinSamplesSplit ||
			len(rows) < 2*cfg.MinSamplesLeaf || nd.wp <= 0 || nd.wp >= nd.w {
			continue
		}
		best, ok := ws.bestSplit(d, cfg, rng, rows, nd.w, nd.wp, mf)
		if !ok {
			continue
		}
		// Partition, stable: left rows first.
		k, s := 0, 0
		var lw, lwp float64
		for _, r := range rows {
			if best.left(d, d.Bins[best.feature][r]) {
				rows[k] = r
				k++
				w, wy := ws.weight(d, r)
				lw += w
				lwp += wy
			} else {
				ws.scratch[s] = r
				s++
			}
		}
		copy(rows[k:], ws.scratch[:s])
		var rw, rwp float64
		for _, r := range rows[k:] {
			w, wy := ws.weight(d, r)
			rw += w
			rwp += wy
		}
		parent := nd.wp*nd.wp + (nd.w-nd.wp)*(nd.w-nd.wp)
		tr.gain[best.feature] += best.score - parent/nd.w
		tr.splits[best.feature]++
		left := int32(len(tr.nodes))
		node.Flags, node.Left, node.Feature = 0, left, uint16(best.feature)
		if d.cat[best.feature] {
			node.Flags = model.NodeCategorical
			tr.cats = append(tr.cats, best.cats)
		} else {
			node.Bin = best.bin
			if best.missRight {
				node.Flags = model.NodeMissingRight
			}
		}
		tr.nodes = append(tr.nodes, model.Node{}, model.Node{})
		stack = append(stack,
			pending{node: left + 1, lo: nd.lo + k, hi: nd.hi, depth: nd.depth + 1, w: rw, wp: rwp},
			pending{node: left, lo: nd.lo, hi: nd.lo + k, depth: nd.depth + 1, w: lw, wp: lwp})
	}
	// Categorical bitsets are listed in node order; nodes were split in
	// depth-first order, so sort them.
	if len(tr.cats) > 0 {
		tr.cats = orderCats(tr.nodes, tr.cats)
	}
	// The nodes grew in ws's buffer: keep a copy of their exact size.
	ws.nodes, ws.stack = tr.nodes, stack
	tr.nodes = slices.Clone(tr.nodes)
	return tr
}

// orderCats reorders bitsets listed in split order into node order.
func orderCats(nodes []model.Node, cats [][catWords]uint64) [][catWords]uint64 {
	// Split order is recovered from the children index: a node split
	// earlier has smaller children indices.
	var catNodes []int
	for i, nd := range nodes {
		if nd.Flags&model.NodeCategorical != 0 {
			catNodes = append(catNodes, i)
		}
	}
	bySplit := append([]int(nil), catNodes...)
	sort.Slice(bySplit, func(a, b int) bool { return nodes[bySplit[a]].Left < nodes[bySplit[b]].Left })
	rank := map[int]int{}
	for k, i := range bySplit {
		rank[i] = k
	}
	out := make([][catWords]uint64, len(cats))
	for k, i := range catNodes {
		out[k] = cats[rank[i]]
	}
	return out
}

// bestSplit finds the best Gini split of rows over at least mf drawn
// features (more when none of them splits, as scikit-learn).
func (ws *forestSpace) bestSplit(d *Data, cfg ForestConfig, rng *rand.Rand, rows []int32, w, wp float64, mf int) (split, bool) {
	p := len(d.Features)
	for k := range ws.feats {
		ws.feats[k] = k
	}
	best := split{score: math.Inf(-1)}
	found := false
	parent := (wp*wp + (w-wp)*(w-wp)) / w
	for j := range p {
		if j >= mf && found {
			break
		}
		// Partial Fisher-Yates: draw the j-th feature.
		r := j + rng.IntN(p-j)
		ws.feats[j], ws.feats[r] = ws.feats[r], ws.feats[j]
		f := ws.feats[j]
		nb := d.nb[f]
		cnt, hw, hp := ws.cnt[:nb], ws.hw[:nb], ws.hp[:nb]
		clear(cnt)
		clear(hw)
		clear(hp)
		bins, dw, dy, count := d.Bins[f], d.W, d.Y, ws.count
		for _, r := range rows {
			b := bins[r]
			cnt[b]++
			w := dw[r] * float64(count[r])
			hw[b] += w
			hp[b] += w * dy[r]
		}
		var s split
		var ok bool
		if d.cat[f] {
			s, ok = ws.catSplit(cfg, cnt, hw, hp, len(rows), w, wp)
		} else {
			s, ok = numSplit(cfg, cnt, hw, hp, len(rows), w, wp)
		}
		if ok && s.score > parent*(1+1e-12) && s.score > best.score {
			s.feature = f
			best, found = s, true
		}
	}
	return best, found
}

// gini returns the split criterion Σ_children (wp² + wn²)/W, which the
// best split maximises (it is W minus the children's weighted Gini).
func giniScore(lw, lp, rw, rp float64) float64 {
	ln, rn := lw-lp, rw-rp
	return (lp*lp+ln*ln)/lw + (rp*rp+rn*rn)/rw
}

// numSplit scans the thresholds of a numeric feature's histogram, the
// missing bin on either side.
func numSplit(cfg ForestConfig, cnt []int32, hw, hp []float64, n int, w, wp float64) (split, bool) {
	best := split{score: math.Inf(-1)}
	found := false
	nb := len(cnt)
	m0, mw, mp := int(cnt[0]), hw[0], hp[0]
	sides := []bool{false, true}
	if m0 == 0 {
		sides = sides[:1]
	}
	for _, missRight := range sides {
		ln, lw, lp := 0, 0.0, 0.0
		if !missRight {
			ln, lw, lp = m0, mw, mp
		}
		last := nb - 2
		if missRight {
			last = nb - 1 // every value left, missing right
		}
		for t := 1; t <= last; t++ {
			ln += int(cnt[t])
			lw += hw[t]
			lp += hp[t]
			if cnt[t] == 0 && t > 1 {
				continue // same partition as t-1
			}
			rn := n - ln
			if ln < cfg.MinSamplesLeaf || rn < cfg.MinSamplesLeaf {
				continue
			}
			rw, rp := w-lw, wp-lp
			if !(lw > 0 && rw > 0) {
				continue
			}
			if s := giniScore(lw, lp, rw, rp); s > best.score {
				best = split{bin: uint8(t), missRight: missRight, score: s}
				found = true
			}
		}
	}
	if found && m0 == 0 {
		// No missing value reached the node: send missing values to the
		// heavier child.
		var lw float64
		for t := 1; t <= int(best.bin); t++ {
			lw += hw[t]
		}
		best.missRight = w-lw > lw
	}
	return best, found
}

// minCatRows is the fewest rows of a node that a category needs to be
// placed by its own positive share in a categorical split; the rarer ones
// are pooled into one group placed by the pooled share. Alone, a level on
// one or two rows of the node has a share of 0 or 1, and a string feature
// of many levels (codes, amounts read as text) makes near-pure groups out
// of noise: its splits win on the training rows and lose on new ones.
// Shrinking the shares toward the node's does not help, it keeps the
// order among levels of the same count. scikit-learn's
// HistGradientBoosting leaves categories of fewer than 10 samples out of
// its order (MIN_CAT_SUPPORT); thresholds of 5 to 20 did about as well on
// the credit data (forest_credit_test.go).
const minCatRows = 10

// catSplit orders the categories present by positive share, the rare ones
// (fewer than minCatRows rows) pooled as one group, and scans the
// prefixes; the categories after the cut go right. For two classes the
// best split of the groups is one of these prefixes (Breiman et al.,
// CART, 1984). With at most one rare category in the node, nothing is
// pooled.
func (ws *forestSpace) catSplit(cfg ForestConfig, cnt []int32, hw, hp []float64, n int, w, wp float64) (split, bool) {
	const pool = -1
	order := ws.order[:0]
	pn, pw, pp, rare := 0, 0.0, 0.0, 0
	for b := range cnt {
		switch {
		case cnt[b] == 0 || !(hw[b] > 0):
		case cnt[b] < minCatRows:
			pn += int(cnt[b])
			pw += hw[b]
			pp += hp[b]
			rare++
			order = append(order, b) // alone if it is the only rare one
		default:
			order = append(order, b)
		}
	}
	if rare > 1 {
		k := 0
		for _, b := range order {
			if cnt[b] >= minCatRows {
				order[k] = b
				k++
			}
		}
		order = append(order[:k], pool)
	}
	group := func(b int) (int, float64, float64) {
		if b == pool {
			return pn, pw, pp
		}
		return int(cnt[b]), hw[b], hp[b]
	}
	share := func(b int) float64 {
		_, gw, gp := group(b)
		return gp / gw
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(share(a), share(b)) })
	best := split{score: math.Inf(-1)}
	cut := -1
	ln, lw, lp := 0, 0.0, 0.0
	for k := 0; k+1 < len(order); k++ {
		gn, gw, gp := group(order[k])
		ln += gn
		lw += gw
		lp += gp
		if ln < cfg.MinSamplesLeaf || n-ln < cfg.MinSamplesLeaf {
			continue
		}
		if s := giniScore(lw, lp, w-lw, wp-lp); s > best.score {
			best.score, cut = s, k
		}
	}
	if cut < 0 {
		return best, false
	}
	for _, b := range order[cut+1:] {
		if b != pool {
			best.cats[b>>6] |= 1 << (b & 63)
			continue
		}
		for r := range cnt {
			if cnt[r] > 0 && cnt[r] < minCatRows && hw[r] > 0 {
				best.cats[r>>6] |= 1 << (r & 63)
			}
		}
	}
	return best, true
}
