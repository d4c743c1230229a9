package pipeline

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline/diag"
)

// paramRefRe matches one ${params.NAME} reference; the name is checked
// against the declared params, so that a misspelt one is reported.
var paramRefRe = regexp.MustCompile(`\$\{\s*params\.([^}\s]*)\s*\}`)

// paramNameRe is what a declared parameter name must match.
var paramNameRe = regexp.MustCompile(paramNamePattern)

// param is a declared parameter while loading.
type param struct {
	*Param
	// node is the value node: the declaration's, or the parsed override.
	node *yaml.Node
}

// parseParams checks the top-level `params:` mapping (n may be nil) and
// applies the -p overrides.
func (l *loader) parseParams(n *yaml.Node) {
	l.params = map[string]*param{}
	if n != nil {
		if n.Kind != yaml.MappingNode {
			l.errAt("/params", n, "params must be a mapping of name to value")
		} else {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				ptr := "/params/" + pointerEscape(k.Value)
				if k.Kind != yaml.ScalarNode || !paramNameRe.MatchString(k.Value) {
					l.errAt(ptr, k, "invalid param name %q: names must match %s so that expressions can use params.NAME", k.Value, paramNamePattern)
					continue
				}
				val, ok := paramValue(v)
				if !ok {
					l.errAt(ptr, v, "param %q must be a scalar or a list of scalars", k.Value)
					continue
				}
				if bad, at := nonFinite(val, v); bad != "" {
					// Not recordable (JSON) nor comparable: refused even
					// when a -p override replaces it, since the file alone
					// would not run.
					l.errAt(ptr, at, "param %q: %s%s", k.Value, bad, notFiniteHint(at))
				}
				l.params[k.Value] = &param{Param: &Param{Name: k.Value, Value: val, Pos: l.pos(k)}, node: v}
			}
		}
	}
	names := make([]string, 0, len(l.opts.Overrides))
	for name := range l.opts.Overrides {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		value := l.opts.Overrides[name]
		p, ok := l.params[name]
		if !ok {
			l.diags.Add(diag.Pos{}, "-p %s=%s: unknown param %q%s", name, value, name, l.paramHint(name))
			continue
		}
		node := overrideNode(value)
		val, ok := paramValue(node)
		if !ok {
			l.diags.Add(diag.Pos{}, "-p %s=%s: a param value must be a scalar or a list of scalars", name, value)
			continue
		}
		if bad, at := nonFinite(val, node); bad != "" {
			l.diags.Add(diag.Pos{}, "-p %s=%s: %s%s", name, value, bad, notFiniteHint(at))
			continue
		}
		p.Value, p.node, p.Overridden = val, node, true
	}
}

// paramHint is the suggestion (or note) for an unknown param name.
func (l *loader) paramHint(name string) string {
	if len(l.params) == 0 {
		return " (the pipeline declares no params)"
	}
	names := make([]string, 0, len(l.params))
	for n := range l.params {
		names = append(names, n)
	}
	return didYouMean(name, names)
}

// overrideNode parses a -p value as YAML. A value that is not valid YAML,
// or that is a mapping, is taken as a plain string; an empty value is the
// empty string.
func overrideNode(value string) *yaml.Node {
	str := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
	var doc yaml.Node
	if value == "" || yaml.Unmarshal([]byte(value), &doc) != nil || len(doc.Content) != 1 {
		return str
	}
	n := doc.Content[0]
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		return str
	case n.Kind == yaml.ScalarNode || n.Kind == yaml.SequenceNode:
		return n
	}
	return str
}

// paramValue decodes a param value node: a non-null scalar or a list of
// them.
func paramValue(n *yaml.Node) (any, bool) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return nil, false
		}
		return scalarValue(n), true
	case yaml.SequenceNode:
		list := make([]any, 0, len(n.Content))
		for _, it := range n.Content {
			if it.Kind != yaml.ScalarNode || it.ShortTag() == "!!null" {
				return nil, false
			}
			list = append(list, scalarValue(it))
		}
		return list, true
	}
	return nil, false
}

// nonFinite returns how a non-finite number among a param's value v
// (decoded from node n) prints ("NaN", "+Inf", "-Inf") and the node that
// holds it, or "" when every number is finite. Such a value cannot be
// recorded (run records are JSON) and compares false with everything, so
// a gate like `auc >= params.min_auc` would silently never pass.
func nonFinite(v any, n *yaml.Node) (string, *yaml.Node) {
	switch x := v.(type) {
	case float64:
		switch {
		case math.IsNaN(x):
			return "NaN", n
		case math.IsInf(x, 1):
			return "+Inf", n
		case math.IsInf(x, -1):
			return "-Inf", n
		}
	case []any:
		for i, it := range x {
			if i < len(n.Content) {
				if bad, at := nonFinite(it, n.Content[i]); bad != "" {
					return bad, at
				}
			}
		}
	}
	return "", nil
}

// notFiniteHint completes the message about the non-finite number at n.
func notFiniteHint(n *yaml.Node) string {
	return fmt.Sprintf(" is not a valid param value (want a finite number; quote it for the text %q)", n.Value)
}

// scalarValue decodes a scalar node to a bool, int64, float64 or string
// (null to nil). Values that do not decode as their tag stay strings.
func scalarValue(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if n.Decode(&b) == nil {
			return b
		}
	case "!!int":
		var i int64
		if n.Decode(&i) == nil {
			return i
		}
		var f float64
		if n.Decode(&f) == nil {
			return f
		}
	case "!!float":
		var f float64
		if n.Decode(&f) == nil {
			return f
		}
	}
	return n.Value
}

// formatParam renders a scalar param value for string interpolation.
func formatParam(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		// Finite: nonFinite refuses the others.
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

// substitute resolves ${params.NAME} references in the scalar values of n
// (a deep copy of a step's mapping; ptr is its JSON pointer), in place.
// Mapping keys and the step's `kind` are left alone. A scalar that is
// exactly one reference takes the param's value and type; otherwise each
// reference is replaced by the value's text.
func (l *loader) substitute(n *yaml.Node, ptr string, top bool) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if top && k.Value == "kind" {
				continue
			}
			l.substitute(n.Content[i+1], ptr+"/"+pointerEscape(k.Value), false)
		}
	case yaml.SequenceNode:
		for i, it := range n.Content {
			l.substitute(it, ptr+"/"+strconv.Itoa(i), false)
		}
	case yaml.ScalarNode:
		if n.ShortTag() != "!!str" || !strings.Contains(n.Value, "${") {
			return
		}
		l.substituteScalar(n, ptr)
	}
}

func (l *loader) substituteScalar(n *yaml.Node, ptr string) {
	src := n.Value
	locs := paramRefRe.FindAllStringSubmatchIndex(src, -1)
	if len(locs) == 0 {
		return
	}
	ok := true
	for _, m := range locs {
		name := src[m[2]:m[3]]
		if _, known := l.params[name]; !known {
			l.errAtPos(ptr, l.refPos(n, m[0]), "unknown param %q%s", name, l.paramHint(name))
			ok = false
		}
	}
	if !ok {
		return
	}
	if len(locs) == 1 && locs[0][0] == 0 && locs[0][1] == len(src) {
		p := l.params[src[locs[0][2]:locs[0][3]]]
		line, col := n.Line, n.Column
		c := deepCopy(p.node)
		*n = *c
		n.Line, n.Column = line, col
		n.Anchor, n.HeadComment, n.LineComment, n.FootComment = "", "", "", ""
		if n.Kind == yaml.ScalarNode {
			n.Tag = p.node.ShortTag()
			n.Style = 0
		}
		return
	}
	var b strings.Builder
	last := 0
	for _, m := range locs {
		b.WriteString(src[last:m[0]])
		p := l.params[src[m[2]:m[3]]]
		if _, isList := p.Value.([]any); isList {
			l.errAtPos(ptr, l.refPos(n, m[0]), "param %q is a list: it can only be the whole value, not part of a string", p.Name)
			return
		}
		b.WriteString(formatParam(p.Value))
		last = m[1]
	}
	b.WriteString(src[last:])
	n.Value, n.Tag, n.Style = b.String(), "!!str", yaml.DoubleQuotedStyle
}

// refPos is the position of the reference starting at byte off of scalar
// n's value: exact for single-line plain and simply quoted scalars, the
// scalar's own position otherwise.
func (l *loader) refPos(n *yaml.Node, off int) diag.Pos {
	p := l.pos(n)
	prefix := n.Value[:off]
	if strings.ContainsAny(n.Value, "\n\\'\"") {
		return p
	}
	switch n.Style {
	case 0:
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		p.Col++
	default:
		return p
	}
	p.Col += utf8.RuneCountInString(prefix)
	return p
}
