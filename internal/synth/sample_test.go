package synth

import (
	"math"
	"math/rand/v2"
	"testing"
)

// moments returns the sample mean and variance of n draws.
func moments(n int, draw func() float64) (mean, variance float64) {
	var sum, sum2 float64
	for range n {
		x := draw()
		sum += x
		sum2 += x * x
	}
	mean = sum / float64(n)
	return mean, sum2/float64(n) - mean*mean
}

func TestSamplerMoments(t *testing.T) {
	s := sampler{r: rand.New(rand.NewPCG(1, 2))}
	const n = 200000
	for _, tc := range []struct {
		name       string
		draw       func() float64
		mean, vari float64
	}{
		{"gamma(0.7)", func() float64 { return s.gamma(0.7) }, 0.7, 0.7},
		{"gamma(1.8)", func() float64 { return s.gamma(1.8) }, 1.8, 1.8},
		{"gamma(30)", func() float64 { return s.gamma(30) }, 30, 30},
		{"beta(2,5.5)", func() float64 { return s.beta(2, 5.5) }, 2 / 7.5, 2 * 5.5 / (7.5 * 7.5 * 8.5)},
		{"beta(0.7,30)", func() float64 { return s.beta(0.7, 30) }, 0.7 / 30.7, 0.7 * 30 / (30.7 * 30.7 * 31.7)},
		{"poisson(0.5)", func() float64 { return float64(s.poisson(0.5)) }, 0.5, 0.5},
		{"poisson(3)", func() float64 { return float64(s.poisson(3)) }, 3, 3},
		{"poisson(12)", func() float64 { return float64(s.poisson(12)) }, 12, 12},
		{"poisson(180)", func() float64 { return float64(s.poisson(180)) }, 180, 180},
		{"binomial(200,0.03)", func() float64 { return float64(s.binomial(200, 0.03)) }, 6, 200 * 0.03 * 0.97},
		{"binomial(40,0.6)", func() float64 { return float64(s.binomial(40, 0.6)) }, 24, 40 * 0.6 * 0.4},
		{"normal(41,13)", func() float64 { return s.normal(41, 13) }, 41, 169},
	} {
		m, v := moments(n, tc.draw)
		// Five standard errors of the mean; variance within 3%.
		if se := math.Sqrt(tc.vari / n); math.Abs(m-tc.mean) > 5*se {
			t.Errorf("%s: mean %.5f, want %.5f ± %.5f", tc.name, m, tc.mean, 5*se)
		}
		if math.Abs(v/tc.vari-1) > 0.03 {
			t.Errorf("%s: variance %.5f, want %.5f", tc.name, v, tc.vari)
		}
	}
}

func TestSamplerEdges(t *testing.T) {
	s := sampler{r: rand.New(rand.NewPCG(3, 4))}
	for _, tc := range []struct {
		name      string
		got, want int
	}{
		{"poisson(0)", s.poisson(0), 0},
		{"binomial(0,0.5)", s.binomial(0, 0.5), 0},
		{"binomial(10,0)", s.binomial(10, 0), 0},
		{"binomial(10,1)", s.binomial(10, 1), 10},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
	for range 10000 {
		if k := s.binomial(7, 0.4); k < 0 || k > 7 {
			t.Fatalf("binomial(7, 0.4) = %d", k)
		}
	}
	cum := cumulative([]float64{0.2, 0.3, 0.5})
	counts := make([]int, 3)
	for range 100000 {
		counts[s.pick(cum)]++
	}
	for i, want := range []float64{0.2, 0.3, 0.5} {
		if got := float64(counts[i]) / 100000; math.Abs(got-want) > 0.01 {
			t.Errorf("pick: level %d share %.4f, want %.2f", i, got, want)
		}
	}
}
