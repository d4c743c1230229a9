package stats

import (
	"fmt"
	"math"
	"sort"
	"strconv"
)

// DefaultMinGroup is the smallest group that Fairness judges; smaller
// groups are reported and flagged, never compared.
const DefaultMinGroup = 30

// FourFifths is the disparate-impact threshold of the four-fifths rule.
const FourFifths = 0.8

// GroupRates are the outcomes of one group. The favourable decision is
// approval: a row is approved when its probability of the positive class
// (default) is below the threshold; a "good" row has label 0.
type GroupRates struct {
	Group string `json:"group"`
	Count int    `json:"count"`
	// Small is true when Count < the minimum group size: the group is
	// shown but left out of the comparisons.
	Small bool `json:"small,omitempty"`
	// ApprovalRate is approved / count.
	ApprovalRate Num `json:"approval_rate"`
	// TPR is approved / good (the favourable true positive rate); FPR is
	// approved / bad; Precision is good among approved. NaN when the
	// denominator is 0 (null in JSON).
	TPR       Num `json:"tpr"`
	FPR       Num `json:"fpr"`
	Precision Num `json:"precision"`
	// AUC is the group's AUC of the probability against the label (NaN
	// with one class).
	AUC Num `json:"auc"`
	// DefaultRate is the share of label 1 (bad) in the group.
	DefaultRate Num `json:"default_rate"`
}

// FairnessReport compares the groups of a protected attribute.
type FairnessReport struct {
	Groups []GroupRates `json:"groups"`
	// Judged counts the groups large enough to compare.
	Judged int `json:"judged"`
	// DemographicParityDiff is max − min approval rate over judged groups;
	// DemographicParityRatio (= DisparateImpact) is min / max.
	DemographicParityDiff  Num `json:"demographic_parity_difference"`
	DemographicParityRatio Num `json:"demographic_parity_ratio"`
	// DisparateImpact is the lowest approval rate over the highest; the
	// four-fifths rule wants it >= 0.8. MostFavoured and LeastFavoured
	// name the groups.
	DisparateImpact Num    `json:"disparate_impact"`
	MostFavoured    string `json:"most_favoured"`
	LeastFavoured   string `json:"least_favoured"`
	// EqualOpportunityDiff is max − min TPR; EqualizedOddsDiff is the
	// larger of that and max − min FPR (groups where a rate is undefined
	// are left out of that rate).
	EqualOpportunityDiff Num `json:"equal_opportunity_difference"`
	EqualizedOddsDiff    Num `json:"equalized_odds_difference"`
}

// Fairness computes per-group rates and the disparity measures of
// probabilities p (of the positive, unfavourable class) against labels y
// (nil when unknown: only counts and approval rates) for the group of each
// row. threshold is the decision threshold; minGroup the smallest group
// judged (<= 0: DefaultMinGroup). Fewer than two judged groups leave the
// disparities NaN and return an error wrapping ErrEmpty. The groups are
// reported sorted by name.
func Fairness(p, y []float64, groups []string, threshold float64, minGroup int) (*FairnessReport, error) {
	return FairnessOrdered(p, y, groups, nil, threshold, minGroup)
}

// FairnessOrdered is Fairness with the groups reported in the order of
// order (e.g. the bands of Bands, low to high); groups that order does not
// name follow, sorted by name. The order changes nothing else.
func FairnessOrdered(p, y []float64, groups, order []string, threshold float64, minGroup int) (*FairnessReport, error) {
	if len(p) != len(groups) || (y != nil && len(y) != len(p)) {
		return nil, fmt.Errorf("fairness: %w", ErrLength)
	}
	if minGroup <= 0 {
		minGroup = DefaultMinGroup
	}
	byGroup := map[string][]int{}
	for i, g := range groups {
		byGroup[g] = append(byGroup[g], i)
	}
	names := make([]string, 0, len(byGroup))
	listed := map[string]bool{}
	for _, g := range order {
		if _, ok := byGroup[g]; ok && !listed[g] {
			names = append(names, g)
			listed[g] = true
		}
	}
	var rest []string
	for g := range byGroup {
		if !listed[g] {
			rest = append(rest, g)
		}
	}
	sort.Strings(rest)
	names = append(names, rest...)
	rep := &FairnessReport{}
	nan := math.NaN()
	for _, g := range names {
		rows := byGroup[g]
		gr := GroupRates{Group: g, Count: len(rows), Small: len(rows) < minGroup,
			TPR: Num(nan), FPR: Num(nan), Precision: Num(nan), AUC: Num(nan), DefaultRate: Num(nan)}
		var approved, good, bad, goodApproved, badApproved float64
		for _, i := range rows {
			ok := p[i] < threshold
			if ok {
				approved++
			}
			if y == nil {
				continue
			}
			if y[i] == 0 {
				good++
				if ok {
					goodApproved++
				}
			} else {
				bad++
				if ok {
					badApproved++
				}
			}
		}
		gr.ApprovalRate = Num(approved / float64(len(rows)))
		if y != nil {
			gr.TPR = Num(ratio(goodApproved, good, nan))
			gr.FPR = Num(ratio(badApproved, bad, nan))
			gr.Precision = Num(ratio(goodApproved, approved, nan))
			gr.DefaultRate = Num(bad / float64(len(rows)))
			gp, gy := make([]float64, len(rows)), make([]float64, len(rows))
			for k, i := range rows {
				gp[k], gy[k] = p[i], y[i]
			}
			if auc, err := AUC(gp, gy, nil); err == nil {
				gr.AUC = Num(auc)
			}
		}
		rep.Groups = append(rep.Groups, gr)
	}
	rep.DemographicParityDiff, rep.DemographicParityRatio, rep.DisparateImpact = Num(nan), Num(nan), Num(nan)
	rep.EqualOpportunityDiff, rep.EqualizedOddsDiff = Num(nan), Num(nan)
	var judged []GroupRates
	for _, g := range rep.Groups {
		if !g.Small {
			judged = append(judged, g)
		}
	}
	rep.Judged = len(judged)
	if len(judged) < 2 {
		return rep, fmt.Errorf("fairness: %w: %d groups of at least %d rows, need 2", ErrEmpty, len(judged), minGroup)
	}
	lo, hi := judged[0], judged[0]
	for _, g := range judged[1:] {
		if g.ApprovalRate < lo.ApprovalRate {
			lo = g
		}
		if g.ApprovalRate > hi.ApprovalRate {
			hi = g
		}
	}
	rep.MostFavoured, rep.LeastFavoured = hi.Group, lo.Group
	rep.DemographicParityDiff = hi.ApprovalRate - lo.ApprovalRate
	rep.DemographicParityRatio = Num(ratio(float64(lo.ApprovalRate), float64(hi.ApprovalRate), 1))
	rep.DisparateImpact = rep.DemographicParityRatio
	if y != nil {
		tpr := spread(judged, func(g GroupRates) float64 { return float64(g.TPR) })
		fpr := spread(judged, func(g GroupRates) float64 { return float64(g.FPR) })
		rep.EqualOpportunityDiff, rep.EqualizedOddsDiff = Num(tpr), Num(nanMax(tpr, fpr))
	}
	return rep, nil
}

// spread is max − min of f over the groups where it is defined; NaN when
// fewer than two groups define it (nothing is compared).
func spread(gs []GroupRates, f func(GroupRates) float64) float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	n := 0
	for _, g := range gs {
		v := f(g)
		if math.IsNaN(v) {
			continue
		}
		lo, hi = min(lo, v), max(hi, v)
		n++
	}
	if n < 2 {
		return math.NaN()
	}
	return hi - lo
}

func nanMax(a, b float64) float64 {
	switch {
	case math.IsNaN(a):
		return b
	case math.IsNaN(b):
		return a
	}
	return max(a, b)
}

// Bands puts each value of v in one of the left-closed bands cut at cuts
// (ascending, distinct), as the fairness groups of a numeric attribute:
// "(-inf,c₀)", "[c₀,c₁)", …, "[c_{k−1},+inf)" (numbers in Go's shortest
// form, e.g. "[25,35)"; one band "all" without cuts), and a NaN in the
// band named missing. It returns the band of each value and every band in
// order, low to high, missing last.
func Bands(v, cuts []float64, missing string) (labels, order []string) {
	order = BandNames(cuts)
	labels = make([]string, len(v))
	for i, x := range v {
		if math.IsNaN(x) {
			labels[i] = missing
			continue
		}
		// The number of cuts at or below x.
		labels[i] = order[sort.Search(len(cuts), func(k int) bool { return cuts[k] > x })]
	}
	return labels, append(order, missing)
}

// BandNames names the len(cuts)+1 bands of Bands, low to high.
func BandNames(cuts []float64) []string {
	if len(cuts) == 0 {
		return []string{"all"}
	}
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	names := []string{"(-inf," + f(cuts[0]) + ")"}
	for k := 1; k < len(cuts); k++ {
		names = append(names, "["+f(cuts[k-1])+","+f(cuts[k])+")")
	}
	return append(names, "["+f(cuts[len(cuts)-1])+",+inf)")
}
