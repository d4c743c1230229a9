package synth

import (
	"math"
	"math/rand/v2"
)

// sampler draws from the distributions the generator needs. Every method
// consumes the underlying stream in a fixed way, so a fixed seed gives a
// fixed sequence of draws.
type sampler struct {
	r *rand.Rand
}

// uniform returns a draw from [0, 1).
func (s sampler) uniform() float64 { return s.r.Float64() }

// uniformPos returns a draw from (0, 1], safe to take the logarithm of.
func (s sampler) uniformPos() float64 { return 1 - s.r.Float64() }

// normal returns a draw from N(mean, sd²).
func (s sampler) normal(mean, sd float64) float64 { return mean + sd*s.r.NormFloat64() }

// gamma returns a draw from Gamma(shape, 1) by Marsaglia and Tsang's method
// (ACM TOMS 26(3), 2000); shapes below 1 use Gamma(shape+1)·U^(1/shape).
func (s sampler) gamma(shape float64) float64 {
	if shape < 1 {
		return s.gamma(shape+1) * math.Pow(s.uniformPos(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := s.r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := s.uniformPos()
		x2 := x * x
		if u < 1-0.0331*x2*x2 || math.Log(u) < 0.5*x2+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// beta returns a draw from Beta(a, b) as X/(X+Y) with X ~ Gamma(a), Y ~ Gamma(b).
func (s sampler) beta(a, b float64) float64 {
	x := s.gamma(a)
	y := s.gamma(b)
	return x / (x + y)
}

// poisson returns a draw from Poisson(lambda): by multiplying uniforms for
// lambda < 10, and by Hörmann's transformed rejection with squeeze (PTRS,
// Insurance: Mathematics and Economics 12, 1993) above.
func (s sampler) poisson(lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda < 10 {
		limit := math.Exp(-lambda)
		k, p := 0, s.uniform()
		for p > limit {
			k++
			p *= s.uniform()
		}
		return k
	}
	slam := math.Sqrt(lambda)
	loglam := math.Log(lambda)
	b := 0.931 + 2.53*slam
	a := -0.059 + 0.02483*b
	invAlpha := 1.1239 + 1.1328/(b-3.4)
	vr := 0.9277 - 3.6224/(b-2)
	for {
		u := s.uniform() - 0.5
		v := s.uniform()
		us := 0.5 - math.Abs(u)
		k := math.Floor((2*a/us+b)*u + lambda + 0.43)
		if us >= 0.07 && v <= vr {
			return int(k)
		}
		if k < 0 || (us < 0.013 && v > us) {
			continue
		}
		lg, _ := math.Lgamma(k + 1)
		if math.Log(v)+math.Log(invAlpha)-math.Log(a/(us*us)+b) <= -lambda+k*loglam-lg {
			return int(k)
		}
	}
}

// binomial returns a draw from Binomial(n, p) by counting geometric waiting
// times between successes; its cost grows with min(p, 1-p)·n, which is small
// for the late-payment probabilities used here.
func (s sampler) binomial(n int, p float64) int {
	if n <= 0 || p <= 0 {
		return 0
	}
	if p >= 1 {
		return n
	}
	if p > 0.5 {
		return n - s.binomial(n, 1-p)
	}
	lq := math.Log1p(-p)
	count, pos := 0, 0
	for {
		pos += int(math.Floor(math.Log(s.uniformPos())/lq)) + 1
		if pos > n {
			return count
		}
		count++
	}
}

// pick returns the index of the first cumulative probability above a
// uniform draw; cum must end with 1.
func (s sampler) pick(cum []float64) int {
	u := s.uniform()
	for i, c := range cum {
		if u < c {
			return i
		}
	}
	return len(cum) - 1
}
