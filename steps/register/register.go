// Package register is the register step kind: it declares that the model
// of a train step becomes a new version of a named model in the registry
// (pipeline/registry) when the run succeeds.
//
//	registered:
//	  kind: register
//	  model: model
//	  name: credit-risk
//	  gates: ["auc >= 0.75", "auc >= current.auc + 0.005"]
//	  aliases: [challenger]
//
// The step itself only checks and records the request (its output is a
// small "registration" document, cached like any other); the registration
// happens once the run has finished with every check and gate passed, in
// `mlrun run`, because it changes the registry rather than producing an
// object. It is idempotent: a model object that already is a version of
// the name is not registered again, so a cached re-run adds nothing. In a
// `matrix:` sweep only the variant with the best evaluate auc registers.
package register

import (
	"context"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
	"github.com/mlrun-cli/mlrun/steps/evaluate"
	"github.com/mlrun-cli/mlrun/steps/exprenv"
	"github.com/mlrun-cli/mlrun/steps/internal/yamlnode"
	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/train"
)

// Version is the implementation version of the register kind.
const Version = 1

// TypeName is the object type of the step's output.
const TypeName = "registration"

// Config is the resolved request, the step's cache config and output.
type Config struct {
	// Name is the registered model's name.
	Name string `json:"name"`
	// Gates, when not empty, replace the model's promotion gates.
	Gates []string `json:"gates,omitempty"`
	// Aliases are set to the new version (without gates).
	Aliases []string `json:"aliases,omitempty"`
	// Reason is recorded with the aliases set.
	Reason string `json:"reason,omitempty"`
}

// Kind returns the register step kind.
func Kind() pipeline.Kind { return kind{} }

type kind struct{}

func (kind) Name() string { return "register" }

func (kind) Version() int { return Version }

func (kind) Inputs() []pipeline.Port {
	return []pipeline.Port{{Name: "model", Required: true, Doc: "the model to register: a train step's model output"}}
}

func (kind) Outputs() []string { return []string{TypeName} }

func (kind) Required() []string { return []string{"name"} }

func (kind) Settings() map[string]any {
	return map[string]any{
		"name": map[string]any{
			"type": "string", "pattern": `^[a-z0-9][a-z0-9._-]{0,99}$`,
			"description": "the registered model's name (lower case letters, digits, . _ -); each successful run with a new model adds version 1, 2, ...",
		},
		"gates": map[string]any{
			"type": "array", "items": map[string]any{"type": "string"},
			"description": "promotion gates of the model, replacing its current ones: boolean expressions over the version's metrics (evaluate's and train's), current.NAME reading the alias holder's, e.g. `auc >= current.auc + 0.005`",
		},
		"aliases": map[string]any{
			"type": "array", "items": map[string]any{"type": "string", "pattern": `^[a-z][a-z0-9_-]{0,62}$`}, "uniqueItems": true,
			"description": "aliases set to the new version at registration, without gates (e.g. challenger); use `mlrun models promote` to move an alias through the gates",
		},
		"reason": map[string]any{
			"type": "string", "description": "why, recorded with the aliases set (default: the pipeline and run)",
		},
	}
}

type compiled struct{ cfg Config }

func (k kind) Compile(req *pipeline.CompileRequest) pipeline.Compiled {
	d := new(diag.List)
	defer req.Diags.Merge(d)
	if t, ok := req.Inputs["model"]; ok && t != nil {
		if _, ok := t.(*model.Type); !ok {
			d.Add(req.Pos(req.Setting("model")), "model must be a model (a train step's model output), got %s", t.TypeName())
		}
	}
	var cfg Config
	if n := req.Setting("name"); n != nil {
		s, ok := yamlnode.Str(n)
		if !ok {
			d.Add(req.Pos(n), "name must be a string, got %s", yamlnode.Describe(n))
		} else if err := registry.CheckName(s); err != nil {
			d.Add(req.Pos(n), "%v", err)
		}
		cfg.Name = s
	} else {
		d.Add(req.Step.Pos, "register needs name: the registered model's name")
	}
	if n := req.Setting("gates"); n != nil {
		gates, nodes := strList(req, d, "gates", "expressions", n)
		metrics := append(evaluate.MetricNames(), train.MetricNames()...)
		compile := func(src string, names []string) (registry.Gate, error) {
			return exprenv.CompileGate(src, names, nil)
		}
		for i, g := range gates {
			if err := registry.CheckGate(g, metrics, compile); err != nil {
				d.Add(req.Pos(nodes[i]), "%v", err)
			}
		}
		cfg.Gates = gates
	}
	if n := req.Setting("aliases"); n != nil {
		aliases, nodes := strList(req, d, "aliases", "alias names", n)
		for i, a := range aliases {
			if err := registry.CheckAlias(a); err != nil {
				d.Add(req.Pos(nodes[i]), "%v", err)
			}
			if slices.Contains(aliases[:i], a) {
				d.Add(req.Pos(nodes[i]), "alias %q given twice", a)
			}
		}
		cfg.Aliases = aliases
	}
	if n := req.Setting("reason"); n != nil {
		if n.Kind != yaml.ScalarNode {
			d.Add(req.Pos(n), "reason must be a string, got %s", yamlnode.Describe(n))
		}
		cfg.Reason = n.Value
	}
	if d.HasErrors() {
		return nil
	}
	return &compiled{cfg: cfg}
}

// strList decodes a list of strings (what: "expressions").
func strList(req *pipeline.CompileRequest, d *diag.List, name, what string, n *yaml.Node) ([]string, []*yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		d.Add(req.Pos(n), "%s must be a list of %s, got %s", name, what, yamlnode.Describe(n))
		return nil, nil
	}
	var out []string
	var nodes []*yaml.Node
	for _, e := range n.Content {
		s, ok := yamlnode.Str(e)
		if !ok {
			d.Add(req.Pos(e), "%s must be a list of %s, got %s", name, what, yamlnode.Describe(e))
			continue
		}
		out = append(out, s)
		nodes = append(nodes, e)
	}
	return out, nodes
}

// registrationType is the compile-time type of the step's output.
type registrationType struct{}

func (registrationType) TypeName() string { return TypeName }

func (c *compiled) OutputTypes() map[string]pipeline.Type {
	return map[string]pipeline.Type{TypeName: registrationType{}}
}

func (c *compiled) CacheConfig() any { return c.cfg }

// Run records the request; `mlrun run` registers the model once the run
// has succeeded.
func (c *compiled) Run(ctx context.Context, req *pipeline.RunRequest) (*pipeline.Result, error) {
	if _, ok := req.Inputs["model"].(model.Model); !ok {
		return nil, pipeline.Invalidf("register: model input is not a model")
	}
	return &pipeline.Result{
		Outputs: map[string]pipeline.Object{TypeName: &pipeline.Document{Type: TypeName, Value: c.cfg}},
		Notes:   []string{"registers the model as " + c.cfg.Name + " when the run succeeds"},
	}, nil
}
