package stats

import (
	"math"
	"slices"
	"sync"
)

// radixMin is the length from which sortedFinite radix-sorts: below it
// slices.Sort (pdqsort) is as fast and needs no scratch buffers.
const radixMin = 1 << 12

const (
	radixBits    = 11
	radixBuckets = 1 << radixBits
	radixPasses  = (64 + radixBits - 1) / radixBits // 6
)

// sortedFinite returns a sorted copy of v without NaNs.
//
// Long inputs are sorted by a least-significant-digit radix sort on the
// float64 bit patterns mapped to order-preserving unsigned keys (floatKey):
// one pass drops the NaNs, makes the keys and counts the digits of all six
// 11-bit passes, then each pass whose digit is not the same for every key
// scatters the keys stably into the other buffer (the last one writes the
// floats into the result). O(n) and about 5x faster
// than pdqsort on a million values; the result is the same multiset in
// ascending order, with −0 before +0 (the comparison sort leaves equal
// values, and so −0 and +0, in no particular order).
func sortedFinite(v []float64) []float64 {
	if len(v) < radixMin {
		out := make([]float64, 0, len(v))
		for _, x := range v {
			if !math.IsNaN(x) {
				out = append(out, x)
			}
		}
		slices.Sort(out)
		return out
	}
	buf := radixPool.Get().(*radixBuf)
	defer radixPool.Put(buf)
	keys, tmp := buf.grow(len(v))
	var hist [radixPasses][radixBuckets]int
	n := 0
	for _, x := range v {
		if x != x { // NaN
			continue
		}
		k := floatKey(x)
		keys[n] = k
		n++
		hist[0][k&(radixBuckets-1)]++
		hist[1][(k>>radixBits)&(radixBuckets-1)]++
		hist[2][(k>>(2*radixBits))&(radixBuckets-1)]++
		hist[3][(k>>(3*radixBits))&(radixBuckets-1)]++
		hist[4][(k>>(4*radixBits))&(radixBuckets-1)]++
		hist[5][k>>(5*radixBits)]++
	}
	keys, tmp = keys[:n], tmp[:n]
	out := make([]float64, n)
	if n == 0 {
		return out
	}
	// The passes that move keys: those whose digit is not the same for
	// every key. The last one writes the floats themselves.
	var passes []int
	for p := range radixPasses {
		if hist[p][(keys[0]>>uint(p*radixBits))&(radixBuckets-1)] != n {
			passes = append(passes, p)
		}
	}
	if len(passes) == 0 { // all keys equal
		for i, k := range keys {
			out[i] = keyFloat(k)
		}
		return out
	}
	for q, p := range passes {
		shift := uint(p * radixBits)
		// Exclusive prefix sums: the first slot of each digit.
		var at [radixBuckets]int
		sum := 0
		for d, c := range &hist[p] {
			at[d] = sum
			sum += c
		}
		if q == len(passes)-1 {
			for _, k := range keys {
				d := (k >> shift) & (radixBuckets - 1)
				out[at[d]] = keyFloat(k)
				at[d]++
			}
			break
		}
		for _, k := range keys {
			d := (k >> shift) & (radixBuckets - 1)
			tmp[at[d]] = k
			at[d]++
		}
		keys, tmp = tmp, keys
	}
	return out
}

// floatKey maps a non-NaN float64 to a uint64 with the same order: the
// sign bit is set for non-negative values, and every bit of a negative
// value is flipped (so that larger magnitudes sort first).
func floatKey(f float64) uint64 {
	b := math.Float64bits(f)
	return b ^ (uint64(int64(b)>>63) | 1<<63)
}

// keyFloat inverts floatKey.
func keyFloat(k uint64) float64 {
	return math.Float64frombits(k ^ ((k>>63 - 1) | 1<<63))
}

// radixBuf holds the two key buffers of sortedFinite, reused across calls
// (the monitor sorts one column after another).
type radixBuf struct{ a, b []uint64 }

func (r *radixBuf) grow(n int) ([]uint64, []uint64) {
	if cap(r.a) < n {
		r.a, r.b = make([]uint64, n), make([]uint64, n)
	}
	return r.a[:n], r.b[:n]
}

var radixPool = sync.Pool{New: func() any { return new(radixBuf) }}
