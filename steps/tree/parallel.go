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

// log1pTable holds, for i = 0..128, log(1 + i/128) and 1/(1 + i/128).
var log1pTable = func() (t [129][2]float64) {
	for i := range t {
		c := 1 + float64(i)/128
		t[i] = [2]float64{math.Log(c), 1 / c}
	}
	return t
}()

// log1pUnit returns log(1 + e) for 0 <= e <= 1, within a few 1e-16 of
// math.Log1p, without branches or divisions (this is the per-row loss of
// every boosting round): with c = 1 + i/128 the nearest grid point,
// log(1+e) = log c + log1p(r), r = (e − i/128)/c, |r| ≤ 1/256, and
// log1p(r) is its Taylor polynomial of degree 6 (error below 1e-17).
func log1pUnit(e float64) float64 {
	i := int(e*128 + 0.5)
	t := &log1pTable[i&255%129]
	r := (e - float64(i)/128) * t[1]
	p := r * (1 + r*(-1.0/2+r*(1.0/3+r*(-1.0/4+r*(1.0/5+r*(-1.0/6))))))
	return t[0] + p
}

// logLoss returns the log loss of raw score x for label y,
// log(1 + e^x) − y·x, and σ(x).
func logLoss(x, y float64) (loss, p float64) {
	e := math.Exp(-math.Abs(x))
	q := 1 / (1 + e)
	if x >= 0 {
		return x + log1pUnit(e) - y*x, q
	}
	return log1pUnit(e) - y*x, e * q
}
