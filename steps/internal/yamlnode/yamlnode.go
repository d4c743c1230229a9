// Package yamlnode holds the helpers every step kind uses to decode its
// settings from yaml.Node values with positions: mapping entries in file
// order, typed scalars, type names for messages, near-miss suggestions.
package yamlnode

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline/diag"
)

// Pair is one key/value entry of a YAML mapping.
type Pair struct{ Key, Value *yaml.Node }

// Pairs returns the entries of a mapping node in file order (nil for any
// other node).
func Pairs(n *yaml.Node) []Pair {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	out := make([]Pair, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, Pair{n.Content[i], n.Content[i+1]})
	}
	return out
}

// Field returns the value node of key in mapping n, or nil.
func Field(n *yaml.Node, key string) *yaml.Node {
	for _, p := range Pairs(n) {
		if p.Key.Value == key {
			return p.Value
		}
	}
	return nil
}

// Describe names a node's YAML type for error messages.
func Describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		case "!!timestamp":
			return "a timestamp"
		}
		return "a string"
	}
	return "an alias"
}

// Number decodes a numeric scalar (an int or float tag).
func Number(n *yaml.Node) (float64, bool) {
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
	if err != nil {
		var v float64
		if n.Decode(&v) != nil {
			return 0, false
		}
		return v, true
	}
	return f, true
}

// Integer decodes an integer scalar.
func Integer(n *yaml.Node) (int64, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		return 0, false
	}
	var v int64
	if n.Decode(&v) != nil {
		return 0, false
	}
	return v, true
}

// Str decodes a string scalar.
func Str(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return "", false
	}
	return n.Value, true
}

// StrList decodes a list of strings, reporting each bad entry to d; it
// returns the strings with their nodes.
func StrList(d *diag.List, pos func(*yaml.Node) diag.Pos, name string, n *yaml.Node) ([]string, []*yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		d.Add(pos(n), "%s must be a list of column names, got %s", name, Describe(n))
		return nil, nil
	}
	var out []string
	var nodes []*yaml.Node
	for _, e := range n.Content {
		s, ok := Str(e)
		if !ok {
			d.Add(pos(e), "%s entries must be column names, got %s", name, Describe(e))
			continue
		}
		out = append(out, s)
		nodes = append(nodes, e)
	}
	return out, nodes
}

// Suggest returns `; did you mean "x"?` for the closest name, or "" when
// none is within an edit distance of 1 + len(name)/4 (case ignored), as
// exprenv suggests names.
func Suggest(name string, names []string) string {
	return SuggestWithin(name, names, 1+len([]rune(name))/4)
}

// SuggestWithin returns `; did you mean "x"?` for the closest name at an
// edit distance of at most maxDist (case ignored; the first of equally
// close names), or "".
func SuggestWithin(name string, names []string, maxDist int) string {
	best, bestD := "", maxDist+1
	for _, n := range names {
		if dd := Distance(strings.ToLower(name), strings.ToLower(n)); dd < bestD {
			best, bestD = n, dd
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// Distance is the Levenshtein distance between a and b.
func Distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			c := 1
			if ra[i-1] == rb[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
