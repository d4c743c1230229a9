package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/internal/yamlnode"
)

// configKeys are the settings a monitor configuration file may hold: those
// of a monitor step without its inputs.
var configKeys = []string{"threshold", "group", "group_bins", "group_quantiles", "min_group", "labels", "psi_bins", "drift", "checks", "alerts"}

// ParseConfig reads a monitor configuration file (`mlrun monitor
// --config`): a YAML mapping with the settings of a monitor step
// (threshold, group, group_bins, group_quantiles, min_group, labels,
// psi_bins, drift, checks, alerts), checked
// and compiled exactly as the step's, with every problem reported as
// file:line:col.
func ParseConfig(file string, src []byte) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("%s: %w", file, err))
	}
	p := &pipeline.Pipeline{File: file, Source: src}
	d := new(diag.List)
	root := &yaml.Node{Kind: yaml.MappingNode, Line: 1, Column: 1}
	if len(doc.Content) > 0 {
		root = doc.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		d.Add(p.Pos(root), "a monitor configuration must be a mapping of settings (%s)", join(configKeys))
	}
	for _, kv := range yamlnode.Pairs(root) {
		if !contains(configKeys, kv.Key.Value) {
			d.Add(p.Pos(kv.Key), "unknown setting %q (%s)%s", kv.Key.Value, join(configKeys), yamlnode.Suggest(kv.Key.Value, configKeys))
		}
	}
	step := &pipeline.StepSpec{ID: "config", Kind: "monitor", Node: root, Pos: p.Pos(root)}
	c := Kind().Compile(&pipeline.CompileRequest{Step: step, Pipeline: p, Inputs: map[string]pipeline.Type{}, Diags: d})
	if err := d.Err(); err != nil {
		return nil, pipeline.WithExitCode(pipeline.ExitInvalid, err)
	}
	if c == nil {
		return nil, pipeline.Invalidf("%s: invalid monitor configuration", file)
	}
	return c.(*compiled).cfg, nil
}

// ConfigFromRecord rebuilds and compiles the configuration of a monitor
// step from its run record's resolved config (lineage.StepRecord.Config).
func ConfigFromRecord(raw json.RawMessage) (*Config, error) {
	cfg := DefaultConfig()
	cfg.Checks = nil
	if err := json.Unmarshal(raw, cfg); err != nil {
		return nil, fmt.Errorf("monitor config: %w", err)
	}
	params, _ := cfg.Params.(map[string]any)
	if errs := cfg.Compile(params); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

// join lists names sorted, comma-separated.
func join(xs []string) string {
	s := append([]string(nil), xs...)
	sort.Strings(s)
	return strings.Join(s, ", ")
}
