// Package synth generates deterministic synthetic loan applications: the data
// behind mlrun's examples, tests and benchmarks.
//
// [Write] streams Options.Rows rows of CSV with a header. The columns are
//
//	application_id      APP00000001, APP00000002, ... (PRD... for a drift batch)
//	application_date    YYYY-MM-DD, ascending with the id; 2024-01-01..2025-12-31
//	                    (a drift batch covers the following half year, 2026-01-01..2026-06-30)
//	annual_income       lognormal, median about 59,000 (x1.15 in a drift batch), 2 decimals
//	total_debt          income x debt-to-income ratio, 2 decimals
//	credit_card_balance credit_limit x utilisation, 2 decimals
//	credit_limit        whole multiple of 100, at least 500; about 1% missing
//	on_time_payments    integer, <= total_payments except for about 0.2% of rows
//	                    (data-entry errors, for a warn-severity rule to find)
//	total_payments      integer >= 1
//	loan_amount         whole multiple of 50, at least 500
//	age                 integer 18..85
//	employment_years    1 decimal, at most 0.9 x (age-16); about 1% missing
//	home_ownership      rent, own, mortgage, other (depends on the age group)
//	purpose             debt_consolidation, credit_card, home_improvement, auto,
//	                    online_shopping, small_business
//	region              ten regions with different income levels
//	age_group           18-25, 26-40, 41-60, 60+ (derived from age)
//	loan_default        0 or 1, about 10% ones in a base batch
//
// Missing values are empty fields. The label is a Bernoulli draw from a
// nonlinear score of the true (not yet missing) values: thresholds on
// debt-to-income, a utilisation x late-payment interaction, a low-income x
// large-loan interaction, young applicants new in their job, purpose and home
// effects, and an unobserved latent risk factor that also moves debt,
// utilisation and late payments. Tree models therefore beat a linear model
// on the workshop's features by a little (about 0.015 AUC).
//
// A drift batch (Options.Drift) is a shifted "production" batch: incomes
// x1.15 (nominal: debt and loan amounts are not rescaled), online_shopping
// loans 32% instead of 10%, higher card utilisation (median balance/limit
// about 0.44 instead of 0.28). The label function is the same, so the default
// rate moves with the features.
//
// Output is byte-identical for the same Options: the random stream is a
// math/rand/v2 PCG seeded with (Seed, 1 if Drift else 0) and rows are drawn
// one at a time in a fixed order, so memory use does not grow with Rows.
// The floating-point arithmetic is plain IEEE-754; the golden hash in the tests
// is checked on amd64, where the compiler does not fuse multiply-adds by default.
package synth
