package stats

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// ChiSquareResult is the outcome of a chi-square test.
type ChiSquareResult struct {
	Statistic float64 `json:"statistic"`
	PValue    float64 `json:"p_value"`
	DoF       int     `json:"dof"`
}

// ChiSquareGOF is Pearson's goodness-of-fit test of observed counts
// against expected counts, as scipy.stats.chisquare(obs, exp):
//
//	X² = Σ_i (O_i − E_i)² / E_i,  dof = k − 1,  p = Pr(χ²_dof ≥ X²).
//
// The expected counts are rescaled to the observed total (scipy requires
// equal totals). A category with E_i = 0 and O_i > 0 makes X² infinite
// (p = 0); with O_i = 0 too it is left out.
func ChiSquareGOF(obs, exp []float64) (ChiSquareResult, error) {
	if len(obs) != len(exp) {
		return ChiSquareResult{}, fmt.Errorf("chi-square: %w: %d observed, %d expected", ErrLength, len(obs), len(exp))
	}
	var so, se float64
	for i := range obs {
		so += obs[i]
		se += exp[i]
	}
	if so == 0 || se == 0 {
		return ChiSquareResult{Statistic: math.NaN(), PValue: math.NaN()}, fmt.Errorf("chi-square: %w", ErrEmpty)
	}
	x2, k := 0.0, 0
	for i := range obs {
		e := exp[i] * so / se
		if e == 0 {
			if obs[i] == 0 {
				continue
			}
			x2 = math.Inf(1)
			k++
			continue
		}
		d := obs[i] - e
		x2 += d * d / e
		k++
	}
	r := ChiSquareResult{Statistic: x2, DoF: k - 1}
	r.PValue = chi2SF(x2, r.DoF)
	return r, nil
}

// ChiSquareContingency is Pearson's test of independence (homogeneity)
// of a contingency table (rows × columns of counts), as
// scipy.stats.chi2_contingency(table, correction=True):
//
//	E_ij = R_i·C_j / N,  X² = Σ (O_ij − E_ij)² / E_ij,
//	dof = (rows−1)(cols−1),  p = Pr(χ²_dof ≥ X²),
//
// with Yates' continuity correction when dof = 1: each |O − E| is reduced
// by min(0.5, |O − E|). Rows or columns that sum to zero are left out
// first (scipy rejects them); a table left with dof 0 has X² = 0, p = 1.
func ChiSquareContingency(table [][]float64) (ChiSquareResult, error) {
	if len(table) == 0 {
		return ChiSquareResult{Statistic: math.NaN(), PValue: math.NaN()}, fmt.Errorf("chi-square: %w", ErrEmpty)
	}
	cols := len(table[0])
	rowSum := make([]float64, len(table))
	colSum := make([]float64, cols)
	var total float64
	for i, row := range table {
		if len(row) != cols {
			return ChiSquareResult{}, fmt.Errorf("chi-square: %w: ragged table", ErrLength)
		}
		for j, v := range row {
			rowSum[i] += v
			colSum[j] += v
			total += v
		}
	}
	if total == 0 {
		return ChiSquareResult{Statistic: math.NaN(), PValue: math.NaN()}, fmt.Errorf("chi-square: %w", ErrEmpty)
	}
	var rows, cs []int
	for i, s := range rowSum {
		if s > 0 {
			rows = append(rows, i)
		}
	}
	for j, s := range colSum {
		if s > 0 {
			cs = append(cs, j)
		}
	}
	dof := (len(rows) - 1) * (len(cs) - 1)
	if dof <= 0 {
		return ChiSquareResult{Statistic: 0, PValue: 1, DoF: 0}, nil
	}
	x2 := 0.0
	for _, i := range rows {
		for _, j := range cs {
			e := rowSum[i] * colSum[j] / total
			d := math.Abs(table[i][j] - e)
			if dof == 1 {
				d -= min(0.5, d)
			}
			x2 += d * d / e
		}
	}
	return ChiSquareResult{Statistic: x2, DoF: dof, PValue: chi2SF(x2, dof)}, nil
}

// chi2SF is Pr(χ²_dof ≥ x) (gonum's regularised upper incomplete gamma).
func chi2SF(x float64, dof int) float64 {
	switch {
	case math.IsNaN(x):
		return math.NaN()
	case dof <= 0:
		return 1
	case math.IsInf(x, 1):
		return 0
	}
	return distuv.ChiSquared{K: float64(dof)}.Survival(x)
}

// HosmerLemeshowResult is the outcome of a Hosmer–Lemeshow test.
type HosmerLemeshowResult struct {
	Statistic float64 `json:"statistic"`
	PValue    float64 `json:"p_value"`
	DoF       int     `json:"dof"`
	Groups    int     `json:"groups"`
}

// HosmerLemeshow tests the calibration of probabilities p against labels y
// (0/1). The rows are sorted by p (ties by index) and cut into g groups of
// sizes as equal as possible (numpy.array_split: the first n mod g groups
// have one more row); then
//
//	H = Σ_g (O_g − E_g)² / (E_g·(1 − E_g/n_g)),  dof = g − 2,
//
// with O_g the positives and E_g the sum of p in group g, and p-value
// Pr(χ²_{g−2} ≥ H). A group with E_g = 0 or E_g = n_g (all probabilities
// 0 or 1) contributes 0. It needs at least 3 rows per group.
func HosmerLemeshow(p, y []float64, g int) (HosmerLemeshowResult, error) {
	if err := checkProb(p, y, nil); err != nil {
		return HosmerLemeshowResult{Statistic: math.NaN(), PValue: math.NaN()}, err
	}
	if g < 3 {
		return HosmerLemeshowResult{Statistic: math.NaN(), PValue: math.NaN()}, fmt.Errorf("Hosmer-Lemeshow: %w: %d groups, need at least 3", ErrValue, g)
	}
	n := len(p)
	if n < 3*g {
		return HosmerLemeshowResult{Statistic: math.NaN(), PValue: math.NaN()}, fmt.Errorf("Hosmer-Lemeshow: %w: %d rows for %d groups", ErrEmpty, n, g)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sortIdx(idx, p)
	h := 0.0
	start := 0
	for k := 0; k < g; k++ {
		size := n / g
		if k < n%g {
			size++
		}
		var o, e float64
		for _, i := range idx[start : start+size] {
			o += y[i]
			e += p[i]
		}
		start += size
		ng := float64(size)
		if den := e * (1 - e/ng); den > 0 {
			h += (o - e) * (o - e) / den
		}
	}
	return HosmerLemeshowResult{Statistic: h, DoF: g - 2, Groups: g, PValue: chi2SF(h, g-2)}, nil
}
