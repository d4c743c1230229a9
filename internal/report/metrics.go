package report

import (
	"math"
	"math/rand/v2"
	"sort"

	"github.com/mlrun-cli/mlrun/steps/stats"
)

// Resamples is the number of bootstrap resamples of the AUC interval, and
// bootstrapSeed seeds them so that a report is reproducible.
const (
	Resamples     = 1000
	bootstrapSeed = 20240601
)

// scoreGroups sorts the rows by decreasing score and groups tied scores:
// order[start[g]:start[g+1]] are the rows of group g.
func scoreGroups(p []float64) (order, start []int) {
	order = make([]int, len(p))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return p[order[a]] > p[order[b]] })
	for i := range order {
		if i == 0 || p[order[i]] != p[order[i-1]] {
			start = append(start, i)
		}
	}
	start = append(start, len(order))
	return order, start
}

// weightedAUC is the trapezoidal AUC of rows weighted by w (counts of a
// resample) over the tied-score groups of scoreGroups; NaN with one class.
func weightedAUC(order, start []int, y, w []float64) float64 {
	var tp, fp, area float64
	for g := 0; g+1 < len(start); g++ {
		var dtp, dfp float64
		for _, i := range order[start[g]:start[g+1]] {
			if y[i] == 1 {
				dtp += w[i]
			} else {
				dfp += w[i]
			}
		}
		area += dfp * (tp + tp + dtp) / 2
		tp += dtp
		fp += dfp
	}
	if tp == 0 || fp == 0 {
		return math.NaN()
	}
	return area / (tp * fp)
}

// bootstrapAUC returns the percentile bootstrap interval (2.5%, 97.5%) of
// the AUC over b resamples drawn with a fixed seed.
func bootstrapAUC(p, y []float64, b int) (lo, hi float64) {
	n := len(p)
	if n == 0 {
		return math.NaN(), math.NaN()
	}
	order, start := scoreGroups(p)
	rng := rand.New(rand.NewPCG(bootstrapSeed, uint64(n)))
	w := make([]float64, n)
	aucs := make([]float64, 0, b)
	for range b {
		clear(w)
		for range n {
			w[rng.IntN(n)]++
		}
		if a := weightedAUC(order, start, y, w); !math.IsNaN(a) {
			aucs = append(aucs, a)
		}
	}
	if len(aucs) == 0 {
		return math.NaN(), math.NaN()
	}
	sort.Float64s(aucs)
	return stats.Quantile(aucs, 0.025), stats.Quantile(aucs, 0.975)
}

// prCurve returns recall and precision at each distinct threshold of roc.
func prCurve(roc *stats.ROC) (recall, precision []float64) {
	for k := range roc.Thresholds {
		if roc.TP[k]+roc.FP[k] == 0 {
			continue
		}
		recall = append(recall, roc.TP[k]/roc.Pos)
		precision = append(precision, roc.TP[k]/(roc.TP[k]+roc.FP[k]))
	}
	return recall, precision
}

// calibration cuts the rows, sorted by probability (ties by index), into g
// groups of nearly equal size (numpy.array_split, as stats.HosmerLemeshow)
// and returns each group's mean probability and observed positive rate.
func calibration(p, y []float64, g int) (meanP, rate []float64) {
	n := len(p)
	if n == 0 {
		return nil, nil
	}
	if g > n {
		g = n
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] < p[idx[b]] })
	base, extra := n/g, n%g
	at := 0
	for k := range g {
		size := base
		if k < extra {
			size++
		}
		var sp, sy float64
		for _, i := range idx[at : at+size] {
			sp += p[i]
			sy += y[i]
		}
		meanP = append(meanP, sp/float64(size))
		rate = append(rate, sy/float64(size))
		at += size
	}
	return meanP, rate
}

// histogram returns the shares of v (in [0, 1]) in bins equal-width bins.
func histogram(v []float64, bins int) []float64 {
	h := make([]float64, bins)
	if len(v) == 0 {
		return h
	}
	for _, x := range v {
		b := int(x * float64(bins))
		b = min(max(b, 0), bins-1)
		h[b]++
	}
	for i := range h {
		h[i] /= float64(len(v))
	}
	return h
}

// ksCurves returns, at each distinct score (ascending), the share of goods
// (label 0) and of bads (label 1) scoring at or below it, and the score where
// they are farthest apart.
func ksCurves(p, y []float64) (x, goods, bads []float64, at float64) {
	order, start := scoreGroups(p)
	var ng, nb float64
	for _, v := range y {
		if v == 1 {
			nb++
		} else {
			ng++
		}
	}
	if ng == 0 || nb == 0 {
		return nil, nil, nil, math.NaN()
	}
	// Walk from the lowest score up.
	var cg, cb, best float64
	for g := len(start) - 2; g >= 0; g-- {
		for _, i := range order[start[g]:start[g+1]] {
			if y[i] == 1 {
				cb++
			} else {
				cg++
			}
		}
		s := p[order[start[g]]]
		x = append(x, s)
		goods = append(goods, cg/ng)
		bads = append(bads, cb/nb)
		if d := math.Abs(cg/ng - cb/nb); d > best {
			best, at = d, s
		}
	}
	return x, goods, bads, at
}

// Thin keeps at most n points of a curve (always the first and the last),
// so that a chart of a large test set stays small; the kept points are
// evenly spaced by index, which is deterministic.
func Thin(xs, ys []float64, n int) ([]float64, []float64) {
	if len(xs) <= n || n < 2 {
		return xs, ys
	}
	ox, oy := make([]float64, 0, n), make([]float64, 0, n)
	for k := range n {
		i := k * (len(xs) - 1) / (n - 1)
		ox = append(ox, xs[i])
		oy = append(oy, ys[i])
	}
	return ox, oy
}

// gainsTable returns the gains table of probabilities p against labels y
// (1 = bad) in g groups: the rows sorted by decreasing probability, ties in
// row order (a stable sort), cut into g groups of nearly equal size, the
// first n mod g one row larger (numpy.array_split). Per group k:
//
//	bad rate  = bads_k / rows_k
//	cum bads  = Σ_{i≤k} bads_i / B,  cum goods = Σ_{i≤k} goods_i / G
//	KS_k      = cum bads − cum goods
//	lift      = bad rate / (B/n),    cum lift = (Σ_{i≤k} bads_i / Σ_{i≤k} rows_i) / (B/n)
//
// with B bads and G goods among the n rows. A ratio over zero is NaN.
func gainsTable(p, y []float64, g int) []GainsRow {
	n := len(p)
	if n == 0 || g <= 0 {
		return nil
	}
	g = min(g, n)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] > p[idx[b]] })
	var bads int
	for _, v := range y {
		if v == 1 {
			bads++
		}
	}
	goods := n - bads
	rate := ratio(float64(bads), float64(n))
	rows := make([]GainsRow, 0, g)
	base, extra := n/g, n%g
	at, cumB, cumG := 0, 0, 0
	for k := range g {
		size := base
		if k < extra {
			size++
		}
		r := GainsRow{Decile: k + 1, Rows: size, MinScore: math.Inf(1), MaxScore: math.Inf(-1)}
		for _, i := range idx[at : at+size] {
			if y[i] == 1 {
				r.Bads++
			}
			r.MinScore = math.Min(r.MinScore, p[i])
			r.MaxScore = math.Max(r.MaxScore, p[i])
		}
		r.Goods = size - r.Bads
		at += size
		cumB += r.Bads
		cumG += r.Goods
		r.BadRate = ratio(float64(r.Bads), float64(size))
		r.CumBads = ratio(float64(cumB), float64(bads))
		r.CumGoods = ratio(float64(cumG), float64(goods))
		r.KS = r.CumBads - r.CumGoods
		r.Lift = ratio(r.BadRate, rate)
		r.CumLift = ratio(ratio(float64(cumB), float64(at)), rate)
		rows = append(rows, r)
	}
	return rows
}

// ratio is a/b, NaN when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// scorePSI returns the PSI of the scores cur against the reference scores
// ref over the quantile bins of ref, as the monitor compares a batch with
// the training profile: the interior edges stats.QuantileEdges(ref, 10),
// the shares of each sample in the bins (stats.BinCounts: bin i is
// (e_{i−1}, e_i]) and stats.PSI (empty bins count as PSIEpsilon).
func scorePSI(ref, cur []float64) (psi float64, bins int) {
	if len(ref) == 0 || len(cur) == 0 {
		return math.NaN(), 0
	}
	edges := stats.QuantileEdges(stats.SortedCopy(ref), scorePSIBins)
	psi, err := stats.PSI(stats.Shares(stats.BinCounts(ref, edges)), stats.Shares(stats.BinCounts(cur, edges)))
	if err != nil {
		return math.NaN(), 0
	}
	return psi, len(edges) + 1
}

// scorePSIBins is the number of quantile bins asked for by scorePSI, the
// profile's default (profile.DefaultBins).
const scorePSIBins = 10
