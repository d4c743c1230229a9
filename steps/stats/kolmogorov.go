package stats

import "math"

// KolmogorovSF returns Pr(D_n ≥ d) for the two-sided one-sample
// Kolmogorov–Smirnov statistic D_n = sup |F_n − F| of n observations: the
// survival function of scipy.stats.kstwo, computed as scipy's kolmogn
// (Simard & L'Ecuyer 2011) chooses:
//
//   - n·d ≤ 1/2: 1; n·d ≤ 1: 1 − n!/n^n·(2nd−1)^n (Ruben–Gambino);
//     n·d ≥ n−1: 2(1−d)^n;
//   - d ≥ 1/2, or n > 140 with n·d² ≥ 2.2, or n ≤ 140 with n·d² > 4:
//     2·Pr(D⁺_n ≥ d), the exact one-sided Smirnov tail (SmirnovSF);
//   - n > 140 with n·d² ≥ 370: 0;
//   - n ≤ 140, n·d² ≤ 4, or n ≤ 100000 with n·d^1.5 ≤ 1.4: 1 − the exact
//     CDF by the Durbin matrix (Marsaglia–Tsang–Wang). scipy uses
//     Pomeranz's recursion for n ≤ 140 and 0.754693 < n·d² ≤ 4; both are
//     exact, and the matrix is small there (order ≤ 47);
//   - otherwise 1 − the Pelz–Good asymptotic series.
func KolmogorovSF(n int, d float64) float64 {
	if n <= 0 || math.IsNaN(d) {
		return math.NaN()
	}
	if d >= 1 {
		return 0
	}
	if d <= 0 {
		return 1
	}
	fn := float64(n)
	t := fn * d
	if t <= 1 {
		if t <= 0.5 {
			return 1
		}
		var p float64
		if n <= 140 {
			p = 1
			for i := 1; i <= n; i++ {
				p *= float64(i) / fn * (2*t - 1)
			}
		} else {
			p = math.Exp(logNFactorialDivNPowN(fn) + fn*math.Log(2*t-1))
		}
		return clip01(1 - p)
	}
	if t >= fn-1 {
		return clip01(2 * math.Pow(1-d, fn))
	}
	if d >= 0.5 {
		return clip01(2 * SmirnovSF(n, d))
	}
	nxsq := t * d
	if n <= 140 {
		if nxsq <= 4 {
			return clip01(1 - kolmognDMTW(n, d))
		}
		return clip01(2 * SmirnovSF(n, d))
	}
	if nxsq >= 370 {
		return 0
	}
	if nxsq >= 2.2 {
		return clip01(2 * SmirnovSF(n, d))
	}
	var cdf float64
	if n <= 100000 && fn*math.Pow(d, 1.5) <= 1.4 {
		cdf = kolmognDMTW(n, d)
	} else {
		cdf = kolmognPelzGood(fn, d)
	}
	return clip01(1 - cdf)
}

// logNFactorialDivNPowN is log(n!/n^n) by Stirling's series.
func logNFactorialDivNPowN(n float64) float64 {
	coeffs := [...]float64{-2.955065359477124183e-2, 6.4102564102564102564e-3,
		-1.9175269175269175269e-3, 8.4175084175084175084e-4,
		-5.952380952380952381e-4, 7.9365079365079365079e-4,
		-2.7777777777777777778e-3, 8.3333333333333333333e-2}
	rn := 1 / n
	x := rn / n
	poly := 0.0
	for _, c := range coeffs {
		poly = poly*x + c
	}
	return math.Log(n)/2 - n + math.Log(2*math.Pi)/2 + rn*poly
}

const (
	e128  = 128
	ep128 = 3.402823669209385e+38 // 2^128
	em128 = 2.938735877055719e-39 // 2^-128
)

// kolmognDMTW is Pr(D_n ≤ d) by the Durbin matrix algorithm as improved
// by Marsaglia, Tsang and Wang (2003): the (k,k) entry of H^n, scaled by
// n!/n^n, with k = ⌈nd⌉ and H of order 2k−1.
func kolmognDMTW(n int, d float64) float64 {
	if d >= 1 {
		return 1
	}
	nd := float64(n) * d
	if nd <= 0.5 {
		return 0
	}
	k := int(math.Ceil(nd))
	h := float64(k) - nd
	m := 2*k - 1
	H := newMat(m)
	v := make([]float64, m)
	w := make([]float64, m)
	fac := 1.0
	for j := 1; j <= m; j++ {
		w[j-1] = fac
		fac /= float64(j)
		v[j-1] = (1 - math.Pow(h, float64(j))) * fac
	}
	tt := math.Pow(max(2*h-1, 0), float64(m)) - 2*math.Pow(h, float64(m))
	v[m-1] = (1 + tt) * fac
	for i := 1; i < m; i++ {
		for r := i - 1; r < m; r++ {
			H.set(r, i, w[r-i+1])
		}
	}
	for r := 0; r < m; r++ {
		H.set(r, 0, v[r])
	}
	for c := 0; c < m; c++ {
		H.set(m-1, c, v[m-1-c])
	}
	P := identity(m)
	nn := n
	expnt, hexpnt := 0, 0
	for nn > 0 {
		if nn%2 == 1 {
			P = P.mul(H)
			expnt += hexpnt
		}
		H = H.mul(H)
		hexpnt *= 2
		if math.Abs(H.at(k-1, k-1)) > ep128 {
			H.scale(em128)
			hexpnt += e128
		}
		nn /= 2
	}
	p := P.at(k-1, k-1)
	for i := 1; i <= n; i++ {
		p = float64(i) * p / float64(n)
		if math.Abs(p) < em128 {
			p *= ep128
			expnt -= e128
		}
	}
	if expnt != 0 {
		p = math.Ldexp(p, expnt)
	}
	return clip01(p)
}

type mat struct {
	n int
	a []float64
}

func newMat(n int) mat            { return mat{n: n, a: make([]float64, n*n)} }
func (m mat) at(i, j int) float64 { return m.a[i*m.n+j] }
func (m mat) set(i, j int, v float64) {
	m.a[i*m.n+j] = v
}
func (m mat) scale(f float64) {
	for i := range m.a {
		m.a[i] *= f
	}
}

func identity(n int) mat {
	m := newMat(n)
	for i := 0; i < n; i++ {
		m.set(i, i, 1)
	}
	return m
}

func (m mat) mul(o mat) mat {
	out := newMat(m.n)
	for i := 0; i < m.n; i++ {
		row := out.a[i*m.n : (i+1)*m.n]
		for k := 0; k < m.n; k++ {
			f := m.a[i*m.n+k]
			if f == 0 {
				continue
			}
			orow := o.a[k*m.n : (k+1)*m.n]
			for j, v := range orow {
				row[j] += f * v
			}
		}
	}
	return out
}

// kolmognPelzGood is the Pelz–Good (1976) approximation of Pr(D_n ≤ x):
// K0(z) + K1(z)/√n + K2(z)/n + K3(z)/n^1.5 with z = x√n, each term in its
// Jacobi-theta form for small z.
func kolmognPelzGood(n, x float64) float64 {
	if x <= 0 {
		return 0
	}
	if x >= 1 {
		return 1
	}
	const (
		pi2 = math.Pi * math.Pi
		pi4 = pi2 * pi2
		pi6 = pi4 * pi2
	)
	sqrt2pi := math.Sqrt(2 * math.Pi)
	z := math.Sqrt(n) * x
	z2, z3, z4, z6 := z*z, z*z*z, z*z*z*z, math.Pow(z, 6)
	qlog := -pi2 / 8 / z2
	if qlog < -708 {
		return 0
	}
	q := math.Exp(qlog)
	k1a := -z2
	k1b := pi2 / 4
	k2a := 6*z6 + 2*z4
	k2b := (2*z4 - 5*z2) * pi2 / 4
	k2c := pi4 * (1 - 2*z2) / 16
	k3d := pi6 * (5 - 30*z2) / 64
	k3c := pi4 * (-60*z2 + 212*z4) / 16
	k3b := pi2 * (135*z4 - 96*z6) / 4
	k3a := -30*z6 - 90*math.Pow(z, 8)
	var K [4]float64
	maxk := int(math.Ceil(16 * z / math.Pi))
	for k := maxk; k > 0; k-- {
		m := float64(2*k - 1)
		m2 := m * m
		m4 := m2 * m2
		m6 := m4 * m2
		qp := math.Pow(q, float64(8*k))
		c := [4]float64{1, k1a + k1b*m2, k2a + k2b*m2 + k2c*m4, k3a + k3b*m2 + k3c*m4 + k3d*m6}
		for i := range K {
			K[i] = K[i]*qp + c[i]
		}
	}
	den := [4]float64{z, 6 * z4, 72 * math.Pow(z, 7), 6480 * math.Pow(z, 10)}
	for i := range K {
		K[i] = K[i] * q * sqrt2pi / den[i]
	}
	q = math.Exp(-pi2 / 2 / z2)
	var k2extra, k3extra float64
	sqrt3z := math.Sqrt(3) * z
	for k := maxk; k > 0; k-- {
		fk := float64(k)
		qp := math.Pow(q, fk*fk)
		k2extra += fk * fk * qp
		kspi := math.Pi * fk
		k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * fk * fk * qp
	}
	K[2] += k2extra * pi2 * sqrt2pi / (-36 * z3)
	K[3] += k3extra * pi2 * sqrt2pi / (216 * z6)
	sum := 0.0
	for i := range K {
		sum += K[i] / math.Pow(n, float64(i)/2)
	}
	return sum
}

// SmirnovSF returns Pr(D⁺_n ≥ d), the upper tail of the one-sided
// Kolmogorov–Smirnov statistic, by the Birnbaum–Tingey sum
//
//	Pr(D⁺_n ≥ d) = Σ_{v=0}^{⌊n(1−d)⌋} C(n,v)·d·(d + v/n)^{v−1}·(1 − d − v/n)^{n−v}
//
// whose terms are all positive: each is evaluated as the exp of its
// logarithm (log-gamma for the binomial), and the sum stops once the terms,
// past their peak, fall below 1e-20 of it. scipy's smirnov evaluates the
// same sum in double-double arithmetic; the two agree to about 1e-12
// relative in the range KolmogorovSF uses it.
func SmirnovSF(n int, d float64) float64 {
	if math.IsNaN(d) || n <= 0 {
		return math.NaN()
	}
	if d <= 0 {
		return 1
	}
	if d >= 1 {
		return 0
	}
	fn := float64(n)
	last := int(math.Floor(fn * (1 - d)))
	// n(1-d) may be an integer up to rounding: the last term is 0 then.
	lgn1, _ := math.Lgamma(fn + 1)
	logd := math.Log(d)
	sum, peak := 0.0, math.Inf(-1)
	for v := 0; v <= last; v++ {
		fv := float64(v)
		rest := 1 - d - fv/fn
		if rest <= 0 {
			break
		}
		lv, _ := math.Lgamma(fv + 1)
		lnv, _ := math.Lgamma(fn - fv + 1)
		lt := lgn1 - lv - lnv + logd + (fv-1)*math.Log(d+fv/fn) + (fn-fv)*math.Log(rest)
		sum += math.Exp(lt)
		if lt > peak {
			peak = lt
		} else if lt < peak-46 { // e^-46 ≈ 1e-20
			break
		}
	}
	return clip01(sum)
}
