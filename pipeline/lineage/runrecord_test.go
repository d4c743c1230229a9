package lineage_test

import (
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// A validate step passes its input through: the step after it read the
// object from validate, the nearest earlier producer, not from load.
func TestRunRecordProducer(t *testing.T) {
	raw, derived := lineage.Hash([]byte("raw")), lineage.Hash([]byte("derived"))
	out := func(id lineage.ID) map[string]lineage.ObjectRef {
		return map[string]lineage.ObjectRef{"data": {ID: id}}
	}
	r := &lineage.RunRecord{Steps: []lineage.StepRecord{
		{ID: "load", Outputs: out(raw)},
		{ID: "quality", Inputs: out(raw), Outputs: out(raw)},
		{ID: "features", Inputs: out(raw), Outputs: out(derived)},
	}}
	cases := []struct {
		consumer string
		id       lineage.ID
		want     string
	}{
		{"features", raw, "quality"},
		{"quality", raw, "load"},
		{"load", raw, ""},
		{"features", derived, ""}, // its own output is not an input
	}
	for _, c := range cases {
		if got := r.Producer(c.consumer, c.id); got != c.want {
			t.Errorf("Producer(%s, %s) = %q, want %q", c.consumer, c.id.Short(), got, c.want)
		}
	}
	if s := r.Step("quality"); s == nil || s.ID != "quality" {
		t.Errorf("Step(quality) = %v", s)
	}
	if r.Step("nope") != nil {
		t.Error("Step(nope) != nil")
	}
}
