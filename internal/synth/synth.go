package synth

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// Options selects what [Write] generates. The zero value is a valid, empty
// (header-only) base batch with seed 0.
type Options struct {
	// Rows is the number of data rows after the header; it must not be negative.
	Rows int
	// Seed seeds the random stream; the same Options give the same bytes.
	Seed uint64
	// Drift generates a shifted production batch instead of a base batch.
	Drift bool
}

// ErrRows is returned (wrapped) by [Write] for a negative Options.Rows.
var ErrRows = errors.New("synth: rows must not be negative")

// Columns returns the CSV header's column names, in order.
func Columns() []string {
	return []string{
		"application_id", "application_date", "annual_income", "total_debt",
		"credit_card_balance", "credit_limit", "on_time_payments", "total_payments",
		"loan_amount", "age", "employment_years", "home_ownership", "purpose",
		"region", "age_group", "loan_default",
	}
}

// Category levels, index-aligned with the probability and effect tables below.
var (
	homeLevels    = [...]string{"rent", "own", "mortgage", "other"}
	purposeLevels = [...]string{"debt_consolidation", "credit_card", "home_improvement",
		"auto", "online_shopping", "small_business"}
	regionLevels = [...]string{"north", "south", "east", "west", "central",
		"northeast", "northwest", "southeast", "southwest", "metro"}
	ageGroupLevels = [...]string{"18-25", "26-40", "41-60", "60+"}
)

const (
	homeRent = 0
	homeOwn  = 1
	// purposeOnlineShopping is the index of online_shopping in purposeLevels.
	purposeOnlineShopping = 4
)

// Distribution parameters. They are constants of the generator: changing
// any of them changes its output (and the golden hash in the tests).
var (
	purposeBase  = [...]float64{0.34, 0.20, 0.14, 0.14, 0.10, 0.08}
	purposeDrift = [...]float64{0.25, 0.16, 0.10, 0.11, 0.32, 0.06}
	// purposeLoanScale is the typical loan amount as a fraction of income.
	purposeLoanScale = [...]float64{0.22, 0.10, 0.30, 0.28, 0.05, 0.40}
	// purposeRisk and homeRisk are additive effects on the default log-odds.
	purposeRisk  = [...]float64{0.25, 0.10, -0.20, -0.10, 0.35, 0.70}
	homeRisk     = [...]float64{0.30, -0.20, 0, 0}
	regionShare  = [...]float64{0.09, 0.12, 0.10, 0.11, 0.08, 0.07, 0.06, 0.10, 0.09, 0.18}
	regionIncome = [...]float64{1.00, 0.90, 1.02, 1.05, 0.95, 1.08, 0.97, 0.92, 0.94, 1.25}
	// homeByAgeGroup is P(home_ownership | age_group); rows follow
	// ageGroupLevels, columns homeLevels.
	homeByAgeGroup = [...][4]float64{
		{0.78, 0.04, 0.06, 0.12},
		{0.48, 0.10, 0.38, 0.04},
		{0.22, 0.25, 0.50, 0.03},
		{0.15, 0.55, 0.27, 0.03},
	}
)

const (
	medianIncome = 52000.0
	// logLimitShare is the log of the typical credit limit as a share of income.
	logLimitShare = -1.5141277326297755 // math.Log(0.22)
	// defaultIntercept calibrates the base batch's default rate to about 10%.
	defaultIntercept = -4.0
	// missingRate is the share of empty credit_limit and employment_years fields.
	missingRate = 0.01
	// paymentErrorRate is the share of rows whose on_time_payments exceeds
	// total_payments (a data-entry error, independent of the label).
	paymentErrorRate = 0.002
	// driftIncome is the nominal income shift of a drift batch.
	driftIncome = 1.15
	// flushSize is the buffered output size that triggers a write.
	flushSize = 64 << 10
)

// application is one generated row before formatting.
type application struct {
	age, ageGroup, home, region, purpose int
	employment                           float64
	income, debt, limit, balance, loan   float64
	onTime, totalPayments                int
	defaulted                            bool
	limitMissing, employmentMissing      bool
}

// generator holds the state of one Write call.
type generator struct {
	s          sampler
	drift      bool
	purposeCum []float64
	regionCum  []float64
	homeCum    [][]float64
	// logRegionIncome is log(medianIncome × regionIncome[r]).
	logRegionIncome []float64
}

func cumulative(p []float64) []float64 {
	c := make([]float64, len(p))
	sum := 0.0
	for i, x := range p {
		sum += x
		c[i] = sum
	}
	c[len(c)-1] = 1
	return c
}

func newGenerator(opts Options) *generator {
	var drift uint64
	if opts.Drift {
		drift = 1
	}
	g := &generator{
		s:     sampler{r: rand.New(rand.NewPCG(opts.Seed, drift))},
		drift: opts.Drift,
	}
	if opts.Drift {
		g.purposeCum = cumulative(purposeDrift[:])
	} else {
		g.purposeCum = cumulative(purposeBase[:])
	}
	g.regionCum = cumulative(regionShare[:])
	for _, f := range regionIncome {
		g.logRegionIncome = append(g.logRegionIncome, math.Log(medianIncome*f))
	}
	for _, row := range homeByAgeGroup {
		g.homeCum = append(g.homeCum, cumulative(row[:]))
	}
	return g
}

func ageGroupOf(age int) int {
	switch {
	case age <= 25:
		return 0
	case age <= 40:
		return 1
	case age <= 60:
		return 2
	}
	return 3
}

func clamp(x, lo, hi float64) float64 { return max(lo, min(hi, x)) }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// next draws one application. The order of draws is part of the output
// format: reordering them changes every row.
func (g *generator) next() application {
	s := g.s
	var a application

	// Applicant.
	a.age = int(clamp(math.Round(s.normal(41, 13)), 18, 85))
	a.ageGroup = ageGroupOf(a.age)
	a.employment = min(4*s.gamma(1.8), 0.9*max(float64(a.age-16), 0))
	a.employment = math.Round(a.employment*10) / 10
	a.home = s.pick(g.homeCum[a.ageGroup])
	a.region = s.pick(g.regionCum)
	a.purpose = s.pick(g.purposeCum)
	latent := s.normal(0, 1) // unobserved risk

	// Income and debt.
	logIncome := g.logRegionIncome[a.region] + 0.012*(min(float64(a.age), 55)-40) +
		0.015*min(a.employment, 20)
	a.income = math.Exp(s.normal(logIncome, 0.55))
	dti := 1.15*s.beta(2, 5.5) + 0.06*b2f(a.home == homeRent) + 0.05*max(latent, 0)
	a.debt = a.income * dti

	// Revolving credit.
	limit := a.income * math.Exp(s.normal(logLimitShare, 0.45))
	a.limit = max(math.Round(limit/100)*100, 500)
	var util float64
	if g.drift {
		util = s.beta(2.4, 3.0)
	} else {
		util = s.beta(1.5, 3.4)
	}
	util = clamp(util+0.08*latent, 0, 1.15)
	a.balance = a.limit * util

	// Payment history.
	years := (0.3 + 0.7*s.uniform()) * max(float64(a.age-17), 1)
	a.totalPayments = 1 + s.poisson(10*min(years, 25))
	pLate := clamp(s.beta(0.7, 30)*math.Exp(0.6*latent), 0, 0.6)
	a.onTime = a.totalPayments - s.binomial(a.totalPayments, pLate)

	// Loan.
	loan := a.income * purposeLoanScale[a.purpose] * math.Exp(s.normal(0, 0.5))
	a.loan = max(math.Round(loan/50)*50, 500)

	if g.drift {
		a.income *= driftIncome
	}

	// Label, from the true values and the workshop's three ratios.
	dtiObs := a.debt / (a.income + 0.01)
	utilObs := a.balance / (a.limit + 0.01)
	payScore := float64(a.onTime) / float64(a.totalPayments+1) * 100
	score := defaultIntercept +
		1.6*b2f(dtiObs > 0.45) + 1.0*b2f(dtiObs > 0.65) +
		1.6*b2f(utilObs > 0.70 && payScore < 96) +
		0.6*b2f(utilObs < 0.03) +
		1.2*b2f(payScore < 90) + 0.03*clamp(97-payScore, 0, 40) +
		1.2*b2f(a.income < 32000 && a.loan/a.income > 0.25) +
		0.9*b2f(a.age < 26 && a.employment < 1) +
		purposeRisk[a.purpose] + homeRisk[a.home] -
		0.25*math.Log(a.income/medianIncome) +
		0.6*latent
	a.defaulted = s.uniform() < 1/(1+math.Exp(-score))

	// Recording: missing fields and payment-count errors, after the label.
	a.employmentMissing = s.uniform() < missingRate
	a.limitMissing = s.uniform() < missingRate
	if s.uniform() < paymentErrorRate {
		a.onTime = a.totalPayments + 1 + s.r.IntN(3)
	}
	return a
}

// dateWindow returns the first day and the number of days of the batch's
// application dates.
func dateWindow(drift bool) (time.Time, int) {
	if drift {
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		return start, int(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC).Sub(start).Hours() / 24)
	}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	return start, int(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Sub(start).Hours() / 24)
}

// Write writes a header and opts.Rows generated rows of CSV to w, streaming:
// memory use does not depend on opts.Rows. The output is byte-identical for
// the same opts. Lines end with "\n"; missing values are empty fields.
func Write(w io.Writer, opts Options) error {
	if opts.Rows < 0 {
		return fmt.Errorf("%w: %d", ErrRows, opts.Rows)
	}
	g := newGenerator(opts)

	prefix := "APP"
	if opts.Drift {
		prefix = "PRD"
	}
	idWidth := max(8, len(strconv.Itoa(opts.Rows)))
	start, days := dateWindow(opts.Drift)
	dates := make([]byte, 0, 10*days)
	for d := range days {
		dates = start.AddDate(0, 0, d).AppendFormat(dates, time.DateOnly)
	}

	buf := make([]byte, 0, flushSize+1024)
	for i, c := range Columns() {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, c...)
	}
	buf = append(buf, '\n')

	// Dates are the ascending order statistics of Rows uniform draws over
	// the window, drawn one at a time: the minimum of the k draws still to
	// come lies at u + (1-u)(1 - V^(1/k)), and 1 - V^(1/k) = 1 - exp(-E/k)
	// with E exponentially distributed.
	u := 0.0
	var num [24]byte
	for i := range opts.Rows {
		a := g.next()
		k := float64(opts.Rows - i)
		u += (1 - u) * -math.Expm1(-g.s.r.ExpFloat64()/k)
		day := min(int(u*float64(days)), days-1)

		buf = append(buf, prefix...)
		id := strconv.AppendInt(num[:0], int64(i+1), 10)
		for range idWidth - len(id) {
			buf = append(buf, '0')
		}
		buf = append(buf, id...)
		buf = append(buf, ',')
		buf = append(buf, dates[10*day:10*day+10]...)
		buf = append(buf, ',')
		buf = appendCents(buf, a.income)
		buf = append(buf, ',')
		buf = appendCents(buf, a.debt)
		buf = append(buf, ',')
		buf = appendCents(buf, a.balance)
		buf = append(buf, ',')
		if !a.limitMissing {
			buf = strconv.AppendInt(buf, int64(a.limit), 10)
		}
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, int64(a.onTime), 10)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, int64(a.totalPayments), 10)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, int64(a.loan), 10)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, int64(a.age), 10)
		buf = append(buf, ',')
		if !a.employmentMissing {
			buf = appendTenths(buf, a.employment)
		}
		buf = append(buf, ',')
		buf = append(buf, homeLevels[a.home]...)
		buf = append(buf, ',')
		buf = append(buf, purposeLevels[a.purpose]...)
		buf = append(buf, ',')
		buf = append(buf, regionLevels[a.region]...)
		buf = append(buf, ',')
		buf = append(buf, ageGroupLevels[a.ageGroup]...)
		if a.defaulted {
			buf = append(buf, ",1\n"...)
		} else {
			buf = append(buf, ",0\n"...)
		}

		if len(buf) >= flushSize {
			if _, err := w.Write(buf); err != nil {
				return fmt.Errorf("synth: write row %d: %w", i+1, err)
			}
			buf = buf[:0]
		}
	}
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("synth: write: %w", err)
	}
	return nil
}

// appendCents appends non-negative x rounded to 2 decimals ("1234.50").
func appendCents(buf []byte, x float64) []byte {
	c := int64(math.Round(x * 100))
	buf = strconv.AppendInt(buf, c/100, 10)
	r := c % 100
	return append(buf, '.', byte('0'+r/10), byte('0'+r%10))
}

// appendTenths appends non-negative x rounded to 1 decimal ("12.5").
func appendTenths(buf []byte, x float64) []byte {
	c := int64(math.Round(x * 10))
	buf = strconv.AppendInt(buf, c/10, 10)
	return append(buf, '.', byte('0'+c%10))
}
