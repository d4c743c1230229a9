package exprenv

import (
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/table"
)

const posYAML = `rules:
  plain: x > 0 && anual > 0
  single: 'x > 0 && anual > 0'
  single_escaped: 's == ''a'' && anual'
  double: "x > 0 && anual > 0"
  double_escaped: "s == \"a\" && anual"
  literal: |
    x > 0 &&
      anual > 0
  literal_leading_blank: |

      x +
      anual
  folded: >-
    x > 0 && anual
  folded_lines: >
    x > 0
    && anual > 0
`

// wantPos finds the position of "anual" in posYAML after the line of key.
func wantPos(t *testing.T, key string) (int, int) {
	t.Helper()
	lines := strings.Split(posYAML, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), key+":") {
			for j := i; j < len(lines); j++ {
				if k := strings.Index(lines[j], "anual"); k >= 0 {
					return j + 1, k + 1
				}
			}
		}
	}
	t.Fatalf("key %q not found", key)
	return 0, 0
}

func TestPos(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(posYAML), &doc); err != nil {
		t.Fatal(err)
	}
	rules := doc.Content[0].Content[1]
	schema := &table.Schema{Fields: []table.Field{{Name: "x", Type: table.Float}, {Name: "s", Type: table.String}}}
	for i := 0; i+1 < len(rules.Content); i += 2 {
		key, node := rules.Content[i].Value, rules.Content[i+1]
		t.Run(key, func(t *testing.T) {
			_, err := Compile(node.Value, schema, nil)
			if err == nil {
				t.Fatalf("%q compiled", node.Value)
			}
			line, col := wantPos(t, key)
			want := diag.Pos{File: "p.yaml", Line: line, Col: col}
			wrapped := fmt.Errorf("rule %s: %w", key, err)
			if got := PosSource("p.yaml", []byte(posYAML), node, wrapped); got != want {
				t.Errorf("PosSource = %v, want %v (error %v)", got, want, err)
			}
			got := Pos("p.yaml", node, wrapped)
			if node.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
				// Without the source the column of a block scalar is unknown.
				// A folded scalar's error maps to its first content line.
				if strings.HasPrefix(key, "literal") {
					want.Col = 0
				} else {
					want = diag.Pos{File: "p.yaml", Line: node.Line + 1}
				}
			}
			if got != want {
				t.Errorf("Pos = %v, want %v (error %v)", got, want, err)
			}
		})
	}
}

func TestPosNotExprError(t *testing.T) {
	n := &yaml.Node{Kind: yaml.ScalarNode, Line: 3, Column: 7, Value: "x"}
	if got, want := Pos("f.yaml", n, fmt.Errorf("other")), (diag.Pos{File: "f.yaml", Line: 3, Col: 7}); got != want {
		t.Errorf("Pos = %v, want %v", got, want)
	}
	if got, want := Pos("f.yaml", nil, &Error{Line: 1, Col: 1}), (diag.Pos{File: "f.yaml"}); got != want {
		t.Errorf("Pos(nil node) = %v, want %v", got, want)
	}
}
