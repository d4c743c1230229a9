package exec

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/mlrun-cli/mlrun/pipeline"
)

// ErrUpstreamMissing is wrapped by the error of an Options.Only run whose
// selected steps read a step that has no usable cache entry in the store.
var ErrUpstreamMissing = errors.New("upstream output not in the store")

// MissingError says which upstream step of an Options.Only run is not in
// the store: no cache entry for its key (it never ran with these inputs and
// settings, or not against this store), or an entry whose outputs are
// missing or damaged. Its exit code is 2: the run cannot start as invoked.
type MissingError struct {
	// File is the pipeline file.
	File string
	// Step is the upstream step and Key its cache key.
	Step string
	Key  string
	// Reason says why the entry cannot be used ("" for no entry).
	Reason string
	// For are the selected steps that read it, directly or not.
	For []string
}

func (e *MissingError) Error() string {
	why := "no cache entry for its inputs and settings"
	if e.Key != "" {
		why += " (key " + e.Key[:min(12, len(e.Key))] + ")"
	}
	if e.Reason != "" {
		why = e.Reason
	}
	return fmt.Sprintf("--only %s: upstream step %q has no output in the store: %s; run it first (mlrun run %s --only %s, with the same params and store)",
		strings.Join(e.For, ","), e.Step, why, e.File, e.Step)
}

// ExitCode implements pipeline.ExitCoder: 2, the run cannot start.
func (e *MissingError) ExitCode() int { return pipeline.ExitInvalid }

// Unwrap makes errors.Is(err, ErrUpstreamMissing) hold.
func (e *MissingError) Unwrap() error { return ErrUpstreamMissing }

// scope is the part of a pipeline an Options.Only run covers.
type scope struct {
	// selected are the steps that run (or are found cached like any step).
	selected map[string]bool
	// cacheOnly are the steps taken from the store only, never run.
	cacheOnly map[string]bool
	// names are Options.Only as given, for messages and audit entries.
	names []string
}

// in reports whether the run covers the step: always without Only.
func (s *scope) in(id string) bool {
	return s == nil || s.selected[id] || s.cacheOnly[id]
}

// only reports whether the step is taken from the store only.
func (s *scope) only(id string) bool { return s != nil && s.cacheOnly[id] }

// newScope resolves Options.Only and Options.Require against p: a name is
// a step id or the id a matrix sweep was written with (every variant of
// it). The steps the selected (and required) steps read, transitively,
// are cache-only. ForceSteps must be among the selected steps.
func newScope(p *pipeline.Pipeline, only, require, force []string) (*scope, error) {
	if len(only) == 0 {
		if len(require) > 0 {
			return nil, errors.New("exec: Options.Require needs Options.Only")
		}
		return nil, nil
	}
	resolve := func(name string) ([]string, bool) {
		if p.Step(name) != nil {
			return []string{name}, true
		}
		var ids []string
		for _, s := range p.Steps {
			if s.Variant != nil && s.Variant.Group == name {
				ids = append(ids, s.ID)
			}
		}
		return ids, len(ids) > 0
	}
	sc := &scope{selected: map[string]bool{}, cacheOnly: map[string]bool{}, names: only}
	for _, name := range only {
		ids, ok := resolve(name)
		if !ok {
			return nil, pipeline.Invalidf("--only %s: %s has no step %q (steps: %s)", name, p.File, name, strings.Join(stepIDs(p), ", "))
		}
		for _, id := range ids {
			sc.selected[id] = true
		}
	}
	need := map[string]bool{}
	for id := range sc.selected {
		need[id] = true
	}
	for _, name := range require {
		ids, ok := resolve(name)
		if !ok {
			return nil, fmt.Errorf("exec: Options.Require: no step %q", name)
		}
		for _, id := range ids {
			need[id] = true
		}
	}
	// Walk up from every needed step, in reverse topological order so
	// that each step's dependencies are seen after it.
	for i := len(p.Steps) - 1; i >= 0; i-- {
		s := p.Steps[i]
		if !need[s.ID] {
			continue
		}
		if !sc.selected[s.ID] {
			sc.cacheOnly[s.ID] = true
		}
		for _, d := range s.Deps() {
			need[d] = true
		}
	}
	for _, id := range force {
		if !sc.selected[id] {
			return nil, pipeline.Invalidf("--force %s: not among the --only steps (%s): the steps they read are taken from the store", id, strings.Join(sortedKeys(sc.selected), ", "))
		}
	}
	return sc, nil
}

// readers returns the selected steps that read id, directly or not, sorted.
func (s *scope) readers(p *pipeline.Pipeline, id string) []string {
	reads := map[string]bool{id: true}
	var out []string
	for _, spec := range p.Steps {
		for _, d := range spec.Deps() {
			if reads[d] {
				reads[spec.ID] = true
			}
		}
		if reads[spec.ID] && s.selected[spec.ID] {
			out = append(out, spec.ID)
		}
	}
	if len(out) == 0 {
		out = sortedKeys(s.selected)
	}
	sort.Strings(out)
	return out
}

func stepIDs(p *pipeline.Pipeline) []string {
	ids := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		ids[i] = s.ID
	}
	return ids
}
