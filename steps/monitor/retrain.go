package monitor

import (
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/internal/yamlnode"

	"go.yaml.in/yaml/v3"
)

// OnCritical is what a monitor step declares for a batch that fails a
// critical check (`on_critical:`): retraining.
type OnCritical struct {
	Retrain *Retrain `json:"retrain,omitempty"`
}

// Retrain names the training pipeline to run on the new data window, the
// registered model its challenger becomes a version of, and the alias it
// is promoted to when the gates (current.* compares it with the alias's
// holder) pass: moved when the alias is not protected, else left as a
// pending approval request (internal/retrain carries it out).
type Retrain struct {
	// Pipeline is the training pipeline file, relative to the pipeline
	// file of the monitor step.
	Pipeline string `json:"pipeline"`
	// Params are -p overrides of the training pipeline: the new data
	// window (${params.X} of the monitor's pipeline substituted).
	Params map[string]string `json:"params,omitempty"`
	// Step is the train step whose model is registered ("" for the
	// pipeline's only train step).
	Step string `json:"step,omitempty"`
	// Model is the registered model's name, Alias the alias promoted
	// (default champion); Gates are checked besides the model's own.
	Model string   `json:"model"`
	Alias string   `json:"alias"`
	Gates []string `json:"gates,omitempty"`
}

// onCriticalSchema is the JSON Schema of the on_critical setting.
func onCriticalSchema() map[string]any {
	str := map[string]any{"type": "string"}
	return map[string]any{
		"type": "object", "additionalProperties": false,
		"description": "what to do when a batch fails a critical check: retrain (mlrun run and mlrun monitor carry it out, export argo --cron runs it as a DAG)",
		"properties": map[string]any{
			"retrain": map[string]any{
				"type": "object", "additionalProperties": false, "required": []string{"pipeline", "model"},
				"description": "run the training pipeline on the new data window, register its model as a version (alias challenger) and promote it to alias when the gates pass: moved when the alias is not protected, else a pending approval request",
				"properties": map[string]any{
					"pipeline": map[string]any{"type": "string", "description": "training pipeline file, relative to this file"},
					"params":   map[string]any{"type": "object", "additionalProperties": map[string]any{"type": []string{"string", "number", "boolean"}}, "description": "-p overrides of the training pipeline: the new data window, e.g. {data: ${params.batch}}"},
					"step":     map[string]any{"type": "string", "description": "the train step whose model is registered (default: the pipeline's only train step)"},
					"model":    str,
					"alias":    map[string]any{"type": "string", "default": "champion"},
					"gates":    map[string]any{"type": "array", "items": str, "description": "promotion gates besides the model's own; current.METRIC is the alias holder's"},
				},
			},
		},
	}
}

// parseOnCritical reads the on_critical setting.
func parseOnCritical(pos func(*yaml.Node) diag.Pos, d *diag.List, n *yaml.Node) *OnCritical {
	if n.Kind != yaml.MappingNode {
		d.Add(pos(n), "on_critical must be a mapping ({retrain: {...}}), got %s", yamlnode.Describe(n))
		return nil
	}
	oc := &OnCritical{}
	for _, p := range yamlnode.Pairs(n) {
		if p.Key.Value != "retrain" {
			d.Add(pos(p.Key), "on_critical: unknown key %q (retrain)%s", p.Key.Value, yamlnode.Suggest(p.Key.Value, []string{"retrain"}))
			continue
		}
		oc.Retrain = parseRetrain(pos, d, p.Value)
	}
	return oc
}

func parseRetrain(pos func(*yaml.Node) diag.Pos, d *diag.List, n *yaml.Node) *Retrain {
	if n.Kind != yaml.MappingNode {
		d.Add(pos(n), "on_critical: retrain must be a mapping of pipeline, params, step, model, alias, gates, got %s", yamlnode.Describe(n))
		return nil
	}
	r := &Retrain{Alias: "champion"}
	known := []string{"pipeline", "params", "step", "model", "alias", "gates"}
	str := func(key string, v *yaml.Node) string {
		s, ok := yamlnode.Str(v)
		if !ok || s == "" {
			d.Add(pos(v), "on_critical: retrain: %s must be a non-empty string, got %s", key, yamlnode.Describe(v))
		}
		return s
	}
	for _, p := range yamlnode.Pairs(n) {
		v := p.Value
		switch p.Key.Value {
		case "pipeline":
			r.Pipeline = str("pipeline", v)
		case "step":
			r.Step = str("step", v)
		case "model":
			r.Model = str("model", v)
		case "alias":
			r.Alias = str("alias", v)
		case "params":
			if v.Kind != yaml.MappingNode {
				d.Add(pos(v), "on_critical: retrain: params must be a mapping of name -> value, got %s", yamlnode.Describe(v))
				continue
			}
			r.Params = map[string]string{}
			for _, q := range yamlnode.Pairs(v) {
				if q.Value.Kind != yaml.ScalarNode {
					d.Add(pos(q.Value), "on_critical: retrain: params: %s must be a scalar, got %s", q.Key.Value, yamlnode.Describe(q.Value))
					continue
				}
				r.Params[q.Key.Value] = q.Value.Value
			}
		case "gates":
			if v.Kind != yaml.SequenceNode {
				d.Add(pos(v), "on_critical: retrain: gates must be a list of expressions, got %s", yamlnode.Describe(v))
				continue
			}
			for _, g := range v.Content {
				r.Gates = append(r.Gates, str("gates", g))
			}
		default:
			d.Add(pos(p.Key), "on_critical: retrain: unknown key %q%s", p.Key.Value, yamlnode.Suggest(p.Key.Value, known))
		}
	}
	if r.Pipeline == "" || r.Model == "" {
		d.Add(pos(n), "on_critical: retrain needs pipeline and model")
	}
	return r
}
