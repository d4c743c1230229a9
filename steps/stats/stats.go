package stats

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Errors returned by the metrics.
var (
	// ErrOneClass is returned (wrapped) when a metric needs both classes
	// but the labels, or their positive weights, hold only one.
	ErrOneClass = errors.New("only one class present")
	// ErrLength is returned (wrapped) when the slices differ in length.
	ErrLength = errors.New("length mismatch")
	// ErrLabel is returned (wrapped) for a label that is neither 0 nor 1.
	ErrLabel = errors.New("label is not 0 or 1")
	// ErrValue is returned (wrapped) for a NaN or out-of-range score,
	// probability or weight.
	ErrValue = errors.New("invalid value")
	// ErrEmpty is returned (wrapped) when there is no data.
	ErrEmpty = errors.New("no data")
)

// check validates the common arguments: equal lengths, labels in {0, 1},
// scores not NaN, weights finite and >= 0.
func check(score, y, w []float64) error {
	if len(score) != len(y) {
		return fmt.Errorf("%w: %d scores, %d labels", ErrLength, len(score), len(y))
	}
	if w != nil && len(w) != len(y) {
		return fmt.Errorf("%w: %d labels, %d weights", ErrLength, len(y), len(w))
	}
	if len(y) == 0 {
		return ErrEmpty
	}
	for i, v := range y {
		if v != 0 && v != 1 {
			return fmt.Errorf("%w: y[%d] = %v", ErrLabel, i, v)
		}
		if math.IsNaN(score[i]) {
			return fmt.Errorf("%w: score[%d] is NaN", ErrValue, i)
		}
		if w != nil && (!(w[i] >= 0) || math.IsInf(w[i], 1)) {
			return fmt.Errorf("%w: weight[%d] = %v", ErrValue, i, w[i])
		}
	}
	return nil
}

func weight(w []float64, i int) float64 {
	if w == nil {
		return 1
	}
	return w[i]
}

// ROC is a receiver operating characteristic curve: one point per distinct
// score, from the highest score down. Point k counts as predicted positive
// every example whose score is >= Thresholds[k].
type ROC struct {
	// Thresholds are the distinct scores, decreasing.
	Thresholds []float64
	// TP and FP are the (weighted) true and false positives at each
	// threshold; they are cumulative and non-decreasing.
	TP, FP []float64
	// Pos and Neg are the total (weighted) positives and negatives.
	Pos, Neg float64
}

// NewROC computes the ROC curve of scores against labels y with optional
// weights w. It sorts once by decreasing score (ties broken by index, so
// the summation order is fixed); examples with equal scores form one
// point. It returns ErrOneClass (wrapped) when Pos or Neg is zero, along
// with the curve.
func NewROC(score, y, w []float64) (*ROC, error) {
	if err := check(score, y, w); err != nil {
		return nil, err
	}
	idx := make([]int, len(score))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := cmp.Compare(score[b], score[a]); c != 0 {
			return c
		}
		return a - b
	})
	r := &ROC{}
	var tp, fp float64
	for k, i := range idx {
		wi := weight(w, i)
		if y[i] == 1 {
			tp += wi
		} else {
			fp += wi
		}
		if k+1 == len(idx) || score[idx[k+1]] != score[i] {
			r.Thresholds = append(r.Thresholds, score[i])
			r.TP = append(r.TP, tp)
			r.FP = append(r.FP, fp)
		}
	}
	r.Pos, r.Neg = tp, fp
	if r.Pos == 0 || r.Neg == 0 {
		return r, fmt.Errorf("ROC: %w (positives %v, negatives %v)", ErrOneClass, r.Pos, r.Neg)
	}
	return r, nil
}

// AUC returns the area under the curve by the trapezoidal rule,
//
//	AUC = 1/(P·N) · Σ_k (FP_k − FP_{k−1}) · (TP_k + TP_{k−1}) / 2,
//
// which equals the Mann–Whitney statistic with tied scores given average
// ranks: the probability that a random positive scores above a random
// negative, ties counting one half. It is NaN when P or N is zero.
func (r *ROC) AUC() float64 {
	if r.Pos == 0 || r.Neg == 0 {
		return math.NaN()
	}
	var area, tp0, fp0 float64
	for k := range r.TP {
		area += (r.FP[k] - fp0) * (r.TP[k] + tp0)
		tp0, fp0 = r.TP[k], r.FP[k]
	}
	return area / 2 / (r.Pos * r.Neg)
}

// KS returns the Kolmogorov–Smirnov statistic, the largest distance
// between the score distributions of the two classes:
//
//	KS = max_k |TP_k/P − FP_k/N|
//
// over the thresholds of the curve (tied scores move together). It is NaN
// when P or N is zero. Unweighted, it equals scipy's two-sample
// ks_2samp statistic of the positives' scores against the negatives'.
func (r *ROC) KS() float64 {
	if r.Pos == 0 || r.Neg == 0 {
		return math.NaN()
	}
	ks := 0.0
	for k := range r.TP {
		ks = max(ks, math.Abs(r.TP[k]/r.Pos-r.FP[k]/r.Neg))
	}
	return ks
}

// AUC returns the area under the ROC curve of score against y (see
// ROC.AUC), or NaN and an error wrapping ErrOneClass when y holds one
// class only.
func AUC(score, y, w []float64) (float64, error) {
	r, err := NewROC(score, y, w)
	if err != nil {
		return math.NaN(), err
	}
	return r.AUC(), nil
}

// Gini returns the Gini coefficient (Somers' D), 2·AUC − 1.
func Gini(score, y, w []float64) (float64, error) {
	a, err := AUC(score, y, w)
	return 2*a - 1, err
}

// KS returns the Kolmogorov–Smirnov statistic of score against y (see
// ROC.KS), or NaN and an error wrapping ErrOneClass.
func KS(score, y, w []float64) (float64, error) {
	r, err := NewROC(score, y, w)
	if err != nil {
		return math.NaN(), err
	}
	return r.KS(), nil
}

// Confusion is a confusion matrix of (weighted) counts.
type Confusion struct {
	TP, FP, TN, FN float64
}

// ConfusionAt counts the confusion matrix when an example is predicted
// positive iff its score is >= threshold.
func ConfusionAt(score, y, w []float64, threshold float64) (Confusion, error) {
	var c Confusion
	if err := check(score, y, w); err != nil {
		return c, err
	}
	for i, s := range score {
		wi := weight(w, i)
		switch pred := s >= threshold; {
		case pred && y[i] == 1:
			c.TP += wi
		case pred:
			c.FP += wi
		case y[i] == 1:
			c.FN += wi
		default:
			c.TN += wi
		}
	}
	return c, nil
}

// Total returns TP + FP + TN + FN.
func (c Confusion) Total() float64 { return c.TP + c.FP + c.TN + c.FN }

// Accuracy returns (TP + TN) / total, NaN when the total is 0.
func (c Confusion) Accuracy() float64 { return ratio(c.TP+c.TN, c.Total(), math.NaN()) }

// Precision returns TP / (TP + FP), or 0 when nothing is predicted
// positive (scikit-learn's zero_division default).
func (c Confusion) Precision() float64 { return ratio(c.TP, c.TP+c.FP, 0) }

// Recall returns TP / (TP + FN), the true positive rate, or 0 when there
// are no positives.
func (c Confusion) Recall() float64 { return ratio(c.TP, c.TP+c.FN, 0) }

// F1 returns the harmonic mean of precision and recall,
// 2·TP / (2·TP + FP + FN), or 0 when TP + FP + FN is 0.
func (c Confusion) F1() float64 { return ratio(2*c.TP, 2*c.TP+c.FP+c.FN, 0) }

func ratio(a, b, zero float64) float64 {
	if b == 0 {
		return zero
	}
	return a / b
}

// LogLossEps is the clipping bound of LogLoss, as in scikit-learn's
// log_loss(eps=1e-15).
const LogLossEps = 1e-15

// LogLoss returns the (weighted) mean negative log-likelihood of
// probabilities p of the positive class,
//
//	L = −Σ w_i·(y_i·ln q_i + (1−y_i)·ln(1−q_i)) / Σ w_i,  q_i = clip(p_i, ε, 1−ε),
//
// with ε = LogLossEps. Probabilities outside [0, 1] are an error.
func LogLoss(p, y, w []float64) (float64, error) {
	if err := checkProb(p, y, w); err != nil {
		return math.NaN(), err
	}
	var sum, sw float64
	for i, pi := range p {
		q := min(max(pi, LogLossEps), 1-LogLossEps)
		wi := weight(w, i)
		if y[i] == 1 {
			sum -= wi * math.Log(q)
		} else {
			sum -= wi * math.Log(1-q)
		}
		sw += wi
	}
	if sw == 0 {
		return math.NaN(), fmt.Errorf("log loss: %w: weights sum to 0", ErrEmpty)
	}
	return sum / sw, nil
}

// Brier returns the (weighted) mean squared error of probabilities p,
//
//	B = Σ w_i·(p_i − y_i)² / Σ w_i.
func Brier(p, y, w []float64) (float64, error) {
	if err := checkProb(p, y, w); err != nil {
		return math.NaN(), err
	}
	var sum, sw float64
	for i, pi := range p {
		d := pi - y[i]
		wi := weight(w, i)
		sum += wi * d * d
		sw += wi
	}
	if sw == 0 {
		return math.NaN(), fmt.Errorf("brier: %w: weights sum to 0", ErrEmpty)
	}
	return sum / sw, nil
}

func checkProb(p, y, w []float64) error {
	if err := check(p, y, w); err != nil {
		return err
	}
	for i, v := range p {
		if v < 0 || v > 1 {
			return fmt.Errorf("%w: probability p[%d] = %v", ErrValue, i, v)
		}
	}
	return nil
}
