package registry

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/governance"
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
	// Waiver is the waiver that lets a failed gate not block: the gate
	// still failed (Passed is false) and is shown as waived.
	Waiver *WaiverRef `json:"waiver,omitempty"`
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
	if g.Waiver != nil {
		status += fmt.Sprintf(", WAIVED (%s by %s until %s: %s)", g.Waiver.ID, g.Waiver.By, g.Waiver.Expires.Format("2006-01-02"), g.Waiver.Reason)
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
// holder of an alias (nil: no holder) and reports whether all passed. A
// failed gate that waivers covers at now (a version's gate waiver) is
// marked waived and does not block; waivers may be nil.
func (r *Registry) EvalGates(gates []string, candidate *Version, holder *Version, waivers governance.Waivers, now time.Time) ([]GateResult, bool, error) {
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
		if !res.Passed {
			if w := waivers.Gate(candidate.Model, candidate.Version, src, now); w != nil {
				res.Waiver = &WaiverRef{ID: w.ID, By: w.Approval.Principal, Expires: w.Expires, Reason: w.Reason}
			}
		}
		ok = ok && (res.Passed || res.Waiver != nil)
		out = append(out, res)
	}
	return out, ok, nil
}

// WaiverRef names the waiver that let a failed gate or check pass.
type WaiverRef struct {
	ID      string    `json:"id"`
	By      string    `json:"by"`
	Expires time.Time `json:"expires"`
	Reason  string    `json:"reason"`
}

// PromoteRequest asks to move an alias to a version.
type PromoteRequest struct {
	Name    string
	Version int
	Alias   string
	Reason  string
	// Gates are checked in addition to the model's own.
	Gates []string
	// TTL is how long the request a protected alias makes waits for its
	// approvals (0: DefaultRequestTTL).
	TTL time.Duration
}

// GateError is returned by Promote when a gate fails (exit code 1). It
// holds every gate's result; the refusal is recorded (Model.Refused, a
// promotion.refused audit entry) at audit head Head.
type GateError struct {
	Model   string
	Version int
	Alias   string
	Results []GateResult
	Head    string
}

func (e *GateError) Error() string {
	var failed []string
	for _, r := range e.Results {
		if !r.Passed && !r.Skipped && r.Waiver == nil {
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

// Promotion is the outcome of Promote: the move, or (for a protected
// alias) the request waiting for approvals.
type Promotion struct {
	Move    *Move
	Request *Request
	Head    string
}

// Promote moves an alias to a version when every gate passes (or is
// waived), and records the move (with the gate results) in the model and
// the audit log. For a protected alias it records a pending request
// instead, which Decide carries out once approved. A failed gate is
// recorded too (Model.Refused) and returned as a *GateError.
func (r *Registry) Promote(ctx context.Context, req PromoteRequest) (*Promotion, error) {
	if err := CheckAlias(req.Alias); err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.Reason) == "" {
		return nil, pipeline.Invalidf("a promotion needs a reason (--reason)")
	}
	ttl, err := requestTTL(req.TTL)
	if err != nil {
		return nil, err
	}
	actor, via := r.st.Actor()
	out := &Promotion{}
	var refused *GateError
	head, err := r.update(ctx, req.Name, false, func(ctx context.Context, tx *lineage.Tx, m *Model) ([]lineage.AuditEntry, error) {
		out.Move, out.Request, refused = nil, nil, nil
		now := r.now().UTC()
		prot := m.Protected[req.Alias]
		if prot.Approvals == 0 {
			mv, gerr, entries, err := r.move(ctx, tx, m, req.Version, req.Alias, actor, req.Reason, req.Gates, now)
			out.Move, refused = mv, gerr
			return entries, err
		}
		cand, holder, results, ok, err := r.gates(ctx, tx, m, req.Version, req.Alias, req.Gates, now)
		if err != nil {
			return nil, err
		}
		if !ok {
			refused = r.refuse(m, req.Version, req.Alias, actor, req.Reason, results, now)
			return []lineage.AuditEntry{refusalEntry(m.Name, m.Refused[len(m.Refused)-1])}, nil
		}
		_ = holder
		for _, q := range m.Requests {
			if q.State(now) == RequestPending && q.Alias == req.Alias && q.Action == ActionPromote && q.Version == req.Version {
				return nil, pipeline.Invalidf("request %s to promote %s to %s is pending already (%d/%d approvals)", q.Ref(m.Name), cand.Ref(), req.Alias, q.Approved(), q.Approvals)
			}
		}
		u, h := lineage.Who()
		q := Request{ID: len(m.Requests) + 1, Action: ActionPromote, Alias: req.Alias, Version: req.Version, ModelObject: cand.Object.ID,
			Approvals: prot.Approvals, Proposer: actor, Via: via, User: u, Host: h, Reason: req.Reason, Created: now,
			Nonce: nonce(), Status: RequestPending, Gates: results, Expires: now.Add(ttl)}
		entries := supersede(m, req.Alias, now)
		m.Requests = append(m.Requests, q)
		out.Request = &m.Requests[len(m.Requests)-1]
		return append(entries, requestEntry(m.Name, out.Request, AuditPromotionRequested, "")), nil
	})
	if err != nil {
		return nil, err
	}
	out.Head = head
	if refused != nil {
		refused.Head = head
		return out, refused
	}
	return out, nil
}

// gates evaluates the gates of moving alias to version in tx: the
// model's and extra, against the alias's holder, with the store's
// waivers.
func (r *Registry) gates(ctx context.Context, tx *lineage.Tx, m *Model, version int, alias string, extra []string, now time.Time) (cand, holder *Version, results []GateResult, ok bool, err error) {
	if cand, err = r.Version(ctx, m, version); err != nil {
		return nil, nil, nil, false, err
	}
	from := m.Aliases[alias]
	if from == version {
		return nil, nil, nil, false, pipeline.Invalidf("%s already holds %s", cand.Ref(), alias)
	}
	if from > 0 {
		if holder, err = r.Version(ctx, m, from); err != nil {
			return nil, nil, nil, false, err
		}
	}
	waivers, err := governance.ListWaivers(ctx, tx)
	if err != nil {
		return nil, nil, nil, false, err
	}
	gates := append(append([]string(nil), m.Gates...), extra...)
	results, ok, err = r.EvalGates(gates, cand, holder, waivers.ForModel(m.Name), now)
	return cand, holder, results, ok, err
}

// move moves alias to version in m when the gates pass, returning the
// move and its audit entry; when a gate fails it records the refusal and
// returns it as a *GateError with the refusal's entry. The caller commits
// either.
func (r *Registry) move(ctx context.Context, tx *lineage.Tx, m *Model, version int, alias, actor, reason string, extra []string, now time.Time) (*Move, *GateError, []lineage.AuditEntry, error) {
	_, _, results, ok, err := r.gates(ctx, tx, m, version, alias, extra, now)
	if err != nil {
		return nil, nil, nil, err
	}
	if !ok {
		gerr := r.refuse(m, version, alias, actor, reason, results, now)
		return nil, gerr, []lineage.AuditEntry{refusalEntry(m.Name, m.Refused[len(m.Refused)-1])}, nil
	}
	who, host := lineage.Who()
	_, via := r.st.Actor()
	mv := &Move{Alias: alias, Action: "promote", From: m.Aliases[alias], To: version, Time: now,
		Actor: actor, Via: via, User: who, Host: host, Reason: reason, Gates: results}
	m.History = append(m.History, *mv)
	if m.Aliases == nil {
		m.Aliases = map[string]int{}
	}
	m.Aliases[alias] = version
	return mv, nil, []lineage.AuditEntry{moveEntry(m.Name, *mv)}, nil
}

// refuse records a promotion refused by its gates.
func (r *Registry) refuse(m *Model, version int, alias, actor, reason string, results []GateResult, now time.Time) *GateError {
	m.Refused = append(m.Refused, Refusal{Alias: alias, Version: version, Time: now, Actor: actor, Reason: reason, Gates: results})
	return &GateError{Model: m.Name, Version: version, Alias: alias, Results: results}
}

// refusalEntry is the audit entry of a refused promotion.
func refusalEntry(model string, f Refusal) lineage.AuditEntry {
	var gates []string
	for _, g := range f.Gates {
		gates = append(gates, g.String())
	}
	d := map[string]string{"model": model, "alias": f.Alias, "version": strconv.Itoa(f.Version), "reason": f.Reason, "gates": strings.Join(gates, " ; ")}
	if f.Request > 0 {
		d["request"] = fmt.Sprintf("%s/%d", model, f.Request)
	}
	return lineage.AuditEntry{Type: AuditPromotionRefused, Detail: d}
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
		actor, via := r.st.Actor()
		mv = &Move{Alias: alias, Action: "rollback", From: cur, To: prev, Time: r.now().UTC(),
			Actor: actor, Via: via, User: who, Host: host, Reason: reason}
		m.History = append(m.History, *mv)
		m.Aliases[alias] = prev
		return []lineage.AuditEntry{moveEntry(m.Name, *mv)}, nil
	})
	if err != nil {
		return nil, "", err
	}
	return mv, head, nil
}
