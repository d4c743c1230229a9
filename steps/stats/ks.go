package stats

import (
	"fmt"
	"math"
	"sort"
)

// KSMaxExactN is the sample size up to which KS2Samp computes the exact
// p-value, as scipy.stats.ks_2samp(method='auto') does (scipy 1.10–1.14:
// exact when max(n1, n2) <= 10000, else asymptotic).
const KSMaxExactN = 10000

// KSResult is the outcome of a two-sample Kolmogorov–Smirnov test.
type KSResult struct {
	// Statistic is D = sup_x |F1(x) − F2(x)| over the empirical CDFs.
	Statistic float64 `json:"statistic"`
	// PValue is the two-sided p-value of D under H0 (same distribution).
	PValue float64 `json:"p_value"`
	// Exact reports whether the exact distribution was used.
	Exact bool `json:"exact"`
	// N1 and N2 are the sample sizes (NaNs excluded).
	N1 int `json:"n1"`
	N2 int `json:"n2"`
}

// KS2Samp is the two-sample Kolmogorov–Smirnov test of a against b,
// matching scipy.stats.ks_2samp(a, b, alternative='two-sided',
// method='auto'). NaNs are dropped first (they are missing values, counted
// by the missing-rate check). The inputs are not modified.
//
// The statistic is
//
//	D = max_x |#{a_i <= x}/n1 − #{b_j <= x}/n2|,
//
// evaluated after each distinct value (ties move both CDFs at once), with
// integer numerators, so it is exact up to the final division.
//
// The p-value is exact when max(n1, n2) <= KSMaxExactN: for n1 == n2 by
// the reflection formula of Pr(D ≥ h/n) (scipy's
// _compute_prob_outside_square), otherwise by the lattice-path "inside"
// recursion of Hodges in the 1−p form of Viehmann (2021) (scipy's
// _compute_outer_prob_inside_method). If that recursion cannot be carried
// out in floating point, or for larger samples, it is the asymptotic
// Pr(D_n ≥ d) of the one-sample two-sided distribution (scipy's kstwo)
// with n = round(n1·n2/(n1+n2)); see KolmogorovSF.
func KS2Samp(a, b []float64) (KSResult, error) {
	x, y := sortedFinite(a), sortedFinite(b)
	return KS2SampSorted(x, y)
}

// KS2SampSorted is KS2Samp for samples already sorted ascending and free of
// NaNs: a frozen reference keeps its values sorted, so that each batch
// costs one sort of the batch and a merge.
func KS2SampSorted(x, y []float64) (KSResult, error) {
	n1, n2 := len(x), len(y)
	r := KSResult{N1: n1, N2: n2}
	if n1 == 0 || n2 == 0 {
		r.Statistic, r.PValue = math.NaN(), math.NaN()
		return r, fmt.Errorf("KS test: %w: %d and %d values", ErrEmpty, n1, n2)
	}
	best := maxDiffSorted(x, y)
	d := float64(best) / (float64(n1) * float64(n2))
	r.Statistic = d
	if max(n1, n2) <= KSMaxExactN {
		g := gcd(n1, n2)
		lcm := int64(n1/g) * int64(n2)
		h := int64(math.Round(d * float64(lcm)))
		if h == 0 {
			r.Statistic, r.PValue, r.Exact = 0, 1, true
			return r, nil
		}
		var p float64
		if n1 == n2 {
			p = probOutsideSquare(int64(n1), h)
		} else {
			p = outerProbInside(int64(n1), int64(n2), int64(g), h)
		}
		if p >= 0 && p <= 1 && !math.IsNaN(p) {
			r.Statistic = float64(h) / float64(lcm)
			r.PValue, r.Exact = p, true
			return r, nil
		}
	}
	m, n := float64(max(n1, n2)), float64(min(n1, n2))
	en := math.Round(m * n / (m + n))
	r.PValue = clip01(KolmogorovSF(int(en), d))
	return r, nil
}

// maxDiffSorted returns the largest |i·n2 − j·n1| over the distinct values
// v of x ∪ y (sorted ascending, no NaN, neither empty), where i = #{x ≤ v}
// and j = #{y ≤ v}: D·n1·n2 of the two-sample KS statistic.
//
// A merge pass without data-dependent branches (the two samples interleave
// at random when they come from close distributions, which defeats branch
// prediction): each step takes the head of the side with the smaller head,
// or of both sides when the heads are equal, and updates the difference.
// Inside a run of equal values the counts are partial, so the difference
// counts (through a mask) only where the next head of each side that moved
// is greater than the value taken. The last element of either side is left
// to mergeRuns, which consumes whole runs of equal values; once one side is
// exhausted the difference only shrinks towards 0.
//
// Each step depends on the one before, so the pass is bound by that chain
// of loads and compares; two independent merges, below and above a split
// value (the median of the longer sample), run interleaved in one loop to
// overlap the two chains (the step is written out in each loop: as a
// function it is not inlined). The result is an integer maximum, the same
// whatever the split.
func maxDiffSorted(x, y []float64) int64 {
	n1, n2 := len(x), len(y)
	N1, N2 := int64(n1), int64(n2)
	if n1 < 64 || n2 < 64 {
		return mergeRuns(x, y, 0, 0, n1, n2, N1, N2)
	}
	// Split at the first occurrence of a value s on both sides, so that
	// runs of equal values are never cut: below, x[:i0] and y[:j0]; above,
	// from (i0, j0).
	var s float64
	if n1 >= n2 {
		s = x[n1/2]
	} else {
		s = y[n2/2]
	}
	i0 := sort.SearchFloat64s(x, s)
	j0 := sort.SearchFloat64s(y, s)
	var best int64
	// Lower merge state: i, j from 0 to (i0-1, j0-1) at most (it stops
	// one element short of either end, as it reads the next heads).
	// Upper: k, l from (i0, j0) to (n1-1, n2-1) at most.
	i, j := 0, 0
	k, l := i0, j0
	d1 := int64(0)
	d2 := int64(i0)*N2 - int64(j0)*N1
	for i < i0-1 && j < j0-1 && k < n1-1 && l < n2-1 {
		{
			xi, yj := x[i], y[j]
			ai, aj := b2i(xi <= yj), b2i(yj <= xi)
			i += ai
			j += aj
			d1 += int64(ai)*N2 - int64(aj)*N1
			nx, ny := x[:i+1][i], y[:j+1][j]
			m := -int64(b2i(nx != xi)|(1-ai)) & -int64(b2i(ny != yj)|(1-aj))
			best = max(best, d1&m, -d1&m)
		}
		{
			xi, yj := x[k], y[l]
			ai, aj := b2i(xi <= yj), b2i(yj <= xi)
			k += ai
			l += aj
			d2 += int64(ai)*N2 - int64(aj)*N1
			nx, ny := x[:k+1][k], y[:l+1][l]
			m := -int64(b2i(nx != xi)|(1-ai)) & -int64(b2i(ny != yj)|(1-aj))
			best = max(best, d2&m, -d2&m)
		}
	}
	for i < i0-1 && j < j0-1 {
		xi, yj := x[i], y[j]
		ai, aj := b2i(xi <= yj), b2i(yj <= xi)
		i += ai
		j += aj
		d1 += int64(ai)*N2 - int64(aj)*N1
		nx, ny := x[:i+1][i], y[:j+1][j]
		m := -int64(b2i(nx != xi)|(1-ai)) & -int64(b2i(ny != yj)|(1-aj))
		best = max(best, d1&m, -d1&m)
	}
	for k < n1-1 && l < n2-1 {
		xi, yj := x[k], y[l]
		ai, aj := b2i(xi <= yj), b2i(yj <= xi)
		k += ai
		l += aj
		d2 += int64(ai)*N2 - int64(aj)*N1
		nx, ny := x[:k+1][k], y[:l+1][l]
		m := -int64(b2i(nx != xi)|(1-ai)) & -int64(b2i(ny != yj)|(1-aj))
		best = max(best, d2&m, -d2&m)
	}
	// The lower merge stops one element short of i0 or j0: finish it with
	// whole runs until one side reaches its end below s. From there only
	// the other side moves, so the difference is monotone up to (i0, j0),
	// the boundary just below s.
	best = max(best, mergeRuns(x, y, i, j, i0, j0, N1, N2))
	d0 := int64(i0)*N2 - int64(j0)*N1
	best = max(best, d0, -d0)
	// The upper merge stops one element short of an end: finish it.
	return max(best, mergeRuns(x, y, k, l, n1, n2, N1, N2))
}

// mergeRuns is the plain merge of x[i:ie] and y[j:je], taking every run of
// equal values from both sides before comparing: the largest |i·n2 − j·n1|
// at the ends of the runs, until one side reaches its end. Runs must not
// continue past ie or je.
func mergeRuns(x, y []float64, i, j, ie, je int, n1, n2 int64) int64 {
	var best int64
	for i < ie && j < je {
		v := min(x[i], y[j])
		for i < ie && x[i] == v {
			i++
		}
		for j < je && y[j] == v {
			j++
		}
		diff := int64(i)*n2 - int64(j)*n1
		best = max(best, diff, -diff)
	}
	return best
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func clip01(p float64) float64 { return min(max(p, 0), 1) }

// probOutsideSquare returns Pr(D_{n,n} ≥ h/n) for two samples of size n:
//
//	P = 2·Σ_{k≥1} (−1)^{k−1} C(2n, n−kh) / C(2n, n),
//
// evaluated in Horner form to avoid cancellation.
func probOutsideSquare(n, h int64) float64 {
	p := 0.0
	for k := n / h; k >= 0; k-- {
		p1 := 1.0
		for j := int64(0); j < h; j++ {
			p1 = float64(n-k*h-j) * p1 / float64(n+k*h+j+1)
		}
		p = p1 * (1 - p)
	}
	return 2 * p
}

// outerProbInside returns the proportion of the C(m+n, n) lattice paths
// from (0, 0) to (m, n) that leave the band |x/m − y/n| < h/lcm(m, n),
// i.e. Pr(D ≥ h/lcm), by the recursion A(x, y) = (x·A(x−1, y) +
// y·A(x, y−1))/(x+y) on the 1−p scale, keeping one sliding column.
func outerProbInside(m, n, g, h int64) float64 {
	if m < n {
		m, n = n, m
	}
	mg, ng := m/g, n/g
	minj, maxj := int64(0), min(ceilDiv(h, mg), n+1)
	curlen := maxj - minj
	lenA := min(2*maxj+2, n+1)
	a := make([]float64, lenA)
	for k := range a {
		a[k] = 1
	}
	for k := minj; k < maxj; k++ {
		a[k] = 0
	}
	for i := int64(1); i <= m; i++ {
		lastminj, lastlen := minj, curlen
		minj = max(floorDiv(ng*i-h, mg)+1, 0)
		minj = min(minj, n)
		maxj = min(ceilDiv(ng*i+h, mg), n+1)
		if maxj <= minj {
			return 1
		}
		val := 1.0
		if minj == 0 {
			val = 0
		}
		fi := float64(i)
		for jj := int64(0); jj < maxj-minj; jj++ {
			j := jj + minj
			val = (a[jj+minj-lastminj]*fi + val*float64(j)) / (fi + float64(j))
			a[jj] = val
		}
		curlen = maxj - minj
		if lastlen > curlen {
			for k := maxj - minj; k < maxj-minj+(lastlen-curlen) && k < int64(len(a)); k++ {
				a[k] = 1
			}
		}
	}
	return a[maxj-minj-1]
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }
