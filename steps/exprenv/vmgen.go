package exprenv

import (
	"fmt"
	"math"
	"strings"

	"github.com/expr-lang/expr"

	"github.com/mlrun-cli/mlrun/steps/table"
)

// The VM fallback: a subtree is printed as expr source in which every
// operation is a call of a null-aware function of vmFunctions (so the VM
// honours the same null semantics as the column kernels), columns are read
// from the per-row slice r and constants from the slice k.

var opFuncs = map[op]string{
	opToFloat: "f_float", opToInt: "f_int", opNeg: "f_neg", opNot: "f_not",
	opAdd: "f_add", opSub: "f_sub", opMul: "f_mul", opDiv: "f_div", opMod: "f_mod", opPow: "f_pow",
	opEq: "f_eq", opNe: "f_ne", opLt: "f_lt", opLe: "f_le", opGt: "f_gt", opGe: "f_ge",
	opAnd: "f_and", opOr: "f_or", opIn: "f_in", opStrEq: "f_eq", opStrNe: "f_ne", opStrIn: "f_in",
	opMatch: "f_matches", opPrefix: "f_startsWith", opSuffix: "f_endsWith", opHas: "f_contains",
	opCond: "f_cond", opCoalesce: "f_coalesce", opIsNull: "f_is_null", opNotNull: "f_not_null",
	opAbs: "f_abs", opSqrt: "f_sqrt", opLog: "f_log", opLog10: "f_log10", opExp: "f_exp",
	opMin: "f_min", opMax: "f_max", opClip: "f_clip", opRound: "f_round", opFloor: "f_floor", opCeil: "f_ceil",
	opYear: "f_year", opMonth: "f_month", opDay: "f_day", opHour: "f_hour",
	opLower: "f_lower", opUpper: "f_upper", opTrim: "f_trim", opLen: "f_len", opConcat: "f_concat",
}

var strCmpFuncs = map[string]string{"==": "f_eq", "!=": "f_ne", "<": "f_lt", "<=": "f_le", ">": "f_gt", ">=": "f_ge"}

// gen prints n as expr source, appending constants to k.
func gen(b *strings.Builder, n *node, k *[]any) {
	konst := func(v any) {
		fmt.Fprintf(b, "k[%d]", len(*k))
		*k = append(*k, v)
	}
	switch n.op {
	case opCol:
		fmt.Fprintf(b, "r[%d]", n.col)
		return
	case opConst:
		v := n.val
		if f, ok := v.(float64); ok && math.IsNaN(f) {
			v = nil
		}
		konst(v)
		return
	case opVM:
		gen(b, n.args[0], k)
		return
	}
	name := opFuncs[n.op]
	switch n.op {
	case opStrCmp:
		name = strCmpFuncs[n.fn]
	case opStrFn:
		name = "f_" + n.fn
	}
	b.WriteString(name)
	b.WriteByte('(')
	for i, a := range n.args {
		if i > 0 {
			b.WriteString(", ")
		}
		gen(b, a, k)
	}
	switch n.op {
	case opIn, opStrIn, opStrEq, opStrNe, opMatch, opPrefix, opSuffix, opHas:
		b.WriteString(", ")
		konst(n.val)
	case opRound:
		if n.val != nil {
			b.WriteString(", ")
			konst(n.val)
		}
	}
	b.WriteByte(')')
}

// compileVM turns the subtree of an opVM node into an expr program.
func compileVM(n *node) error {
	var b strings.Builder
	var k []any
	gen(&b, n.args[0], &k)
	opts := []expr.Option{expr.Env(map[string]any{"r": []any{}, "k": []any{}})}
	for name, fn := range vmFunctions {
		opts = append(opts, expr.Function(name, fn))
	}
	prog, err := expr.Compile(b.String(), opts...)
	if err != nil {
		return fmt.Errorf("compile fallback %q: %w", b.String(), err)
	}
	n.vm = prog
	n.val = k
	seen := map[int]bool{}
	n.args[0].walk(func(c *node) {
		if c.op == opCol && !seen[c.col] {
			seen[c.col] = true
			n.vmCols = append(n.vmCols, c.col)
		}
	})
	return nil
}

// scalarAt returns row i of c as a VM value (nil when null).
func scalarAt(c *table.Column, i int) any {
	if !c.Valid.Valid(i) {
		return nil
	}
	switch c.Type {
	case table.Float:
		v := c.Floats[i]
		if v != v {
			return nil
		}
		return v
	case table.Int, table.Time:
		return c.Ints[i]
	case table.Bool:
		return c.Bools[i]
	case table.String:
		return c.Dict[c.Codes[i]]
	}
	return nil
}

// runVM evaluates an opVM node over rows [lo, hi) into v.
func (w *worker) runVM(n *node, lo, hi int, v *vec) error {
	s := &w.s[n.id]
	cnt := hi - lo
	if w.env == nil {
		w.row = make([]any, len(w.e.cols))
		w.env = map[string]any{"r": w.row}
	}
	w.env["k"] = n.val
	var null []bool
	switch n.typ {
	case table.Float:
		v.f = grow(&s.f, cnt)
	case table.Int, table.Time:
		v.i = grow(&s.i, cnt)
	case table.Bool:
		v.b = grow(&s.b, cnt)
	case table.String:
		v.codes = grow(&s.codes, cnt)
		v.dict = nil // a fresh dictionary per chunk (string results are kept by the caller)
		if s.dictIdx == nil {
			s.dictIdx = map[string]uint32{}
		}
		clear(s.dictIdx)
	}
	if n.typ != table.Float {
		null = grow(&s.null, cnt)
		v.null = null
	}
	for j := 0; j < cnt; j++ {
		for _, c := range n.vmCols {
			w.row[c] = scalarAt(w.e.cols[c], lo+j)
		}
		out, err := w.m.Run(n.vm, w.env)
		if err != nil {
			return fmt.Errorf("row %d: %w", lo+j, err)
		}
		if n.typ == table.Float {
			if f, ok := out.(float64); ok {
				v.f[j] = f
			} else {
				v.f[j] = math.NaN()
			}
			continue
		}
		null[j] = out == nil
		switch n.typ {
		case table.Int, table.Time:
			x, _ := out.(int64)
			v.i[j] = x
		case table.Bool:
			x, _ := out.(bool)
			v.b[j] = x
		case table.String:
			x, _ := out.(string)
			if out == nil {
				v.codes[j] = 0
				continue
			}
			code, ok := s.dictIdx[x]
			if !ok {
				code = uint32(len(v.dict))
				s.dictIdx[x] = code
				v.dict = append(v.dict, x)
			}
			v.codes[j] = code
		}
	}
	return nil
}

// vmProgram is used by tests: a plan that evaluates the whole typed tree
// with the VM.
func vmPlan(typed *node) (*node, error) {
	root := &node{op: opVM, typ: typed.typ, args: []*node{typed}}
	if err := compileVM(root); err != nil {
		return nil, err
	}
	return root, nil
}
