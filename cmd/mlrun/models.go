package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/internal/scoring"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
	"github.com/mlrun-cli/mlrun/steps/exprenv"
	"github.com/mlrun-cli/mlrun/steps/model"
)

// openRegistry opens the store and its model registry.
func (a *app) openRegistry() (*lineage.Store, *registry.Registry, error) {
	st, err := a.openStore()
	if err != nil {
		return nil, nil, err
	}
	return st, newRegistry(st), nil
}

// openRegistryRead opens an existing store (see openStoreRead) and its
// registry.
func (a *app) openRegistryRead() (*lineage.Store, *registry.Registry, error) {
	st, err := a.openStoreRead()
	if err != nil {
		return nil, nil, err
	}
	return st, newRegistry(st), nil
}

// newRegistry returns the model registry of st, with expression gates.
func newRegistry(st *lineage.Store) *registry.Registry {
	return registry.New(st, func(src string, metrics []string) (registry.Gate, error) {
		return exprenv.CompileGate(src, metrics, nil)
	})
}

// describeModel returns the registry's description of a stored model
// object: its algorithm, features and target.
func (a *app) describeModel(st *lineage.Store) func(ctx context.Context, ref lineage.ObjectRef) (string, []string, string, error) {
	return func(ctx context.Context, ref lineage.ObjectRef) (string, []string, string, error) {
		m, err := a.loadModel(ctx, st, ref.ID)
		if err != nil {
			return "", nil, "", err
		}
		return m.Algorithm(), m.Features(), m.Target().Name, nil
	}
}

// versionScoring records in a version what scoring, monitoring and
// reporting it need without the pipeline file (scoring.Fill).
func (a *app) versionScoring(st *lineage.Store, run *lineage.RunRecord) func(ctx context.Context, v *registry.Version) error {
	return func(ctx context.Context, v *registry.Version) error {
		kinds, err := a.registry()
		if err != nil {
			return err
		}
		return scoring.Fill(ctx, st, kinds, run, v)
	}
}

func (a *app) modelsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "models",
		Short: "Register model versions and move aliases through promotion gates",
		Long: `The model registry holds immutable, numbered versions of named models, each
linked to the run and step that trained it, the SHA-256 of its training data,
its evaluation metrics and the pipeline file. Aliases (production, champion,
any name) point at versions and move only when the model's promotion gates
pass. Gates are expressions over the candidate's metrics; current.NAME is the
metric of the version holding the alias now:

  mlrun models register --run latest --step model --name credit-risk \
      --gate 'auc >= 0.75' --gate 'auc >= current.auc + 0.005'
  mlrun models promote credit-risk 1 --alias production --reason "first release"
  mlrun models rollback credit-risk --alias production --reason "incident 42"

A protected alias (mlrun models protect credit-risk --alias production
--approvals 2) moves only when principals other than the proposer approve
with SSH-signed decisions (mlrun models approve credit-risk/1 --key KEY).

Registrations, alias moves, requests, decisions and refused promotions are
appended to the audit log.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.modelsRegisterCommand(), a.modelsPromoteCommand(), a.modelsRollbackCommand(),
		a.modelsListCommand(), a.modelsShowCommand(), a.modelsHistoryCommand(),
		a.modelsProtectCommand(), a.modelsDecideCommand("approve"), a.modelsDecideCommand("reject"), a.modelsRequestsCommand())
	return cmd
}

func (a *app) modelsRegisterCommand() *cobra.Command {
	var (
		runID, step, name, reason string
		gates, aliases            []string
		asJSON                    bool
	)
	cmd := &cobra.Command{
		Use:   "register --run RUN --step STEP --name NAME",
		Short: "Add the next version of a model from a recorded run's train step",
		Long: `Add the next version (1, 2, ...) of the named model: the model a train step of
a recorded run produced (RUN: id, unique prefix or "latest"). The version
records the training data files' SHA-256, the evaluation metrics of the
evaluate steps that read the model, the pipeline file and its SHA-256.

--gate sets (replaces) the model's promotion gates; --alias points aliases at
the new version without gates (for a challenger).

Exit codes: 0 registered, 2 invalid usage or step, 3 store failure.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runID == "" || step == "" || name == "" {
				return pipeline.Invalidf("--run, --step and --name are required")
			}
			st, reg, err := a.openRegistry()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			run, err := getRun(ctx, st, runID)
			if err != nil {
				return err
			}
			res, err := reg.Register(ctx, registry.RegisterRequest{
				Name: name, Run: run, Step: step, Gates: gates, Aliases: aliases, Reason: reason,
				Describe: a.describeModel(st), Scoring: a.versionScoring(st, run),
			})
			if err != nil {
				return err
			}
			v, head := res.Version, res.Head
			if asJSON {
				return a.writeJSON(v)
			}
			if res.Existing {
				fmt.Fprintf(a.stdout, "model %s of run %s step %s already is %s: not registered again\n", v.Object.ID.Short(), run.ID, step, v.Ref())
				return nil
			}
			fmt.Fprintf(a.stdout, "registered %s (run %s step %s, model %s)\n", v.Ref(), v.Run, v.Step, v.Object.ID.Short())
			for _, f := range v.TrainingData {
				fmt.Fprintf(a.stdout, "  trained on %s sha256:%s\n", f.Path, f.SHA256)
			}
			for _, al := range aliases {
				fmt.Fprintf(a.stdout, "  alias %s -> %d\n", al, v.Version)
			}
			for _, x := range v.Waivers {
				fmt.Fprintf(a.stdout, "  under waiver %s by %s until %s: %s\n", x.ID, x.By, x.Expires.Format("2006-01-02"), x.Reason)
			}
			fmt.Fprintf(a.stdout, "audit head %s\n", head)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&runID, "run", "", "the run (id, unique prefix or latest)")
	fl.StringVar(&step, "step", "", "the train step whose model is registered")
	fl.StringVar(&name, "name", "", "the model's name")
	fl.StringArrayVar(&gates, "gate", nil, "promotion gate (repeatable; replaces the model's gates), e.g. 'auc >= current.auc + 0.005'")
	fl.StringArrayVar(&aliases, "alias", nil, "point this alias at the new version, without gates (repeatable)")
	fl.StringVar(&reason, "reason", "", "why, recorded with --alias")
	fl.BoolVar(&asJSON, "json", false, "print the version as JSON")
	return cmd
}

// loadModel reads and decodes a model object.
func (a *app) loadModel(ctx context.Context, st *lineage.Store, id lineage.ID) (model.Model, error) {
	b, err := st.GetObject(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("model object %s: %w", id.Short(), err)
	}
	m, err := model.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("model object %s: %w", id.Short(), err)
	}
	return m, nil
}

func (a *app) modelsPromoteCommand() *cobra.Command {
	var (
		alias, reason string
		gates         []string
		asJSON        bool
		ttl           time.Duration
	)
	cmd := &cobra.Command{
		Use:   "promote NAME VERSION --alias ALIAS --reason TEXT",
		Short: "Move an alias to a version if the promotion gates pass",
		Long: `Move ALIAS to VERSION of model NAME when every promotion gate of the model
(and every --gate given here) passes; otherwise refuse with exit code 1 and
print each gate with the numbers it read. current.NAME in a gate is the metric
of the version that holds the alias now; such a gate is skipped while the
alias has no holder. For a protected alias the promotion becomes a request
that other principals approve (mlrun models approve); a request not approved
within --expires-in (30 days by default) expires and must be proposed again.

Exit codes: 0 moved, 1 a gate failed, 2 invalid usage, 3 store failure.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ver, err := strconv.Atoi(args[1])
			if err != nil || ver < 1 {
				return pipeline.Invalidf("VERSION must be a version number, got %q", args[1])
			}
			if alias == "" {
				return pipeline.Invalidf("--alias is required")
			}
			_, reg, err := a.openRegistry()
			if err != nil {
				return err
			}
			p, err := reg.Promote(cmd.Context(), registry.PromoteRequest{Name: args[0], Version: ver, Alias: alias, Reason: reason, Gates: gates, TTL: ttl})
			var ge *registry.GateError
			if errors.As(err, &ge) {
				if asJSON {
					_ = a.writeJSON(ge.Results)
				} else {
					fmt.Fprintf(a.stdout, "refused: %s@%d not promoted to %s\n", ge.Model, ge.Version, ge.Alias)
					writeGates(a.stdout, ge.Results)
					fmt.Fprintf(a.stdout, "audit head %s (the refusal is recorded)\n", ge.Head)
				}
				return &silentError{code: pipeline.ExitCheckFailed}
			}
			if err != nil {
				return err
			}
			if asJSON {
				if p.Request != nil {
					return a.writeJSON(p.Request)
				}
				return a.writeJSON(p.Move)
			}
			head := p.Head
			if q := p.Request; q != nil {
				writeGates(a.stdout, q.Gates)
				fmt.Fprintf(a.stdout, "%s is protected: request %s is pending %d approval(s) by principals other than %s\n", alias, q.Ref(args[0]), q.Approvals, q.Proposer)
				fmt.Fprintf(a.stdout, "  approve with: mlrun models approve %s --reason TEXT --key KEY\n", q.Ref(args[0]))
				fmt.Fprintf(a.stdout, "audit head %s\n", head)
				return nil
			}
			mv := p.Move
			writeGates(a.stdout, mv.Gates)
			fmt.Fprintf(a.stdout, "%s %s: %s -> %d\n", args[0], alias, holderText(mv.From), mv.To)
			fmt.Fprintf(a.stdout, "audit head %s\n", head)
			return nil
		},
	}
	cmd.Flags().StringVar(&alias, "alias", "", "the alias to move (production, champion, ...)")
	cmd.Flags().StringVar(&reason, "reason", "", "why (required; recorded)")
	cmd.Flags().StringArrayVar(&gates, "gate", nil, "an extra gate for this promotion (repeatable)")
	cmd.Flags().DurationVar(&ttl, "expires-in", 0, "for a protected alias: how long the request waits for its approvals before it expires (default 720h, 30 days)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the move (or the gate results) as JSON")
	return cmd
}

func holderText(v int) string {
	if v == 0 {
		return "(none)"
	}
	return strconv.Itoa(v)
}

func writeGates(w io.Writer, gates []registry.GateResult) {
	for _, g := range gates {
		fmt.Fprintf(w, "  gate %s\n", g.String())
	}
}

func (a *app) modelsRollbackCommand() *cobra.Command {
	var (
		alias, reason string
		asJSON        bool
	)
	cmd := &cobra.Command{
		Use:   "rollback NAME --alias ALIAS --reason TEXT",
		Short: "Return an alias to the version that held it before",
		Long: `Return ALIAS to the version that held it before its current holder, without
gates. Promotions push and rollbacks pop, so two rollbacks go back two holders.

Exit codes: 0 moved, 2 invalid usage or nothing to roll back to, 3 store failure.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if alias == "" {
				return pipeline.Invalidf("--alias is required")
			}
			_, reg, err := a.openRegistry()
			if err != nil {
				return err
			}
			mv, head, err := reg.Rollback(cmd.Context(), args[0], alias, reason)
			if err != nil {
				return err
			}
			if asJSON {
				return a.writeJSON(mv)
			}
			fmt.Fprintf(a.stdout, "%s %s: %d -> %d (rollback)\n", args[0], alias, mv.From, mv.To)
			fmt.Fprintf(a.stdout, "audit head %s\n", head)
			return nil
		},
	}
	cmd.Flags().StringVar(&alias, "alias", "", "the alias to roll back")
	cmd.Flags().StringVar(&reason, "reason", "", "why (required; recorded)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the move as JSON")
	return cmd
}

func (a *app) modelsListCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the registered models with their latest version and aliases",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, reg, err := a.openRegistryRead()
			if err != nil {
				return err
			}
			models, err := reg.List(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return a.writeJSON(models)
			}
			if len(models) == 0 {
				fmt.Fprintln(a.stdout, "no registered models")
			}
			for _, m := range models {
				var al []string
				for _, k := range sortedKeys(m.Aliases) {
					al = append(al, fmt.Sprintf("%s=%d", k, m.Aliases[k]))
				}
				fmt.Fprintf(a.stdout, "%-24s latest %-3d aliases %s\n", m.Name, m.Latest(), orNone(strings.Join(al, " ")))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the models as JSON")
	return cmd
}

func (a *app) modelsShowCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show NAME[@ALIAS|@VERSION]",
		Short: "Show a model version: run, training data, metrics, pipeline",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, reg, err := a.openRegistryRead()
			if err != nil {
				return err
			}
			m, v, err := reg.Resolve(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return a.writeJSON(v)
			}
			writeVersion(a.stdout, m, v)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the version as JSON")
	return cmd
}

func writeVersion(w io.Writer, m *registry.Model, v *registry.Version) {
	var al []string
	for _, k := range sortedKeys(m.Aliases) {
		if m.Aliases[k] == v.Version {
			al = append(al, k)
		}
	}
	fmt.Fprintf(w, "%s  registered %s by %s  aliases %s\n", v.Ref(), v.Registered.Format("2006-01-02 15:04:05Z"), actorText(v.Actor, v.Via, v.User, v.Host), orNone(strings.Join(al, " ")))
	fmt.Fprintf(w, "  run %s step %s  mlrun %s\n", v.Run, v.Step, v.MlrunVersion)
	fmt.Fprintf(w, "  model %s %s, target %s, features %s\n", v.Object.ID, v.Algorithm, v.Target, strings.Join(v.Features, ", "))
	fmt.Fprintf(w, "  pipeline %s (%s) sha256:%s\n", v.Pipeline, v.PipelineFile, v.PipelineSHA256)
	for _, f := range v.TrainingData {
		fmt.Fprintf(w, "  training data %s sha256:%s (%d bytes)\n", f.Path, f.SHA256, f.Size)
	}
	for _, e := range v.Evaluations {
		fmt.Fprintf(w, "  evaluation %s: %s\n", e.Step, fmtMetrics(e.Metrics, 10))
		for _, c := range e.Checks {
			status := "passed"
			if !c.Passed {
				status = "FAILED"
			}
			fmt.Fprintf(w, "    %s %s %s: %s\n", c.Kind, c.Name, status, c.Message)
		}
	}
	for _, x := range v.Waivers {
		fmt.Fprintf(w, "  registered under waiver %s by %s until %s: %s\n", x.ID, x.By, x.Expires.Format("2006-01-02"), x.Reason)
	}
	fmt.Fprintf(w, "  threshold %g\n", v.Threshold)
	if len(m.Gates) > 0 {
		fmt.Fprintf(w, "  promotion gates: %s\n", strings.Join(m.Gates, " ; "))
	}
	for _, al := range sortedKeys(m.Protected) {
		p := m.Protected[al]
		fmt.Fprintf(w, "  alias %s protected: %d approval(s) (since %s, by %s: %s)\n", al, p.Approvals, p.Time.Format("2006-01-02"), p.Actor, p.Reason)
	}
	for i := range m.Requests {
		if q := &m.Requests[i]; q.Version == v.Version || q.State(time.Now()) == registry.RequestPending {
			fmt.Fprint(w, "  request ")
			writeRequest(w, m.Name, q)
		}
	}
	for _, f := range m.Refused {
		if f.Version == v.Version {
			fmt.Fprintf(w, "  promotion to %s REFUSED %s (by %s: %s)\n", f.Alias, f.Time.Format("2006-01-02 15:04Z"), f.Actor, f.Reason)
			for _, g := range f.Gates {
				if !g.Passed && !g.Skipped {
					fmt.Fprintf(w, "      gate %s\n", g.String())
				}
			}
		}
	}
}

// actorText renders "actor (via V; user@host)", or user@host for records
// made before actors were recorded.
func actorText(actor, via, user, host string) string {
	if actor == "" {
		return user + "@" + host
	}
	if via == "" {
		return actor
	}
	return fmt.Sprintf("%s (via %s; %s@%s)", actor, via, user, host)
}

func (a *app) modelsHistoryCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "history NAME",
		Short: "List a model's versions and every alias move",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, reg, err := a.openRegistryRead()
			if err != nil {
				return err
			}
			m, err := reg.Get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return a.writeJSON(m)
			}
			// Every event, in time order.
			type event struct {
				t     time.Time
				lines []string
			}
			var evs []event
			for _, v := range m.Versions {
				evs = append(evs, event{v.Registered, []string{fmt.Sprintf("version %d registered (run %s, object %s)", v.Version, v.Run, v.Doc.Short())}})
			}
			for _, mv := range m.History {
				e := event{mv.Time, []string{fmt.Sprintf("%s %s: %s -> %d by %s: %s", mv.Action, mv.Alias, holderText(mv.From), mv.To, actorText(mv.Actor, "", mv.User, mv.Host), mv.Reason)}}
				if mv.Request > 0 {
					e.lines = append(e.lines, fmt.Sprintf("    request %s/%d approved by %s", m.Name, mv.Request, strings.Join(mv.Approvers, ", ")))
				}
				for _, g := range mv.Gates {
					e.lines = append(e.lines, "    gate "+g.String())
				}
				evs = append(evs, e)
			}
			for _, f := range m.Refused {
				e := event{f.Time, []string{fmt.Sprintf("REFUSED promote %s -> %d by %s: %s", f.Alias, f.Version, f.Actor, f.Reason)}}
				for _, g := range f.Gates {
					e.lines = append(e.lines, "    gate "+g.String())
				}
				evs = append(evs, e)
			}
			for i := range m.Requests {
				q := &m.Requests[i]
				evs = append(evs, event{q.Created, []string{fmt.Sprintf("request %s/%d (%s) %s %s by %s: %s", m.Name, q.ID, q.State(time.Now()), q.Action, q.Alias, q.Proposer, q.Reason)}})
				for _, d := range q.Decisions {
					evs = append(evs, event{d.Time, []string{fmt.Sprintf("%s %s/%d by %s (%s): %s", d.Verdict, m.Name, q.ID, d.Principal, d.Key, d.Reason)}})
				}
			}
			sort.SliceStable(evs, func(i, j int) bool { return evs[i].t.Before(evs[j].t) })
			for _, e := range evs {
				fmt.Fprintf(a.stdout, "%s  %s\n", e.t.Format("2006-01-02 15:04:05Z"), e.lines[0])
				for _, l := range e.lines[1:] {
					fmt.Fprintf(a.stdout, "  %s\n", l)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the model record as JSON")
	return cmd
}
