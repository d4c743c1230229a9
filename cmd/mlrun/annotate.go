package main

import (
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// checkBlocks are the step settings that define checks by name: validate
// rules, evaluate and register gates, monitor checks.
var checkBlocks = []string{"rules", "gates", "checks"}

// checkPos returns where a check of step s is defined in the pipeline
// file: the key naming it in the step's rules, gates or checks (a monitor
// check applied per feature is named "check:feature"), else that block
// (a built-in check the step adds), else the step itself.
func checkPos(p *pipeline.Pipeline, s *pipeline.StepSpec, c pipeline.Check) diag.Pos {
	name, _, _ := strings.Cut(c.Name, ":")
	var block *yaml.Node
	for _, key := range checkBlocks {
		n := s.Setting(key)
		if n == nil {
			continue
		}
		if block == nil {
			block = n
		}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if k := n.Content[i]; k.Value == c.Name || k.Value == name {
					return p.Pos(k)
				}
			}
		case yaml.SequenceNode:
			for _, e := range n.Content { // a list of expressions: "auc >= 0.75"
				if e.Kind == yaml.ScalarNode && (e.Value == c.Expr || e.Value == c.Name) {
					return p.Pos(e)
				}
			}
		}
	}
	if block != nil {
		return p.Pos(block)
	}
	return s.Pos
}

// annotateRun prints, under GitHub Actions, an ::error annotation for each
// failed rule, gate or check of the run and each failed step, and a
// ::warning for each failed warn-severity check, at its definition in the
// pipeline file. They go to stderr (the workflow reads both streams);
// none when errors are JSON (--json, --log-format json), whose stderr is
// for a program.
func (a *app) annotateRun(p *pipeline.Pipeline, rec *lineage.RunRecord) {
	if !githubActions() || a.jsonErrors() {
		return
	}
	for _, sr := range rec.Steps {
		spec := p.Step(sr.ID)
		if spec == nil {
			continue
		}
		for _, c := range sr.Checks {
			if c.Passed {
				continue
			}
			level := "error"
			if !c.Failed() {
				level = "warning"
			}
			kind := c.Kind
			if kind == "" {
				kind = "check"
			}
			a.annotate(level, checkPos(p, spec, c), kind+" "+sr.ID+"/"+c.Name, c.Message)
		}
		if sr.Status == lineage.StepFailed && sr.Error != "" {
			a.annotate("error", spec.Pos, "step "+sr.ID+" failed", sr.Error)
		}
	}
}
