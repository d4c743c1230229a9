package monitor

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/profile"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// batchSpec describes a generated batch: x1 ~ N(shift, 1), x2 ~ U(0, 10)
// (or the constant x2 when set; rounded to an integer with roundX2),
// channel from channels, y = 1 when x1 + noise > 0.5 (or oneClass for every
// row), group a/b alternating, age 18..78 (61 values, from the row number:
// the random draws are the same with or without it).
type batchSpec struct {
	rows     int
	seed     uint64
	shift    float64
	x2       *float64
	roundX2  bool
	channels []string
	oneClass *int64
	drop     string
}

var baseChannels = []string{"web", "branch", "phone"}

func gen(t *testing.T, s batchSpec) *table.Dataset {
	t.Helper()
	r := rand.New(rand.NewPCG(s.seed, 1))
	if s.channels == nil {
		s.channels = baseChannels
	}
	x1, x2 := make([]float64, s.rows), make([]float64, s.rows)
	ch, grp := make([]string, s.rows), make([]string, s.rows)
	y, age := make([]int64, s.rows), make([]int64, s.rows)
	for i := range s.rows {
		x1[i] = r.NormFloat64() + s.shift
		x2[i] = r.Float64() * 10
		if s.x2 != nil {
			x2[i] = *s.x2
		}
		if s.roundX2 {
			x2[i] = math.Round(x2[i])
		}
		age[i] = 18 + int64(i*37%61)
		ch[i] = s.channels[r.IntN(len(s.channels))]
		grp[i] = []string{"a", "b"}[i%2]
		if x1[i]+0.5*r.NormFloat64() > 0.5 {
			y[i] = 1
		}
		if s.oneClass != nil {
			y[i] = *s.oneClass
		}
	}
	var cols []*table.Column
	for _, c := range []*table.Column{
		table.NewFloatColumn("x1", x1), table.NewFloatColumn("x2", x2),
		table.NewStringColumn("channel", ch, nil), table.NewStringColumn("group", grp, nil),
		table.NewIntColumn("y", y, nil), table.NewIntColumn("age", age, nil),
	} {
		if c.Name != s.drop {
			cols = append(cols, c)
		}
	}
	ds, err := table.NewDataset(cols...)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// fixture trains a logistic model on a reference sample and freezes its
// profile.
func fixture(t *testing.T, ref batchSpec) (model.Model, *profile.Profile) {
	t.Helper()
	ds := gen(t, ref)
	cfg := model.DefaultLogisticConfig()
	cfg.Target = model.Target{Name: "y", Type: table.Int}
	cfg.Features = []string{"x1", "x2", "channel"}
	m, err := model.FitLogistic(ds, cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Predict(ds, 1)
	if err != nil {
		t.Fatal(err)
	}
	y, err := m.Target().Labels(ds)
	if err != nil {
		t.Fatal(err)
	}
	prof, err := profile.Build(ds, m, p, y, profile.DefaultBins)
	if err != nil {
		t.Fatal(err)
	}
	return m, prof
}

func mustCompile(t *testing.T, cfg *Config) *Config {
	t.Helper()
	if errs := cfg.Compile(nil); len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	return cfg
}

func findCheck(r *Report, name string) *pipeline.Check {
	for i := range r.Checks {
		if r.Checks[i].Name == name {
			return &r.Checks[i]
		}
	}
	return nil
}

func findFeature(r *Report, name string) *FeatureDrift {
	for i := range r.Features {
		if r.Features[i].Name == name {
			return &r.Features[i]
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// wantCheck is the expected outcome of one check: passed, whether it fails
// the step (critical) and a substring of its message.
type wantCheck struct {
	name     string
	passed   bool
	critical bool
	msg      string
}

// TestComputeEdgeCases runs each edge case of issue 4 (a feature missing
// from the batch, a new category, a constant column, an empty batch,
// labels of one class) through Compute: each gives a clear message and
// never a panic or an undefined number that passes.
func TestComputeEdgeCases(t *testing.T) {
	ref := batchSpec{rows: 800, seed: 1}
	m, prof := fixture(t, ref)
	tests := []struct {
		name    string
		batch   batchSpec
		labels  bool
		checks  []wantCheck
		feature func(t *testing.T, r *Report)
	}{{
		name:  "undrifted batch passes",
		batch: batchSpec{rows: 800, seed: 2},
		checks: []wantCheck{
			{name: "psi:x1", passed: true, critical: true, msg: "x1: psi = "},
			{name: "dataset_drift", passed: true, critical: true, msg: "drift_share = 0: drift_share < 0.5 holds"},
		},
	}, {
		name:  "missing feature column",
		batch: batchSpec{rows: 300, seed: 3, drop: "x2"},
		checks: []wantCheck{
			{name: "psi:x2", critical: true, msg: "x2: column is missing from the batch"},
			{name: "ks:x2", msg: "x2: column is missing from the batch"},
			{name: "schema", critical: true, msg: "the batch does not fit the model"},
			{name: "psi:x1", passed: true, critical: true},
		},
		feature: func(t *testing.T, r *Report) {
			if f := findFeature(r, "x2"); f == nil || f.Error != "column is missing from the batch" {
				t.Errorf("x2 = %+v, want the missing-column error", f)
			}
			if r.Score != nil {
				t.Errorf("score drift computed for a batch the model cannot score")
			}
		},
	}, {
		name:  "new category counted and reported",
		batch: batchSpec{rows: 600, seed: 4, channels: []string{"web", "branch", "phone", "mobile", "mobile"}},
		checks: []wantCheck{
			{name: "unseen:channel", msg: "channel: unseen_share = 0.4"},
			{name: "psi:channel", critical: true, msg: "needs psi < 0.25"},
			{name: "chi2:channel", msg: "needs chi2_pvalue >= 0.01"},
		},
		feature: func(t *testing.T, r *Report) {
			f := findFeature(r, "channel")
			if len(f.Unseen) != 1 || f.Unseen[0].Value != "mobile" {
				t.Fatalf("unseen = %+v, want mobile", f.Unseen)
			}
			if got := float64(f.Vars["unseen_count"]); got != f.Unseen[0].Count || got < 150 {
				t.Errorf("unseen_count = %v, unseen = %+v", got, f.Unseen)
			}
			// The unseen category is a bin of reference share 0, not dropped.
			if len(f.CurrentBins) != len(prof.Feature("channel").Categories)+1 {
				t.Errorf("current bins %v: the unseen category is not a bin", f.CurrentBins)
			}
		},
	}, {
		name:  "constant column in the batch",
		batch: batchSpec{rows: 400, seed: 5, x2: ptr(5.0)},
		checks: []wantCheck{
			{name: "psi:x2", critical: true, msg: "x2: psi = "},
			{name: "ks:x2", msg: "needs ks_pvalue >= 0.01"},
		},
		feature: func(t *testing.T, r *Report) {
			f := findFeature(r, "x2")
			for _, k := range []string{"psi", "js", "ks_statistic", "ks_pvalue", "wasserstein", "wasserstein_norm"} {
				if v := float64(f.Vars[k]); math.IsNaN(v) || math.IsInf(v, 0) {
					t.Errorf("%s = %v for a constant batch column", k, v)
				}
			}
			if !f.Drifted {
				t.Errorf("a constant column is not counted as drifted (psi %v)", f.Vars["psi"])
			}
		},
	}, {
		name:   "empty batch",
		batch:  batchSpec{rows: 0, seed: 6},
		labels: true,
		checks: []wantCheck{
			{name: "empty_batch", critical: true, msg: "the batch has no rows: nothing to compare"},
			{name: "psi:x1", critical: true, msg: "x1: the batch has no rows"},
			{name: "dataset_drift", critical: true, msg: "not evaluated: drift_share = undefined, so drift_share < 0.5 cannot be decided"},
			{name: "rows", msg: "rows = 0, needs rows >= 100"},
		},
		feature: func(t *testing.T, r *Report) {
			if r.Performance != nil || r.Score != nil {
				t.Errorf("performance or score computed on an empty batch")
			}
		},
	}, {
		name:   "labels with one class",
		batch:  batchSpec{rows: 300, seed: 7, oneClass: ptr(int64(0))},
		labels: true,
		checks: []wantCheck{
			{name: "performance", critical: true, msg: "not evaluated: auc_drop = undefined, so accuracy_drop <= 0.05 && auc_drop <= 0.05 cannot be decided"},
		},
		feature: func(t *testing.T, r *Report) {
			if !r.Labels || r.Performance == nil {
				t.Fatalf("performance not computed")
			}
			if !strings.Contains(strings.Join(r.Notes, "\n"), "labels hold one class") {
				t.Errorf("notes %q do not explain the undefined AUC", r.Notes)
			}
		},
	}, {
		name:   "labels ignored with NoLabels",
		batch:  batchSpec{rows: 300, seed: 8},
		labels: false,
		feature: func(t *testing.T, r *Report) {
			if r.Labels || findCheck(r, "performance") != nil {
				t.Errorf("performance checked with NoLabels")
			}
			if !strings.Contains(strings.Join(r.Notes, "\n"), "performance not checked") {
				t.Errorf("notes %q", r.Notes)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustCompile(t, DefaultConfig())
			cfg.NoLabels = !tt.labels
			r, err := Compute(Input{Profile: prof, Model: m, Current: gen(t, tt.batch)}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.checks {
				c := findCheck(r, w.name)
				if c == nil {
					t.Errorf("no check %q in %v", w.name, checkNames(r))
					continue
				}
				if c.Passed != w.passed || c.Failed() != (w.critical && !w.passed) {
					t.Errorf("%s: passed %v failed %v, want passed %v critical %v (%s)", w.name, c.Passed, c.Failed(), w.passed, w.critical, c.Message)
				}
				if (c.Severity == pipeline.SeverityError) != w.critical {
					t.Errorf("%s: severity %s, want critical %v", w.name, c.Severity, w.critical)
				}
				if !strings.Contains(c.Message, w.msg) {
					t.Errorf("%s: message %q, want it to contain %q", w.name, c.Message, w.msg)
				}
			}
			for _, c := range r.Checks {
				if c.Passed {
					for k, v := range c.Values {
						if math.IsNaN(v) {
							t.Errorf("%s passed on %s = NaN", c.Name, k)
						}
					}
				}
			}
			if !sort.SliceIsSorted(r.Checks, func(i, j int) bool { return rank(r.Checks[i]) < rank(r.Checks[j]) }) {
				t.Errorf("checks are not failed-critical first: %v", checkNames(r))
			}
			if tt.feature != nil {
				tt.feature(t, r)
			}
		})
	}
}

func rank(c pipeline.Check) int {
	switch {
	case c.Failed():
		return 0
	case !c.Passed:
		return 1
	}
	return 2
}

func checkNames(r *Report) []string {
	var out []string
	for _, c := range r.Checks {
		out = append(out, c.Name)
	}
	return out
}

// TestConstantReference: a reference column with one value has no standard
// deviation, so the normalised distances are undefined and a check on them
// fails with the reason instead of passing.
func TestConstantReference(t *testing.T) {
	m, prof := fixture(t, batchSpec{rows: 500, seed: 1, x2: ptr(3.0)})
	cfg := DefaultConfig()
	cfg.Checks = []CheckSpec{{Name: "wass", Expr: "wasserstein_norm < 0.5", Severity: Critical, Scope: ScopeFeature, Kinds: []string{profile.Numeric}}}
	mustCompile(t, cfg)
	for _, tc := range []struct {
		name  string
		batch batchSpec
	}{
		{"same constant", batchSpec{rows: 200, seed: 2, x2: ptr(3.0)}},
		{"other constant", batchSpec{rows: 200, seed: 2, x2: ptr(4.0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Compute(Input{Profile: prof, Model: m, Current: gen(t, tc.batch)}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			c := findCheck(r, "wass:x2")
			if c == nil || c.Passed || !c.Failed() || !strings.Contains(c.Message, "not evaluated: x2: wasserstein_norm = undefined, so wasserstein_norm < 0.5 cannot be decided") {
				t.Fatalf("wass:x2 = %+v, want a failure naming the undefined value", c)
			}
			f := findFeature(r, "x2")
			if v := float64(f.Vars["psi"]); math.IsNaN(v) {
				t.Errorf("psi is undefined for a constant reference")
			}
		})
	}
}

// TestCheckSeverities: a failed warn check does not fail the step, a failed
// critical one does; dataset and feature scopes; Kinds restricts feature
// checks.
func TestCheckSeverities(t *testing.T) {
	m, prof := fixture(t, batchSpec{rows: 600, seed: 1})
	ds := gen(t, batchSpec{rows: 300, seed: 9, shift: 1.5})
	tests := []struct {
		name   string
		spec   CheckSpec
		checks []wantCheck
		absent []string
	}{
		{"warn dataset", CheckSpec{Name: "big", Expr: "rows >= 1000", Severity: Warn, Scope: ScopeDataset},
			[]wantCheck{{name: "big", msg: "rows = 300, needs rows >= 1000"}}, nil},
		{"critical dataset", CheckSpec{Name: "big", Expr: "rows >= 1000", Severity: Critical, Scope: ScopeDataset},
			[]wantCheck{{name: "big", critical: true, msg: "rows = 300, needs rows >= 1000"}}, nil},
		{"critical dataset passes", CheckSpec{Name: "ratio", Expr: "row_ratio < 1", Severity: Critical, Scope: ScopeDataset},
			[]wantCheck{{name: "ratio", passed: true, critical: true, msg: "row_ratio = 0.5: row_ratio < 1 holds"}}, nil},
		{"critical feature on shifted x1", CheckSpec{Name: "shift", Expr: "abs(mean_change) < 0.5", Severity: Critical, Scope: ScopeFeature, Kinds: []string{profile.Numeric}},
			[]wantCheck{
				{name: "shift:x1", critical: true, msg: "x1: mean_change = 1."},
				{name: "shift:x2", passed: true, critical: true, msg: "holds"},
			}, []string{"shift:channel"}},
		{"warn feature over every kind", CheckSpec{Name: "js", Expr: "js < 0.1", Severity: Warn, Scope: ScopeFeature},
			[]wantCheck{{name: "js:x1", msg: "needs js < 0.1"}, {name: "js:channel", passed: true}}, nil},
		{"not applicable without group", CheckSpec{Name: "fair", Expr: "disparate_impact >= 0.8", Severity: Critical, Scope: ScopeDataset},
			nil, []string{"fair"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Checks = []CheckSpec{tt.spec}
			r, err := Compute(Input{Profile: prof, Model: m, Current: ds}, mustCompile(t, cfg))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.checks {
				c := findCheck(r, w.name)
				if c == nil {
					t.Fatalf("no check %q in %v", w.name, checkNames(r))
				}
				if c.Passed != w.passed || c.Failed() != (w.critical && !w.passed) || !strings.Contains(c.Message, w.msg) {
					t.Errorf("%s = passed %v failed %v %q, want passed %v critical %v %q", w.name, c.Passed, c.Failed(), c.Message, w.passed, w.critical, w.msg)
				}
			}
			for _, name := range tt.absent {
				if findCheck(r, name) != nil {
					t.Errorf("check %q should not apply", name)
				}
			}
		})
	}
}

// TestFairnessGroup: with a group column the fairness check applies; a
// group column missing from the batch is a failed critical check.
func TestFairnessGroup(t *testing.T) {
	m, prof := fixture(t, batchSpec{rows: 600, seed: 1})
	for _, tc := range []struct {
		name, drop, msg string
	}{
		{"present", "", "disparate_impact = "},
		{"missing", "group", `group column "group" is not in the batch`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Group = "group"
			r, err := Compute(Input{Profile: prof, Model: m, Current: gen(t, batchSpec{rows: 400, seed: 2, drop: tc.drop})}, mustCompile(t, cfg))
			if err != nil {
				t.Fatal(err)
			}
			c := findCheck(r, "fairness")
			if c == nil || !strings.Contains(c.Message, tc.msg) {
				t.Fatalf("fairness = %+v, want %q", c, tc.msg)
			}
			if tc.drop != "" && !c.Failed() {
				t.Errorf("a missing group column passes")
			}
		})
	}
}

// TestCompileErrors: every bad expression is reported, naming its check.
func TestCompileErrors(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Drift = "psi >="
	cfg.Checks = append(cfg.Checks,
		CheckSpec{Name: "typo", Expr: "rowz > 1", Severity: Warn, Scope: ScopeDataset},
		CheckSpec{Name: "feature_var", Expr: "psi < 1", Severity: Warn, Scope: ScopeDataset},
	)
	errs := cfg.Compile(nil)
	if len(errs) != 3 {
		t.Fatalf("got %d errors, want 3: %v", len(errs), errs)
	}
	for i, want := range []string{"invalid check expression: drift:", `invalid check expression: check "feature_var":`, `invalid check expression: check "typo":`} {
		if !errors.Is(errs[i], ErrExpr) || !strings.HasPrefix(errs[i].Error(), want) {
			t.Errorf("error %d = %v, want prefix %q", i, errs[i], want)
		}
	}
}

// TestDefaults pins the defaults the package doc and the schema promise.
func TestDefaults(t *testing.T) {
	cfg := DefaultConfig()
	if cfg.Threshold != 0.5 || cfg.Drift != "psi >= 0.1" || cfg.MinGroup != 30 || cfg.Group != "" || cfg.NoLabels {
		t.Errorf("DefaultConfig() = %+v", cfg)
	}
	want := map[string]struct{ expr, severity, scope string }{
		"psi":           {"psi < 0.25", Critical, ScopeFeature},
		"psi_moderate":  {"psi < 0.1", Warn, ScopeFeature},
		"ks":            {"ks_pvalue >= 0.01", Warn, ScopeFeature},
		"chi2":          {"chi2_pvalue >= 0.01", Warn, ScopeFeature},
		"unseen":        {"unseen_share < 0.01", Warn, ScopeFeature},
		"missing":       {"missing_rate_change < 0.05", Warn, ScopeFeature},
		"rows":          {"rows >= 100", Warn, ScopeDataset},
		"dataset_drift": {"drift_share < 0.5", Critical, ScopeDataset},
		"score_psi":     {"score_psi < 0.25", Critical, ScopeDataset},
		"performance":   {"accuracy_drop <= 0.05 && auc_drop <= 0.05", Critical, ScopeDataset},
		"calibration":   {"hl_pvalue >= 0.01", Warn, ScopeDataset},
		"fairness":      {"disparate_impact >= 0.8", Critical, ScopeDataset},
	}
	if len(cfg.Checks) != len(want) {
		t.Errorf("%d default checks, want %d", len(cfg.Checks), len(want))
	}
	for _, c := range cfg.Checks {
		w, ok := want[c.Name]
		if !ok || c.Expr != w.expr || c.Severity != w.severity || c.Scope != w.scope {
			t.Errorf("default check %+v, want %+v", c, w)
		}
	}
	if errs := cfg.Compile(map[string]any{"x": 1.0}); len(errs) > 0 {
		t.Fatalf("defaults do not compile: %v", errs)
	}
	settings := Kind().Settings()
	desc := settings["checks"].(map[string]any)["description"].(string)
	for name := range want {
		if !strings.Contains(desc, name) {
			t.Errorf("the schema's checks description does not name %q", name)
		}
	}
	if severity(Warn) != pipeline.SeverityWarn || severity(Critical) != pipeline.SeverityError {
		t.Errorf("severity mapping")
	}
}

// TestParseConfig: a configuration file is checked like a monitor step's
// settings, every problem at its file:line:col.
func TestParseConfig(t *testing.T) {
	cfg, err := ParseConfig("m.yaml", []byte(`threshold: 0.3
group: age_group
checks:
  psi: {expr: psi < 0.2, severity: warn}
  ks: off
  volume: rows >= 5000
alerts:
  file: alerts.jsonl
  webhook: $HOOK
  retries: 2
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Threshold != 0.3 || cfg.Group != "age_group" || cfg.Alerts == nil || cfg.Alerts.File != "alerts.jsonl" || *cfg.Alerts.Retries != 2 {
		t.Errorf("cfg = %+v alerts %+v", cfg, cfg.Alerts)
	}
	byName := map[string]CheckSpec{}
	for _, c := range cfg.Checks {
		byName[c.Name] = c
	}
	if c := byName["psi"]; c.Expr != "psi < 0.2" || c.Severity != Warn || c.Scope != ScopeFeature {
		t.Errorf("psi = %+v", c)
	}
	if _, ok := byName["ks"]; ok {
		t.Errorf("ks not turned off")
	}
	if c := byName["volume"]; c.Expr != "rows >= 5000" || c.Severity != Critical || c.Scope != ScopeDataset {
		t.Errorf("volume = %+v", c)
	}
	if len(cfg.checks) != len(cfg.Checks) {
		t.Errorf("not compiled")
	}

	for _, tc := range []struct{ src, want string }{
		{"thresold: 0.3\n", `m.yaml:1:1: unknown setting "thresold" (alerts, checks, drift, group, group_bins, group_quantiles, labels, min_group, psi_bins, threshold); did you mean "threshold"?`},
		{"checks:\n  psi: psi <\n", `m.yaml:2:`},
		{"checks:\n  psi: {expr: psi < 1, severity: loud}\n", `m.yaml:2:34: check "psi": severity must be warn or critical, got a string`},
		{"alerts:\n  retries: 3\n", `m.yaml:2:3: alerts needs a file or a webhook`},
		{"alerts: {file: a.jsonl, on: info}\n", `m.yaml:1:29: alerts: on must be warn or critical, got a string`},
		{"- psi\n", `m.yaml:1:1: a monitor configuration must be a mapping`},
	} {
		_, err := ParseConfig("m.yaml", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.src, err, tc.want)
		}
	}
}

// TestConfigFromRecord: the resolved config a run record keeps compiles
// back to the same checks.
func TestConfigFromRecord(t *testing.T) {
	cfg, err := ParseConfig("m.yaml", []byte("min_group: 5\nchecks:\n  fairness: disparate_impact >= 0.9\n"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ConfigFromRecord(raw)
	if err != nil {
		t.Fatal(err)
	}
	if back.MinGroup != 5 || len(back.Checks) != len(cfg.Checks) || len(back.checks) != len(cfg.Checks) {
		t.Errorf("back = %+v", back)
	}
	if _, err := ConfigFromRecord([]byte(`{"drift": "psi >", "checks": []}`)); !errors.Is(err, ErrExpr) {
		t.Errorf("bad drift rule: %v", err)
	}
}

// TestComputeWorkers: the report is the same whatever the number of
// workers comparing the features.
func TestComputeWorkers(t *testing.T) {
	m, prof := fixture(t, batchSpec{rows: 800, seed: 1})
	batch := gen(t, batchSpec{rows: 500, seed: 7, shift: 0.3})
	var want []byte
	for _, jobs := range []int{1, 2, 4} {
		cfg := mustCompile(t, DefaultConfig())
		r, err := Compute(Input{Profile: prof, Model: m, Current: batch, Jobs: jobs}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if want == nil {
			want = got
			if len(r.Features) < 2 {
				t.Fatalf("fixture has %d features", len(r.Features))
			}
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("jobs=%d: report differs from jobs=1:\n%s\n%s", jobs, got, want)
		}
	}
}
