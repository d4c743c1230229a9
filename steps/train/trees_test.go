package train

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestTreeCompileErrors(t *testing.T) {
	const rf = "algorithm: random_forest\ntarget: default\nfeatures: [age]\n"
	const gb = "algorithm: gradient_boosting\ntarget: default\nfeatures: [age]\n"
	tests := []struct {
		src  string
		want []string
	}{
		{rf + "trees: 0\nmax_depth: -1\nmin_samples_split: 1\nmin_samples_leaf: x", []string{
			`p.yaml:4:8: trees must be between 1 and 100000, got 0`,
			`p.yaml:5:12: max_depth must be between 0 and 1000, got -1`,
			`p.yaml:6:20: min_samples_split must be between 2 and 2147483647, got 1`,
			`p.yaml:7:19: min_samples_leaf must be an integer, got a string`}},
		{rf + "max_features: half", []string{
			`p.yaml:4:15: max_features must be sqrt, log2, all, an integer >= 1 or a fraction in (0, 1], got "half"`}},
		{rf + "max_features: 1.5\nbootstrap: 1", []string{
			`p.yaml:4:15: max_features must be sqrt, log2, all, an integer >= 1 or a fraction in (0, 1], got 1.5`,
			`p.yaml:5:12: bootstrap must be true or false, got an integer`}},
		{rf + "learning_rate: 0.1", []string{`p.yaml:4:1: learning_rate applies to algorithm gradient_boosting, not random_forest`}},
		{rf + "sample_weight: home", []string{`p.yaml:4:16: sample_weight column "home" is string, not numeric`}},
		{gb + "learning_rate: 0\nsubsample: 1.5\nmax_bins: 300\nl2: -1", []string{
			`p.yaml:4:16: learning_rate must be a finite number > 0, got 0`,
			`p.yaml:5:12: subsample must be a number > 0 and <= 1, got 1.5`,
			`p.yaml:6:11: max_bins must be between 2 and 255, got 300`,
			`p.yaml:7:5: l2 must be a finite number >= 0, got -1`}},
		{gb + "max_depth: 0", []string{`p.yaml:4:12: max_depth and max_leaves are both 0: bound the trees by one of them`}},
		{gb + "max_leaves: 1", []string{`p.yaml:4:13: max_leaves must be 0 (no bound) or >= 2, got 1`}},
		{gb + "class_weight: balanced\nscale_pos_weight: 3", []string{
			`p.yaml:5:19: scale_pos_weight and class_weight are exclusive: weigh the classes one way`}},
		{gb + "bootstrap: true", []string{`p.yaml:4:1: bootstrap applies to algorithm random_forest, not gradient_boosting`}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			c, got := compileStep(t, tt.src, testSchema)
			if !slices.Equal(got, tt.want) {
				t.Errorf("diagnostics:\n got %q\nwant %q", got, tt.want)
			}
			if c != nil {
				t.Errorf("compiled despite errors")
			}
		})
	}
}

// TestWorkshopForestConfig: the workshop's scikit-learn settings map one to
// one onto random_forest's.
func TestWorkshopForestConfig(t *testing.T) {
	c, diags := compileStep(t, "algorithm: random_forest\ntarget: default\nfeatures: [age, income, home]\n"+
		"trees: 200\nmax_depth: 10\nmin_samples_split: 100\nclass_weight: balanced\nmax_features: 0.5\nseed: 42", testSchema)
	if len(diags) > 0 || c == nil {
		t.Fatalf("diagnostics %q", diags)
	}
	b, err := json.Marshal(c.CacheConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"algorithm":"random_forest","target":"default","features":["age","income","home"],"seed":42,"params":` +
		`{"trees":200,"max_depth":10,"min_samples_split":100,"min_samples_leaf":1,"max_features":{"rule":"fraction","fraction":0.5},` +
		`"bootstrap":true,"class_weight":{"balanced":true},"max_bins":255}}`
	if string(b) != want {
		t.Errorf("cache config\n got %s\nwant %s", b, want)
	}
}
