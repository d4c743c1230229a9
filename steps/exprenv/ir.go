package exprenv

import (
	"regexp"

	"github.com/expr-lang/expr/vm"

	"github.com/mlrun-cli/mlrun/steps/table"
)

// Internal value types beyond the table's column types.
const (
	// tNull is the type of the nil literal (and of null params).
	tNull table.Type = 100
	// tList is the type of a constant list (array literal or list param).
	tList table.Type = 101
)

// typeName names a type in error messages.
func typeName(t table.Type) string {
	switch t {
	case tNull:
		return "nil"
	case tList:
		return "list"
	}
	return t.String()
}

// op is an operation of the typed expression tree.
type op uint8

const (
	opCol op = iota + 1
	opConst
	opToFloat
	opToInt
	opNeg
	opNot
	opAdd
	opSub
	opMul
	opDiv
	opMod
	opPow
	opEq
	opNe
	opLt
	opLe
	opGt
	opGe
	opAnd
	opOr
	opIn     // numeric/bool/time value in a constant list (val: []any)
	opStrEq  // string == constant (val: string)
	opStrNe  // string != constant
	opStrIn  // string in constant list (val: []any of strings)
	opMatch  // string matches constant regexp (val: *regexp.Regexp)
	opPrefix // startsWith constant (val: string)
	opSuffix // endsWith constant
	opHas    // contains constant
	opCond
	opCoalesce
	opIsNull
	opNotNull
	opAbs
	opSqrt
	opLog
	opLog10
	opExp
	opMin
	opMax
	opClip
	opRound // val: int64 digits, or nil
	opFloor
	opCeil
	opYear
	opMonth
	opDay
	opHour
	// Operations below are evaluated by expr's VM only (see vectorisable).
	opLower
	opUpper
	opTrim
	opLen
	opConcat
	opStrCmp // string vs string comparison other than == / != with a constant (fn holds the operator)
	opStrFn  // startsWith/endsWith/contains with a non-constant argument (fn holds the name)
	// opVM evaluates args[0] (a whole subtree) row by row with expr's VM.
	opVM
)

// node is one operation of the typed tree.
type node struct {
	op   op
	typ  table.Type
	args []*node
	// col is the column index (into Program.cols) of an opCol.
	col int
	// val is the constant of an opConst (float64, int64, bool, string,
	// int64 Unix nanoseconds for Time, []any for lists; nil when null) or
	// an operation's constant operand (see the op comments).
	val any
	// fn is the scalar function name used by the VM source.
	fn string
	// set is the hash set of an opIn over numbers (float64 keys) or bools.
	set map[float64]struct{}
	// pred is the per-value predicate of the string operations on a
	// dictionary (opStrEq ... opHas).
	pred func(string) bool
	// id indexes per-worker scratch buffers.
	id int
	// vm is the compiled fallback program of an opVM, reading the columns
	// in vmCols.
	vm     *vm.Program
	vmCols []int
	re     *regexp.Regexp
}

// vectorisable reports whether the operation itself has a column kernel.
func (n *node) vectorisable() bool {
	switch n.op {
	case opLower, opUpper, opTrim, opLen, opConcat, opStrCmp, opStrFn, opVM:
		return false
	case opCond, opCoalesce:
		return n.typ != table.String
	}
	return true
}

// walk calls f on n and every node below it, parents first.
func (n *node) walk(f func(*node)) {
	f(n)
	for _, a := range n.args {
		a.walk(f)
	}
}
