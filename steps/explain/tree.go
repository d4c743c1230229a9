package explain

import (
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
}

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
	return e
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
	for _, r := range e.roots {
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
