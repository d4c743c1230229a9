package evaluate

import (
	"math"
	"strings"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// TestFairnessMetrics checks the metrics against values worked by hand: 8
// rows, approved when p < 0.5, good when y = 0.
//
//	age  group     p    y  approved
//	20   [-inf,30) 0.1  0  yes
//	22   [-inf,30) 0.6  0  no
//	25   [-inf,30) 0.7  1  no
//	28   [-inf,30) 0.8  1  no        approval 1/4, TPR 1/2 (goods 2, approved 1)
//	35   [30,inf)  0.1  0  yes
//	40   [30,inf)  0.2  0  yes
//	45   [30,inf)  0.3  1  yes
//	50   [30,inf)  0.9  1  no        approval 3/4, TPR 2/2
//
// home: rent for the first six rows, own for the last two.
func TestFairnessMetrics(t *testing.T) {
	ds := &table.Dataset{Rows: 8, Columns: []*table.Column{
		{Name: "age", Type: table.Float, Floats: []float64{20, 22, 25, 28, 35, 40, 45, 50}},
		{Name: "home", Type: table.String, Codes: []uint32{0, 0, 0, 0, 0, 0, 1, 1}, Dict: []string{"rent", "own"}},
	}}
	p := []float64{0.1, 0.6, 0.7, 0.8, 0.1, 0.2, 0.3, 0.9}
	y := []float64{0, 0, 1, 1, 0, 0, 1, 1}
	cfg := &FairnessConfig{MinGroup: 2, Attributes: []Attribute{
		{Column: "age", Bins: []float64{30}, Metric: "age"},
		{Column: "home", Metric: "home"},
	}}
	r := &Report{Metrics: map[string]float64{}}
	if err := evalFairness(r, cfg, ds, p, y, 0.5); err != nil {
		t.Fatal(err)
	}
	// home: rent approves 3/6 (rows 1, 5, 6), TPR 3/4; own approves 1/2
	// (row 7), TPR undefined (no good row): equal opportunity over rent only.
	want := map[string]float64{
		"demographic_parity_difference_age": 0.5, "disparate_impact_age": 1.0 / 3, "equal_opportunity_difference_age": 0.5,
		"demographic_parity_difference_home": 0, "disparate_impact_home": 1,
		"demographic_parity_difference": 0.5, "disparate_impact": 1.0 / 3, "equal_opportunity_difference": 0.5,
	}
	for k, v := range want {
		if got, ok := r.Metrics[k]; !ok || math.Abs(got-v) > 1e-12 {
			t.Errorf("%s = %v (defined %v), want %v", k, got, ok, v)
		}
	}
	if _, ok := r.Metrics["equal_opportunity_difference_home"]; ok {
		t.Errorf("equal_opportunity_difference_home defined from one group with goods: %v", r.Metrics["equal_opportunity_difference_home"])
	}
	if got := r.Fairness[0].Report.Groups[0].Group; got != "(-inf,30)" {
		t.Errorf("first age band %q", got)
	}

	// Groups smaller than min_group are not compared: the metrics are
	// undefined, with the reason, and a gate reading them fails.
	r = &Report{Metrics: map[string]float64{}}
	cfg.MinGroup = 5
	if err := evalFairness(r, cfg, ds, p, y, 0.5); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Metrics["disparate_impact_age"]; ok || !strings.Contains(r.Undefined["disparate_impact_age"], "fairness by age is undefined") {
		t.Errorf("small groups: metrics %v undefined %v", r.Metrics, r.Undefined)
	}
}

// TestFairnessGate runs a fairness gate through the kind: the protected
// attribute of the pipeline is compared by default, and a gate that reads
// its disparate impact fails the step.
func TestFairnessGate(t *testing.T) {
	m := fit(t, "algorithm: logistic_regression\ntarget: default\nfeatures: [income]", synthetic(2000, 1))
	test := synthetic(1000, 2)
	c, diags := compileProtected(t, "gates:\n  four_fifths: disparate_impact_home >= 0.99\n  parity: {expr: demographic_parity_difference <= 0.001, severity: warn}", m, test, []string{"home"})
	if c == nil {
		t.Fatalf("not compiled: %q", diags)
	}
	res := runCompiled(t, c, m, test)
	if len(res.Checks) != 2 {
		t.Fatalf("checks %+v", res.Checks)
	}
	for _, ch := range res.Checks {
		if ch.Passed {
			t.Errorf("gate %s passed: %s (home drives default in the synthetic data)", ch.Name, ch.Message)
		}
	}
	if res.Checks[1].Name != "parity" || res.Checks[1].Severity != pipeline.SeverityWarn {
		t.Errorf("warn gate %+v", res.Checks[1])
	}
	if _, ok := res.Metrics["disparate_impact_home"]; !ok {
		t.Errorf("metrics %v", res.Metrics)
	}
	found := false
	for _, n := range res.Notes {
		found = found || strings.HasPrefix(n, "fairness by home (2 groups judged): approval rate ")
	}
	if !found {
		t.Errorf("notes %q", res.Notes)
	}
}
