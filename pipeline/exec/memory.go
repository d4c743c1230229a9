package exec

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/mlrun-cli/mlrun/pipeline"
)

// RunInMemory runs every step of p in order (p.Steps is topological),
// passing outputs in memory: nothing is cached, stored or recorded. It is
// for scoring, which re-applies the steps a model was trained behind to new
// data. A step whose Run fails stops the walk with its error; a step whose
// checks fail does not (its Result says so), so the caller decides.
func RunInMemory(ctx context.Context, p *pipeline.Pipeline, jobs int, log hclog.Logger) (map[string]*pipeline.Result, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	jobs = max(jobs, 1)
	results := make(map[string]*pipeline.Result, len(p.Steps))
	for _, s := range p.Steps {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		if s.Compiled == nil {
			return results, fmt.Errorf("step %q is not compiled", s.ID)
		}
		in := make(map[string]pipeline.Object, len(s.Inputs))
		for _, ref := range s.Inputs {
			r, ok := results[ref.Step]
			if !ok || r.Outputs[ref.Output] == nil {
				return results, fmt.Errorf("step %q: input %s: %s has no output %q", s.ID, ref.Port, ref.Step, ref.Output)
			}
			in[ref.Port] = r.Outputs[ref.Output]
		}
		res, err := s.Compiled.Run(ctx, &pipeline.RunRequest{
			Inputs: in, Jobs: jobs, Logger: log.Named(s.ID), Progress: pipeline.NoProgress{},
		})
		if err != nil {
			return results, fmt.Errorf("step %q: %w", s.ID, err)
		}
		if res == nil {
			return results, fmt.Errorf("step %q: %w", s.ID, errors.New("step returned no result"))
		}
		results[s.ID] = res
	}
	return results, nil
}
