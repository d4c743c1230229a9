package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/mlrun-cli/mlrun/steps/table"
)

// smallEnsemble returns a valid two-tree boosted model with a numeric and a
// categorical split.
func smallEnsemble(t testing.TB) *Ensemble {
	m, err := NewEnsemble(EnsembleSpec{
		Algorithm: GradientBoosting,
		Target:    Target{Name: "y", Type: table.Int},
		Features: []TreeFeature{
			{Name: "x", Type: table.Float, Edges: []float64{0.5, 1.5}},
			{Name: "s", Type: table.String, Levels: []string{"a", "b"}},
		},
		Base:  -0.25,
		Roots: []int32{0, 3},
		Nodes: []Node{
			{Left: 1, Feature: 0, Bin: 2, Flags: NodeMissingRight, Value: 0.1, Cover: 3},
			{Flags: NodeLeaf, Value: -0.2, Cover: 2}, {Flags: NodeLeaf, Value: 0.3, Cover: 1},
			{Left: 4, Feature: 1, Flags: NodeCategorical, Value: 0, Cover: 3},
			{Flags: NodeLeaf, Value: -0.1, Cover: 1}, {Flags: NodeLeaf, Value: 0.05, Cover: 2},
		},
		CatBits:    []uint64{0b100, 0, 0, 0},
		Importance: []Importance{{Feature: "x", Gain: 1, Splits: 1}, {Feature: "s", Gain: 0.5, Splits: 1}},
		Curve:      &Curve{Train: []float64{0.6, 0.5}, BestIteration: 2},
		Training:   EnsembleTraining{Rows: 3, Positives: 1, Params: json.RawMessage(`{"trees":2}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEnsembleDecodeSmall(t *testing.T) {
	m := smallEnsemble(t)
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := Decode(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	ds, err := table.NewDataset(
		table.NewFloatColumn("x", []float64{0, 1, 2, math.NaN()}),
		table.NewStringColumn("s", []string{"a", "b", "c", "b"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	p, err := back.Predict(ds, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Tree 0: x ≤ 1.5 left (−0.2), else or missing right (0.3). Tree 1:
	// level b (bin 2) right (0.05), a and unseen c left (−0.1).
	want := []float64{-0.25 - 0.2 - 0.1, -0.25 - 0.2 + 0.05, -0.25 + 0.3 - 0.1, -0.25 + 0.3 + 0.05}
	for i := range want {
		if w := sigmoid(want[i]); math.Abs(p[i]-w) > 1e-15 {
			t.Errorf("row %d: %v, want σ(%v) = %v", i, p[i], want[i], w)
		}
	}
	// Damaged encodings are errors wrapping ErrFormat.
	for _, bad := range []string{
		`{"format":"mlrun-model","version":1,"algorithm":"random_forest"}`,
		string(bytes.Replace(buf.Bytes(), []byte(`"roots":[0,3]`), []byte(`"roots":[0,1]`), 1)),
		string(bytes.Replace(buf.Bytes(), []byte(`"base_score":-0.25`), []byte(`"base_score":-0.250`), 1)),
		buf.String() + " ",
	} {
		if _, err := Decode([]byte(bad)); !errors.Is(err, ErrFormat) {
			t.Errorf("Decode(%.60q...) = %v, want ErrFormat", bad, err)
		}
	}
}

// FuzzDecodeEnsemble: Decode never panics, and what it accepts re-encodes
// to the same bytes and predicts.
func FuzzDecodeEnsemble(f *testing.F) {
	var buf bytes.Buffer
	if err := smallEnsemble(f).Encode(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"format":"mlrun-model","version":1,"algorithm":"gradient_boosting"}`))
	ds, err := table.NewDataset(
		table.NewFloatColumn("x", []float64{0, 1, 2, math.NaN()}),
		table.NewStringColumn("s", []string{"a", "b", "c", "b"}, nil))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		var out bytes.Buffer
		if err := m.Encode(&out); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("accepted a non-canonical encoding")
		}
		_, _ = m.Predict(ds, 1)
	})
}
