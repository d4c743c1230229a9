package profile

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline"
)

// The streamed encoding of a profile object is exactly json.Marshal of
// the profile, as a pipeline.Document of it writes.
func TestEncodeMatchesMarshal(t *testing.T) {
	num := NumericFeature("x", []float64{3, 1, math.NaN(), 1, 2, 0, 2, 2, -1}, 3)
	unique := NumericFeature("u", []float64{0.5, 0.25, 1e12, -7}, 2)
	cat := Feature{Name: "c", Kind: Categorical, Count: 3, Missing: 1,
		Categories: []Category{{"a", 1}, {"b\"<&>", 1}}}
	// Sorted and categories together, which Build never makes, and
	// the zero values omitempty leaves out.
	both := Feature{Name: "b", Kind: Numeric, Count: 2, Sorted: SortedValues{0, 0},
		Categories: []Category{{"z", 2}}}
	empty := NumericFeature("e", []float64{math.NaN()}, 2)
	long := make([]float64, 5000)
	for i := range long {
		long[i] = float64(i / 3)
	}
	big := NumericFeature("long", long, 10)
	for _, p := range []*Profile{
		{Format: Format, Version: Version, Rows: 9, Bins: 3, Target: "y", Positive: "bad", Threshold: 0.5,
			Features: []Feature{num, unique, cat, both, empty, big}, Score: NumericFeature("score", []float64{0.1, 0.9, 0.1}, 2),
			Baseline: map[string]float64{"auc": 0.75, "rows": 9}},
		{Format: Format, Version: Version, Target: "t\u2028"},
		{Format: Format, Version: Version, Features: []Feature{}, Baseline: map[string]float64{}},
	} {
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := Object(p).Encode(&got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("Encode:\n%s\njson.Marshal:\n%s", got.Bytes(), want)
		}
		var doc bytes.Buffer
		if err := (&pipeline.Document{Type: TypeName, Value: p}).Encode(&doc); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(doc.Bytes(), want) {
			t.Fatal("pipeline.Document encodes differently")
		}
	}
}

// FromObject gives back the profile of an object, and reads its encoding
// decoded as a document.
func TestObjectRoundTrip(t *testing.T) {
	p := &Profile{Format: Format, Version: Version, Rows: 4, Target: "y",
		Features: []Feature{NumericFeature("x", []float64{2, 1, 1, 1e-300}, 2)},
		Score:    NumericFeature("score", []float64{0.2, 0.4, 0.4, 0.9}, 2), Baseline: map[string]float64{"auc": 1}}
	o := Object(p)
	if got, err := FromObject(o); err != nil || got != p {
		t.Fatalf("FromObject(Object(p)) = %p, %v", got, err)
	}
	var b bytes.Buffer
	if err := o.Encode(&b); err != nil {
		t.Fatal(err)
	}
	got, err := FromObject(&pipeline.Document{Type: TypeName, Value: json.RawMessage(b.Bytes())})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range p.Features[0].Sorted {
		if math.Float64bits(got.Features[0].Sorted[i]) != math.Float64bits(v) {
			t.Fatalf("sorted[%d] = %v, want %v", i, got.Features[0].Sorted[i], v)
		}
	}
}
