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
// Tree models are not explained yet: For returns an error saying so.
package explain
