package main

import (
	"github.com/mlrun-cli/mlrun/pipeline"
)

// isActionKind reports whether steps of the kind act on the whole run
// once it has finished (run_actions.go): a register step registers only
// when the run passed, a report step reports the run.
func isActionKind(kind string) bool { return kind == "register" || kind == "report" }

// onlyOptions turns run --only into exec.Options.Only and Require: a
// selected register or report step requires every other step of the
// pipeline but the other action steps, so that the run it acts on is the
// whole run, taken from the store.
func onlyOptions(p *pipeline.Pipeline, only []string) (sel, require []string) {
	if len(only) == 0 {
		return nil, nil
	}
	acts := false
	for _, name := range only {
		for _, s := range p.Steps {
			if (s.ID == name || (s.Variant != nil && s.Variant.Group == name)) && isActionKind(s.Kind) {
				acts = true
			}
		}
	}
	if acts {
		for _, s := range p.Steps {
			if !isActionKind(s.Kind) {
				require = append(require, s.ID)
			}
		}
	}
	return only, require
}
