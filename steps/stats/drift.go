package stats

import (
	"fmt"
	"math"
	"sort"
)

// PSIEpsilon is the share given to an empty bin (in either sample) before
// the PSI terms are computed, so that ln(c/r) stays finite: an empty
// bin contributes (c − ε)·ln(c/ε), large but bounded. Shares are not
// renormalised after the substitution.
const PSIEpsilon = 1e-4

// Binning is a convention for the quantile bins of PSI and the
// Jensen–Shannon distance: how the edges are cut from the reference and
// which side of a bin is closed. Both cut at the reference's quantiles at
// k/bins (linear interpolation, numpy's default); they differ on ties.
//
// BinsRightClosed (QuantileEdges, BinCounts), mlrun's default: bins
// (−∞, e₀], (e₀, e₁], …, (e_{k−1}, +∞). The interior edges are the
// quantiles at k/bins for k = 1..bins−1, duplicates removed and edges at or
// above the maximum dropped; an edge equal to the minimum stays, so a tied
// minimum is a bin of its own, and a feature with m ≤ bins distinct values
// gets a bin per value (a 0/1 flag: two; a decile that falls between two
// values adds an edge between them).
//
// BinsNumpy (NumpyQuantileEdges, BinCountsLeft), the common recipe:
// edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins+1))) counted as
// np.histogram counts them, left-closed bins [e_{i−1}, e_i) with the last
// one closed at the maximum; the outer edges (the minimum and the maximum)
// are opened to −∞ and +∞, so that a batch value outside the reference's
// range counts in the first or last bin where np.histogram would drop it.
// The reference's counts are exactly np.histogram's. The closed last bin
// merges the two largest distinct values: a feature with m ≤ bins distinct
// values gets one bin fewer (a 0/1 flag: one bin, PSI 0 whatever the
// batch).
//
// On continuous data the two agree (no value lies on an edge); on tied
// data their PSI differs (testdata/make_psi_reference.py: 2–97%, and 0
// against 0.052 for a 0/1 flag).
type Binning string

// The bin conventions.
const (
	BinsRightClosed Binning = "right_closed"
	BinsNumpy       Binning = "numpy"
)

// Binnings lists the conventions.
var Binnings = []Binning{BinsRightClosed, BinsNumpy}

// Valid reports whether b is one of the conventions.
func (b Binning) Valid() bool { return b == BinsRightClosed || b == BinsNumpy }

// Edges returns the interior edges of (at most) bins quantile bins of
// sorted (ascending, no NaN) in convention b: QuantileEdges or
// NumpyQuantileEdges.
func (b Binning) Edges(sorted []float64, bins int) []float64 {
	if b == BinsNumpy {
		return NumpyQuantileEdges(sorted, bins)
	}
	return QuantileEdges(sorted, bins)
}

// Counts counts the non-NaN values of v in the bins of edges in convention
// b: BinCounts or BinCountsLeft.
func (b Binning) Counts(v, edges []float64) []float64 {
	if b == BinsNumpy {
		return BinCountsLeft(v, edges)
	}
	return BinCounts(v, edges)
}

// QuantileEdges returns the interior edges of (at most) bins quantile
// bins of sorted (ascending, no NaN), BinsRightClosed: the quantiles at
// k/bins for k = 1..bins−1 (see Quantile), duplicates removed, and without
// an edge at the maximum (which would leave the last bin empty). A constant
// sample has no edges (one bin). Tied data give fewer bins.
func QuantileEdges(sorted []float64, bins int) []float64 {
	n := len(sorted)
	if n == 0 || bins < 2 {
		return nil
	}
	var edges []float64
	for k := 1; k < bins; k++ {
		q := Quantile(sorted, float64(k)/float64(bins))
		if len(edges) == 0 || q > edges[len(edges)-1] {
			edges = append(edges, q)
		}
	}
	// An edge equal to the maximum would leave the last bin empty.
	for len(edges) > 0 && edges[len(edges)-1] >= sorted[n-1] {
		edges = edges[:len(edges)-1]
	}
	return edges
}

// Quantile returns the p-quantile of sorted (ascending, no NaN) by linear
// interpolation between order statistics, numpy's default:
// h = (n−1)·p, Q = x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]).
func Quantile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	h := float64(n-1) * p
	lo := int(math.Floor(h))
	if lo >= n-1 {
		return sorted[n-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// NumpyQuantileEdges returns the interior edges of (at most) bins quantile
// bins of sorted (ascending, no NaN), BinsNumpy: the distinct values of
// np.quantile(sorted, np.linspace(0, 1, bins+1)) strictly between the
// minimum and the maximum, as np.unique(...)[1:-1]. The levels are
// numpy's, k·(1/bins), and so is the interpolation (numpy's _lerp: from the
// upper value when the fraction is at least 1/2), so that the edges are
// numpy's bit for bit. A constant sample has no edges (one bin).
func NumpyQuantileEdges(sorted []float64, bins int) []float64 {
	n := len(sorted)
	if n == 0 || bins < 2 {
		return nil
	}
	lo, hi := sorted[0], sorted[n-1]
	step := 1 / float64(bins)
	qs := make([]float64, 0, bins-1)
	for k := 1; k < bins; k++ {
		if q := numpyQuantile(sorted, float64(k)*step); q > lo && q < hi {
			qs = append(qs, q)
		}
	}
	sort.Float64s(qs)
	var edges []float64
	for _, q := range qs {
		if len(edges) == 0 || q > edges[len(edges)-1] {
			edges = append(edges, q)
		}
	}
	return edges
}

// numpyQuantile is np.quantile(sorted, p) (method "linear") as numpy 1.24
// computes it: h = (n−1)·p, a = x[⌊h⌋], b = x[⌊h⌋+1], t = h − ⌊h⌋, and
// a + (b−a)·t when t < 1/2, b − (b−a)·(1−t) otherwise.
func numpyQuantile(sorted []float64, p float64) float64 {
	n := len(sorted)
	h := float64(n-1) * p
	f := math.Floor(h)
	lo := int(f)
	if lo >= n-1 {
		return sorted[n-1]
	}
	if lo < 0 {
		return sorted[0]
	}
	a, b, t := sorted[lo], sorted[lo+1], h-f
	if t >= 0.5 {
		return b - (b-a)*(1-t)
	}
	return a + (b-a)*t
}

// BinCounts counts the non-NaN values of v in the bins delimited by edges
// (ascending), BinsRightClosed: bin 0 is (−∞, e_0], bin i is
// (e_{i−1}, e_i], the last bin (e_{k−1}, +∞). There are len(edges)+1 bins.
//
// Each value is placed by a binary search over the edges. A sorted sample
// without NaNs (a frozen reference, or a batch sorted for the KS test) is
// recognised by one pass over it and counted by a binary search of each
// edge in the sample instead (see BinCountsSorted).
func BinCounts(v, edges []float64) []float64 {
	if isSortedFinite(v) {
		return BinCountsSorted(v, edges)
	}
	counts := make([]float64, len(edges)+1)
	for _, x := range v {
		if math.IsNaN(x) {
			continue
		}
		counts[sort.SearchFloat64s(edges, x)]++
	}
	return counts
}

// BinCountsSorted is BinCounts for a sample sorted ascending without NaNs:
// the number of values up to each edge is found by binary search, so the
// cost is O(len(edges)·log n).
func BinCountsSorted(sorted, edges []float64) []float64 {
	counts := make([]float64, len(edges)+1)
	prev := 0
	for k, e := range edges {
		// First index whose value is > e: the values up to e are in bins ≤ k.
		at := prev + sort.Search(len(sorted)-prev, func(i int) bool { return sorted[prev+i] > e })
		counts[k] = float64(at - prev)
		prev = at
	}
	counts[len(edges)] = float64(len(sorted) - prev)
	return counts
}

// BinCountsLeft counts the non-NaN values of v in the left-closed bins
// delimited by edges (ascending), BinsNumpy: bin 0 is (−∞, e_0), bin i is
// [e_{i−1}, e_i), the last bin [e_{k−1}, +∞). There are len(edges)+1 bins.
// Like BinCounts, it recognises a sorted sample without NaNs and counts it
// by a binary search of each edge (BinCountsLeftSorted).
func BinCountsLeft(v, edges []float64) []float64 {
	if isSortedFinite(v) {
		return BinCountsLeftSorted(v, edges)
	}
	counts := make([]float64, len(edges)+1)
	for _, x := range v {
		if math.IsNaN(x) {
			continue
		}
		// The number of edges at or below x.
		counts[sort.Search(len(edges), func(i int) bool { return edges[i] > x })]++
	}
	return counts
}

// BinCountsLeftSorted is BinCountsLeft for a sample sorted ascending
// without NaNs, O(len(edges)·log n).
func BinCountsLeftSorted(sorted, edges []float64) []float64 {
	counts := make([]float64, len(edges)+1)
	prev := 0
	for k, e := range edges {
		// First index whose value is >= e: the values below e are in bins ≤ k.
		at := prev + sort.Search(len(sorted)-prev, func(i int) bool { return sorted[prev+i] >= e })
		counts[k] = float64(at - prev)
		prev = at
	}
	counts[len(edges)] = float64(len(sorted) - prev)
	return counts
}

// isSortedFinite reports whether v is ascending and free of NaNs.
func isSortedFinite(v []float64) bool {
	// Four comparisons per branch; <= is false for a NaN on either side.
	i := 1
	for ; i+3 < len(v); i += 4 {
		w := v[i-1 : i+4]
		if b2i(w[0] <= w[1])&b2i(w[1] <= w[2])&b2i(w[2] <= w[3])&b2i(w[3] <= w[4]) == 0 {
			return false
		}
	}
	for ; i < len(v); i++ {
		if !(v[i-1] <= v[i]) {
			return false
		}
	}
	return len(v) != 1 || !math.IsNaN(v[0])
}

// Shares returns counts divided by their sum (all zeros when the sum is 0).
func Shares(counts []float64) []float64 {
	var total float64
	for _, c := range counts {
		total += c
	}
	out := make([]float64, len(counts))
	if total == 0 {
		return out
	}
	for i, c := range counts {
		out[i] = c / total
	}
	return out
}

// PSI returns the population stability index of the current shares cur
// against the reference shares ref over the same bins:
//
//	PSI = Σ_i (c_i − r_i)·ln(c_i / r_i),
//
// with every share below PSIEpsilon replaced by PSIEpsilon. The usual
// credit-industry reading: < 0.10 stable, 0.10–0.25 moderate shift,
// > 0.25 major shift.
func PSI(ref, cur []float64) (float64, error) {
	if len(ref) != len(cur) {
		return math.NaN(), fmt.Errorf("PSI: %w: %d and %d bins", ErrLength, len(ref), len(cur))
	}
	if len(ref) == 0 {
		return math.NaN(), fmt.Errorf("PSI: %w", ErrEmpty)
	}
	psi := 0.0
	for i := range ref {
		r, c := max(ref[i], PSIEpsilon), max(cur[i], PSIEpsilon)
		psi += (c - r) * math.Log(c/r)
	}
	return psi, nil
}

// JensenShannon returns the Jensen–Shannon distance between two discrete
// distributions p and q (each normalised to sum 1 first), in base 2 so
// that it lies in [0, 1]:
//
//	JS = √((KL(p‖m) + KL(q‖m)) / 2),  m = (p+q)/2,  KL(p‖m) = Σ p_i·log₂(p_i/m_i),
//
// with 0·log 0 = 0. It equals scipy.spatial.distance.jensenshannon(p, q,
// base=2).
func JensenShannon(p, q []float64) (float64, error) {
	if len(p) != len(q) {
		return math.NaN(), fmt.Errorf("Jensen-Shannon: %w: %d and %d bins", ErrLength, len(p), len(q))
	}
	p, q = Shares(p), Shares(q)
	var sp, sq float64
	for i := range p {
		sp += p[i]
		sq += q[i]
	}
	if sp == 0 || sq == 0 {
		return math.NaN(), fmt.Errorf("Jensen-Shannon: %w", ErrEmpty)
	}
	var kl float64
	for i := range p {
		m := (p[i] + q[i]) / 2
		if p[i] > 0 {
			kl += p[i] * math.Log(p[i]/m)
		}
		if q[i] > 0 {
			kl += q[i] * math.Log(q[i]/m)
		}
	}
	return math.Sqrt(max(kl/2, 0) / math.Ln2), nil
}

// Wasserstein returns the first Wasserstein (earth mover's) distance
// between the empirical distributions of two samples sorted ascending
// without NaNs,
//
//	W₁ = ∫ |F_a(x) − F_b(x)| dx,
//
// summed exactly over the intervals between consecutive distinct values.
// It equals scipy.stats.wasserstein_distance(a, b).
func Wasserstein(a, b []float64) (float64, error) {
	n1, n2 := len(a), len(b)
	if n1 == 0 || n2 == 0 {
		return math.NaN(), fmt.Errorf("Wasserstein: %w: %d and %d values", ErrEmpty, n1, n2)
	}
	i, j := 0, 0
	w := 0.0
	prev := min(a[0], b[0])
	for i < n1 || j < n2 {
		var v float64
		switch {
		case i == n1:
			v = b[j]
		case j == n2:
			v = a[i]
		default:
			v = min(a[i], b[j])
		}
		w += math.Abs(float64(i)/float64(n1)-float64(j)/float64(n2)) * (v - prev)
		for i < n1 && a[i] == v {
			i++
		}
		for j < n2 && b[j] == v {
			j++
		}
		prev = v
	}
	return w, nil
}

// MeanStd returns the mean and the population standard deviation (ddof 0,
// numpy's default) of the non-NaN values of v, and their count.
func MeanStd(v []float64) (mean, std float64, n int) {
	var sum float64
	for _, x := range v {
		if !math.IsNaN(x) {
			sum += x
			n++
		}
	}
	if n == 0 {
		return math.NaN(), math.NaN(), 0
	}
	mean = sum / float64(n)
	var ss float64
	for _, x := range v {
		if !math.IsNaN(x) {
			ss += (x - mean) * (x - mean)
		}
	}
	return mean, math.Sqrt(ss / float64(n)), n
}

// SortedCopy returns the non-NaN values of v, sorted ascending.
func SortedCopy(v []float64) []float64 { return sortedFinite(v) }

// sortIdx sorts idx by v ascending, ties by index (a stable order).
func sortIdx(idx []int, v []float64) {
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
}
