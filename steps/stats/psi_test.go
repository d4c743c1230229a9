package stats

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// psiRef is testdata/psi_reference.json, written by
// testdata/make_psi_reference.py with numpy.
type psiRef struct {
	Numpy string
	Cases []struct {
		Name        string
		Ref, Cur    []*float64
		Bins        int
		RightClosed psiBins `json:"right_closed"`
		Numpy       psiBins
	}
}

type psiBins struct {
	Edges     []float64
	RefCounts []float64 `json:"ref_counts"`
	CurCounts []float64 `json:"cur_counts"`
	PSI, JS   float64
}

func loadPSIRef(t *testing.T) *psiRef {
	t.Helper()
	b, err := os.ReadFile("testdata/psi_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r psiRef
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Cases) < 10 {
		t.Fatalf("%d cases in psi_reference.json", len(r.Cases))
	}
	return &r
}

// TestPSIBinningNumpy cross-checks both bin conventions against numpy
// (testdata/make_psi_reference.py): edges to 1e-12, counts exactly, PSI
// and JS to 1e-9, for continuous and heavily tied samples. The batch is
// counted both unsorted (a binary search per value) and sorted (a binary
// search per edge).
func TestPSIBinningNumpy(t *testing.T) {
	ref := loadPSIRef(t)
	worst, worstEdge := 0.0, 0.0
	for _, c := range ref.Cases {
		for _, conv := range []struct {
			b    Binning
			want psiBins
		}{{BinsRightClosed, c.RightClosed}, {BinsNumpy, c.Numpy}} {
			name := c.Name + "/" + string(conv.b)
			refSorted := SortedCopy(floats(c.Ref))
			edges := conv.b.Edges(refSorted, c.Bins)
			if len(edges) != len(conv.want.Edges) {
				t.Errorf("%s: edges %v, numpy %v", name, edges, conv.want.Edges)
				continue
			}
			for i := range edges {
				if !relClose(edges[i], conv.want.Edges[i], 1e-12, 1e-15) {
					t.Errorf("%s: edge %d = %v, numpy %v", name, i, edges[i], conv.want.Edges[i])
				}
				if w := conv.want.Edges[i]; w != 0 {
					worstEdge = max(worstEdge, math.Abs(edges[i]-w)/math.Abs(w))
				}
			}
			rc := conv.b.Counts(refSorted, edges)
			cur := floats(c.Cur)
			cc := conv.b.Counts(cur, edges)
			ccSorted := conv.b.Counts(SortedCopy(cur), edges)
			if !equalFloats(rc, conv.want.RefCounts) || !equalFloats(cc, conv.want.CurCounts) || !equalFloats(ccSorted, cc) {
				t.Errorf("%s: counts %v %v (sorted %v), numpy %v %v", name, rc, cc, ccSorted, conv.want.RefCounts, conv.want.CurCounts)
				continue
			}
			psi, err := PSI(Shares(rc), Shares(cc))
			if err != nil || !relClose(psi, conv.want.PSI, 1e-9, 1e-12) {
				t.Errorf("%s: PSI %v (%v), numpy %v", name, psi, err, conv.want.PSI)
			}
			if conv.want.PSI > 0 {
				worst = max(worst, math.Abs(psi-conv.want.PSI)/conv.want.PSI)
			}
			js, err := JensenShannon(rc, cc)
			if err != nil || !relClose(js, conv.want.JS, 1e-9, 1e-12) {
				t.Errorf("%s: JS %v (%v), scipy %v", name, js, err, conv.want.JS)
			}
		}
	}
	t.Logf("numpy %s: worst PSI relative error %.2g, worst edge relative error %.2g", ref.Numpy, worst, worstEdge)
}

// TestBinningConventions pins what the two conventions do with ties, in
// the terms the documentation uses.
func TestBinningConventions(t *testing.T) {
	// 0 0 0 0 1 1 2 2 3 9: deciles 0 0 0 0.6 1 1.4 2 2.2 3.6.
	ref := []float64{0, 0, 0, 0, 1, 1, 2, 2, 3, 9}
	tests := []struct {
		b      Binning
		edges  []float64
		counts []float64
	}{
		// (−∞,0] (0,0.6] (0.6,1] (1,1.4] (1.4,2] (2,2.2] (2.2,3.6] (3.6,∞):
		// the tied minimum is a bin of its own.
		{BinsRightClosed, []float64{0, 0.6, 1, 1.4, 2, 2.2, 3.6}, []float64{4, 0, 2, 0, 2, 0, 1, 1}},
		// (−∞,0.6) [0.6,1) [1,1.4) [1.4,2) [2,2.2) [2.2,3.6) [3.6,∞).
		{BinsNumpy, []float64{0.6, 1, 1.4, 2, 2.2, 3.6}, []float64{4, 0, 2, 0, 2, 1, 1}},
	}
	for _, tt := range tests {
		edges := tt.b.Edges(ref, 10)
		if len(edges) != len(tt.edges) {
			t.Fatalf("%s: edges %v, want %v", tt.b, edges, tt.edges)
		}
		for i := range edges {
			if math.Abs(edges[i]-tt.edges[i]) > 1e-12 {
				t.Errorf("%s: edges %v, want %v", tt.b, edges, tt.edges)
				break
			}
		}
		if got := tt.b.Counts(ref, edges); !equalFloats(got, tt.counts) {
			t.Errorf("%s: counts %v, want %v", tt.b, got, tt.counts)
		}
	}
	// A 0/1 feature: two bins right-closed, one with numpy's closed last
	// bin (so its PSI is 0 for any batch).
	// 15 zeros and 5 ones (no decile falls between the two).
	flag := make([]float64, 20)
	for i := 15; i < 20; i++ {
		flag[i] = 1
	}
	if e := BinsRightClosed.Edges(flag, 10); len(e) != 1 || e[0] != 0 {
		t.Errorf("right_closed edges of a 0/1 feature %v, want [0]", e)
	}
	if e := BinsNumpy.Edges(flag, 10); len(e) != 0 {
		t.Errorf("numpy edges of a 0/1 feature %v, want none", e)
	}
	// Out of the reference's range: the outer bins are open.
	if got := BinsNumpy.Counts([]float64{-5, 0.7, 50}, []float64{0.6, 1}); !equalFloats(got, []float64{1, 1, 1}) {
		t.Errorf("numpy counts out of range %v", got)
	}
	for _, b := range []Binning{BinsRightClosed, BinsNumpy} {
		if !b.Valid() {
			t.Errorf("%s is not valid", b)
		}
		if e := b.Edges([]float64{5, 5, 5}, 10); len(e) != 0 {
			t.Errorf("%s: constant edges %v, want none", b, e)
		}
		if e := b.Edges(nil, 10); e != nil {
			t.Errorf("%s: edges of nothing %v", b, e)
		}
	}
	if Binning("left").Valid() || Binning("").Valid() {
		t.Errorf("unknown conventions are valid")
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
