package train

import (
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
)

// TestProtectedNeverFeatures checks that a protected attribute listed as a
// feature is an error at its position, and that exclude leaves protected
// attributes out.
func TestProtectedNeverFeatures(t *testing.T) {
	tests := []struct {
		src      string
		want     []string
		features []string
	}{
		{base + "target: default\nfeatures: [income, age]", []string{
			`p.yaml:3:20: feature "age" is a protected attribute (listed under protected:); it must not be a model feature`}, nil},
		{base + "target: default\nexclude: [applied]", nil, []string{"income", "home", "status", "flag"}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(tt.src), &doc); err != nil {
				t.Fatal(err)
			}
			p := &pipeline.Pipeline{File: "p.yaml", Dir: t.TempDir(), Protected: []string{"age"}}
			var diags diag.List
			c := Kind().Compile(&pipeline.CompileRequest{
				Step:     &pipeline.StepSpec{ID: "m", Kind: "train", Node: doc.Content[0], Pos: diag.Pos{File: "p.yaml", Line: 1, Col: 1}},
				Pipeline: p, Params: map[string]any{}, Diags: &diags,
				Inputs: map[string]pipeline.Type{"input": testSchema},
			})
			var got []string
			for _, d := range diags.Items() {
				got = append(got, d.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("diagnostics:\n got %q\nwant %q", got, tt.want)
			}
			if tt.features != nil {
				if c == nil {
					t.Fatal("not compiled")
				}
				if f := c.CacheConfig().(Config).Features; !slices.Equal(f, tt.features) {
					t.Errorf("features = %v, want %v", f, tt.features)
				}
			}
		})
	}
}
