package derive

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/exprenv"
	"github.com/mlrun-cli/mlrun/steps/internal/yamlnode"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// Version is the implementation version of the derive kind, part of every
// cache key.
const Version = 1

// Kind returns the derive step kind.
func Kind() pipeline.Kind { return kind{} }

type kind struct{}

func (kind) Name() string { return "derive" }

func (kind) Version() int { return Version }

func (kind) Inputs() []pipeline.Port {
	return []pipeline.Port{{Name: "input", Required: true, Doc: "the dataset to extend"}}
}

func (kind) Outputs() []string { return []string{"data"} }

func (kind) Required() []string { return []string{"columns"} }

func (kind) Settings() map[string]any {
	return map[string]any{
		"columns": map[string]any{
			"type":          "object",
			"minProperties": 1,
			"description":   "new columns in order: name -> expression over the input columns, the columns above it and params.NAME; a name already in the input replaces that column",
			"additionalProperties": map[string]any{
				"type":        []string{"string", "number", "boolean"},
				"description": "an expression",
			},
		},
	}
}

// Column is one derived column of the step's cache config.
type Column struct {
	Name string `json:"name"`
	Expr string `json:"expr"`
	// Type is the expression's result type.
	Type string `json:"type"`
}

// cacheConfig is the step's canonical configuration.
type cacheConfig struct {
	Columns []Column `json:"columns"`
	// Params are the pipeline's params, included when an expression may
	// read them.
	Params map[string]any `json:"params,omitempty"`
}

type derived struct {
	name     string
	prog     *exprenv.Program
	replaces bool
}

type compiled struct {
	cols   []derived
	schema *table.Schema // output schema
	params map[string]any
}

func (kind) Compile(req *pipeline.CompileRequest) pipeline.Compiled {
	d := new(diag.List)
	defer req.Diags.Merge(d)
	var in *table.Schema
	if t, ok := req.Inputs["input"]; ok && t != nil {
		s, ok := t.(*table.Schema)
		if !ok {
			d.Add(req.Pos(req.Setting("input")), "input must be a dataset, got %s", t.TypeName())
			return nil
		}
		in = s
	}
	n := req.Setting("columns")
	switch {
	case n == nil:
		d.Add(req.Step.Pos, "derive step needs columns")
		return nil
	case n.Kind != yaml.MappingNode:
		d.Add(req.Pos(n), "columns must be a mapping of column name to expression, got %s", yamlnode.Describe(n))
		return nil
	case len(n.Content) == 0:
		d.Add(req.Pos(n), "columns is empty: declare at least one column")
		return nil
	}
	c := &compiled{}
	var schema *table.Schema
	if in != nil {
		schema = &table.Schema{Fields: slices.Clone(in.Fields)}
	}
	seen := map[string]bool{}
	for _, p := range yamlnode.Pairs(n) {
		name := p.Key.Value
		switch {
		case p.Key.Kind != yaml.ScalarNode || name == "":
			d.Add(req.Pos(p.Key), "column name must be a non-empty string")
			continue
		case seen[name]:
			d.Add(req.Pos(p.Key), "column %q derived twice", name)
			continue
		}
		seen[name] = true
		if p.Value.Kind != yaml.ScalarNode || p.Value.Value == "" || p.Value.ShortTag() == "!!null" {
			d.Add(req.Pos(p.Value), "column %q: want an expression, got %s", name, yamlnode.Describe(p.Value))
			continue
		}
		if schema == nil {
			continue
		}
		prog, err := exprenv.Compile(p.Value.Value, schema, req.Params)
		if err != nil {
			d.Add(exprenv.PosSource(req.Pipeline.File, req.Pipeline.Source, p.Value, err), "column %q: %s", name, exprMessage(err))
			continue
		}
		f := table.Field{Name: name, Type: prog.Type()}
		dc := derived{name: name, prog: prog}
		if i := schema.Index(name); i >= 0 {
			schema.Fields[i] = f
			dc.replaces = in.Index(name) >= 0
		} else {
			schema.Fields = append(schema.Fields, f)
		}
		c.cols = append(c.cols, dc)
		if read := exprenv.ParamsRead(prog.Source(), req.Params); len(read) > 0 {
			if c.params == nil {
				c.params = map[string]any{}
			}
			for k, v := range read {
				c.params[k] = v
			}
		}
	}
	if d.HasErrors() || schema == nil {
		return nil
	}
	c.schema = schema
	return c
}

// exprMessage returns an expression compile error's message without its
// position inside the expression (the diagnostic carries the file position).
func exprMessage(err error) string {
	var e *exprenv.Error
	if errors.As(err, &e) {
		return e.Msg
	}
	return err.Error()
}

func (c *compiled) OutputTypes() map[string]pipeline.Type {
	return map[string]pipeline.Type{"data": c.schema}
}

func (c *compiled) CacheConfig() any {
	cfg := cacheConfig{Columns: make([]Column, len(c.cols)), Params: c.params}
	for i, dc := range c.cols {
		cfg.Columns[i] = Column{Name: dc.name, Expr: dc.prog.Source(), Type: dc.prog.Type().String()}
	}
	return cfg
}

func (c *compiled) Run(ctx context.Context, req *pipeline.RunRequest) (*pipeline.Result, error) {
	obj, ok := req.Inputs["input"]
	if !ok {
		return nil, fmt.Errorf("derive: input not connected")
	}
	ds, ok := obj.(*table.Dataset)
	if !ok {
		return nil, fmt.Errorf("derive: input is a %s, not a dataset", obj.TypeName())
	}
	jobs := max(req.Jobs, 1)
	res := &pipeline.Result{Metrics: map[string]float64{}}
	var replaced []string
	for _, dc := range c.cols {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		col, err := dc.prog.Eval(ds, jobs)
		if err != nil {
			return nil, fmt.Errorf("derive column %q: %w", dc.name, err)
		}
		if col.Len() != ds.Rows || col.Type != dc.prog.Type() {
			return nil, fmt.Errorf("derive column %q: got %d %s values, want %d %s", dc.name, col.Len(), col.Type, ds.Rows, dc.prog.Type())
		}
		col.Name = dc.name
		ds = ds.WithColumn(col)
		res.Metrics["nulls."+dc.name] = float64(col.NullCount())
		if dc.replaces {
			replaced = append(replaced, dc.name)
		}
	}
	res.Outputs = map[string]pipeline.Object{"data": ds}
	note := fmt.Sprintf("%d columns derived", len(c.cols))
	if len(replaced) > 0 {
		note += "; replaced " + strings.Join(replaced, ", ")
	}
	res.Notes = []string{note}
	return res, nil
}
