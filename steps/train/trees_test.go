package train

import (
	"encoding/json"
	"slices"
	"strings"
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
		{rf + "learning_rate: 0.1", []string{`p.yaml:4:1: learning_rate applies to algorithm gradient_boosting, not random_forest (settings under ` + "`gradient_boosting:`" + ` apply only when it is chosen)`}},
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
		// Per-algorithm blocks: checked whether chosen or not.
		{rf + "random_forest: {trees: 0}", []string{`p.yaml:4:24: trees must be between 1 and 100000, got 0`}},
		{rf + "gradient_boosting: {max_depth: 0, max_leaves: 0}", []string{
			`p.yaml:4:32: max_depth and max_leaves are both 0: bound the trees by one of them`}},
		{rf + "logistic_regression: {class_weight: {yes: 2}}", []string{
			`p.yaml:4:38: class_weight: "yes" is not a value of int target "default"`}},
		{rf + "random_forest: {learning_rate: 0.1, max_dept: 3, colour: red}", []string{
			`p.yaml:4:17: random_forest: unknown setting "learning_rate" (it is a setting of gradient_boosting)`,
			`p.yaml:4:37: random_forest: unknown setting "max_dept"; did you mean "max_depth"?`,
			`p.yaml:4:50: random_forest: unknown setting "colour" (want bootstrap, class_weight, max_bins, max_depth, max_features, min_samples_leaf, min_samples_split, sample_weight, trees)`}},
		{rf + "trees: 10\nrandom_forest:\n  trees: 20", []string{`p.yaml:6:3: trees is set both on the step (line 4) and under random_forest: keep one`}},
		{rf + "random_forest: [trees]", []string{`p.yaml:4:16: random_forest must be a mapping of random_forest's settings, got a list`}},
		{gb + "bootstrap: true", []string{`p.yaml:4:1: bootstrap applies to algorithm random_forest, not gradient_boosting (settings under ` + "`random_forest:`" + ` apply only when it is chosen)`}},
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

// TestAlgorithmBlocks: the chosen algorithm's block is its settings; the
// other blocks are not in the cache config, so editing them re-runs nothing.
func TestAlgorithmBlocks(t *testing.T) {
	const blocks = "target: default\nfeatures: [age]\nclass_weight: balanced\n" +
		"logistic_regression: {l2: 3}\nrandom_forest: {trees: 7, max_depth: 3}\ngradient_boosting: {trees: 9, l2: 2}\n"
	tests := []struct{ algo, params string }{
		{"logistic_regression", `{"l2":3,"class_weight":{"balanced":true},"max_iter":`},
		{"random_forest", `{"trees":7,"max_depth":3,"min_samples_split":2,`},
		{"gradient_boosting", `{"trees":9,"learning_rate":0.1,"max_depth":6,"max_leaves":0,"min_child_samples":20,"min_child_weight":0.001,"l2":2,`},
	}
	for _, tt := range tests {
		c, diags := compileStep(t, "algorithm: "+tt.algo+"\n"+blocks, testSchema)
		if len(diags) > 0 || c == nil {
			t.Fatalf("%s: diagnostics %q", tt.algo, diags)
		}
		b, err := json.Marshal(c.CacheConfig().(Config).Params)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), tt.params) {
			t.Errorf("%s: params %s, want prefix %s", tt.algo, b, tt.params)
		}
		if tt.algo == "random_forest" && !strings.Contains(string(b), `"class_weight":{"balanced":true}`) {
			t.Errorf("%s: the step's class_weight is not applied: %s", tt.algo, b)
		}
	}
	// Editing a block that is not chosen leaves the cache config as is.
	a, _ := compileStep(t, "algorithm: random_forest\n"+blocks, testSchema)
	b, _ := compileStep(t, "algorithm: random_forest\n"+strings.Replace(blocks, "l2: 3", "l2: 4", 1), testSchema)
	ja, _ := json.Marshal(a.CacheConfig())
	jb, _ := json.Marshal(b.CacheConfig())
	if string(ja) != string(jb) {
		t.Errorf("cache config changed with another algorithm's block:\n%s\n%s", ja, jb)
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
