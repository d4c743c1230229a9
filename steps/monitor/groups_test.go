package monitor

import (
	"math"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/stats"
	"github.com/mlrun-cli/mlrun/steps/table"
)

func groupNames(r *Report) []string {
	var out []string
	for _, g := range r.Fairness.Groups {
		out = append(out, g.Group)
	}
	return out
}

// TestFairnessContinuousGroup: a numeric group column with many distinct
// values (age, 61 values) is compared in bands, not one group per value:
// quantile bands of the batch by default, group_quantiles bands, or the
// declared group_bins; groups under min_group are flagged; the disparate
// impact is still the lowest approval rate over the highest among the
// judged groups (four-fifths rule).
func TestFairnessContinuousGroup(t *testing.T) {
	m, prof := fixture(t, batchSpec{rows: 800, seed: 1})
	batch := gen(t, batchSpec{rows: 1200, seed: 2})
	tests := []struct {
		name   string
		set    func(*Config)
		groups []string
		method string
		small  []string
	}{
		{"default quartiles", func(*Config) {}, []string{"(-inf,33)", "[33,48)", "[48,63)", "[63,+inf)"}, "default", nil},
		{"group_quantiles", func(c *Config) { c.GroupQuantiles = 3 }, []string{"(-inf,38)", "[38,58)", "[58,+inf)"}, "group_quantiles", nil},
		{"group_bins", func(c *Config) { c.GroupBins = []float64{25, 35, 50, 65} },
			[]string{"(-inf,25)", "[25,35)", "[35,50)", "[50,65)", "[65,+inf)"}, "group_bins", nil},
		{"group_bins with a small band", func(c *Config) { c.GroupBins = []float64{19, 40}; c.MinGroup = 30 },
			[]string{"(-inf,19)", "[19,40)", "[40,+inf)"}, "group_bins", []string{"(-inf,19)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Group = "age"
			tt.set(cfg)
			r, err := Compute(Input{Profile: prof, Model: m, Current: batch}, mustCompile(t, cfg))
			if err != nil {
				t.Fatal(err)
			}
			if r.Fairness == nil {
				t.Fatalf("no fairness report; checks %v notes %v", checkNames(r), r.Notes)
			}
			if got := groupNames(r); !slices.Equal(got, tt.groups) {
				t.Errorf("groups %v, want %v", got, tt.groups)
			}
			if r.GroupBands == nil || r.GroupBands.Method != tt.method || r.GroupBands.Distinct != 61 {
				t.Errorf("group bands %+v, want method %s over 61 values", r.GroupBands, tt.method)
			}
			var small []string
			lo, hi := math.Inf(1), math.Inf(-1)
			rows := 0
			for _, g := range r.Fairness.Groups {
				rows += g.Count
				if g.Small {
					small = append(small, g.Group)
					continue
				}
				lo, hi = min(lo, float64(g.ApprovalRate)), max(hi, float64(g.ApprovalRate))
			}
			if rows != batch.Rows || !slices.Equal(small, tt.small) {
				t.Errorf("%d rows in groups, small %v, want %d and %v", rows, small, batch.Rows, tt.small)
			}
			if di := float64(r.Fairness.DisparateImpact); math.Abs(di-lo/hi) > 1e-12 || float64(r.Dataset["disparate_impact"]) != di {
				t.Errorf("disparate impact %v, want %v/%v", di, lo, hi)
			}
			c := findCheck(r, "fairness")
			if c == nil || c.Passed != (lo/hi >= stats.FourFifths) || !strings.Contains(c.Message, "disparate_impact = ") {
				t.Errorf("fairness check %+v (four-fifths on %v)", c, lo/hi)
			}
			if !strings.Contains(strings.Join(r.Notes, "\n"), "fairness: age ") {
				t.Errorf("notes %q do not say how age was grouped", r.Notes)
			}
		})
	}
}

// TestFairnessDiscreteGroup: string columns and numeric ones with few
// distinct values keep one group per value (numbers in numeric order);
// bands of a string column cannot be evaluated.
func TestFairnessDiscreteGroup(t *testing.T) {
	m, prof := fixture(t, batchSpec{rows: 800, seed: 1})
	batch := gen(t, batchSpec{rows: 600, seed: 2, roundX2: true})
	for _, tc := range []struct {
		group  string
		groups []string
	}{
		{"group", []string{"a", "b"}},
		{"x2", []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}},
	} {
		cfg := DefaultConfig()
		cfg.Group, cfg.MinGroup = tc.group, 1
		r, err := Compute(Input{Profile: prof, Model: m, Current: batch}, mustCompile(t, cfg))
		if err != nil {
			t.Fatal(err)
		}
		if got := groupNames(r); !slices.Equal(got, tc.groups) || r.GroupBands != nil {
			t.Errorf("%s: groups %v (bands %+v), want %v", tc.group, got, r.GroupBands, tc.groups)
		}
	}
	cfg := DefaultConfig()
	cfg.Group, cfg.GroupQuantiles = "channel", 4
	r, err := Compute(Input{Profile: prof, Model: m, Current: batch}, mustCompile(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	c := findCheck(r, "fairness")
	if c == nil || !c.Failed() || !strings.Contains(c.Message, `not evaluated: disparate_impact: group column "channel" is a string column: group_quantiles needs a numeric column`) {
		t.Errorf("fairness = %+v", c)
	}
}

// TestGroupSettings: group_bins and group_quantiles are parsed and
// checked, every problem at its position.
func TestGroupSettings(t *testing.T) {
	cfg, err := ParseConfig("m.yaml", []byte("group: age\ngroup_bins: [18, 25, 35.5, 50, 65]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.GroupBins, []float64{18, 25, 35.5, 50, 65}) {
		t.Errorf("group_bins = %v", cfg.GroupBins)
	}
	if cfg, err = ParseConfig("m.yaml", []byte("group: age\ngroup_quantiles: 5\n")); err != nil || cfg.GroupQuantiles != 5 {
		t.Errorf("group_quantiles: %v %v", cfg, err)
	}
	for _, tc := range []struct{ src, want string }{
		{"group_bins: [18, 18]\n", `m.yaml:1:18: group_bins must be ascending, got 18 after 18`},
		{"group_bins: [a]\n", `m.yaml:1:14: group_bins entries must be numbers, got a string`},
		{"group_bins: []\n", `m.yaml:1:13: group_bins must be a non-empty list of numbers`},
		{"group_bins: 18\n", `m.yaml:1:13: group_bins must be a non-empty list of numbers, got an integer`},
		{"group_quantiles: 1\n", `m.yaml:1:18: group_quantiles must be an integer from 2 to 100, got 1`},
		{"group_bins: [1]\ngroup_quantiles: 4\n", `m.yaml:2:1: group_bins and group_quantiles exclude each other`},
	} {
		if _, err := ParseConfig("m.yaml", []byte(tc.src)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.src, err, tc.want)
		}
	}
}

// TestGroupBandsCompile: in a pipeline the batch's schema is known, so
// bands of a string group column are an error at their position, and
// bands without a group a warning.
func TestGroupBandsCompile(t *testing.T) {
	schema := &table.Schema{Fields: []table.Field{{Name: "age_group", Type: table.String}, {Name: "age", Type: table.Int}}}
	for _, tc := range []struct{ src, want string }{
		{"group: age_group\ngroup_bins: [25, 40]\n", `p.yaml:2:13: group column "age_group" is a string column: group bands need a numeric column`},
		{"group_quantiles: 4\n", `p.yaml:1:18: warning: group bands have no effect without a group column`},
	} {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(tc.src), &doc); err != nil {
			t.Fatal(err)
		}
		p := &pipeline.Pipeline{File: "p.yaml", Source: []byte(tc.src)}
		d := new(diag.List)
		Kind().Compile(&pipeline.CompileRequest{Step: &pipeline.StepSpec{ID: "m", Kind: "monitor", Node: doc.Content[0], Pos: p.Pos(doc.Content[0])},
			Pipeline: p, Inputs: map[string]pipeline.Type{"current": schema}, Diags: d})
		var got []string
		for _, it := range d.Items() {
			got = append(got, it.String())
		}
		if !strings.Contains(strings.Join(got, "\n"), tc.want) {
			t.Errorf("%q: %q, want %q", tc.src, got, tc.want)
		}
	}
	if cfg, err := ParseConfig("m.yaml", []byte("group: age\ngroup_bins: [25, 40]\n")); err != nil || !slices.Equal(cfg.GroupBins, []float64{25, 40}) {
		t.Errorf("ParseConfig: %v, %v", cfg, err)
	}
}
