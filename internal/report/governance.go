package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline/governance"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
)

// Governance is who ran the run and decided on its models: the actor, the
// waivers of the run's checks and of its versions' gates, and each
// version's protections, requests (with their signed decisions) and
// refused promotions.
type Governance struct {
	// Actor ran the run (a claim) and Via says where the claim came from.
	Actor, Via string
	Waivers    []WaiverRow
	Models     []ModelGovernance
}

// Empty reports whether there is nothing but the actor to show.
func (g *Governance) Empty() bool { return len(g.Waivers) == 0 && len(g.Models) == 0 }

// WaiverRow is one waiver.
type WaiverRow struct {
	ID, Target, Status, Approver, Key, Reason, Actor string
	Created, Expires                                 time.Time
}

// ModelGovernance is the governance record of one registered version.
type ModelGovernance struct {
	// Ref is "name@version"; Registrar who registered it.
	Ref, Registrar string
	Protections    []KV
	Requests       []RequestRow
	Refusals       []RefusalRow
	Moves          []KV
}

// RequestRow is a request to change a protected alias.
type RequestRow struct {
	Ref, What, Status, Proposer, Reason, Outcome, Approvals string
	Created                                                 time.Time
	Decisions                                               []DecisionRow
}

// DecisionRow is a signed decision on a request.
type DecisionRow struct {
	Verdict, Principal, Key, Reason string
	Time                            time.Time
}

// RefusalRow is a promotion a gate refused.
type RefusalRow struct {
	Alias, Actor, Reason string
	Time                 time.Time
	Gates                []string
}

// governance gathers the run's governance record; the check rows of the
// run get their waivers.
func (b *builder) governance() {
	g := &Governance{Actor: b.run.Actor, Via: b.run.Via}
	b.r.Governance = g
	v, err := b.opts.Store.View(b.ctx)
	if err != nil {
		b.note("governance: %v", err)
		return
	}
	ws, err := governance.ListWaivers(b.ctx, v)
	if err != nil {
		b.note("governance: waivers: %v", err)
		return
	}
	now := b.now()
	add := func(w *governance.Waiver) {
		g.Waivers = append(g.Waivers, WaiverRow{ID: w.ID, Target: w.Target.String(), Status: w.Status(now), Approver: w.Approval.Principal,
			Key: w.Approval.Key, Reason: w.Reason, Actor: w.Actor, Created: w.Created, Expires: w.Expires})
	}
	for _, w := range ws.ForRun(b.run.ID) {
		add(w)
	}
	for i := range b.r.Checks {
		c := &b.r.Checks[i]
		if c.Passed {
			continue
		}
		if w := ws.Check(b.run.ID, c.Step, c.Name, now); w != nil {
			c.Waiver = fmt.Sprintf("%s by %s until %s: %s", w.ID, w.Approval.Principal, w.Expires.Format("2006-01-02"), w.Reason)
		}
	}
	reg := registry.New(b.opts.Store, nil)
	for _, ref := range b.r.Header.Models {
		m, err := reg.Get(b.ctx, ref.Name)
		if err != nil {
			b.note("governance: %v", err)
			continue
		}
		mg := ModelGovernance{Ref: fmt.Sprintf("%s@%d", ref.Name, ref.Version)}
		if ver, err := reg.Version(b.ctx, m, ref.Version); err == nil {
			mg.Registrar = ver.Actor
			if mg.Registrar == "" {
				mg.Registrar = ver.User + "@" + ver.Host
			}
		}
		for _, w := range ws.ForModel(ref.Name) {
			if w.Target.Version == ref.Version {
				add(w)
			}
		}
		for _, al := range sortedKeys(m.Protected) {
			p := m.Protected[al]
			mg.Protections = append(mg.Protections, KV{al, fmt.Sprintf("%d approval(s), since %s, by %s: %s", p.Approvals, p.Time.Format("2006-01-02"), p.Actor, p.Reason)})
		}
		for i := range m.Requests {
			q := &m.Requests[i]
			if q.Action == registry.ActionPromote && q.Version != ref.Version {
				continue
			}
			what := fmt.Sprintf("promote to %s", q.Alias)
			if q.Action == registry.ActionProtect {
				what = fmt.Sprintf("lower the protection of %s to %d", q.Alias, q.To)
			}
			row := RequestRow{Ref: q.Ref(m.Name), What: what, Status: q.State(now), Proposer: q.Proposer, Reason: q.Reason,
				Outcome: q.Outcome, Approvals: fmt.Sprintf("%d/%d", q.Approved(), q.Approvals), Created: q.Created}
			for _, d := range q.Decisions {
				row.Decisions = append(row.Decisions, DecisionRow{Verdict: d.Verdict, Principal: d.Principal, Key: d.Key, Reason: d.Reason, Time: d.Time})
			}
			mg.Requests = append(mg.Requests, row)
		}
		for _, f := range m.Refused {
			if f.Version != ref.Version {
				continue
			}
			row := RefusalRow{Alias: f.Alias, Actor: f.Actor, Reason: f.Reason, Time: f.Time}
			for _, gr := range f.Gates {
				if !gr.Passed && !gr.Skipped {
					row.Gates = append(row.Gates, gr.String())
				}
			}
			mg.Refusals = append(mg.Refusals, row)
		}
		for _, mv := range m.History {
			if mv.To != ref.Version && mv.From != ref.Version {
				continue
			}
			who := mv.Actor
			if who == "" {
				who = mv.User + "@" + mv.Host
			}
			line := fmt.Sprintf("%s %s: %s -> %d by %s: %s", mv.Action, mv.Alias, holder(mv.From), mv.To, who, mv.Reason)
			if len(mv.Approvers) > 0 {
				line += "; approved by " + strings.Join(mv.Approvers, ", ")
			}
			var waived []string
			for _, gr := range mv.Gates {
				if gr.Waiver != nil {
					waived = append(waived, gr.String())
				}
			}
			if len(waived) > 0 {
				line += "; waived gates: " + strings.Join(waived, "; ")
			}
			mg.Moves = append(mg.Moves, KV{mv.Time.Format("2006-01-02 15:04Z"), line})
		}
		if len(mg.Protections)+len(mg.Requests)+len(mg.Refusals)+len(mg.Moves) > 0 {
			g.Models = append(g.Models, mg)
		}
	}
}

func holder(v int) string {
	if v == 0 {
		return "(none)"
	}
	return fmt.Sprint(v)
}
