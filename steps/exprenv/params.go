package exprenv

import (
	"github.com/expr-lang/expr/ast"
)

// ParamsRead returns the entries of params that the expression src reads
// (params.NAME or params["NAME"]), so that a step's cache key holds the
// params it depends on and no others. When src uses params in a way whose
// names cannot be known statically (params[some_column]), or cannot be
// parsed, every param is returned: over-invalidating the cache is safe,
// missing a dependency is not.
func ParamsRead(src string, params map[string]any) map[string]any {
	out := map[string]any{}
	if len(params) == 0 {
		return out
	}
	node, err := parse(src)
	if err != nil {
		return copyParams(params)
	}
	v := &paramVisitor{names: map[string]bool{}}
	ast.Walk(&node, v)
	if v.idents != v.resolved {
		return copyParams(params)
	}
	for name := range v.names {
		if val, ok := params[name]; ok {
			out[name] = val
		}
	}
	return out
}

// MergeParams adds the params src reads to into; see ParamsRead.
func MergeParams(into map[string]any, src string, params map[string]any) {
	for k, v := range ParamsRead(src, params) {
		into[k] = v
	}
}

func copyParams(params map[string]any) map[string]any {
	out := make(map[string]any, len(params))
	for k, v := range params {
		out[k] = v
	}
	return out
}

// paramVisitor counts the identifiers "params" and those used as
// params.<constant name>.
type paramVisitor struct {
	idents, resolved int
	names            map[string]bool
}

func (v *paramVisitor) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if n.Value == "params" {
			v.idents++
		}
	case *ast.MemberNode:
		id, ok := n.Node.(*ast.IdentifierNode)
		if !ok || id.Value != "params" {
			return
		}
		if s, ok := n.Property.(*ast.StringNode); ok {
			v.resolved++
			v.names[s.Value] = true
		}
	}
}
