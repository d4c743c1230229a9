package exprenv

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"

	"github.com/mlrun-cli/mlrun/steps/table"
)

// checker types an expr AST against a schema and params, building the
// typed tree.
type checker struct {
	src    string
	schema *table.Schema
	params map[string]any
	// noun names what identifiers refer to in errors: "column" or "metric".
	noun string
	// cols are the referenced column names, in first-reference order;
	// opCol.col indexes it.
	cols   []string
	colIdx map[string]int
}

// functions lists the callable functions with their argument counts
// (max -1: variadic), for arity errors and near-miss suggestions.
var functions = map[string][2]int{
	"abs": {1, 1}, "sqrt": {1, 1}, "log": {1, 1}, "log10": {1, 1}, "exp": {1, 1},
	"pow": {2, 2}, "min": {2, -1}, "max": {2, -1}, "clip": {3, 3},
	"round": {1, 2}, "floor": {1, 1}, "ceil": {1, 1},
	"coalesce": {1, -1}, "if_null": {2, 2}, "is_null": {1, 1}, "not_null": {1, 1},
	"year": {1, 1}, "month": {1, 1}, "day": {1, 1}, "hour": {1, 1},
	"float": {1, 1}, "int": {1, 1},
	"lower": {1, 1}, "upper": {1, 1}, "trim": {1, 1}, "len": {1, 1},
	"col": {1, 1},
}

// parse parses src with expr's parser, turning its error into an *Error.
func parse(src string) (ast.Node, error) {
	tree, err := parser.Parse(src)
	if err != nil {
		if fe, ok := err.(*file.Error); ok {
			line, col := fe.Line, fe.Column+1
			if line == 0 {
				line, col = lineCol(src, fe.From)
			}
			msg := fe.Message
			if msg == "unexpected token EOF" {
				msg = "unexpected end of expression"
			}
			return nil, &Error{Line: line, Col: col, Msg: msg}
		}
		return nil, &Error{Line: 1, Col: 1, Msg: err.Error()}
	}
	return tree.Node, nil
}

// lineCol converts a rune offset into a 1-based line and column.
func lineCol(src string, from int) (int, int) {
	line, col, i := 1, 1, 0
	for _, r := range src {
		if i == from {
			break
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i++
	}
	return line, col
}

func (c *checker) errAt(n ast.Node, format string, args ...any) error {
	line, col := lineCol(c.src, n.Location().From)
	return &Error{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

func cnst(t table.Type, v any) *node { return &node{op: opConst, typ: t, val: v} }

// column returns the opCol for name, or an unknown-column error.
func (c *checker) column(name string, at ast.Node) (*node, error) {
	f, ok := c.schema.Lookup(name)
	if !ok {
		msg := fmt.Sprintf("unknown %s %q", c.noun, name)
		if s := suggest(name, c.schema.Names()); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return nil, c.errAt(at, "%s", msg)
	}
	i, ok := c.colIdx[name]
	if !ok {
		i = len(c.cols)
		c.cols = append(c.cols, name)
		c.colIdx[name] = i
	}
	return &node{op: opCol, typ: f.Type, col: i}, nil
}

// param returns the constant of params.NAME.
func (c *checker) param(name string, at ast.Node) (*node, error) {
	v, ok := c.params[name]
	if !ok {
		names := make([]string, 0, len(c.params))
		for k := range c.params {
			names = append(names, k)
		}
		sortStrings(names)
		msg := fmt.Sprintf("unknown param %q", name)
		if s := suggest(name, names); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return nil, c.errAt(at, "%s", msg)
	}
	n, err := constOf(v, true)
	if err != nil {
		return nil, c.errAt(at, "param %q: %v", name, err)
	}
	return n, nil
}

// constOf converts a Go value (a param) into a constant node.
func constOf(v any, listOK bool) (*node, error) {
	switch x := v.(type) {
	case nil:
		return cnst(tNull, nil), nil
	case bool:
		return cnst(table.Bool, x), nil
	case string:
		return cnst(table.String, x), nil
	case float64:
		if math.IsNaN(x) {
			return cnst(table.Float, nil), nil
		}
		return cnst(table.Float, x), nil
	case float32:
		return constOf(float64(x), listOK)
	case time.Time:
		return cnst(table.Time, x.UnixNano()), nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return cnst(table.Int, rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return nil, fmt.Errorf("integer %d overflows int64", u)
		}
		return cnst(table.Int, int64(u)), nil
	case reflect.Slice, reflect.Array:
		if !listOK {
			return nil, fmt.Errorf("nested lists are not supported")
		}
		items := make([]*node, rv.Len())
		for i := range items {
			n, err := constOf(rv.Index(i).Interface(), false)
			if err != nil {
				return nil, err
			}
			items[i] = n
		}
		return cnst(tList, items), nil
	}
	return nil, fmt.Errorf("unsupported value of type %T", v)
}

// castTo converts n to the numeric type t (Float or Int), folding constants.
func castTo(n *node, t table.Type) *node {
	if n.typ == t {
		return n
	}
	if n.op == opConst {
		if n.val == nil {
			return cnst(t, nil)
		}
		switch t {
		case table.Float:
			return cnst(t, toFloat(n.val))
		case table.Int:
			if b, ok := n.val.(bool); ok {
				return cnst(t, b2i(b))
			}
		}
	}
	if n.typ == tNull {
		return cnst(t, nil)
	}
	if t == table.Float {
		return &node{op: opToFloat, typ: t, args: []*node{n}}
	}
	return &node{op: opToInt, typ: t, args: []*node{n}}
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int64:
		return float64(x)
	case bool:
		if x {
			return 1
		}
	}
	return 0
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// retype gives a null constant the type t; other nodes must already have
// type t or be numeric (then they are cast).
func retype(n *node, t table.Type) *node {
	if n.typ == t {
		return n
	}
	if n.typ == tNull {
		return cnst(t, nil)
	}
	return castTo(n, t)
}

// unify finds the common type of ns (nil unifies with anything, numbers
// promote to float when mixed) and converts every node to it.
func (c *checker) unify(what string, ns []*node, at []ast.Node) (table.Type, error) {
	t := tNull
	for i, n := range ns {
		switch {
		case n.typ == tList:
			return 0, c.errAt(at[i], "%s: a list can only be used on the right of in", what)
		case n.typ == tNull || n.typ == t:
		case t == tNull:
			t = n.typ
		case t.Numeric() && n.typ.Numeric():
			t = table.Float
		default:
			return 0, c.errAt(at[i], "%s: mismatched types %s and %s", what, typeName(t), typeName(n.typ))
		}
	}
	if t == tNull {
		return tNull, nil
	}
	for i := range ns {
		ns[i] = retype(ns[i], t)
	}
	return t, nil
}

func (c *checker) check(an ast.Node) (*node, error) {
	switch x := an.(type) {
	case *ast.NilNode:
		return cnst(tNull, nil), nil
	case *ast.IntegerNode:
		return cnst(table.Int, int64(x.Value)), nil
	case *ast.FloatNode:
		return cnst(table.Float, x.Value), nil
	case *ast.BoolNode:
		return cnst(table.Bool, x.Value), nil
	case *ast.StringNode:
		return cnst(table.String, x.Value), nil
	case *ast.IdentifierNode:
		if x.Value == "params" && c.schema.Index("params") < 0 {
			return nil, c.errAt(x, "params must be used as params.NAME")
		}
		return c.column(x.Value, x)
	case *ast.MemberNode:
		return c.member(x)
	case *ast.UnaryNode:
		return c.unary(x)
	case *ast.BinaryNode:
		return c.binary(x)
	case *ast.ConditionalNode:
		return c.conditional(x)
	case *ast.CallNode:
		id, ok := x.Callee.(*ast.IdentifierNode)
		if !ok {
			return nil, c.errAt(x, "unsupported call")
		}
		return c.call(id.Value, x.Arguments, x)
	case *ast.BuiltinNode:
		return c.call(x.Name, x.Arguments, x)
	case *ast.ArrayNode:
		items := make([]*node, len(x.Nodes))
		for i, e := range x.Nodes {
			n, err := c.check(e)
			if err != nil {
				return nil, err
			}
			if n.op != opConst || n.typ == tList {
				return nil, c.errAt(e, "list elements must be constants")
			}
			items[i] = n
		}
		return cnst(tList, items), nil
	case *ast.ChainNode:
		return nil, c.errAt(x, "unsupported syntax: optional chaining")
	case *ast.MapNode:
		return nil, c.errAt(x, "unsupported syntax: map literal")
	case *ast.SliceNode:
		return nil, c.errAt(x, "unsupported syntax: slice")
	case *ast.VariableDeclaratorNode:
		return nil, c.errAt(x, "unsupported syntax: let")
	case *ast.SequenceNode:
		return nil, c.errAt(x, "unsupported syntax: ;")
	case *ast.BytesNode:
		return nil, c.errAt(x, "unsupported syntax: bytes literal")
	case *ast.PointerNode, *ast.PredicateNode:
		return nil, c.errAt(an, "unsupported syntax: predicate")
	}
	return nil, c.errAt(an, "unsupported syntax")
}

func (c *checker) member(x *ast.MemberNode) (*node, error) {
	if id, ok := x.Node.(*ast.IdentifierNode); ok && id.Value == "params" {
		prop, ok := x.Property.(*ast.StringNode)
		if !ok {
			return nil, c.errAt(x.Property, "params must be used as params.NAME")
		}
		return c.param(prop.Value, x.Property)
	}
	base, err := c.check(x.Node)
	if err != nil {
		return nil, err
	}
	if base.typ == tList && base.op == opConst {
		idx, err := c.check(x.Property)
		if err != nil {
			return nil, err
		}
		if idx.op != opConst || idx.typ != table.Int {
			return nil, c.errAt(x.Property, "list index must be a constant int")
		}
		items := base.val.([]*node)
		i := idx.val.(int64)
		if i < 0 {
			i += int64(len(items))
		}
		if i < 0 || i >= int64(len(items)) {
			return nil, c.errAt(x.Property, "list index %d out of range [0,%d)", idx.val, len(items))
		}
		return items[i], nil
	}
	return nil, c.errAt(x, "unsupported member access on %s", typeName(base.typ))
}

func (c *checker) unary(x *ast.UnaryNode) (*node, error) {
	a, err := c.check(x.Node)
	if err != nil {
		return nil, err
	}
	switch x.Operator {
	case "-", "+":
		if !a.typ.Numeric() {
			return nil, c.errAt(x, "invalid operation: %s%s", x.Operator, typeName(a.typ))
		}
		if a.typ == table.Bool {
			a = castTo(a, table.Float)
		}
		if x.Operator == "+" {
			return a, nil
		}
		if a.op == opConst && a.val != nil {
			if a.typ == table.Int && a.val.(int64) != math.MinInt64 {
				return cnst(table.Int, -a.val.(int64)), nil
			}
			if a.typ == table.Float {
				return cnst(table.Float, -a.val.(float64)), nil
			}
		}
		return &node{op: opNeg, typ: a.typ, args: []*node{a}}, nil
	case "!", "not":
		if a.typ != table.Bool {
			return nil, c.errAt(x, "invalid operation: %s %s (needs bool)", x.Operator, typeName(a.typ))
		}
		return &node{op: opNot, typ: table.Bool, args: []*node{a}}, nil
	}
	return nil, c.errAt(x, "unsupported operator %s", x.Operator)
}

var arithOps = map[string]op{"+": opAdd, "-": opSub, "*": opMul, "/": opDiv, "%": opMod, "**": opPow, "^": opPow}
var cmpOps = map[string]op{"==": opEq, "!=": opNe, "<": opLt, "<=": opLe, ">": opGt, ">=": opGe}

func (c *checker) mismatch(x *ast.BinaryNode, l, r *node) error {
	if l.typ == r.typ {
		return c.errAt(x, "invalid operation: %s not defined on %s", x.Operator, typeName(l.typ))
	}
	return c.errAt(x, "invalid operation: %s (mismatched types %s and %s)", x.Operator, typeName(l.typ), typeName(r.typ))
}

func (c *checker) binary(x *ast.BinaryNode) (*node, error) {
	l, err := c.check(x.Left)
	if err != nil {
		return nil, err
	}
	r, err := c.check(x.Right)
	if err != nil {
		return nil, err
	}
	if o, ok := arithOps[x.Operator]; ok {
		if o == opAdd && l.typ == table.String && r.typ == table.String {
			return &node{op: opConcat, typ: table.String, args: []*node{l, r}}, nil
		}
		if !l.typ.Numeric() || !r.typ.Numeric() {
			return nil, c.mismatch(x, l, r)
		}
		t := table.Float
		if l.typ == table.Int && r.typ == table.Int && o != opDiv && o != opPow {
			t = table.Int
		}
		return &node{op: o, typ: t, args: []*node{castTo(l, t), castTo(r, t)}}, nil
	}
	if o, ok := cmpOps[x.Operator]; ok {
		return c.compare(x, o, l, r)
	}
	switch x.Operator {
	case "and", "&&", "or", "||":
		if l.typ != table.Bool || r.typ != table.Bool {
			if l.typ == r.typ {
				return nil, c.errAt(x, "invalid operation: %s not defined on %s (needs bool)", x.Operator, typeName(l.typ))
			}
			return nil, c.errAt(x, "invalid operation: %s (mismatched types %s and %s)", x.Operator, typeName(l.typ), typeName(r.typ))
		}
		o := opAnd
		if x.Operator == "or" || x.Operator == "||" {
			o = opOr
		}
		return &node{op: o, typ: table.Bool, args: []*node{l, r}}, nil
	case "in":
		return c.in(x, l, r)
	case "matches":
		if l.typ != table.String || r.typ != table.String {
			return nil, c.mismatch(x, l, r)
		}
		if r.op != opConst || r.val == nil {
			return nil, c.errAt(x.Right, "matches needs a constant pattern")
		}
		re, err := regexp.Compile(r.val.(string))
		if err != nil {
			return nil, c.errAt(x.Right, "invalid regular expression: %v", err)
		}
		return &node{op: opMatch, typ: table.Bool, args: []*node{l}, re: re, val: re, pred: re.MatchString}, nil
	case "contains", "startsWith", "endsWith":
		if l.typ != table.String || r.typ != table.String {
			return nil, c.mismatch(x, l, r)
		}
		if r.op == opConst && r.val != nil {
			s := r.val.(string)
			n := &node{typ: table.Bool, args: []*node{l}, val: s}
			switch x.Operator {
			case "contains":
				n.op, n.pred = opHas, func(v string) bool { return strings.Contains(v, s) }
			case "startsWith":
				n.op, n.pred = opPrefix, func(v string) bool { return strings.HasPrefix(v, s) }
			default:
				n.op, n.pred = opSuffix, func(v string) bool { return strings.HasSuffix(v, s) }
			}
			return n, nil
		}
		return &node{op: opStrFn, typ: table.Bool, fn: x.Operator, args: []*node{l, r}}, nil
	case "??":
		t, err := c.unify("??", []*node{l, r}, []ast.Node{x.Left, x.Right})
		if err != nil {
			return nil, err
		}
		if t == tNull {
			return cnst(tNull, nil), nil
		}
		return &node{op: opCoalesce, typ: t, args: []*node{retype(l, t), retype(r, t)}}, nil
	}
	return nil, c.errAt(x, "unsupported operator %s", x.Operator)
}

// parseTime parses a time constant (table.ParseTimeConstant).
func parseTime(s string) (int64, error) {
	if ns, ok := table.ParseTimeConstant(s); ok {
		return ns, nil
	}
	return 0, fmt.Errorf("invalid time %q (want RFC 3339 or YYYY-MM-DD)", s)
}

// asTime converts a string constant compared with a time into a time constant.
func (c *checker) asTime(n *node, at ast.Node) (*node, error) {
	if n.typ != table.String || n.op != opConst || n.val == nil {
		return n, nil
	}
	ns, err := parseTime(n.val.(string))
	if err != nil {
		return nil, c.errAt(at, "%v", err)
	}
	return cnst(table.Time, ns), nil
}

func (c *checker) compare(x *ast.BinaryNode, o op, l, r *node) (*node, error) {
	if l.typ == tNull || r.typ == tNull {
		return nil, c.errAt(x, "comparison with nil is always null; use is_null(x) or not_null(x)")
	}
	var err error
	if l.typ == table.Time {
		if r, err = c.asTime(r, x.Right); err != nil {
			return nil, err
		}
	}
	if r.typ == table.Time {
		if l, err = c.asTime(l, x.Left); err != nil {
			return nil, err
		}
	}
	eq := o == opEq || o == opNe
	switch {
	case l.typ.Numeric() && r.typ.Numeric() && !(l.typ == table.Bool && r.typ == table.Bool):
		t := table.Float
		if l.typ == table.Int && r.typ == table.Int {
			t = table.Int
		}
		return &node{op: o, typ: table.Bool, args: []*node{castTo(l, t), castTo(r, t)}}, nil
	case l.typ == r.typ && (l.typ == table.Time || (l.typ == table.Bool && eq)):
		return &node{op: o, typ: table.Bool, args: []*node{l, r}}, nil
	case l.typ == table.String && r.typ == table.String:
		if eq && l.op == opConst && r.op != opConst {
			l, r = r, l
		}
		if eq && r.op == opConst && r.val != nil {
			s := r.val.(string)
			if o == opEq {
				return &node{op: opStrEq, typ: table.Bool, args: []*node{l}, val: s, pred: func(v string) bool { return v == s }}, nil
			}
			return &node{op: opStrNe, typ: table.Bool, args: []*node{l}, val: s, pred: func(v string) bool { return v != s }}, nil
		}
		return &node{op: opStrCmp, typ: table.Bool, fn: x.Operator, args: []*node{l, r}}, nil
	}
	return nil, c.mismatch(x, l, r)
}

func (c *checker) in(x *ast.BinaryNode, l, r *node) (*node, error) {
	if r.typ != tList {
		return nil, c.errAt(x.Right, "in needs a list of constants on the right, got %s", typeName(r.typ))
	}
	items := r.val.([]*node)
	switch {
	case l.typ == table.String:
		set := make(map[string]struct{}, len(items))
		vals := make([]any, len(items))
		for i, it := range items {
			if it.typ != table.String {
				return nil, c.errAt(x.Right, "in: list element %d is %s, want string", i, typeName(it.typ))
			}
			set[it.val.(string)] = struct{}{}
			vals[i] = it.val
		}
		return &node{op: opStrIn, typ: table.Bool, args: []*node{l}, val: vals, pred: func(v string) bool {
			_, ok := set[v]
			return ok
		}}, nil
	case l.typ.Numeric():
		set := make(map[float64]struct{}, len(items))
		vals := make([]any, 0, len(items))
		for i, it := range items {
			if !it.typ.Numeric() {
				return nil, c.errAt(x.Right, "in: list element %d is %s, want a number", i, typeName(it.typ))
			}
			if it.val == nil {
				continue
			}
			f := toFloat(it.val)
			set[f] = struct{}{}
			vals = append(vals, f)
		}
		return &node{op: opIn, typ: table.Bool, args: []*node{castTo(l, table.Float)}, val: vals, set: set}, nil
	}
	return nil, c.errAt(x, "invalid operation: in not defined on %s", typeName(l.typ))
}

func (c *checker) conditional(x *ast.ConditionalNode) (*node, error) {
	cond, err := c.check(x.Cond)
	if err != nil {
		return nil, err
	}
	if cond.typ != table.Bool {
		return nil, c.errAt(x.Cond, "condition must be bool, got %s", typeName(cond.typ))
	}
	a, err := c.check(x.Exp1)
	if err != nil {
		return nil, err
	}
	b, err := c.check(x.Exp2)
	if err != nil {
		return nil, err
	}
	args := []*node{a, b}
	t, err := c.unify("conditional branches", args, []ast.Node{x.Exp1, x.Exp2})
	if err != nil {
		return nil, err
	}
	if t == tNull {
		return cnst(tNull, nil), nil
	}
	return &node{op: opCond, typ: t, args: []*node{cond, args[0], args[1]}}, nil
}

func (c *checker) call(name string, args []ast.Node, at ast.Node) (*node, error) {
	arity, ok := functions[name]
	if !ok {
		names := make([]string, 0, len(functions))
		for k := range functions {
			names = append(names, k)
		}
		sortStrings(names)
		msg := fmt.Sprintf("unknown function %q", name)
		if s := suggest(name, names); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return nil, c.errAt(at, "%s", msg)
	}
	if len(args) < arity[0] || (arity[1] >= 0 && len(args) > arity[1]) {
		want := fmt.Sprint(arity[0])
		switch {
		case arity[1] < 0:
			want = fmt.Sprintf("at least %d", arity[0])
		case arity[1] != arity[0]:
			want = fmt.Sprintf("%d to %d", arity[0], arity[1])
		}
		plural := "s"
		if want == "1" {
			plural = ""
		}
		return nil, c.errAt(at, "%s takes %s argument%s, got %d", name, want, plural, len(args))
	}
	if name == "col" {
		s, ok := args[0].(*ast.StringNode)
		if !ok {
			return nil, c.errAt(args[0], "col needs a string literal column name")
		}
		return c.column(s.Value, args[0])
	}
	ns := make([]*node, len(args))
	for i, a := range args {
		n, err := c.check(a)
		if err != nil {
			return nil, err
		}
		ns[i] = n
	}
	need := func(i int, ok bool, what string) error {
		if ok {
			return nil
		}
		return c.errAt(args[i], "%s: argument %d must be %s, got %s", name, i+1, what, typeName(ns[i].typ))
	}
	numeric := func() error {
		for i, n := range ns {
			if err := need(i, n.typ.Numeric(), "a number"); err != nil {
				return err
			}
		}
		return nil
	}
	unary := func(o op) *node {
		return &node{op: o, typ: table.Float, args: []*node{castTo(ns[0], table.Float)}}
	}
	switch name {
	case "abs", "floor", "ceil":
		if err := numeric(); err != nil {
			return nil, err
		}
		o := map[string]op{"abs": opAbs, "floor": opFloor, "ceil": opCeil}[name]
		if ns[0].typ == table.Int {
			if o != opAbs {
				return ns[0], nil
			}
			return &node{op: o, typ: table.Int, args: ns}, nil
		}
		return unary(o), nil
	case "sqrt", "log", "log10", "exp", "float":
		if err := numeric(); err != nil {
			return nil, err
		}
		if name == "float" {
			return castTo(ns[0], table.Float), nil
		}
		return unary(map[string]op{"sqrt": opSqrt, "log": opLog, "log10": opLog10, "exp": opExp}[name]), nil
	case "int":
		if err := numeric(); err != nil {
			return nil, err
		}
		return castTo(ns[0], table.Int), nil
	case "pow":
		if err := numeric(); err != nil {
			return nil, err
		}
		return &node{op: opPow, typ: table.Float, args: []*node{castTo(ns[0], table.Float), castTo(ns[1], table.Float)}}, nil
	case "min", "max", "clip":
		if err := numeric(); err != nil {
			return nil, err
		}
		t := table.Int
		for _, n := range ns {
			if n.typ != table.Int {
				t = table.Float
			}
		}
		for i := range ns {
			ns[i] = castTo(ns[i], t)
		}
		return &node{op: map[string]op{"min": opMin, "max": opMax, "clip": opClip}[name], typ: t, args: ns}, nil
	case "round":
		if err := numeric(); err != nil {
			return nil, err
		}
		if len(ns) == 1 {
			if ns[0].typ == table.Int {
				return ns[0], nil
			}
			return unary(opRound), nil
		}
		if ns[1].op != opConst || ns[1].typ != table.Int || ns[1].val == nil {
			return nil, c.errAt(args[1], "round: digits must be a constant int")
		}
		n := unary(opRound)
		n.val = ns[1].val
		return n, nil
	case "coalesce", "if_null":
		t, err := c.unify(name, ns, args)
		if err != nil {
			return nil, err
		}
		if t == tNull {
			return cnst(tNull, nil), nil
		}
		return &node{op: opCoalesce, typ: t, args: ns}, nil
	case "is_null", "not_null":
		if err := need(0, ns[0].typ != tList, "a value"); err != nil {
			return nil, err
		}
		if ns[0].op == opConst {
			return cnst(table.Bool, (ns[0].val == nil) == (name == "is_null")), nil
		}
		o := opIsNull
		if name == "not_null" {
			o = opNotNull
		}
		return &node{op: o, typ: table.Bool, args: ns}, nil
	case "year", "month", "day", "hour":
		if err := need(0, ns[0].typ == table.Time, "a time"); err != nil {
			return nil, err
		}
		return &node{op: map[string]op{"year": opYear, "month": opMonth, "day": opDay, "hour": opHour}[name], typ: table.Int, args: ns}, nil
	case "lower", "upper", "trim", "len":
		if err := need(0, ns[0].typ == table.String, "a string"); err != nil {
			return nil, err
		}
		o := map[string]op{"lower": opLower, "upper": opUpper, "trim": opTrim, "len": opLen}[name]
		t := table.String
		if o == opLen {
			t = table.Int
		}
		return &node{op: o, typ: t, args: ns}, nil
	}
	return nil, c.errAt(at, "unknown function %q", name)
}
