package explain

import (
	"math/bits"
	"slices"
	"sync"

	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// Tree explains a tree ensemble (random forest or gradient-boosted trees)
// with exact path-dependent TreeSHAP (see the package doc).
type Tree struct {
	m     *model.Ensemble
	nodes []model.Node
	roots []int32
	// frac[i] is node i's share of its parent: its cover over the sum of
	// its and its sibling's covers (½ each when both are 0); 1 for a root.
	frac []float64
	// expect[t] is tree t's expected leaf value E_t = v_t(∅).
	expect   []float64
	baseline float64
	// maxDepth is the deepest root-leaf path of any tree.
	maxDepth int
	jobs     int
	// tables holds, by tree, the precomputed leaf contributions, and masks
	// the follow masks that find a row's pattern at each leaf; both nil for
	// a tree explained by the recursion (beyond the limits below).
	tables [][]leafTable
	masks  []*followMasks
}

// followMasks holds, for each feature a tree splits on and each bin, the
// set of leaves (bit l: leaf table l) whose path splits on that feature
// all send the bin the path's way: words words per bin.
type followMasks struct {
	feats []uint16
	words int
	// follow[k][b*words : (b+1)*words] is the set of feature feats[k], bin b.
	follow [][]uint64
	// pos[l][a] is the index in feats of leaf table l's feature a.
	pos [][]uint8
}

// maxMaskWords bounds the follow masks of all trees (64 MiB); the trees
// beyond are explained by the recursion.
const maxMaskWords = 8 << 20

// leafTable holds one leaf's TreeSHAP contributions for every pattern of
// the features on its path (Fast TreeSHAP v2, Yang 2021): the leaf adds
// vals[u*p+a] to feature feats[a], where bit a of u says whether the row
// follows the path at every split on feats[a] (p = len(feats)).
type leafTable struct {
	feats []uint16
	vals  []float64
}

// Limits of the leaf tables: at most maxTableFeatures distinct features on
// a path (a table has 2^p·p values) and maxTableValues values in all; the
// trees beyond are explained by the recursion. Rows are matched to
// patterns through a 64-bit feature mask, so models with more than 64
// features use the recursion throughout.
const (
	maxTableFeatures = 8
	maxTableValues   = 8 << 20
)

// NewTree returns the TreeSHAP explainer of m; Explain uses up to jobs
// goroutines (its result does not depend on jobs).
func NewTree(m *model.Ensemble, jobs int) *Tree {
	nodes, roots := m.Nodes()
	e := &Tree{m: m, nodes: nodes, roots: roots, frac: make([]float64, len(nodes)), expect: make([]float64, len(roots)), jobs: max(jobs, 1)}
	depth := make([]int, len(nodes))
	sub := make([]float64, len(nodes))
	for t, r := range roots {
		end := int32(len(nodes))
		if t+1 < len(roots) {
			end = roots[t+1]
		}
		e.frac[r] = 1
		for i := r; i < end; i++ {
			nd := nodes[i]
			e.maxDepth = max(e.maxDepth, depth[i])
			if nd.Flags&model.NodeLeaf != 0 {
				continue
			}
			l, rt := nd.Left, nd.Left+1
			depth[l], depth[rt] = depth[i]+1, depth[i]+1
			if s := nodes[l].Cover + nodes[rt].Cover; s > 0 {
				e.frac[l], e.frac[rt] = nodes[l].Cover/s, nodes[rt].Cover/s
			} else {
				e.frac[l], e.frac[rt] = 0.5, 0.5
			}
		}
		// Children follow their parent, so a backward pass sees them first.
		for i := end - 1; i >= r; i-- {
			nd := nodes[i]
			if nd.Flags&model.NodeLeaf != 0 {
				sub[i] = nd.Value
			} else {
				sub[i] = e.frac[nd.Left]*sub[nd.Left] + e.frac[nd.Left+1]*sub[nd.Left+1]
			}
		}
		e.expect[t] = sub[r]
	}
	e.baseline = e.output(e.expect)
	e.buildTables()
	return e
}

// buildTables precomputes the leaf tables of every tree they fit (see
// leafTable), until maxTableValues.
func (e *Tree) buildTables() {
	if len(e.m.Features()) > 64 {
		return
	}
	e.tables = make([][]leafTable, len(e.roots))
	budget := maxTableValues
	e.masks = make([]*followMasks, len(e.roots))
	maskBudget := maxMaskWords
	type frame struct {
		node  int32
		feats []uint16
		zero  []float64
		path  []turn
	}
	for t, r := range e.roots {
		var leaves []leafTable
		var paths [][]turn
		size, fits := 0, true
		stack := []frame{{node: r}}
		for len(stack) > 0 && fits {
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			nd := &e.nodes[f.node]
			if nd.Flags&model.NodeLeaf != 0 {
				if len(f.feats) > maxTableFeatures {
					fits = false
					break
				}
				lt := leafTable{feats: f.feats, vals: leafValues(f.zero, nd.Value)}
				size += len(lt.vals)
				leaves = append(leaves, lt)
				paths = append(paths, f.path)
				continue
			}
			for i, child := range []int32{nd.Left, nd.Left + 1} {
				feats := append([]uint16(nil), f.feats...)
				zero := append([]float64(nil), f.zero...)
				k := slices.Index(feats, nd.Feature)
				if k < 0 {
					feats, zero = append(feats, nd.Feature), append(zero, 1)
					k = len(feats) - 1
				}
				zero[k] *= e.frac[child]
				path := append(slices.Clip(f.path), turn{f.node, i == 1})
				stack = append(stack, frame{node: child, feats: feats, zero: zero, path: path})
			}
		}
		if !fits || size > budget {
			continue
		}
		fm := e.followMasks(leaves, paths, maskBudget)
		if fm == nil {
			continue
		}
		budget -= size
		maskBudget -= len(fm.feats) * 256 * fm.words
		e.tables[t], e.masks[t] = leaves, fm
	}
}

// turn is a split on a root-leaf path and the side the path takes.
type turn struct {
	node  int32
	right bool
}

// followMasks builds a tree's follow masks from its leaf tables and the
// turns of their paths, or returns nil when they would take more than
// budget words.
func (e *Tree) followMasks(leaves []leafTable, paths [][]turn, budget int) *followMasks {
	words := (len(leaves) + 63) / 64
	fm := &followMasks{words: words, pos: make([][]uint8, len(leaves))}
	index := map[uint16]int{}
	for l, lt := range leaves {
		for _, f := range lt.feats {
			if _, ok := index[f]; !ok {
				index[f] = len(fm.feats)
				fm.feats = append(fm.feats, f)
			}
			fm.pos[l] = append(fm.pos[l], uint8(index[f]))
		}
	}
	if len(fm.feats)*256*words > budget {
		return nil
	}
	all := make([]uint64, words) // every leaf
	for l := range leaves {
		all[l>>6] |= 1 << (l & 63)
	}
	fm.follow = make([][]uint64, len(fm.feats))
	for k := range fm.follow {
		fm.follow[k] = make([]uint64, 256*words)
		for b := range 256 {
			copy(fm.follow[k][b*words:], all)
		}
	}
	for l := range leaves {
		for _, tn := range paths[l] {
			k := index[e.nodes[tn.node].Feature]
			for b := range 256 {
				if e.m.GoesRight(tn.node, uint8(b)) != tn.right {
					fm.follow[k][b*words+l>>6] &^= 1 << (l & 63)
				}
			}
		}
	}
	return fm
}

// addMasked adds one tree's contributions from its leaf tables, each
// leaf's pattern read from the follow masks of the row's bins. m is
// scratch space of at least len(fm.feats) slices.
func addMasked(fm *followMasks, leaves []leafTable, x []uint8, phi []float64, m [][]uint64) {
	w := fm.words
	for k, f := range fm.feats {
		b := int(x[f]) * w
		m[k] = fm.follow[k][b : b+w]
	}
	for l := range leaves {
		lt := &leaves[l]
		word, bit := l>>6, uint(l&63)
		u := 0
		for a, k := range fm.pos[l] {
			u |= int(m[k][word]>>bit&1) << a
		}
		p := len(lt.feats)
		row := lt.vals[u*p : u*p+p]
		for a, f := range lt.feats {
			phi[f] += row[a]
		}
	}
}

// leafValues returns a leaf's table: for each pattern u of its p path
// features (bit a: the row follows the path at every split on feature a)
// and each feature a, the leaf's share of a's Shapley value,
//
//	v · (o_a − z_a) · Σ_{S ⊆ u∖{a}} |S|!(p−|S|−1)!/p! · Π_{b ∉ S∪{a}} z_b,
//
// z_b being the product of the cover fractions of the path's splits on b
// (the path-dependent expectation keeps that share of the leaf when b is
// unknown) and o_a = bit a of u. This is TreeSHAP's value, computed by
// enumeration instead of the EXTEND/UNWIND recursion.
func leafValues(z []float64, v float64) []float64 {
	p := len(z)
	vals := make([]float64, (1<<p)*p)
	if p == 0 {
		return vals
	}
	w := make([]float64, p) // w[s] = s!(p−s−1)!/p!
	for s := range p {
		w[s] = 1 / float64(p)
		for k := 1; k <= s; k++ {
			w[s] *= float64(k) / float64(p-k)
		}
	}
	for u := range 1 << p {
		for a := range p {
			o := float64(u >> a & 1)
			if o == z[a] {
				continue // (o_a − z_a) = 0
			}
			rest := u &^ (1 << a)
			sum := 0.0
			for sub := rest; ; sub = (sub - 1) & rest {
				prod := w[bits.OnesCount(uint(sub))]
				for b := range p {
					if b != a && sub>>b&1 == 0 {
						prod *= z[b]
					}
				}
				sum += prod
				if sub == 0 {
					break
				}
			}
			vals[u*p+a] = v * (o - z[a]) * sum
		}
	}
	return vals
}

// output turns per-tree values (leaf values or expectations) into the raw
// output: their mean for a forest, base + their sum for boosting, summed in
// tree order as the model does.
func (e *Tree) output(perTree []float64) float64 {
	if e.m.Algorithm() == model.RandomForest {
		s := 0.0
		for _, v := range perTree {
			s += v
		}
		return s / float64(len(perTree))
	}
	s := e.m.Base()
	for _, v := range perTree {
		s += v
	}
	return s
}

// Features implements Explainer.
func (e *Tree) Features() []string { return e.m.Features() }

// Baseline implements Explainer: the expected raw output over the training
// distribution as the node covers record it, v(∅).
func (e *Tree) Baseline() float64 { return e.baseline }

// TreeExpectations returns each tree's expected value E_t (copied).
func (e *Tree) TreeExpectations() []float64 { return append([]float64(nil), e.expect...) }

// explainChunk is the number of rows an Explain worker takes at a time.
const explainChunk = 64

// Explain implements Explainer: the raw output (the forest's mean leaf
// value, or boosting's base + Σ leaf values, as the model computes it) and
// each feature's TreeSHAP value, for every row of ds.
func (e *Tree) Explain(ds *table.Dataset) ([]float64, [][]float64, error) {
	bins, err := e.m.BinDataset(ds, e.jobs)
	if err != nil {
		return nil, nil, err
	}
	rows, nf := ds.Rows, len(bins)
	raw := make([]float64, rows)
	e.m.RawScores(bins, rows, e.jobs, raw)
	forest := e.m.Algorithm() == model.RandomForest
	if forest {
		for i := range raw {
			raw[i] /= float64(len(e.roots))
		}
	}
	contrib := make([][]float64, rows)
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	for range min(e.jobs, (rows+explainChunk-1)/explainChunk) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := make([]uint8, nf)
			path := make([]pathElem, (e.maxDepth+2)*(e.maxDepth+3)/2)
			for {
				mu.Lock()
				lo := next
				next += explainChunk
				mu.Unlock()
				if lo >= rows {
					return
				}
				for i := lo; i < min(rows, lo+explainChunk); i++ {
					for k := range nf {
						x[k] = bins[k][i]
					}
					contrib[i] = e.row(x, path)
					if forest {
						for k := range contrib[i] {
							contrib[i][k] /= float64(len(e.roots))
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	return raw, contrib, nil
}

// row returns the sum over trees of the TreeSHAP values of one row of bins
// x (one per feature), before the forest's division by the number of
// trees. path is scratch space of at least (D+2)(D+3)/2 elements, D the
// deepest tree (nil allocates it).
func (e *Tree) row(x []uint8, path []pathElem) []float64 {
	if need := (e.maxDepth + 2) * (e.maxDepth + 3) / 2; len(path) < need {
		path = make([]pathElem, need)
	}
	phi := make([]float64, len(x))
	var scratch [64][]uint64
	for t, r := range e.roots {
		if e.masks != nil && e.masks[t] != nil {
			addMasked(e.masks[t], e.tables[t], x, phi, scratch[:])
			continue
		}
		e.recurse(r, x, phi, nil, path, 0, 1, 1, -1)
	}
	return phi
}

// pathElem is one feature on the path from the root to the current node
// (Lundberg et al. 2018, Algorithm 2): zero is the share of the path's
// cover kept when the feature is unknown, one whether x follows the path
// (1 or 0), weight the proportion of feature subsets of each size.
type pathElem struct {
	feature   int
	zero, one float64
	weight    float64
}

// recurse is RECURSE of Algorithm 2: it extends the parent's path (its
// first depth elements) with (zero, one, feature) into buf[off:], adds a
// leaf's contributions to phi, or descends into both children, undoing an
// earlier split on the same feature so that each feature appears once.
func (e *Tree) recurse(node int32, x []uint8, phi []float64, parent, buf []pathElem, off int, zero, one float64, feature int) {
	depth := len(parent)
	p := buf[off : off+depth+1]
	copy(p, parent)
	extendPath(p, depth, zero, one, feature)
	nd := &e.nodes[node]
	if nd.Flags&model.NodeLeaf != 0 {
		for i := 1; i <= depth; i++ {
			w := unwoundPathSum(p, depth, i)
			phi[p[i].feature] += w * (p[i].one - p[i].zero) * nd.Value
		}
		return
	}
	hot := nd.Left
	if e.m.GoesRight(node, x[nd.Feature]) {
		hot++
	}
	cold := 2*nd.Left + 1 - hot
	f := int(nd.Feature)
	inZero, inOne := 1.0, 1.0
	for k := 1; k <= depth; k++ {
		if p[k].feature == f {
			inZero, inOne = p[k].zero, p[k].one
			unwindPath(p, depth, k)
			depth--
			break
		}
	}
	p = p[:depth+1]
	next := off + depth + 1
	// A child with zero and one both 0 contributes nothing (every subset
	// weight through it is 0), and its unwinding would divide by zero.
	if z := e.frac[hot] * inZero; z != 0 || inOne != 0 {
		e.recurse(hot, x, phi, p, buf, next, z, inOne, f)
	}
	if z := e.frac[cold] * inZero; z != 0 {
		e.recurse(cold, x, phi, p, buf, next, z, 0, f)
	}
}

// extendPath is EXTEND: it appends (zero, one, feature) as element depth and
// updates the subset-size weights.
func extendPath(p []pathElem, depth int, zero, one float64, feature int) {
	p[depth] = pathElem{feature: feature, zero: zero, one: one}
	if depth == 0 {
		p[0].weight = 1
	}
	d1 := float64(depth + 1)
	for i := depth - 1; i >= 0; i-- {
		p[i+1].weight += one * p[i].weight * float64(i+1) / d1
		p[i].weight = zero * p[i].weight * float64(depth-i) / d1
	}
}

// unwindPath is UNWIND: it removes element k, undoing its EXTEND.
func unwindPath(p []pathElem, depth, k int) {
	one, zero := p[k].one, p[k].zero
	d1 := float64(depth + 1)
	next := p[depth].weight
	for i := depth - 1; i >= 0; i-- {
		if one != 0 {
			w := p[i].weight
			p[i].weight = next * d1 / (float64(i+1) * one)
			next = w - p[i].weight*zero*float64(depth-i)/d1
		} else {
			p[i].weight = p[i].weight * d1 / (zero * float64(depth-i))
		}
	}
	for i := k; i < depth; i++ {
		p[i].feature, p[i].zero, p[i].one = p[i+1].feature, p[i+1].zero, p[i+1].one
	}
}

// unwoundPathSum is the total weight of the path with element k unwound,
// without modifying it.
func unwoundPathSum(p []pathElem, depth, k int) float64 {
	one, zero := p[k].one, p[k].zero
	d1 := float64(depth + 1)
	next := p[depth].weight
	total := 0.0
	for i := depth - 1; i >= 0; i-- {
		if one != 0 {
			w := next * d1 / (float64(i+1) * one)
			total += w
			next = p[i].weight - w*zero*float64(depth-i)/d1
		} else {
			total += p[i].weight / zero * d1 / float64(depth-i)
		}
	}
	return total
}
