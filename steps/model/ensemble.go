package model

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/mlrun-cli/mlrun/steps/table"
)

// Tree ensemble algorithm names.
const (
	// RandomForest is the algorithm name of a random forest *Ensemble:
	// the probability is the mean of the trees' leaf values.
	RandomForest = "random_forest"
	// GradientBoosting is the algorithm name of a gradient-boosted
	// *Ensemble: the probability is σ(base + Σ leaf values).
	GradientBoosting = "gradient_boosting"
)

// MaxBins is the largest number of value bins of a tree feature; bin 0 is
// the missing bin, so a bin fits in a uint8.
const MaxBins = 255

// Node flags.
const (
	// NodeLeaf marks a leaf.
	NodeLeaf uint8 = 1 << iota
	// NodeMissingRight sends the missing bin (0) of a numeric split right.
	NodeMissingRight
	// NodeCategorical marks a split on a string feature by a set of
	// categories (see Ensemble.CatBits).
	NodeCategorical
)

// catWords is the number of uint64 words of one categorical split's bitset.
const catWords = 4

// TreeFeature is one input of a tree ensemble and its binning.
//
// A numeric feature (float, int or bool, read as float64) with Edges
// e_0 < e_1 < ... < e_{k-1} (finite) has the value bins 1..k+1: x ≤ e_0 is
// bin 1, e_{j-1} < x ≤ e_j is bin j+1, x > e_{k-1} is bin k+1; a null is
// bin 0. A string feature with sorted Levels has bin 1+i for Levels[i];
// a null or a level not seen in training is bin 0.
type TreeFeature struct {
	Name   string
	Type   table.Type
	Edges  []float64
	Levels []string
}

// Bins returns the number of bins, the missing bin included.
func (f TreeFeature) Bins() int {
	if f.Type == table.String {
		return len(f.Levels) + 1
	}
	return len(f.Edges) + 2
}

// Bin returns the bin of a numeric value.
func (f TreeFeature) Bin(x float64) uint8 {
	if x != x {
		return 0
	}
	return uint8(1 + sort.SearchFloat64s(f.Edges, x))
}

// Node is one node of a flattened tree. An internal node's children are
// Left and Left+1 (left, right), both after it in the same tree.
//
// A numeric split sends bins 1..Bin left and bins above Bin right; the
// missing bin goes right when Flags has NodeMissingRight, else left. In
// raw values: x ≤ Edges[Bin-1] goes left. Bin may be the last value bin
// (len(Edges)+1) with NodeMissingRight: every value left, missing right. A categorical split (Flags has
// NodeCategorical) sends bin b right when bit b of its bitset is set: the
// k-th categorical node of the ensemble, in node order, owns
// CatBits[4k:4k+4], bit b being word b/64, bit b%64.
//
// Value is the node's prediction (a leaf's is used: a probability for a
// forest, a log-odds increment already scaled by the learning rate for
// boosting); Cover is the training weight (forest) or hessian sum
// (boosting) that reached the node.
type Node struct {
	Left    int32
	Feature uint16
	Bin     uint8
	Flags   uint8
	Value   float64
	Cover   float64
}

// Importance is a feature's total split gain and number of splits over
// the ensemble.
type Importance struct {
	Feature string  `json:"feature"`
	Gain    float64 `json:"gain"`
	Splits  int     `json:"splits"`
}

// Curve is a gradient-boosting training curve: the mean log loss
// (unweighted) after each tree on the training rows and, when a
// validation set was given, on it. BestIteration is the number of trees
// kept (early stopping truncates the ensemble there).
type Curve struct {
	Train         []float64 `json:"train"`
	Valid         []float64 `json:"valid,omitempty"`
	BestIteration int       `json:"best_iteration"`
}

// EnsembleTraining records how an ensemble was fitted: the row counts and
// the algorithm's resolved settings (canonical JSON, written verbatim).
type EnsembleTraining struct {
	Rows      int             `json:"rows"`
	Positives int             `json:"positives"`
	ValidRows int             `json:"valid_rows,omitempty"`
	Params    json.RawMessage `json:"params"`
}

// Ensemble is a tree ensemble: a random forest or gradient-boosted trees
// over binned features (see TreeFeature), trees stored as one flat node
// array. Build it with NewEnsemble, which checks it.
type Ensemble struct {
	algorithm string
	target    Target
	features  []TreeFeature
	base      float64
	roots     []int32
	nodes     []Node
	catBits   []uint64
	imp       []Importance
	curve     *Curve
	training  EnsembleTraining

	// derived at construction
	depth   []int      // per tree, the longest root-leaf path
	hasCat  []bool     // per tree
	fast    []fastNode // numeric trees, branch-free form
	catBase []int32    // per node: first CatBits word (categorical nodes)
}

// EnsembleSpec is everything NewEnsemble needs.
type EnsembleSpec struct {
	Algorithm  string
	Target     Target
	Features   []TreeFeature
	Base       float64
	Roots      []int32
	Nodes      []Node
	CatBits    []uint64
	Importance []Importance
	Curve      *Curve
	Training   EnsembleTraining
}

// NewEnsemble checks s (see the package doc's encoding rules) and returns
// the ensemble. Errors wrap ErrFormat.
func NewEnsemble(s EnsembleSpec) (*Ensemble, error) {
	m := &Ensemble{
		algorithm: s.Algorithm, target: s.Target, features: s.Features, base: s.Base,
		roots: s.Roots, nodes: s.Nodes, catBits: s.CatBits, imp: s.Importance, curve: s.Curve, training: s.Training,
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	m.prepare()
	return m, nil
}

func (m *Ensemble) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrFormat, m.algorithm, fmt.Sprintf(format, args...))
	}
	if m.algorithm != RandomForest && m.algorithm != GradientBoosting {
		return fmt.Errorf("%w: unknown tree algorithm %q", ErrFormat, m.algorithm)
	}
	if m.target.Name == "" {
		return bad("no target")
	}
	if err := m.target.CheckPositive(); err != nil {
		return bad("%v", err)
	}
	if len(m.features) == 0 || len(m.features) > math.MaxUint16+1 {
		return bad("%d features", len(m.features))
	}
	seen := map[string]bool{m.target.Name: true}
	for _, f := range m.features {
		if f.Name == "" || seen[f.Name] {
			return bad("feature %q is empty or repeats a feature or the target", f.Name)
		}
		seen[f.Name] = true
		switch f.Type {
		case table.String:
			if f.Edges != nil || len(f.Levels) == 0 || len(f.Levels) > MaxBins {
				return bad("string feature %q needs 1 to %d levels and no edges", f.Name, MaxBins)
			}
			for i := 1; i < len(f.Levels); i++ {
				if f.Levels[i-1] >= f.Levels[i] {
					return bad("levels of %q are not sorted and unique", f.Name)
				}
			}
		case table.Float, table.Int, table.Bool:
			if f.Levels != nil || len(f.Edges) > MaxBins-1 {
				return bad("numeric feature %q needs at most %d edges and no levels", f.Name, MaxBins-1)
			}
			for i, e := range f.Edges {
				if !finite(e) || (i > 0 && !(f.Edges[i-1] < e)) {
					return bad("edges of %q are not finite and increasing", f.Name)
				}
			}
		default:
			return bad("feature %q has type %s", f.Name, f.Type)
		}
	}
	if !finite(m.base) || (m.algorithm == RandomForest && m.base != 0) {
		return bad("base score %v", m.base)
	}
	if len(m.roots) == 0 || m.roots[0] != 0 {
		return bad("no trees, or the first tree does not start at node 0")
	}
	n := len(m.nodes)
	if n > math.MaxInt32 {
		return bad("too many nodes")
	}
	cats := 0
	parent := make([]bool, n)
	for t, r := range m.roots {
		end := int32(n)
		if t+1 < len(m.roots) {
			end = m.roots[t+1]
		}
		if !(r < end) || int(end) > n {
			return bad("tree %d: node range [%d, %d) is empty or out of range", t, r, end)
		}
		for i := r; i < end; i++ {
			nd := m.nodes[i]
			if !finite(nd.Value) || !finite(nd.Cover) || nd.Cover < 0 {
				return bad("node %d: value and cover must be finite, cover >= 0", i)
			}
			if nd.Flags&NodeLeaf != 0 {
				if nd.Flags != NodeLeaf || nd.Left != 0 || nd.Feature != 0 || nd.Bin != 0 {
					return bad("leaf %d has split fields", i)
				}
				if m.algorithm == RandomForest && !(nd.Value >= 0 && nd.Value <= 1) {
					return bad("leaf %d: forest leaf value %v is not a probability", i, nd.Value)
				}
				continue
			}
			if nd.Flags&^(NodeMissingRight|NodeCategorical) != 0 {
				return bad("node %d: unknown flags %#x", i, nd.Flags)
			}
			if !(nd.Left > i) || !(nd.Left+1 < end) {
				return bad("node %d: children %d, %d are not after it in tree %d", i, nd.Left, nd.Left+1, t)
			}
			if parent[nd.Left] || parent[nd.Left+1] {
				return bad("node %d: a child has two parents", i)
			}
			parent[nd.Left], parent[nd.Left+1] = true, true
			if int(nd.Feature) >= len(m.features) {
				return bad("node %d: feature %d out of range", i, nd.Feature)
			}
			f := m.features[nd.Feature]
			if (nd.Flags&NodeCategorical != 0) != (f.Type == table.String) {
				return bad("node %d: categorical flag does not match feature %q", i, f.Name)
			}
			if nd.Flags&NodeCategorical != 0 {
				if nd.Flags&NodeMissingRight != 0 || nd.Bin != 0 {
					return bad("categorical node %d has a numeric threshold", i)
				}
				cats++
				continue
			}
			// The last value bin splits the missing values from all others.
			if last := f.Bins() - 1; nd.Bin < 1 || int(nd.Bin) > last || (int(nd.Bin) == last && nd.Flags&NodeMissingRight == 0) {
				return bad("node %d: bin %d out of range for %q", i, nd.Bin, f.Name)
			}
		}
		// Every node but the root has exactly one parent.
		for i := r + 1; i < end; i++ {
			if !parent[i] {
				return bad("tree %d: node %d is unreachable", t, i)
			}
		}
	}
	if len(m.catBits) != catWords*cats {
		return bad("%d category words, %d categorical splits need %d", len(m.catBits), cats, catWords*cats)
	}
	if len(m.imp) != len(m.features) {
		return bad("%d importance entries for %d features", len(m.imp), len(m.features))
	}
	for i, im := range m.imp {
		if im.Feature != m.features[i].Name || !finite(im.Gain) || im.Splits < 0 {
			return bad("importance entry %d", i)
		}
	}
	if m.algorithm == GradientBoosting {
		c := m.curve
		if c == nil || c.BestIteration != len(m.roots) || len(c.Train) < c.BestIteration || (c.Valid != nil && len(c.Valid) != len(c.Train)) {
			return bad("training curve does not match %d trees", len(m.roots))
		}
		for _, v := range append(append([]float64(nil), c.Train...), c.Valid...) {
			if !finite(v) {
				return bad("training curve holds %v", v)
			}
		}
	} else if m.curve != nil {
		return bad("a forest has no training curve")
	}
	if len(m.training.Params) == 0 || m.training.Params[0] != '{' {
		return bad("training params must be an object")
	}
	return nil
}

// fastNode is a numeric node in branch-free form: go right when
// uint8(bin−sub) > thr. A leaf points to itself with thr 255, so a row can
// take exactly depth steps without testing for leaves.
type fastNode struct {
	next uint32
	feat uint16
	sub  uint8
	thr  uint8
}

// prepare computes tree depths and the branch-free node form.
func (m *Ensemble) prepare() {
	n := len(m.nodes)
	m.depth = make([]int, len(m.roots))
	m.hasCat = make([]bool, len(m.roots))
	m.fast = make([]fastNode, n)
	m.catBase = make([]int32, n)
	d := make([]int, n)
	cats := int32(0)
	for t, r := range m.roots {
		end := int32(n)
		if t+1 < len(m.roots) {
			end = m.roots[t+1]
		}
		d[r] = 0
		for i := r; i < end; i++ {
			nd := m.nodes[i]
			m.depth[t] = max(m.depth[t], d[i])
			if nd.Flags&NodeLeaf != 0 {
				m.fast[i] = fastNode{next: uint32(i), thr: 255}
				continue
			}
			d[nd.Left], d[nd.Left+1] = d[i]+1, d[i]+1
			if nd.Flags&NodeCategorical != 0 {
				m.hasCat[t] = true
				m.catBase[i] = cats * catWords
				cats++
				continue
			}
			fn := fastNode{next: uint32(nd.Left), feat: nd.Feature, thr: nd.Bin}
			if nd.Flags&NodeMissingRight != 0 {
				fn.sub, fn.thr = 1, nd.Bin-1
			}
			m.fast[i] = fn
		}
	}
}

// TypeName implements pipeline.Object.
func (m *Ensemble) TypeName() string { return TypeName }

// Algorithm implements Model.
func (m *Ensemble) Algorithm() string { return m.algorithm }

// Target implements Model.
func (m *Ensemble) Target() Target { return m.target }

// Features implements Model.
func (m *Ensemble) Features() []string {
	out := make([]string, len(m.features))
	for i, f := range m.features {
		out[i] = f.Name
	}
	return out
}

// TreeFeatures returns the features with their bins.
func (m *Ensemble) TreeFeatures() []TreeFeature { return append([]TreeFeature(nil), m.features...) }

// Trees returns the number of trees.
func (m *Ensemble) Trees() int { return len(m.roots) }

// Nodes returns the flat node array and the first node of each tree.
func (m *Ensemble) Nodes() ([]Node, []int32) { return m.nodes, m.roots }

// Base returns the boosting base score (log-odds); 0 for a forest.
func (m *Ensemble) Base() float64 { return m.base }

// Importance returns each feature's total gain and split count.
func (m *Ensemble) Importance() []Importance { return append([]Importance(nil), m.imp...) }

// Curve returns the boosting training curve (nil for a forest).
func (m *Ensemble) Curve() *Curve { return m.curve }

// Training returns how the ensemble was fitted.
func (m *Ensemble) Training() EnsembleTraining { return m.training }

// Type implements Model.
func (m *Ensemble) Type() *Type {
	t := &Type{Algorithm: m.algorithm, Target: m.target}
	for _, f := range m.features {
		t.Features = append(t.Features, table.Field{Name: f.Name, Type: f.Type})
	}
	return t
}

// BinDataset returns the bins of ds's feature columns, one []uint8 per
// feature (column-major), on up to jobs goroutines.
func (m *Ensemble) BinDataset(ds *table.Dataset, jobs int) ([][]uint8, error) {
	return BinColumns(ds, m.features, jobs)
}

// BinColumns bins ds's columns named by features (see TreeFeature).
func BinColumns(ds *table.Dataset, features []TreeFeature, jobs int) ([][]uint8, error) {
	out := make([][]uint8, len(features))
	cols := make([]*table.Column, len(features))
	lookups := make([][]uint8, len(features))
	for k, f := range features {
		c := ds.Column(f.Name)
		if c == nil {
			return nil, fmt.Errorf("%w: feature column %q is missing", ErrSchema, f.Name)
		}
		if !Compatible(f.Type, c.Type) {
			return nil, fmt.Errorf("%w: feature column %q is %s, the model was trained on %s", ErrSchema, f.Name, c.Type, f.Type)
		}
		cols[k] = c
		out[k] = make([]uint8, ds.Rows)
		if f.Type == table.String {
			index := make(map[string]uint8, len(f.Levels))
			for i, l := range f.Levels {
				index[l] = uint8(i + 1)
			}
			lk := make([]uint8, len(c.Dict))
			for code, v := range c.Dict {
				lk[code] = index[v]
			}
			lookups[k] = lk
		}
	}
	parallelChunks(ds.Rows, predictChunk, jobs, func(lo, hi int) {
		for k, f := range features {
			c, dst := cols[k], out[k]
			switch {
			case f.Type == table.String:
				lk := lookups[k]
				for i := lo; i < hi; i++ {
					if c.Valid.Valid(i) {
						dst[i] = lk[c.Codes[i]]
					} else {
						dst[i] = 0
					}
				}
			case c.Type == table.Float:
				binFloats(c.Floats[lo:hi], f.Edges, dst[lo:hi])
			default:
				for i := lo; i < hi; i++ {
					dst[i] = f.Bin(c.Float(i))
				}
			}
		}
	})
	return out, nil
}

// binFloats bins xs by edges with a branch-free binary search.
func binFloats(xs, edges []float64, dst []uint8) {
	// Pad the edges to a power of two minus one with +Inf so that every
	// search takes the same number of steps.
	size := 1
	for size < len(edges)+1 {
		size <<= 1
	}
	pad := make([]float64, size)
	copy(pad, edges)
	for i := len(edges); i < size; i++ {
		pad[i] = math.Inf(1)
	}
	for i, x := range xs {
		if x != x {
			dst[i] = 0
			continue
		}
		// Count the edges < x: lower bound over pad.
		pos := 0
		for step := size >> 1; step > 0; step >>= 1 {
			if pad[pos+step-1] < x {
				pos += step
			}
		}
		dst[i] = uint8(1 + pos)
	}
}

// blockRows is the number of rows a prediction worker scores per tree
// pass; a block's bins and scores stay in the L1 cache.
const blockRows = 256

// Predict implements Model: a forest's mean leaf value, or boosting's
// σ(base + Σ leaf values), the sum taken in tree order. Rows are
// independent, so the result does not depend on jobs.
func (m *Ensemble) Predict(ds *table.Dataset, jobs int) ([]float64, error) {
	bins, err := m.BinDataset(ds, jobs)
	if err != nil {
		return nil, err
	}
	return m.PredictBins(bins, ds.Rows, jobs), nil
}

// PredictBins is Predict on binned rows (see BinColumns).
func (m *Ensemble) PredictBins(bins [][]uint8, rows, jobs int) []float64 {
	out := make([]float64, rows)
	m.RawScores(bins, rows, jobs, out)
	parallelChunks(rows, predictChunk, jobs, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = m.link(out[i])
		}
	})
	return out
}

// link turns a raw score into a probability.
func (m *Ensemble) link(s float64) float64 {
	if m.algorithm == RandomForest {
		return s / float64(len(m.roots))
	}
	return sigmoid(s)
}

// RawScores writes each row's raw score into out: the sum of its leaf
// values (plus the base score for boosting), in tree order.
func (m *Ensemble) RawScores(bins [][]uint8, rows, jobs int, out []float64) {
	nf := len(m.features)
	parallelChunks(rows, predictChunk, jobs, func(lo, hi int) {
		block := make([]uint8, blockRows*nf)
		for b := lo; b < hi; b += blockRows {
			e := min(hi, b+blockRows)
			for k := range nf {
				col := bins[k][b:e]
				for r, v := range col {
					block[r*nf+k] = v
				}
			}
			acc := out[b:e]
			for r := range acc {
				acc[r] = m.base
			}
			for t := range m.roots {
				m.addTree(t, block, nf, acc)
			}
		}
	})
}

// addTree adds tree t's leaf value to acc for each row of a row-major
// block of bins.
func (m *Ensemble) addTree(t int, block []uint8, nf int, acc []float64) {
	root := uint32(m.roots[t])
	if m.hasCat[t] {
		for r := range acc {
			acc[r] += m.nodes[m.leaf(int32(root), block[r*nf:(r+1)*nf])].Value
		}
		return
	}
	depth := m.depth[t]
	fast, nodes := m.fast, m.nodes
	r := 0
	// Four rows at a time: their paths are independent, so the CPU
	// overlaps their loads.
	for ; r+4 <= len(acc); r += 4 {
		x0, x1, x2, x3 := block[r*nf:], block[(r+1)*nf:], block[(r+2)*nf:], block[(r+3)*nf:]
		i0, i1, i2, i3 := root, root, root, root
		for range depth {
			n0, n1, n2, n3 := fast[i0], fast[i1], fast[i2], fast[i3]
			i0 = n0.next + b2u(x0[n0.feat]-n0.sub > n0.thr)
			i1 = n1.next + b2u(x1[n1.feat]-n1.sub > n1.thr)
			i2 = n2.next + b2u(x2[n2.feat]-n2.sub > n2.thr)
			i3 = n3.next + b2u(x3[n3.feat]-n3.sub > n3.thr)
		}
		acc[r] += nodes[i0].Value
		acc[r+1] += nodes[i1].Value
		acc[r+2] += nodes[i2].Value
		acc[r+3] += nodes[i3].Value
	}
	for ; r < len(acc); r++ {
		x := block[r*nf:]
		i := root
		for range depth {
			n := fast[i]
			i = n.next + b2u(x[n.feat]-n.sub > n.thr)
		}
		acc[r] += nodes[i].Value
	}
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// leaf returns the leaf a row of bins x reaches from node i (any split
// kind).
func (m *Ensemble) leaf(i int32, x []uint8) int32 {
	for {
		nd := &m.nodes[i]
		if nd.Flags&NodeLeaf != 0 {
			return i
		}
		right := m.right(i, nd, x[nd.Feature])
		i = nd.Left
		if right {
			i++
		}
	}
}

// right reports whether bin b of internal node i's feature goes right.
func (m *Ensemble) right(i int32, nd *Node, b uint8) bool {
	switch {
	case nd.Flags&NodeCategorical != 0:
		w := m.catBits[m.catBase[i]+int32(b>>6)]
		return w>>(b&63)&1 == 1
	case b == 0:
		return nd.Flags&NodeMissingRight != 0
	default:
		return b > nd.Bin
	}
}

// GoesRight reports whether a row whose bin of internal node i's feature is
// b takes the right child (Left+1): the split as prediction applies it,
// missing values (bin 0) included.
func (m *Ensemble) GoesRight(i int32, b uint8) bool { return m.right(i, &m.nodes[i], b) }

// LeafOf returns the node index of the leaf that row (with bins x, one per
// feature) reaches in tree t.
func (m *Ensemble) LeafOf(t int, x []uint8) int32 { return m.leaf(m.roots[t], x) }

// ensembleJSON is the encoding of an *Ensemble.
type ensembleJSON struct {
	Format     string           `json:"format"`
	Version    int              `json:"version"`
	Algorithm  string           `json:"algorithm"`
	Target     targetJSON       `json:"target"`
	Features   []treeFeatJSON   `json:"features"`
	Base       float64          `json:"base_score"`
	Trees      int              `json:"trees"`
	Nodes      nodesJSON        `json:"nodes"`
	Categories string           `json:"categories"`
	Importance []Importance     `json:"importance"`
	Curve      *Curve           `json:"curve,omitempty"`
	Training   EnsembleTraining `json:"training"`
}

type treeFeatJSON struct {
	Name   string    `json:"name"`
	Type   string    `json:"type"`
	Edges  []float64 `json:"edges,omitempty"`
	Levels []string  `json:"levels,omitempty"`
}

// nodesJSON holds the node arrays, each little-endian binary in standard
// base64 (with padding).
type nodesJSON struct {
	Count   int     `json:"count"`
	Roots   []int32 `json:"roots"`
	Left    string  `json:"left"`
	Feature string  `json:"feature"`
	Bin     string  `json:"bin"`
	Flags   string  `json:"flags"`
	Value   string  `json:"value"`
	Cover   string  `json:"cover"`
}

var b64 = base64.StdEncoding

// Encode implements pipeline.Object: canonical JSON with the header first
// and the node arrays in base64 (see the package doc).
func (m *Ensemble) Encode(w io.Writer) error {
	n := len(m.nodes)
	left := make([]byte, 4*n)
	feat := make([]byte, 2*n)
	bin := make([]byte, n)
	flags := make([]byte, n)
	val := make([]byte, 8*n)
	cover := make([]byte, 8*n)
	for i, nd := range m.nodes {
		binary.LittleEndian.PutUint32(left[4*i:], uint32(nd.Left))
		binary.LittleEndian.PutUint16(feat[2*i:], nd.Feature)
		bin[i], flags[i] = nd.Bin, nd.Flags
		binary.LittleEndian.PutUint64(val[8*i:], math.Float64bits(nd.Value))
		binary.LittleEndian.PutUint64(cover[8*i:], math.Float64bits(nd.Cover))
	}
	cats := make([]byte, 8*len(m.catBits))
	for i, c := range m.catBits {
		binary.LittleEndian.PutUint64(cats[8*i:], c)
	}
	v := ensembleJSON{
		Format: Format, Version: Version, Algorithm: m.algorithm,
		Target: targetJSON{Name: m.target.Name, Type: m.target.Type.String(), Positive: m.target.Positive},
		Base:   m.base, Trees: len(m.roots),
		Nodes: nodesJSON{
			Count: n, Roots: m.roots,
			Left: b64.EncodeToString(left), Feature: b64.EncodeToString(feat), Bin: b64.EncodeToString(bin),
			Flags: b64.EncodeToString(flags), Value: b64.EncodeToString(val), Cover: b64.EncodeToString(cover),
		},
		Categories: b64.EncodeToString(cats),
		Importance: m.imp, Curve: m.curve, Training: m.training,
	}
	for _, f := range m.features {
		v.Features = append(v.Features, treeFeatJSON{Name: f.Name, Type: f.Type.String(), Edges: f.Edges, Levels: f.Levels})
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", m.algorithm, err)
	}
	_, err = w.Write(b)
	return err
}

// decodeEnsemble decodes and checks an ensemble encoding.
func decodeEnsemble(data []byte) (*Ensemble, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var v ensembleJSON
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the model", ErrFormat)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrFormat, v.Algorithm, fmt.Sprintf(format, args...))
	}
	tt, ok := table.ParseType(v.Target.Type)
	if !ok || v.Target.Type != tt.String() {
		return nil, bad("target %q of type %q", v.Target.Name, v.Target.Type)
	}
	s := EnsembleSpec{
		Algorithm: v.Algorithm, Target: Target{Name: v.Target.Name, Type: tt, Positive: v.Target.Positive},
		Base: v.Base, Roots: v.Nodes.Roots, Importance: v.Importance, Curve: v.Curve, Training: v.Training,
	}
	for _, f := range v.Features {
		ft, ok := table.ParseType(f.Type)
		if !ok || f.Type != ft.String() {
			return nil, bad("feature %q has type %q", f.Name, f.Type)
		}
		if f.Edges != nil && len(f.Edges) == 0 {
			return nil, bad("feature %q: empty edges are written as none", f.Name)
		}
		s.Features = append(s.Features, TreeFeature{Name: f.Name, Type: ft, Edges: f.Edges, Levels: f.Levels})
	}
	n := v.Nodes.Count
	if n < 1 || n > 1<<30 || v.Trees != len(v.Nodes.Roots) {
		return nil, bad("%d nodes in %d trees (%d roots)", n, v.Trees, len(v.Nodes.Roots))
	}
	field := func(name, s string, size int) ([]byte, error) {
		if len(s) != b64.EncodedLen(size) {
			return nil, bad("nodes.%s: %d base64 characters, %d nodes need %d", name, len(s), n, b64.EncodedLen(size))
		}
		b, err := b64.Strict().DecodeString(s)
		if err != nil {
			return nil, bad("nodes.%s: %v", name, err)
		}
		return b, nil
	}
	left, err := field("left", v.Nodes.Left, 4*n)
	if err != nil {
		return nil, err
	}
	feat, err := field("feature", v.Nodes.Feature, 2*n)
	if err != nil {
		return nil, err
	}
	bin, err := field("bin", v.Nodes.Bin, n)
	if err != nil {
		return nil, err
	}
	flags, err := field("flags", v.Nodes.Flags, n)
	if err != nil {
		return nil, err
	}
	val, err := field("value", v.Nodes.Value, 8*n)
	if err != nil {
		return nil, err
	}
	cover, err := field("cover", v.Nodes.Cover, 8*n)
	if err != nil {
		return nil, err
	}
	s.Nodes = make([]Node, n)
	for i := range s.Nodes {
		s.Nodes[i] = Node{
			Left:    int32(binary.LittleEndian.Uint32(left[4*i:])),
			Feature: binary.LittleEndian.Uint16(feat[2*i:]),
			Bin:     bin[i], Flags: flags[i],
			Value: math.Float64frombits(binary.LittleEndian.Uint64(val[8*i:])),
			Cover: math.Float64frombits(binary.LittleEndian.Uint64(cover[8*i:])),
		}
	}
	if len(v.Categories) > b64.EncodedLen(8*catWords*n) {
		return nil, bad("categories: %d base64 characters", len(v.Categories))
	}
	cats, err := b64.Strict().DecodeString(v.Categories)
	if err != nil || len(cats)%8 != 0 {
		return nil, bad("categories: not base64 of 64-bit words")
	}
	s.CatBits = make([]uint64, len(cats)/8)
	for i := range s.CatBits {
		s.CatBits[i] = binary.LittleEndian.Uint64(cats[8*i:])
	}
	m, err := NewEnsemble(s)
	if err != nil {
		return nil, err
	}
	// Only the canonical form is accepted: the model re-encodes to the
	// same bytes.
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		return nil, err
	}
	if !bytes.Equal(buf.Bytes(), data) {
		return nil, bad("not in canonical form")
	}
	return m, nil
}
