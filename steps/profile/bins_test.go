package profile

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/steps/stats"
)

// TestFeatureBins: a feature's bins in each convention are numpy's
// (../stats/testdata/psi_reference.json, make_psi_reference.py): the
// frozen Edges and Counts for right_closed, those cut from the frozen
// sorted values for numpy, also for a version 1 profile decoded from its
// plain arrays.
func TestFeatureBins(t *testing.T) {
	b, err := os.ReadFile("../stats/testdata/psi_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	type bins struct {
		Edges     []float64
		RefCounts []float64 `json:"ref_counts"`
	}
	var ref struct {
		Cases []struct {
			Name        string
			Ref         []*float64
			Bins        int
			RightClosed bins `json:"right_closed"`
			Numpy       bins
		}
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	for _, c := range ref.Cases {
		v := make([]float64, len(c.Ref))
		for i, x := range c.Ref {
			v[i] = math.NaN()
			if x != nil {
				v[i] = *x
			}
		}
		f := NumericFeature(c.Name, v, c.Bins)
		if !slices.Equal(f.Edges, c.RightClosed.Edges) || !slices.Equal(f.Counts, c.RightClosed.RefCounts) {
			t.Errorf("%s: frozen edges %v counts %v, numpy right_closed %v %v", c.Name, f.Edges, f.Counts, c.RightClosed.Edges, c.RightClosed.RefCounts)
		}
		// A version 1 profile of the same feature: sorted values as an array.
		arr, _ := json.Marshal([]float64(f.Sorted))
		var v1 Feature
		if err := json.Unmarshal([]byte(`{"name":"x","kind":"numeric","sorted":`+string(arr)+`}`), &v1); err != nil {
			t.Fatal(err)
		}
		for _, g := range []*Feature{&f, &v1} {
			e, n := g.Bins(stats.BinsNumpy, c.Bins)
			if !slices.Equal(e, c.Numpy.Edges) || !slices.Equal(n, c.Numpy.RefCounts) {
				t.Errorf("%s: numpy bins %v counts %v, numpy %v %v", c.Name, e, n, c.Numpy.Edges, c.Numpy.RefCounts)
			}
		}
		if e, n := f.Bins(stats.BinsRightClosed, c.Bins); !slices.Equal(e, f.Edges) || !slices.Equal(n, f.Counts) {
			t.Errorf("%s: right_closed bins %v %v are not the frozen ones", c.Name, e, n)
		}
	}
}

// TestProfileBinning: every profile's frozen bins are right-closed, and a
// profile says so (Binning), whatever its version.
func TestProfileBinning(t *testing.T) {
	if EdgesBinning != stats.BinsRightClosed {
		t.Errorf("EdgesBinning = %q", EdgesBinning)
	}
	v1 := `{"format":"mlrun-profile","version":1,"rows":3,"bins":10,"target":"y","threshold":0.5,"features":[],"score":{"name":"score","kind":"numeric","count":0,"missing":0},"baseline":{}}`
	p, err := FromObject(&pipeline.Document{Type: TypeName, Value: json.RawMessage(v1)})
	if err != nil {
		t.Fatal(err)
	}
	if p.Binning() != stats.BinsRightClosed || (&Profile{}).Binning() != stats.BinsRightClosed {
		t.Errorf("Binning() = %q", p.Binning())
	}
	if (&Profile{}).BinCount() != DefaultBins || p.BinCount() != 10 {
		t.Errorf("BinCount() = %d", p.BinCount())
	}
}
