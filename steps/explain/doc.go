// Package explain computes exact per-feature contributions to a model's
// score, and the reason codes of adverse decisions derived from them.
//
// For logistic regression the raw output is the logit
//
//	t(x) = b + Σ_j β_j·(x_j − m_j)/s_j
//
// over the design columns j of the model (see steps/model.Logistic). With a
// baseline design row μ (by default the mean of every design column over the
// training dataset, nulls imputed as the model does), the contribution of
// feature f is
//
//	c_f(x) = Σ_{j ∈ f} β_j·(x_j − μ_j)/s_j
//
// (a string feature sums its indicator columns), so that
//
//	Σ_f c_f(x) = t(x) − t(μ)
//
// exactly, up to floating-point rounding (a test checks 1e-9 on every row).
// A positive contribution pushes the score towards the positive class
// (default): the reasons of an adverse decision are the features with the
// largest positive contributions, protected attributes excluded.
//
// Tree ensembles (steps/model.Ensemble) are explained with exact
// path-dependent TreeSHAP (Lundberg, Erion and Lee 2018, "Consistent
// individualized feature attribution for tree ensembles", Algorithm 2, as
// xgboost and the shap package implement it), in the raw output space the
// ensemble is additive in:
//
//	random_forest:      t(x) = (1/T)·Σ_t f_t(x)      (the probability: mean leaf value)
//	gradient_boosting:  t(x) = base + Σ_t f_t(x)     (the log-odds)
//
// The value of a feature set S for tree t is the path-dependent conditional
// expectation v_t(S): walking from the root, a split on a feature in S
// follows x (missing values take the split's learned direction, a string
// feature's category set as the model applies it), a split on any other
// feature averages both children weighted by their share of the training
// cover, w_L = c_L/(c_L + c_R) (½ each when both are 0). The cover is the
// training weight reaching a node for a forest and the hessian sum for
// boosting (xgboost's cover). The contribution of feature i is its Shapley
// value
//
//	φ_i = Σ_{S ⊆ F∖{i}} |S|!·(M−|S|−1)!/M! · (v(S ∪ {i}) − v(S)),
//
// v combined over trees like t. Because v_t(S) is a sum over leaves of the
// leaf value times Π_j (o_j if j ∈ S else z_j), over the features j on the
// leaf's path (o_j: x follows the path at every split on j; z_j: the
// product of the cover shares of those splits), each leaf's share of φ
// depends on x only through its pattern of o_j. NewTree precomputes, for
// each leaf, its share for every pattern (Fast TreeSHAP v2, Yang 2021; at
// most 8 path features, 8M values in all), and per bin of each feature a
// mask of the leaves whose splits on it the bin follows (64 MiB of masks
// in all): a row then costs a few operations per leaf. Trees beyond these
// limits use the O(L·D²) recursion of Algorithm 2; both agree to ~1e-14.
// The baseline is v(∅), the
// expected raw output under the training distribution as the covers record
// it (not the output at the mean row), and
//
//	Σ_i φ_i(x) = t(x) − v(∅)
//
// up to floating-point rounding (tests check 1e-9 on every row, and against
// the subset enumeration above). Rows are explained independently, so the
// result does not depend on the number of workers.
package explain
