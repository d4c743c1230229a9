package stats

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"testing"
)

// driftRef is testdata/drift_reference.json, written by
// testdata/make_drift_reference.py from scipy.
type driftRef struct {
	KS []struct {
		Name              string
		A, B              []*float64
		Statistic, PValue float64
		Wasserstein       float64
		RefStd            float64 `json:"ref_std"`
	}
	KStwo []struct {
		N     int
		D, SF float64
	}
	PSI []struct {
		Name      string
		Ref, Cur  []*float64
		Bins      int
		Edges     []float64
		RefCounts []float64 `json:"ref_counts"`
		CurCounts []float64 `json:"cur_counts"`
		PSI, JS   float64
	}
	Chi []struct {
		Name        string
		Ref, Cur    []float64
		Contingency struct {
			Statistic, PValue float64
			DoF               int
		}
		GOF struct {
			Statistic, PValue *float64
		}
	}
	HL []struct {
		Name              string
		P                 []float64
		Y                 []float64
		Groups            int
		Statistic, PValue float64
	}
}

func loadDriftRef(t *testing.T) *driftRef {
	t.Helper()
	b, err := os.ReadFile("testdata/drift_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r driftRef
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func floats(v []*float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		if x == nil {
			out[i] = math.NaN()
		} else {
			out[i] = *x
		}
	}
	return out
}

// relClose reports whether got is within rel of want (relative), or within
// abs when want is tiny.
func relClose(got, want, rel, abs float64) bool {
	if math.IsNaN(want) || math.IsInf(want, 0) {
		return got == want || (math.IsNaN(got) && math.IsNaN(want))
	}
	return math.Abs(got-want) <= max(rel*math.Abs(want), abs)
}

// The KS p-value must match scipy.stats.ks_2samp(method='auto') to 1e-6
// relative; in practice the agreement is ~1e-12.
func TestKS2SampScipy(t *testing.T) {
	ref := loadDriftRef(t)
	worst := 0.0
	for _, c := range ref.KS {
		a, b := floats(c.A), floats(c.B)
		r, err := KS2Samp(a, b)
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		if !relClose(r.Statistic, c.Statistic, 1e-12, 1e-15) {
			t.Errorf("%s: statistic %v, scipy %v", c.Name, r.Statistic, c.Statistic)
		}
		if !relClose(r.PValue, c.PValue, 1e-6, 1e-300) {
			t.Errorf("%s: p-value %v, scipy %v (exact %v)", c.Name, r.PValue, c.PValue, r.Exact)
		}
		if c.PValue > 0 {
			worst = max(worst, math.Abs(r.PValue-c.PValue)/c.PValue)
		}
		w, err := Wasserstein(SortedCopy(a), SortedCopy(b))
		if err != nil || !relClose(w, c.Wasserstein, 1e-9, 1e-12) {
			t.Errorf("%s: wasserstein %v (%v), scipy %v", c.Name, w, err, c.Wasserstein)
		}
		if _, std, _ := MeanStd(a); !relClose(std, c.RefStd, 1e-9, 1e-12) {
			t.Errorf("%s: std %v, numpy %v", c.Name, std, c.RefStd)
		}
	}
	t.Logf("worst KS p-value relative error vs scipy: %.2g", worst)
}

func TestKolmogorovSFScipy(t *testing.T) {
	worst := 0.0
	for _, c := range loadDriftRef(t).KStwo {
		got := KolmogorovSF(c.N, c.D)
		if !relClose(got, c.SF, 1e-6, 1e-300) {
			t.Errorf("kstwo.sf(%v, %d) = %v, scipy %v", c.D, c.N, got, c.SF)
		}
		if c.SF > 0 {
			worst = max(worst, math.Abs(got-c.SF)/c.SF)
		}
	}
	t.Logf("worst kstwo.sf relative error vs scipy: %.2g", worst)
}

func TestPSIAndJSReference(t *testing.T) {
	for _, c := range loadDriftRef(t).PSI {
		refSorted := SortedCopy(floats(c.Ref))
		edges := QuantileEdges(refSorted, c.Bins)
		if len(edges) != len(c.Edges) {
			t.Errorf("%s: edges %v, numpy %v", c.Name, edges, c.Edges)
			continue
		}
		for i := range edges {
			if !relClose(edges[i], c.Edges[i], 1e-12, 1e-15) {
				t.Errorf("%s: edge %d = %v, numpy %v", c.Name, i, edges[i], c.Edges[i])
			}
		}
		rc, cc := BinCounts(floats(c.Ref), edges), BinCounts(floats(c.Cur), edges)
		for i := range rc {
			if rc[i] != c.RefCounts[i] || cc[i] != c.CurCounts[i] {
				t.Errorf("%s: counts %v %v, numpy %v %v", c.Name, rc, cc, c.RefCounts, c.CurCounts)
				break
			}
		}
		psi, err := PSI(Shares(rc), Shares(cc))
		if err != nil || !relClose(psi, c.PSI, 1e-10, 1e-15) {
			t.Errorf("%s: PSI %v (%v), numpy %v", c.Name, psi, err, c.PSI)
		}
		js, err := JensenShannon(rc, cc)
		if err != nil || !relClose(js, c.JS, 1e-9, 1e-12) {
			t.Errorf("%s: JS %v (%v), scipy %v", c.Name, js, err, c.JS)
		}
	}
}

func TestChiSquareScipy(t *testing.T) {
	for _, c := range loadDriftRef(t).Chi {
		r, err := ChiSquareContingency([][]float64{c.Ref, c.Cur})
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if r.DoF != c.Contingency.DoF || !relClose(r.Statistic, c.Contingency.Statistic, 1e-10, 1e-14) ||
			!relClose(r.PValue, c.Contingency.PValue, 1e-6, 1e-300) {
			t.Errorf("%s: contingency %+v, scipy %+v", c.Name, r, c.Contingency)
		}
		if c.GOF.Statistic == nil || c.GOF.PValue == nil {
			continue // scipy: 0/0 for an unused category; ChiSquareGOF leaves it out
		}
		g, err := ChiSquareGOF(c.Cur, c.Ref)
		if err != nil || !relClose(g.Statistic, *c.GOF.Statistic, 1e-10, 1e-14) || !relClose(g.PValue, *c.GOF.PValue, 1e-6, 1e-300) {
			t.Errorf("%s: GOF %+v (%v), scipy %v %v", c.Name, g, err, *c.GOF.Statistic, *c.GOF.PValue)
		}
	}
}

func TestHosmerLemeshowReference(t *testing.T) {
	for _, c := range loadDriftRef(t).HL {
		r, err := HosmerLemeshow(c.P, c.Y, c.Groups)
		if err != nil || !relClose(r.Statistic, c.Statistic, 1e-10, 1e-14) || !relClose(r.PValue, c.PValue, 1e-6, 1e-300) {
			t.Errorf("%s: %+v (%v), reference %v %v", c.Name, r, err, c.Statistic, c.PValue)
		}
	}
}

func TestDriftEdgeCases(t *testing.T) {
	if _, err := KS2Samp(nil, []float64{1}); !errors.Is(err, ErrEmpty) {
		t.Errorf("KS of an empty sample: %v, want ErrEmpty", err)
	}
	if r, _ := KS2Samp([]float64{math.NaN(), math.NaN()}, []float64{1}); !math.IsNaN(r.PValue) {
		t.Errorf("KS of all-NaN: p %v, want NaN", r.PValue)
	}
	if e := QuantileEdges([]float64{5, 5, 5}, 10); len(e) != 0 {
		t.Errorf("constant edges %v, want none", e)
	}
	if _, err := PSI([]float64{1}, []float64{0.5, 0.5}); !errors.Is(err, ErrLength) {
		t.Errorf("PSI length mismatch: %v", err)
	}
	if _, err := HosmerLemeshow([]float64{0.1, 0.2}, []float64{0, 1}, 10); !errors.Is(err, ErrEmpty) {
		t.Errorf("HL with too few rows: %v", err)
	}
}

func TestFairness(t *testing.T) {
	// Group a: 4 rows, 3 approved (p < 0.5); group b: 4 rows, 1 approved.
	p := []float64{0.1, 0.2, 0.3, 0.9, 0.8, 0.7, 0.6, 0.1}
	y := []float64{0, 0, 1, 1, 1, 0, 1, 0}
	g := []string{"a", "a", "a", "a", "b", "b", "b", "b"}
	r, err := Fairness(p, y, g, 0.5, 1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want float64
	}{
		{"approval a", float64(r.Groups[0].ApprovalRate), 0.75},
		{"approval b", float64(r.Groups[1].ApprovalRate), 0.25},
		{"tpr a", float64(r.Groups[0].TPR), 1},   // 2 good, both approved
		{"fpr a", float64(r.Groups[0].FPR), 0.5}, // 2 bad, 1 approved
		{"tpr b", float64(r.Groups[1].TPR), 0.5}, // good rows 0.7 (no), 0.1 (yes)
		{"fpr b", float64(r.Groups[1].FPR), 0},   // bad rows 0.8, 0.6: no
		{"precision a", float64(r.Groups[0].Precision), 2.0 / 3},
		{"dp diff", float64(r.DemographicParityDiff), 0.5},
		{"disparate impact", float64(r.DisparateImpact), 1.0 / 3},
		{"equal opportunity", float64(r.EqualOpportunityDiff), 0.5},
		{"equalized odds", float64(r.EqualizedOddsDiff), 0.5},
	}
	for _, tc := range tests {
		if math.Abs(tc.got-tc.want) > 1e-12 {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if r.MostFavoured != "a" || r.LeastFavoured != "b" {
		t.Errorf("favoured %s, least %s", r.MostFavoured, r.LeastFavoured)
	}
	// With a minimum group of 5 both groups are small: flagged, not judged.
	r, err = Fairness(p, y, g, 0.5, 5)
	if !errors.Is(err, ErrEmpty) || !r.Groups[0].Small || !math.IsNaN(float64(r.DisparateImpact)) {
		t.Errorf("small groups: err %v, %+v", err, r)
	}
	if _, err := json.Marshal(r); err != nil {
		t.Errorf("NaN fields must encode: %v", err)
	}
}
