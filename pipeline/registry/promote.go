package registry

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// Gate is a compiled boolean expression over named metrics;
// *steps/exprenv.Gate implements it.
type Gate interface {
	// Identifiers returns the metric names the gate reads.
	Identifiers() []string
	// Eval evaluates the gate; a null result is false.
	Eval(metrics map[string]float64) (bool, error)
}

// GateCompiler compiles a gate over the named float metrics. The CLI passes
// a wrapper of steps/exprenv.CompileGate (pipeline packages do not import
// steps).
type GateCompiler func(src string, metrics []string) (Gate, error)

// currentRe finds `current.NAME` outside identifiers. `current.` and
// `current_` have the same length, so rewriting one into the other keeps
// every column of an error message in place.
var currentRe = regexp.MustCompile(`(^|[^A-Za-z0-9_.])current\.([A-Za-z_][A-Za-z0-9_]*)`)

const currentPrefix = "current_"

// GateResult is the outcome of one promotion gate.
type GateResult struct {
	Expr   string `json:"expr"`
	Passed bool   `json:"passed"`
	// Skipped is set for a gate that reads current.* while the alias has
	// no holder; a skipped gate does not block.
	Skipped bool `json:"skipped,omitempty"`
	// Values are the numbers the gate read, candidate metrics by name and
	// the holder's as current.NAME.
	Values map[string]float64 `json:"values,omitempty"`
	Error  string             `json:"error,omitempty"`
}

// String renders "expr: passed|FAILED (name=value, ...)".
func (g GateResult) String() string {
	status := "passed"
	switch {
	case g.Skipped:
		status = "skipped (the alias has no current holder)"
	case g.Error != "":
		status = "FAILED: " + g.Error
	case !g.Passed:
		status = "FAILED"
	}
	var vals []string
	for _, k := range sortedKeys(g.Values) {
		vals = append(vals, fmt.Sprintf("%s=%.6g", k, g.Values[k]))
	}
	if len(vals) > 0 {
		return fmt.Sprintf("%s: %s (%s)", g.Expr, status, strings.Join(vals, ", "))
	}
	return fmt.Sprintf("%s: %s", g.Expr, status)
}

// readsCurrent reports whether a gate reads the current holder's metrics.
func readsCurrent(src string) bool { return currentRe.MatchString(src) }

// CheckGate compiles a promotion gate as the registry will, over metrics
// (the candidate's, and the holder's as current.NAME), so that a pipeline
// can report a bad gate before anything runs.
func CheckGate(src string, metrics []string, compile GateCompiler) error {
	m := lineage.Metrics{}
	for _, k := range metrics {
		m[k] = 0
	}
	_, err := (&Registry{compile: compile}).compileGate(src, m, m)
	return err
}

// compileGate compiles a promotion gate over the candidate's metric names
// and the holder's as current.NAME.
func (r *Registry) compileGate(src string, candidate, current lineage.Metrics) (Gate, error) {
	if r.compile == nil {
		return nil, fmt.Errorf("gate %q: the registry has no gate compiler", src)
	}
	names := make([]string, 0, len(candidate)+len(current))
	for k := range candidate {
		if strings.HasPrefix(k, currentPrefix) {
			return nil, pipeline.Invalidf("gate %q: metric %q clashes with the current.* syntax", src, k)
		}
		names = append(names, k)
	}
	for k := range current {
		names = append(names, currentPrefix+k)
	}
	sort.Strings(names)
	g, err := r.compile(currentRe.ReplaceAllString(src, "${1}"+currentPrefix+"${2}"), names)
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), currentPrefix, "current.")
		return nil, pipeline.Invalidf("gate %q: %s", src, msg)
	}
	return g, nil
}

// EvalGates evaluates gates for a candidate version against the current
// holder of an alias (nil: no holder) and reports whether all passed.
func (r *Registry) EvalGates(gates []string, candidate *Version, holder *Version) ([]GateResult, bool, error) {
	var cur lineage.Metrics
	if holder != nil {
		cur = holder.Metrics
	}
	ok := true
	var out []GateResult
	for _, src := range gates {
		res := GateResult{Expr: src}
		if holder == nil && readsCurrent(src) {
			res.Skipped = true
			out = append(out, res)
			continue
		}
		g, err := r.compileGate(src, candidate.Metrics, cur)
		if err != nil {
			return nil, false, err
		}
		env := map[string]float64{}
		res.Values = map[string]float64{}
		for _, id := range g.Identifiers() {
			if name, isCur := strings.CutPrefix(id, currentPrefix); isCur {
				env[id] = cur[name]
				res.Values["current."+name] = cur[name]
			} else {
				env[id] = candidate.Metrics[id]
				res.Values[id] = candidate.Metrics[id]
			}
		}
		res.Passed, err = g.Eval(env)
		if err != nil {
			res.Error = err.Error()
			res.Passed = false
		}
		ok = ok && res.Passed
		out = append(out, res)
	}
	return out, ok, nil
}

// PromoteRequest asks to move an alias to a version.
type PromoteRequest struct {
	Name    string
	Version int
	Alias   string
	Reason  string
	// Gates are checked in addition to the model's own.
	Gates []string
}

// GateError is returned by Promote when a gate fails (exit code 1). It
// holds every gate's result.
type GateError struct {
	Model   string
	Version int
	Alias   string
	Results []GateResult
}

func (e *GateError) Error() string {
	var failed []string
	for _, r := range e.Results {
		if !r.Passed && !r.Skipped {
			failed = append(failed, r.String())
		}
	}
	return fmt.Sprintf("%s@%d not promoted to %s: %s", e.Model, e.Version, e.Alias, strings.Join(failed, "; "))
}

// ExitCode implements pipeline.ExitCoder: a refused promotion is a failed
// check.
func (e *GateError) ExitCode() int { return pipeline.ExitCheckFailed }

// Unwrap makes errors.Is(err, ErrGateFailed) hold.
func (e *GateError) Unwrap() error { return ErrGateFailed }

// Promote moves an alias to a version when every gate passes, and records
// the move (with the gate results) in the model and the audit log. It
// returns the move and the audit head; a failed gate is a *GateError.
func (r *Registry) Promote(ctx context.Context, req PromoteRequest) (*Move, string, error) {
	if err := CheckAlias(req.Alias); err != nil {
		return nil, "", err
	}
	if strings.TrimSpace(req.Reason) == "" {
		return nil, "", pipeline.Invalidf("a promotion needs a reason (--reason)")
	}
	var mv *Move
	head, err := r.update(ctx, req.Name, false, func(ctx context.Context, tx *lineage.Tx, m *Model) ([]lineage.AuditEntry, error) {
		cand, err := r.Version(ctx, m, req.Version)
		if err != nil {
			return nil, err
		}
		from := m.Aliases[req.Alias]
		if from == req.Version {
			return nil, pipeline.Invalidf("%s already holds %s", cand.Ref(), req.Alias)
		}
		var holder *Version
		if from > 0 {
			if holder, err = r.Version(ctx, m, from); err != nil {
				return nil, err
			}
		}
		gates := append(append([]string(nil), m.Gates...), req.Gates...)
		results, ok, err := r.EvalGates(gates, cand, holder)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, &GateError{Model: m.Name, Version: req.Version, Alias: req.Alias, Results: results}
		}
		who, host := lineage.Who()
		mv = &Move{Alias: req.Alias, Action: "promote", From: from, To: req.Version, Time: r.now().UTC(),
			User: who, Host: host, Reason: req.Reason, Gates: results}
		m.History = append(m.History, *mv)
		if m.Aliases == nil {
			m.Aliases = map[string]int{}
		}
		m.Aliases[req.Alias] = req.Version
		return []lineage.AuditEntry{moveEntry(m.Name, *mv)}, nil
	})
	if err != nil {
		return nil, "", err
	}
	return mv, head, nil
}

// Rollback returns an alias to the version that held it before its current
// holder, without gates, and records the move.
func (r *Registry) Rollback(ctx context.Context, name, alias, reason string) (*Move, string, error) {
	if err := CheckAlias(alias); err != nil {
		return nil, "", err
	}
	if strings.TrimSpace(reason) == "" {
		return nil, "", pipeline.Invalidf("a rollback needs a reason (--reason)")
	}
	var mv *Move
	head, err := r.update(ctx, name, false, func(ctx context.Context, tx *lineage.Tx, m *Model) ([]lineage.AuditEntry, error) {
		cur, ok := m.Aliases[alias]
		if !ok {
			return nil, pipeline.Invalidf("model %q has no alias %q (aliases: %s)", name, alias, aliasList(m))
		}
		stack := holders(m, alias)
		if len(stack) < 2 {
			return nil, pipeline.Invalidf("%s@%s has no previous holder to roll back to (it has only been held by version %d)", name, alias, cur)
		}
		prev := stack[len(stack)-2]
		who, host := lineage.Who()
		mv = &Move{Alias: alias, Action: "rollback", From: cur, To: prev, Time: r.now().UTC(),
			User: who, Host: host, Reason: reason}
		m.History = append(m.History, *mv)
		m.Aliases[alias] = prev
		return []lineage.AuditEntry{moveEntry(m.Name, *mv)}, nil
	})
	if err != nil {
		return nil, "", err
	}
	return mv, head, nil
}
