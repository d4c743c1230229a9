package stats

import (
	"math"
	"slices"
	"testing"
)

// TestBands: left-closed bands, a value on a cut in the band above it,
// NaN in the missing band, labels low to high.
func TestBands(t *testing.T) {
	labels, order := Bands([]float64{17, 18, 24.5, 25, 64, 65, 90, math.NaN()}, []float64{18, 25, 65}, "(missing)")
	want := []string{"(-inf,18)", "[18,25)", "[18,25)", "[25,65)", "[25,65)", "[65,+inf)", "[65,+inf)", "(missing)"}
	if !slices.Equal(labels, want) {
		t.Errorf("labels %v, want %v", labels, want)
	}
	if want := []string{"(-inf,18)", "[18,25)", "[25,65)", "[65,+inf)", "(missing)"}; !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	if got := BandNames([]float64{0.5}); !slices.Equal(got, []string{"(-inf,0.5)", "[0.5,+inf)"}) {
		t.Errorf("BandNames = %v", got)
	}
	if labels, _ := Bands([]float64{1, 2}, nil, "-"); !slices.Equal(labels, []string{"all", "all"}) {
		t.Errorf("no cuts: %v", labels)
	}
}

// TestFairnessOrdered: the groups come in the given order, the others
// after them by name; the measures are those of Fairness.
func TestFairnessOrdered(t *testing.T) {
	p := []float64{0.1, 0.2, 0.9, 0.8, 0.1, 0.6}
	g := []string{"(-inf,30)", "(-inf,30)", "[60,+inf)", "[60,+inf)", "[30,60)", "z"}
	r, err := FairnessOrdered(p, nil, g, []string{"(-inf,30)", "[30,60)", "[60,+inf)", "(missing)"}, 0.5, 1)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, gr := range r.Groups {
		names = append(names, gr.Group)
	}
	if !slices.Equal(names, []string{"(-inf,30)", "[30,60)", "[60,+inf)", "z"}) {
		t.Errorf("groups %v", names)
	}
	plain, _ := Fairness(p, nil, g, 0.5, 1)
	if plain.DisparateImpact != r.DisparateImpact || plain.MostFavoured != r.MostFavoured {
		t.Errorf("ordered %+v, plain %+v", r, plain)
	}
}
