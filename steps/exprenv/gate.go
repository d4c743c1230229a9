package exprenv

import (
	"fmt"

	"github.com/mlrun-cli/mlrun/steps/table"
)

// Gate is a compiled boolean expression over named float metrics and
// params, e.g. `auc >= params.min_auc`.
type Gate struct {
	prog *Program
}

// CompileGate compiles a gate over the named metrics (each a float). It
// fails with an *Error when the expression is invalid or not boolean.
func CompileGate(src string, metrics []string, params map[string]any) (*Gate, error) {
	s := &table.Schema{}
	for _, m := range metrics {
		if s.Index(m) < 0 {
			s.Fields = append(s.Fields, table.Field{Name: m, Type: table.Float})
		}
	}
	p, err := compile(src, s, params, "metric")
	if err != nil {
		return nil, err
	}
	if p.Type() != table.Bool {
		return nil, &Error{Line: 1, Col: 1, Msg: fmt.Sprintf("gate must be a bool expression, got %s", p.Type())}
	}
	return &Gate{prog: p}, nil
}

// Source returns the gate's expression source.
func (g *Gate) Source() string { return g.prog.src }

// Identifiers returns the metric names the gate reads, sorted and unique
// (so that a failing gate can show their values).
func (g *Gate) Identifiers() []string { return g.prog.Columns() }

// Eval evaluates the gate. A metric it reads that is missing from metrics
// is an error; a NaN metric is null, and a null result (e.g. `auc >= 0.7`
// with a NaN auc) fails the gate: Eval returns false.
func (g *Gate) Eval(metrics map[string]float64) (bool, error) {
	ds := &table.Dataset{Rows: 1}
	for _, name := range g.prog.cols {
		v, ok := metrics[name]
		if !ok {
			return false, fmt.Errorf("gate %q: metric %q missing", g.prog.src, name)
		}
		ds.Columns = append(ds.Columns, &table.Column{Name: name, Type: table.Float, Floats: []float64{v}})
	}
	col, err := g.prog.Eval(ds, 1)
	if err != nil {
		return false, fmt.Errorf("gate %q: %w", g.prog.src, err)
	}
	return col.Valid.Valid(0) && col.Bools[0], nil
}
