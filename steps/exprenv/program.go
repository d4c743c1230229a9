package exprenv

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/mlrun-cli/mlrun/steps/table"
)

// ErrSchema is wrapped by Eval errors about a dataset that does not match
// the schema the program was compiled against.
var ErrSchema = errors.New("dataset does not match the compiled schema")

// Program is a compiled row expression over the columns of a schema. It is
// safe for concurrent use.
type Program struct {
	src      string
	typed    *node // the typed tree (fallback subtrees wrapped in opVM)
	vec      *plan // the evaluation plan
	cols     []string
	colTypes []table.Type
	// vectorised is true when the plan has no opVM node.
	vectorised bool

	vmOnce sync.Once
	vmPlan *plan
	vmErr  error
}

// Compile compiles a row expression over the columns of schema. params are
// available as params.NAME (values: string, bool, ints, float64,
// time.Time, lists of those). Errors are *Error with the line and column
// inside src: syntax errors, unknown columns, params and functions (with a
// near-miss suggestion), and type errors.
func Compile(src string, schema *table.Schema, params map[string]any) (*Program, error) {
	return compile(src, schema, params, "column")
}

func compile(src string, schema *table.Schema, params map[string]any, noun string) (*Program, error) {
	if schema == nil {
		schema = &table.Schema{}
	}
	tree, err := parse(src)
	if err != nil {
		return nil, err
	}
	c := &checker{src: src, schema: schema, params: params, noun: noun, colIdx: map[string]int{}}
	root, err := c.check(tree)
	if err != nil {
		return nil, err
	}
	switch root.typ {
	case tNull:
		return nil, &Error{Line: 1, Col: 1, Msg: "expression is always nil"}
	case tList:
		return nil, &Error{Line: 1, Col: 1, Msg: "a list can only be used on the right of in"}
	}
	p := &Program{src: src, cols: c.cols, vectorised: true}
	for _, name := range c.cols {
		f, _ := schema.Lookup(name)
		p.colTypes = append(p.colTypes, f.Type)
	}
	p.typed = wrap(root)
	var werr error
	p.typed.walk(func(n *node) {
		if n.op == opVM {
			p.vectorised = false
			if werr == nil {
				werr = compileVM(n)
			}
		}
	})
	if werr != nil {
		return nil, werr
	}
	p.vec = newPlan(p.typed)
	return p, nil
}

// wrap replaces every subtree whose root has no column kernel with an opVM
// node evaluating that subtree row by row.
func wrap(n *node) *node {
	if !n.vectorisable() {
		return &node{op: opVM, typ: n.typ, args: []*node{n}}
	}
	for i, a := range n.args {
		n.args[i] = wrap(a)
	}
	return n
}

// Source returns the expression source.
func (p *Program) Source() string { return p.src }

// Type returns the result column type.
func (p *Program) Type() table.Type { return p.vec.root.typ }

// Columns returns the referenced columns, sorted and unique.
func (p *Program) Columns() []string {
	out := append([]string(nil), p.cols...)
	sort.Strings(out)
	return out
}

// Vectorised reports whether Eval runs fully as column operations, with no
// per-row VM fallback.
func (p *Program) Vectorised() bool { return p.vectorised }

// Eval evaluates the expression over every row of ds and returns a column
// of Type() (with an empty Name). jobs >= 1 goroutines evaluate chunks of
// rows; the result does not depend on jobs.
func (p *Program) Eval(ds *table.Dataset, jobs int) (*table.Column, error) {
	cols, err := p.bind(ds)
	if err != nil {
		return nil, err
	}
	return run(p.vec, cols, ds.Rows, jobs)
}

// evalVM evaluates the whole expression with expr's VM row by row (the
// reference the column kernels are tested against).
func (p *Program) evalVM(ds *table.Dataset, jobs int) (*table.Column, error) {
	p.vmOnce.Do(func() {
		var root *node
		root, p.vmErr = vmPlan(p.typed)
		if p.vmErr == nil {
			p.vmPlan = newPlan(root)
		}
	})
	if p.vmErr != nil {
		return nil, p.vmErr
	}
	cols, err := p.bind(ds)
	if err != nil {
		return nil, err
	}
	return run(p.vmPlan, cols, ds.Rows, jobs)
}

// bind finds the referenced columns in ds and checks their types and lengths.
func (p *Program) bind(ds *table.Dataset) ([]*table.Column, error) {
	cols := make([]*table.Column, len(p.cols))
	for i, name := range p.cols {
		c := ds.Column(name)
		if c == nil {
			return nil, fmt.Errorf("expression %q: column %q: %w: column missing", p.src, name, ErrSchema)
		}
		if c.Type != p.colTypes[i] {
			return nil, fmt.Errorf("expression %q: column %q: %w: type %s, compiled for %s", p.src, name, ErrSchema, c.Type, p.colTypes[i])
		}
		if c.Len() != ds.Rows {
			return nil, fmt.Errorf("expression %q: column %q: %w: %d rows, dataset has %d", p.src, name, ErrSchema, c.Len(), ds.Rows)
		}
		if c.Type == table.String {
			for j, code := range c.Codes {
				if int(code) >= len(c.Dict) && c.Valid.Valid(j) {
					return nil, fmt.Errorf("expression %q: column %q: code %d out of dictionary range", p.src, name, code)
				}
			}
		}
		cols[i] = c
	}
	return cols, nil
}
