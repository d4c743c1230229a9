package profile

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline"
)

func TestSortedValuesRoundTrip(t *testing.T) {
	tests := []SortedValues{
		nil,
		{},
		{1},
		{1, 2, 3},
		{0, 0, 0, 1.5, 1.5, 7},
		{math.Inf(-1), -2, math.Copysign(0, -1), 0, 0, 5e-324, math.MaxFloat64, math.Inf(1)},
	}
	for _, want := range tests {
		b, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		var got SortedValues
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%v: %v (%s)", want, err, b)
		}
		if len(got) != len(want) {
			t.Fatalf("%v: decoded %v", want, got)
		}
		for i := range want {
			if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
				t.Errorf("%v: value %d decoded %v", want, i, got[i])
			}
		}
		if has := strings.Contains(string(b), `"runs"`); has != (len(want) > 0 && slices.Compact(slices.Clone(want)) != nil && len(slices.Compact(slices.Clone(want))) < len(want)) {
			t.Errorf("%v: runs present %v in %s", want, has, b)
		}
	}
}

// TestSortedValuesV1 reads the plain arrays of version 1 profiles.
func TestSortedValuesV1(t *testing.T) {
	var got SortedValues
	if err := json.Unmarshal([]byte(` [1, 2.5, 2.5, 1e300]`), &got); err != nil || !slices.Equal(got, SortedValues{1, 2.5, 2.5, 1e300}) {
		t.Errorf("got %v, %v", got, err)
	}
}

func TestSortedValuesErrors(t *testing.T) {
	for _, src := range []string{
		`{"n":2,"distinct":"!!"}`,
		`{"n":2,"distinct":"AAAAAAAA8D8="}`,
		`{"n":1,"distinct":"AAAAAAAA8D8AAAAAAAAAQA=="}`,
		`{"n":3,"distinct":"AAAAAAAA8D8=","runs":"Ag=="}`,
		`{"n":2,"distinct":"AAAAAAAA8D8=","runs":"AA=="}`,
		`{"n":2,"distinct":"AAAAAA=="}`,
		`"x"`,
	} {
		var got SortedValues
		if err := json.Unmarshal([]byte(src), &got); err == nil {
			t.Errorf("%s: decoded %v, want an error", src, got)
		}
	}
}

// TestSortedValuesSize: a million distinct doubles take about 10.7 bytes
// each (a JSON array of such values ~19), repeated values far less.
func TestSortedValuesSize(t *testing.T) {
	v := make(SortedValues, 1_000_000)
	for i := range v {
		v[i] = math.Sqrt(float64(i) + 0.5)
	}
	b, _ := json.Marshal(v)
	a, _ := json.Marshal([]float64(v))
	if len(b) > 11_000_000 || len(b)*3 > len(a)*2 {
		t.Errorf("compact %d bytes, array %d", len(b), len(a))
	}
	for i := range v {
		v[i] = float64(i / 1000)
	}
	if b, _ := json.Marshal(v); len(b) > 20_000 {
		t.Errorf("1000 distinct values in runs of 1000: %d bytes", len(b))
	}
}

// TestFromObjectV1 decodes a version 1 profile (plain arrays), as stores
// written before version 2 hold, and refuses a newer version.
func TestFromObjectV1(t *testing.T) {
	v1 := `{"format":"mlrun-profile","version":1,"rows":3,"bins":10,"target":"y","threshold":0.5,` +
		`"features":[{"name":"x","kind":"numeric","count":3,"missing":0,"sorted":[1,2,2]}],` +
		`"score":{"name":"score","kind":"numeric","count":3,"missing":0,"sorted":[0.1,0.2,0.9]},"baseline":{"auc":0.5}}`
	p, err := FromObject(&pipeline.Document{Type: TypeName, Value: json.RawMessage(v1)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Features[0].Sorted, SortedValues{1, 2, 2}) || !slices.Equal(p.Score.Sorted, SortedValues{0.1, 0.2, 0.9}) {
		t.Errorf("decoded %v and %v", p.Features[0].Sorted, p.Score.Sorted)
	}
	v3 := strings.Replace(v1, `"version":1`, `"version":3`, 1)
	if _, err := FromObject(&pipeline.Document{Type: TypeName, Value: json.RawMessage(v3)}); err == nil {
		t.Errorf("version 3 decoded")
	}
}
