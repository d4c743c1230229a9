package exprenv

import (
	"reflect"
	"testing"
)

func TestParamsRead(t *testing.T) {
	params := map[string]any{"min_auc": 0.7, "cap": 10, "seed": 42}
	cases := []struct {
		src  string
		want map[string]any
	}{
		{"income > 0", map[string]any{}},
		{"auc >= params.min_auc", map[string]any{"min_auc": 0.7}},
		{`x < params["cap"] && auc >= params.min_auc`, map[string]any{"cap": 10, "min_auc": 0.7}},
		{"params.cap + params.cap", map[string]any{"cap": 10}},
		{"params[name] > 0", params},                             // not statically known: all
		{"auc >= (params.min_auc", params},                       // does not parse: all
		{"params_total > params.cap", map[string]any{"cap": 10}}, // a column named like it
	}
	for _, c := range cases {
		if got := ParamsRead(c.src, params); !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParamsRead(%q) = %v, want %v", c.src, got, c.want)
		}
	}
	if got := ParamsRead("params.cap", nil); len(got) != 0 {
		t.Errorf("no params: got %v", got)
	}
}
