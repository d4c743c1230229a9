package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// sortedFiniteRef is the comparison-sort definition of sortedFinite.
func sortedFiniteRef(v []float64) []float64 {
	out := make([]float64, 0, len(v))
	for _, x := range v {
		if !math.IsNaN(x) {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out
}

// maxDiffRef is the KS numerator by the plain merge that consumes each run
// of equal values on both sides before comparing.
func maxDiffRef(x, y []float64) int64 {
	n1, n2 := len(x), len(y)
	var best int64
	i, j := 0, 0
	for i < n1 && j < n2 {
		v := min(x[i], y[j])
		for i < n1 && x[i] == v {
			i++
		}
		for j < n2 && y[j] == v {
			j++
		}
		diff := int64(i)*int64(n2) - int64(j)*int64(n1)
		best = max(best, diff, -diff)
	}
	return best
}

func binCountsRef(v, edges []float64) []float64 {
	counts := make([]float64, len(edges)+1)
	for _, x := range v {
		if math.IsNaN(x) {
			continue
		}
		k := 0
		for k < len(edges) && x > edges[k] {
			k++
		}
		counts[k]++
	}
	return counts
}

// sample draws n values of a kind chosen to stress the radix sort (sign,
// exponent and low mantissa bits) and the merge (ties, special values).
func sample(r *rand.Rand, kind string, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		switch kind {
		case "normal":
			v[i] = r.NormFloat64()
		case "ints":
			v[i] = float64(r.IntN(7) - 3)
		case "wide":
			v[i] = math.Ldexp(r.Float64()-0.5, r.IntN(2000)-1000)
		case "special":
			v[i] = []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1),
				5e-324, -5e-324, math.MaxFloat64, -math.MaxFloat64, 1, -1}[r.IntN(11)]
		case "mixed":
			if r.IntN(10) == 0 {
				v[i] = math.NaN()
			} else {
				v[i] = math.Round(r.NormFloat64()*100) / 100
			}
		}
	}
	return v
}

func bitsEqualUpToZeroSign(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return x == y })
}

func TestSortedFinite(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, kind := range []string{"normal", "ints", "wide", "special", "mixed"} {
		for _, n := range []int{0, 1, 5, radixMin - 1, radixMin, 3*radixMin + 7, 100000} {
			v := sample(r, kind, n)
			orig := slices.Clone(v)
			got, want := sortedFinite(v), sortedFiniteRef(v)
			if !bitsEqualUpToZeroSign(got, want) {
				t.Fatalf("%s n=%d: radix sort differs from slices.Sort", kind, n)
			}
			for i := 1; i < len(got) && n >= radixMin; i++ {
				if floatKey(got[i-1]) > floatKey(got[i]) { // −0 before +0
					t.Fatalf("%s n=%d: %v before %v", kind, n, got[i-1], got[i])
				}
			}
			if !slices.EqualFunc(v, orig, func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }) {
				t.Fatalf("%s n=%d: input modified", kind, n)
			}
		}
	}
	// All NaN: empty, not nil.
	if got := sortedFinite(sample(r, "special", 0)); got == nil || len(got) != 0 {
		t.Fatalf("empty input: %v", got)
	}
	nan := make([]float64, radixMin)
	for i := range nan {
		nan[i] = math.NaN()
	}
	if got := sortedFinite(nan); got == nil || len(got) != 0 {
		t.Fatalf("all NaN: %d values", len(got))
	}
}

func TestFloatKeyOrder(t *testing.T) {
	vals := []float64{math.Inf(-1), -math.MaxFloat64, -1, -5e-324, math.Copysign(0, -1), 0, 5e-324, 1, math.MaxFloat64, math.Inf(1)}
	for i, v := range vals {
		if got := keyFloat(floatKey(v)); math.Float64bits(got) != math.Float64bits(v) {
			t.Errorf("keyFloat(floatKey(%v)) = %v", v, got)
		}
		if i > 0 && floatKey(vals[i-1]) >= floatKey(v) {
			t.Errorf("floatKey(%v) >= floatKey(%v)", vals[i-1], v)
		}
	}
}

func TestMaxDiffSorted(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, kind := range []string{"normal", "ints", "special", "mixed"} {
		for _, n1 := range []int{1, 2, 7, 100, 5000} {
			for _, n2 := range []int{1, 3, 100, 4999} {
				x, y := sortedFiniteRef(sample(r, kind, n1)), sortedFiniteRef(sample(r, kind, n2))
				if len(x) == 0 || len(y) == 0 {
					continue
				}
				if got, want := maxDiffSorted(x, y), maxDiffRef(x, y); got != want {
					t.Fatalf("%s n1=%d n2=%d: maxDiffSorted %d, merge %d", kind, n1, n2, got, want)
				}
			}
		}
	}
	for _, c := range []struct{ x, y []float64 }{
		{[]float64{1, 1, 1}, []float64{1, 1}},
		{[]float64{1, 2, 2, 2}, []float64{2, 2, 3}},
		{[]float64{1, 2}, []float64{3, 4}},
		{[]float64{3, 4}, []float64{1, 2, 2}},
		{[]float64{math.Inf(1), math.Inf(1)}, []float64{0, math.Inf(1)}},
		{[]float64{math.Inf(-1), 0}, []float64{math.Inf(-1), math.Inf(-1)}},
	} {
		if got, want := maxDiffSorted(c.x, c.y), maxDiffRef(c.x, c.y); got != want {
			t.Errorf("%v %v: maxDiffSorted %d, merge %d", c.x, c.y, got, want)
		}
	}
}

func TestBinCountsSorted(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, kind := range []string{"normal", "ints", "special", "mixed"} {
		v := sample(r, kind, 3000)
		s := sortedFiniteRef(v)
		edges := QuantileEdges(s, 10)
		for _, e := range [][]float64{edges, nil, {0}, {-1, 0, 0.5, 1}} {
			want := binCountsRef(v, e)
			for name, got := range map[string][]float64{
				"BinCounts(unsorted)": BinCounts(v, e), "BinCounts(sorted)": BinCounts(s, e),
				"BinCountsSorted": BinCountsSorted(s, e)} {
				if !slices.Equal(got, want) {
					t.Errorf("%s %s edges %v: %v, want %v", kind, name, e, got, want)
				}
			}
		}
	}
	if !isSortedFinite(nil) || isSortedFinite([]float64{math.NaN()}) || isSortedFinite([]float64{1, math.NaN(), 2}) ||
		isSortedFinite([]float64{math.NaN(), 1}) || !isSortedFinite([]float64{1, 1, 2}) {
		t.Error("isSortedFinite")
	}
	// A NaN or an inversion at every place of short and unrolled lengths.
	for n := 2; n <= 11; n++ {
		for k := range n {
			v := make([]float64, n)
			for i := range v {
				v[i] = float64(i)
			}
			if !isSortedFinite(v) {
				t.Errorf("n=%d: sorted reported unsorted", n)
			}
			v[k] = math.NaN()
			if isSortedFinite(v) {
				t.Errorf("n=%d: NaN at %d not seen", n, k)
			}
			v[k] = -1
			if k > 0 && isSortedFinite(v) {
				t.Errorf("n=%d: inversion at %d not seen", n, k)
			}
		}
	}
}

func FuzzSortedFinite(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7}, uint16(100))
	f.Fuzz(func(t *testing.T, b []byte, rep uint16) {
		// Repeat the fuzzed values up to past radixMin so both paths run.
		var v []float64
		for len(b) >= 8 && len(v) < 64 {
			v = append(v, math.Float64frombits(uint64(b[0])|uint64(b[1])<<8|uint64(b[2])<<16|uint64(b[3])<<24|
				uint64(b[4])<<32|uint64(b[5])<<40|uint64(b[6])<<48|uint64(b[7])<<56))
			b = b[8:]
		}
		if len(v) == 0 {
			return
		}
		n := int(rep)%(2*radixMin) + 1
		w := make([]float64, n)
		for i := range w {
			w[i] = v[(i*7)%len(v)]
		}
		want := sortedFiniteRef(w)
		if got := sortedFinite(w); !bitsEqualUpToZeroSign(got, want) {
			t.Fatalf("radix sort differs from slices.Sort on %v", v)
		}
		// Two interleaved samples: the sorted values split by a fuzzed
		// pattern of the index.
		var x, y []float64
		for i, f := range want {
			if (i*int(rep|1))%5 < 2 {
				x = append(x, f)
			} else {
				y = append(y, f)
			}
		}
		if len(x) > 0 && len(y) > 0 {
			if got, want := maxDiffSorted(x, y), maxDiffRef(x, y); got != want {
				t.Fatalf("maxDiffSorted %d, merge %d", got, want)
			}
		}
	})
}

func BenchmarkSortedFinite(b *testing.B) {
	v := sample(rand.New(rand.NewPCG(7, 8)), "normal", 1_000_000)
	b.Run("radix", func(b *testing.B) {
		b.SetBytes(int64(8 * len(v)))
		for range b.N {
			sortedFinite(v)
		}
	})
	b.Run("pdqsort", func(b *testing.B) {
		b.SetBytes(int64(8 * len(v)))
		for range b.N {
			sortedFiniteRef(v)
		}
	})
}

func BenchmarkMaxDiffSorted(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	x, y := sortedFiniteRef(sample(r, "normal", 1_000_000)), sortedFiniteRef(sample(r, "normal", 1_000_000))
	b.Run("branchless", func(b *testing.B) {
		for range b.N {
			maxDiffSorted(x, y)
		}
	})
	b.Run("merge", func(b *testing.B) {
		for range b.N {
			maxDiffRef(x, y)
		}
	})
}

func BenchmarkIsSortedFinite(b *testing.B) {
	v := sortedFiniteRef(sample(rand.New(rand.NewPCG(11, 12)), "normal", 1_000_000))
	for range b.N {
		if !isSortedFinite(v) {
			b.Fatal("not sorted")
		}
	}
}
