package exprenv

import (
	"math"
	"reflect"
	"testing"
)

func TestGate(t *testing.T) {
	metrics := []string{"auc", "ks", "gini"}
	params := map[string]any{"min_auc": 0.7}
	g, err := CompileGate("auc >= params.min_auc && ks > 0.2", metrics, params)
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Identifiers(); !reflect.DeepEqual(got, []string{"auc", "ks"}) {
		t.Errorf("Identifiers() = %q", got)
	}
	for _, tc := range []struct {
		m    map[string]float64
		want bool
	}{
		{map[string]float64{"auc": 0.8, "ks": 0.3}, true},
		{map[string]float64{"auc": 0.7, "ks": 0.3, "gini": 1}, true},
		{map[string]float64{"auc": 0.69, "ks": 0.3}, false},
		{map[string]float64{"auc": math.NaN(), "ks": 0.3}, false},
		{map[string]float64{"auc": math.NaN(), "ks": 0.1}, false},
	} {
		got, err := g.Eval(tc.m)
		if err != nil || got != tc.want {
			t.Errorf("Eval(%v) = %v, %v; want %v", tc.m, got, err, tc.want)
		}
	}
	if _, err := g.Eval(map[string]float64{"auc": 0.9}); err == nil || err.Error() != `gate "auc >= params.min_auc && ks > 0.2": metric "ks" missing` {
		t.Errorf("missing metric: err = %v", err)
	}

	// Three-valued logic: a NaN metric does not fail an || that is true anyway.
	g, err = CompileGate("auc > 0.5 || ks > 0.9", metrics, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := g.Eval(map[string]float64{"auc": math.NaN(), "ks": 0.95}); !ok || err != nil {
		t.Errorf("NaN || true = %v, %v", ok, err)
	}

	for src, want := range map[string]string{
		"acu > 0.7": `1:1: unknown metric "acu"; did you mean "auc"?`,
		"auc + 1":   `1:1: gate must be a bool expression, got float`,
		"auc >":     `1:5: unexpected end of expression`,
	} {
		if _, err := CompileGate(src, metrics, nil); err == nil || err.Error() != want {
			t.Errorf("CompileGate(%q) err = %v, want %s", src, err, want)
		}
	}
}
