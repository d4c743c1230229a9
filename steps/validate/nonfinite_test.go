package validate

import (
	"slices"
	"testing"
)

// TestNonFiniteBounds: a NaN or infinite bound, fraction or allowed value
// is an error at its place (issue 14's sibling: range bounds of .nan or
// .inf passed validation, then the step failed to encode its settings
// with exit 3).
func TestNonFiniteBounds(t *testing.T) {
	schema := sample(t).Schema()
	tests := []struct {
		src  string
		want []string
	}{
		{"rules:\n  a: {range: {column: amount, min: .nan}}", []string{`p.yaml:2:36: rule "a": range min must be a finite number, got NaN`}},
		{"rules:\n  a: {range: {column: amount, min: 0, max: .inf}}", []string{`p.yaml:2:44: rule "a": range max must be a finite number, got +Inf`}},
		{"rules:\n  a: {range: {column: age, min: -.Inf}}", []string{`p.yaml:2:33: rule "a": range min must be a finite number, got -Inf`}},
		{"rules:\n  a: {allowed: {column: amount, values: [1, .nan, .inf]}}", []string{
			`p.yaml:2:45: rule "a": allowed value ".nan" is not a finite number (column "amount" is float)`,
			`p.yaml:2:51: rule "a": allowed value ".inf" is not a finite number (column "amount" is float)`}},
		{"rules:\n  a: {expr: amount > 0, mostly: .nan}", []string{`p.yaml:2:33: mostly must be a fraction between 0 and 1, got .nan`}},
		{"rules:\n  a: {max_missing: .nan}", []string{`p.yaml:2:20: rule "a": max_missing must be a fraction between 0 and 1, got .nan`}},
		{"rules:\n  a: {max_missing: {column: age, max: .NaN}}", []string{`p.yaml:2:39: rule "a": max_missing must be a fraction between 0 and 1, got .NaN`}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			c, got := compileStep(t, tt.src, schema, nil)
			if !slices.Equal(got, tt.want) {
				t.Errorf("diagnostics:\n got %q\nwant %q", got, tt.want)
			}
			if c != nil {
				t.Errorf("compiled despite errors")
			}
		})
	}
}
