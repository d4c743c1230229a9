package pipeline

import (
	"context"
	"errors"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Fake step kinds for the loader's tests: a source with one output, a
// transform and a splitter with one port, a trainer, and a sink with two
// ports. Their Compile reports problems with positions like real kinds.

type fakeType struct {
	name string
	cols []string
}

func (t *fakeType) TypeName() string { return t.name }

type fakeCompiled struct {
	outputs map[string]Type
	config  any
}

func (c *fakeCompiled) OutputTypes() map[string]Type { return c.outputs }
func (c *fakeCompiled) CacheConfig() any             { return c.config }
func (c *fakeCompiled) Run(context.Context, *RunRequest) (*Result, error) {
	return nil, errors.New("fake kinds do not run")
}

type fakeKind struct {
	name     string
	inputs   []Port
	outputs  []string
	settings map[string]any
	required []string
	compile  func(req *CompileRequest) Compiled
}

func (k *fakeKind) Name() string                         { return k.name }
func (k *fakeKind) Version() int                         { return 1 }
func (k *fakeKind) Inputs() []Port                       { return k.inputs }
func (k *fakeKind) Outputs() []string                    { return k.outputs }
func (k *fakeKind) Settings() map[string]any             { return k.settings }
func (k *fakeKind) Required() []string                   { return k.required }
func (k *fakeKind) Compile(req *CompileRequest) Compiled { return k.compile(req) }

// config returns the step's settings (without kind, doc and ports) as a
// JSON value.
func config(req *CompileRequest) map[string]any {
	m := toJSON(req.Step.Node).(map[string]any)
	delete(m, "kind")
	delete(m, "doc")
	for _, p := range req.Step.KindImpl.Inputs() {
		delete(m, p.Name)
	}
	return m
}

// wantInput checks that port holds a value of type name; it reports the
// problem at the port's reference.
func wantInput(req *CompileRequest, port, name string) (*fakeType, bool) {
	if t, ok := req.Inputs[port]; ok && t == nil {
		return nil, false
	}
	t, _ := req.Inputs[port].(*fakeType)
	if t == nil || t.name != name {
		got := "nothing"
		if req.Inputs[port] != nil {
			got = req.Inputs[port].TypeName()
		}
		req.Diags.Add(req.Pos(req.Setting(port)), "input %q: want a %s, got a %s", port, name, got)
		return nil, false
	}
	return t, true
}

func fakeRegistry() *Registry {
	reg := NewRegistry()
	str := map[string]any{"type": "string"}
	kinds := []*fakeKind{{
		name:    "source",
		outputs: []string{"data"},
		settings: map[string]any{
			"path":    str,
			"rows":    map[string]any{"type": "integer", "minimum": 1},
			"columns": map[string]any{"type": "array", "items": str},
		},
		required: []string{"path"},
		compile: func(req *CompileRequest) Compiled {
			path := req.Setting("path")
			if strings.HasSuffix(path.Value, ".bad") {
				req.Diags.Add(req.Pos(path), "cannot read %q: unsupported format", path.Value)
				return nil
			}
			var cols []string
			if c := req.Setting("columns"); c != nil {
				for _, n := range c.Content {
					cols = append(cols, n.Value)
				}
			}
			return &fakeCompiled{outputs: map[string]Type{"data": &fakeType{"dataset", cols}}, config: config(req)}
		},
	}, {
		name:    "transform",
		inputs:  []Port{{Name: "input", Required: true, Doc: "The dataset to transform."}},
		outputs: []string{"data"},
		settings: map[string]any{
			"expr":  str,
			"mode":  map[string]any{"enum": []any{"fast", "exact"}},
			"ratio": map[string]any{"type": "number", "minimum": 0, "maximum": 1},
			"seed":  map[string]any{"type": "integer"},
			"flag":  map[string]any{"type": "boolean"},
			"label": str,
			"cols": map[string]any{"anyOf": []any{
				str, map[string]any{"type": "array", "items": str},
			}},
			"time": map[string]any{
				"type":                 "object",
				"properties":           map[string]any{"column": str, "from": str},
				"required":             []any{"column"},
				"additionalProperties": false,
			},
		},
		compile: func(req *CompileRequest) Compiled {
			in, ok := wantInput(req, "input", "dataset")
			if !ok {
				return nil
			}
			cols := append([]string(nil), in.cols...)
			if e := req.Setting("expr"); e != nil {
				name, _, _ := strings.Cut(e.Value, " ")
				if !contains(cols, name) {
					req.Diags.Add(req.Pos(e), "unknown column %q", name)
					return nil
				}
				cols = append(cols, "derived")
			}
			if l := req.Setting("label"); l != nil && l.Value == "warn" {
				req.Diags.Warn(req.Pos(l), "label %q is only a warning", l.Value)
			}
			return &fakeCompiled{outputs: map[string]Type{"data": &fakeType{"dataset", cols}}, config: config(req)}
		},
	}, {
		name:     "splitter",
		inputs:   []Port{{Name: "input", Required: true}},
		outputs:  []string{"train", "test"},
		settings: map[string]any{"test": map[string]any{"type": "number"}},
		compile: func(req *CompileRequest) Compiled {
			in, ok := wantInput(req, "input", "dataset")
			if !ok {
				return nil
			}
			return &fakeCompiled{outputs: map[string]Type{"train": in, "test": in}, config: config(req)}
		},
	}, {
		name:     "trainer",
		inputs:   []Port{{Name: "input", Required: true}, {Name: "valid"}},
		outputs:  []string{"model"},
		settings: map[string]any{"target": str, "features": map[string]any{"type": "array", "items": str}},
		required: []string{"target"},
		compile: func(req *CompileRequest) Compiled {
			in, ok := wantInput(req, "input", "dataset")
			if !ok {
				return nil
			}
			if t := req.Setting("target"); !contains(in.cols, t.Value) {
				req.Diags.Add(req.Pos(t), "target %q is not a column", t.Value)
				return nil
			}
			return &fakeCompiled{outputs: map[string]Type{"model": &fakeType{"model", nil}}, config: config(req)}
		},
	}, {
		name:     "sink",
		inputs:   []Port{{Name: "model", Required: true}, {Name: "data"}},
		outputs:  []string{"metrics"},
		settings: map[string]any{"threshold": map[string]any{"type": "number"}},
		compile: func(req *CompileRequest) Compiled {
			if _, ok := wantInput(req, "model", "model"); !ok {
				return nil
			}
			if req.Inputs["data"] != nil {
				if _, ok := wantInput(req, "data", "dataset"); !ok {
					return nil
				}
			}
			return &fakeCompiled{outputs: map[string]Type{"metrics": &fakeType{"metrics", nil}}, config: config(req)}
		},
	}, {
		name: "nothing",
		compile: func(req *CompileRequest) Compiled {
			return &fakeCompiled{config: config(req)}
		},
	}}
	for _, k := range kinds {
		if err := reg.Register(k); err != nil {
			panic(err)
		}
	}
	return reg
}

// nodeText renders a node as one line of flow YAML, for goldens.
func nodeText(n *yaml.Node) string {
	c := deepCopy(n)
	var clear func(*yaml.Node)
	clear = func(n *yaml.Node) {
		n.Style &^= yaml.LiteralStyle | yaml.FoldedStyle
		if n.Kind != yaml.ScalarNode {
			n.Style |= yaml.FlowStyle
		}
		n.HeadComment, n.LineComment, n.FootComment = "", "", ""
		for _, it := range n.Content {
			clear(it)
		}
	}
	clear(c)
	b, err := yaml.Marshal(c)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return strings.TrimSpace(string(b))
}
