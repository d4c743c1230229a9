package tree

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// chunkRows is the fixed number of rows of a partial sum: sums over rows
// are taken chunk by chunk, in row order within a chunk, and the chunks
// combined in chunk order, so results do not depend on the number of
// workers.
const chunkRows = 8192

// workers returns the number of goroutines for jobs (< 1: GOMAXPROCS).
func workers(jobs int) int {
	if jobs < 1 {
		return runtime.GOMAXPROCS(0)
	}
	return jobs
}

// parallelFor calls fn(k) for k in [0, tasks) on up to jobs goroutines.
func parallelFor(tasks, jobs int, fn func(k int)) {
	jobs = min(workers(jobs), tasks)
	if jobs <= 1 {
		for k := range tasks {
			fn(k)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range jobs {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= tasks {
					return
				}
				fn(k)
			}
		})
	}
	wg.Wait()
}

// chunks returns the number of chunkRows chunks of n rows.
func chunks(n int) int { return (n + chunkRows - 1) / chunkRows }

// log1pTable holds, for i = 0..511, log(1 + i/256) and 1/(1 + i/256)
// (log1pUnit reads i ≤ 256; the rest makes any i&511 a valid index).
var log1pTable = func() (t [512][2]float64) {
	for i := range t {
		c := 1 + float64(i)/256
		t[i] = [2]float64{math.Log(c), 1 / c}
	}
	return t
}()

// log1pUnit returns log(1 + e) for 0 <= e <= 1, within a few 1e-16 of
// math.Log1p, without branches or divisions (this is the per-row loss of
// every boosting round): with c = 1 + i/256 the nearest grid point,
// log(1+e) = log c + log1p(r), r = (e − i/256)/c, |r| ≤ 1/512, and
// log1p(r) is its Taylor polynomial of degree 5 (error below 1e-17),
// evaluated in Estrin's order (short dependency chains).
func log1pUnit(e float64) float64 {
	i := int(e*256 + 0.5)
	t := &log1pTable[i&511]
	r := (e - float64(i)*(1.0/256)) * t[1]
	r2 := r * r
	return t[0] + (r - r2*((1.0/2-r*(1.0/3))+r2*(1.0/4-r*(1.0/5))))
}

// exp2Table holds 2^(j/256) for j = 0..255.
var exp2Table = func() (t [256]float64) {
	for j := range t {
		t[j] = math.Exp2(float64(j) / 256)
	}
	return t
}()

// ln2/256 split in a high part with trailing zero bits (k·hi is exact)
// and the rest.
const (
	ln2by256Hi = 6.93147180369123816490e-01 / 256
	ln2by256Lo = 1.90821492927058770002e-10 / 256
)

// expNeg returns e^x for x <= 0 within about 3 ulp of math.Exp, with
// short dependency chains (the other half of every boosting round's
// per-row work): x = (256·m + j)·ln2/256 + r with |r| ≤ ln2/512,
// e^x = 2^m · 2^(j/256) · e^r, e^r by its Taylor polynomial of degree 4
// (error below 4e-17) in Estrin's order. Below −700 (results near the
// subnormal range), and for NaN, it is math.Exp.
func expNeg(x float64) float64 {
	if !(x >= -700) {
		return math.Exp(x)
	}
	k := int(x*(256/math.Ln2) - 0.5) // round to nearest, x <= 0
	r := (x - float64(k)*ln2by256Hi) - float64(k)*ln2by256Lo
	r2 := r * r
	p := (1 + r) + r2*((1.0/2+r*(1.0/6))+r2*(1.0/24))
	v := exp2Table[uint8(k)] * p
	return math.Float64frombits(math.Float64bits(v) + uint64(k>>8)<<52)
}

// logLoss returns the log loss of raw score x for label y,
// log(1 + e^x) − y·x, and σ(x).
func logLoss(x, y float64) (loss, p float64) {
	e := expNeg(-math.Abs(x))
	q := 1 / (1 + e)
	if x >= 0 {
		return x + log1pUnit(e) - y*x, q
	}
	return log1pUnit(e) - y*x, e * q
}
