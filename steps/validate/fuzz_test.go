package validate

import (
	"context"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
)

// FuzzCompile checks that any rules mapping either compiles (and then runs
// without error on the sample) or is rejected with diagnostics, never
// panics.
func FuzzCompile(f *testing.F) {
	f.Add(sampleRules)
	f.Add("rules:\n  a: {max_missing: {columns: [amount, id], max: 0.1}, mostly: 1}")
	f.Add("rules:\n  a: {allowed: {column: applied, values: [2024-01-01]}}")
	f.Add("rules:\n  a: {range: {column: applied, max: '2024-01-01T10:00:00+02:00'}}")
	f.Fuzz(func(t *testing.T, src string) {
		var doc yaml.Node
		if yaml.Unmarshal([]byte(src), &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			return
		}
		ds := sample(t)
		var diags diag.List
		c := Kind().Compile(&pipeline.CompileRequest{
			Step:     &pipeline.StepSpec{ID: "s", Node: doc.Content[0]},
			Pipeline: &pipeline.Pipeline{File: "p.yaml", Source: []byte(src)},
			Inputs:   map[string]pipeline.Type{"input": ds.Schema()},
			Diags:    &diags,
		})
		if (c == nil) != diags.HasErrors() {
			t.Fatalf("compiled %v with diagnostics %v", c != nil, diags.Items())
		}
		if c == nil {
			return
		}
		if _, err := c.Run(context.Background(), &pipeline.RunRequest{Inputs: map[string]pipeline.Object{"input": ds}, Jobs: 2}); err != nil {
			t.Fatalf("run: %v", err)
		}
	})
}
