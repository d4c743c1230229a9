package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/crypto/ssh"

	"github.com/mlrun-cli/mlrun/internal/identity"
	"github.com/mlrun-cli/mlrun/internal/sshsig"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/governance"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
)

// storeOptions are the options every store is opened with: this user's
// memos, the actor recorded in audit entries (internal/identity) and, with
// MLRUN_SIGNING_KEY set, the head signer.
func (a *app) storeOptions() []lineage.Option {
	p := a.principal()
	opts := []lineage.Option{lineage.WithMemos(a.memos()), lineage.WithActor(p.Actor, p.Via)}
	if path := os.Getenv("MLRUN_SIGNING_KEY"); path != "" {
		opts = append(opts, lineage.WithHeadSigner(&keySigner{path: path, stderr: a.stderr}))
	}
	return opts
}

// principal resolves who is acting, once.
func (a *app) principal() identity.Principal {
	a.principalOnce.Do(func() {
		wd, _ := os.Getwd()
		a.actor = identity.Resolve(os.Getenv, wd)
	})
	return a.actor
}

// keySigner signs audit heads with the SSH key at path (namespace
// mlrun-audit), loaded on the first signature.
type keySigner struct {
	path   string
	stderr io.Writer

	once   sync.Once
	key    ssh.Signer
	err    error
	warned bool
}

// Sign signs msg; the first failure is reported on stderr (the commit
// stands, unsigned, and 'mlrun audit verify --allowed-signers' says so).
func (k *keySigner) Sign(msg []byte) ([]byte, error) {
	k.once.Do(func() { k.key, k.err = sshsig.LoadSigner(k.path, []byte(os.Getenv("MLRUN_SSH_PASSPHRASE"))) })
	err := k.err
	var sig []byte
	if err == nil {
		sig, err = sshsig.Sign(k.key, governance.NamespaceAudit, msg)
	}
	if err != nil && !k.warned {
		k.warned = true
		fmt.Fprintf(k.stderr, "mlrun: audit head not signed (MLRUN_SIGNING_KEY): %v\n", err)
	}
	return sig, err
}

func (k *keySigner) KeyID() string {
	if k.key == nil {
		return ""
	}
	return sshsig.Fingerprint(k.key.PublicKey())
}

// signFlags are the flags of a command whose decision must be signed.
type signFlags struct {
	key, signature, allowed string
	printPayload            bool
}

func (f *signFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&f.key, "key", "", "your SSH key, which signs the decision: a private key file, or a .pub file whose key the SSH agent holds")
	fl.StringVar(&f.signature, "signature", "", "a signature made beforehand: ssh-keygen -Y sign -f KEY -n NAMESPACE FILE, over the text --print-payload prints")
	fl.BoolVar(&f.printPayload, "print-payload", false, "print the text to sign (and its namespace) and exit")
	fl.StringVar(&f.allowed, "allowed-signers", os.Getenv("MLRUN_ALLOWED_SIGNERS"), "allowed-signers file (ssh-keygen format) whose keys may decide (env MLRUN_ALLOWED_SIGNERS; default: the store's, see 'mlrun signers')")
}

// signers returns the allowed-signers file: --allowed-signers, else the
// store's.
func (f *signFlags) signers(ctx context.Context, st *lineage.Store) (*governance.Signers, error) {
	if f.allowed != "" {
		data, err := os.ReadFile(f.allowed)
		if err != nil {
			return nil, pipeline.Invalidf("allowed signers: %v", err)
		}
		return governance.ParseSigners(data, f.allowed)
	}
	s, err := governance.StoreSigners(ctx, st)
	if errors.Is(err, governance.ErrNoSigners) {
		return nil, pipeline.WithExitCode(pipeline.ExitInvalid, err)
	}
	return s, err
}

// sign returns the signature of payload in namespace: --signature's file,
// else a signature with --key, else none (the decision is then refused).
// With --print-payload it prints the payload (exactly the bytes to sign)
// on w, how to sign it on hint, and returns done.
func (f *signFlags) sign(w, hint io.Writer, namespace string, payload []byte) (sig []byte, done bool, err error) {
	if f.printPayload {
		fmt.Fprintf(hint, "mlrun: save the text (stdout) to FILE, sign it with: ssh-keygen -Y sign -f KEY -n %s FILE; then pass --signature FILE.sig\n", namespace)
		_, err := w.Write(payload)
		return nil, true, err
	}
	switch {
	case f.signature != "":
		sig, err := os.ReadFile(f.signature)
		if err != nil {
			return nil, false, pipeline.Invalidf("--signature: %v", err)
		}
		return sig, false, nil
	case f.key != "":
		k, err := sshsig.LoadSigner(f.key, []byte(os.Getenv("MLRUN_SSH_PASSPHRASE")))
		if err != nil {
			return nil, false, pipeline.Invalidf("%v", err)
		}
		sig, err := sshsig.Sign(k, namespace, payload)
		return sig, false, err
	}
	return nil, false, nil
}

// parseExpiry parses --expires: a date (2027-01-31, end of that day UTC),
// an RFC 3339 time, or a number of days or hours ahead (30d, 12h).
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n > 0 {
			return now.AddDate(0, 0, n).Truncate(time.Second), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(d).Truncate(time.Second), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.Add(24*time.Hour - time.Second), nil
	}
	return time.Time{}, pipeline.Invalidf("--expires %q: want a date (2027-01-31), an RFC 3339 time, or a time ahead (30d, 12h)", s)
}

func (a *app) waiveCommand() *cobra.Command {
	var (
		runID, check, model, gate, reason, expires string
		sf                                         signFlags
		asJSON                                     bool
	)
	cmd := &cobra.Command{
		Use:   "waive (--run RUN --check STEP/CHECK | --model NAME@VERSION --gate EXPR) --reason TEXT --expires WHEN",
		Short: "Waive a failed check of a run or a failed promotion gate, with an approver's signature",
		Long: `Record a waiver: a failed check of a recorded run (--run and --check STEP/CHECK)
or a failed promotion gate of a model version (--model NAME@VERSION and
--gate, the gate's expression as 'mlrun models show' prints it) stops
blocking until the waiver expires or is revoked. A waived check lets the
run's model be registered; a waived gate lets the version be promoted.
Runs, versions and reports show it as waived, never as passed.

A waiver is valid only when signed (namespace mlrun-waiver) by a key the
allowed-signers file lists, and not by whoever made what is waived (the
run's actor, the version's registrar). Sign with --key, or print the text
with --print-payload, sign it with ssh-keygen -Y sign and pass --signature.

Exit codes: 0 recorded, 1 refused (signature, maker-checker), 2 invalid usage.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			now := time.Now().UTC()
			var t governance.Target
			switch {
			case runID != "" && check != "" && model == "" && gate == "":
				step, name, ok := strings.Cut(check, "/")
				if !ok {
					return pipeline.Invalidf("--check %q: want STEP/CHECK, e.g. evaluation/fair_age", check)
				}
				t = governance.Target{Kind: governance.TargetCheck, Step: step, Check: name}
			case model != "" && gate != "" && runID == "" && check == "":
				name, ver, ok := strings.Cut(model, "@")
				n, err := strconv.Atoi(ver)
				if !ok || err != nil {
					return pipeline.Invalidf("--model %q: want NAME@VERSION, e.g. credit-risk@3", model)
				}
				t = governance.Target{Kind: governance.TargetGate, Model: name, Version: n, Gate: gate}
			default:
				return pipeline.Invalidf("give --run and --check, or --model and --gate")
			}
			if expires == "" {
				return pipeline.Invalidf("--expires is required: a waiver never lasts for ever")
			}
			exp, err := parseExpiry(expires, now)
			if err != nil {
				return err
			}
			exp = exp.UTC().Truncate(time.Second)
			st, reg, err := a.openRegistry()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if t.Kind == governance.TargetCheck {
				run, err := getRun(ctx, st, runID)
				if err != nil {
					return err
				}
				t.Run = run.ID
			}
			sig, done, err := sf.sign(a.stdout, a.stderr, governance.NamespaceWaiver, governance.WaiverPayload(t, reason, exp))
			if err != nil || done {
				return err
			}
			signers, err := sf.signers(ctx, st)
			if err != nil {
				return err
			}
			req := governance.WaiveRequest{Target: t, Reason: reason, Expires: exp, Signature: sig, Signers: signers}
			if t.Kind == governance.TargetGate {
				req.Check = reg.GateWaiverCheck(t)
			}
			w, head, err := governance.Waive(ctx, st, req, now)
			if err != nil {
				return err
			}
			if asJSON {
				return a.writeJSON(w)
			}
			fmt.Fprintf(a.stdout, "waiver %s: %s waived until %s, approved by %s (%s)\n", w.ID, w.Target, w.Expires.Format("2006-01-02 15:04Z"), w.Approval.Principal, w.Approval.Key)
			fmt.Fprintf(a.stdout, "audit head %s\n", head)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&runID, "run", "", "the run whose check is waived (id, prefix or latest)")
	fl.StringVar(&check, "check", "", "the failed check: STEP/CHECK")
	fl.StringVar(&model, "model", "", "the version whose gate is waived: NAME@VERSION")
	fl.StringVar(&gate, "gate", "", "the failed promotion gate's expression")
	fl.StringVar(&reason, "reason", "", "why (required; signed)")
	fl.StringVar(&expires, "expires", "", "when it stops counting: 2027-01-31, an RFC 3339 time, or 30d (required; signed)")
	fl.BoolVar(&asJSON, "json", false, "print the waiver as JSON")
	sf.add(fl)
	return cmd
}

func (a *app) waiversCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "waivers",
		Short: "List and revoke waivers",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	var asJSON, all bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the waivers: active ones, or --all",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStoreRead()
			if err != nil {
				return err
			}
			v, err := st.View(cmd.Context())
			if err != nil {
				return err
			}
			ws, err := governance.ListWaivers(cmd.Context(), v)
			if err != nil {
				return err
			}
			now := time.Now()
			var out governance.Waivers
			for _, w := range ws {
				if all || w.Active(now) {
					out = append(out, w)
				}
			}
			if asJSON {
				if out == nil {
					out = governance.Waivers{}
				}
				return a.writeJSON(out)
			}
			if len(out) == 0 {
				fmt.Fprintln(a.stdout, "no waivers")
			}
			for _, w := range out {
				fmt.Fprintf(a.stdout, "%s  %s  %s  approved by %s: %s\n", w.ID, w.Status(now), w.Target, w.Approval.Principal, w.Reason)
			}
			return nil
		},
	}
	list.Flags().BoolVar(&all, "all", false, "also expired and revoked waivers")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	var reason string
	revoke := &cobra.Command{
		Use:   "revoke ID --reason TEXT",
		Short: "End a waiver now (no signature needed: it only tightens)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStore()
			if err != nil {
				return err
			}
			w, head, err := governance.Revoke(cmd.Context(), st, args[0], reason, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "waiver %s revoked: %s\naudit head %s\n", w.ID, w.Target, head)
			return nil
		},
	}
	revoke.Flags().StringVar(&reason, "reason", "", "why (required; recorded)")
	cmd.AddCommand(list, revoke)
	return cmd
}

func (a *app) signersCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "signers",
		Short: "Show or set the store's allowed-signers file",
		Long: `The allowed-signers file (the format of ssh-keygen -Y verify and git's
gpg.ssh.allowedSignersFile) lists the SSH keys whose signatures count, with
the principal each key stands for and the namespaces it may sign:

  alice@bank.example namespaces="mlrun-approval,mlrun-waiver" ssh-ed25519 AAAA...
  ci@bank.example namespaces="mlrun-audit" ssh-ed25519 AAAA...

Commands that check signatures read --allowed-signers (or
MLRUN_ALLOWED_SIGNERS), else the file kept in the store. The store's first
file is taken as given; replacing it needs a signature (namespace
mlrun-signers) by a key the current file allows.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the store's allowed-signers file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStoreRead()
			if err != nil {
				return err
			}
			s, err := governance.StoreSigners(cmd.Context(), st)
			if errors.Is(err, governance.ErrNoSigners) {
				return pipeline.WithExitCode(pipeline.ExitInvalid, err)
			}
			if err != nil {
				return err
			}
			_, err = a.stdout.Write(s.Text)
			return err
		},
	}
	var (
		reason string
		sf     signFlags
	)
	set := &cobra.Command{
		Use:   "set FILE --reason TEXT",
		Short: "Make FILE the store's allowed-signers file",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return pipeline.Invalidf("%v", err)
			}
			if strings.TrimSpace(reason) == "" {
				return pipeline.Invalidf("--reason is required")
			}
			sig, done, err := sf.sign(a.stdout, a.stderr, governance.NamespaceSigners, governance.SignersChange(data, reason))
			if err != nil || done {
				return err
			}
			st, err := a.openStore()
			if err != nil {
				return err
			}
			rec, head, err := governance.SetSigners(cmd.Context(), st, data, reason, sig)
			if err != nil {
				return err
			}
			by := "first file, trusted on first use"
			if rec.SignedBy != "" {
				by = "authorised by " + rec.SignedBy
			}
			fmt.Fprintf(a.stdout, "allowed signers set (%s, %s)\naudit head %s\n", rec.Object.Short(), by, head)
			return nil
		},
	}
	set.Flags().StringVar(&reason, "reason", "", "why (required; signed)")
	set.Flags().StringVar(&sf.key, "key", "", "SSH key allowed by the current file, which signs the change")
	set.Flags().StringVar(&sf.signature, "signature", "", "a signature (namespace mlrun-signers) of the text --print-payload prints")
	set.Flags().BoolVar(&sf.printPayload, "print-payload", false, "print the text to sign and exit")
	cmd.AddCommand(show, set)
	return cmd
}

func (a *app) modelsProtectCommand() *cobra.Command {
	var (
		alias, reason string
		approvals     int
	)
	cmd := &cobra.Command{
		Use:   "protect NAME --alias ALIAS --approvals N --reason TEXT",
		Short: "Make promotions to an alias need N approvals (maker-checker)",
		Long: `Make ALIAS of model NAME protected: a promotion to it (after its gates pass)
becomes a pending request that N principals other than the proposer must
approve with signed decisions ('mlrun models approve'). Raising the
protection takes effect at once; lowering it (or 0, removing it) is itself a
request the current protection's approvals must approve.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if alias == "" || !cmd.Flags().Changed("approvals") {
				return pipeline.Invalidf("--alias and --approvals are required")
			}
			_, reg, err := a.openRegistry()
			if err != nil {
				return err
			}
			p, q, head, err := reg.Protect(cmd.Context(), args[0], alias, approvals, reason)
			if err != nil {
				return err
			}
			if p != nil {
				fmt.Fprintf(a.stdout, "%s@%s: promotions need %d approval(s)\n", args[0], alias, p.Approvals)
			} else {
				fmt.Fprintf(a.stdout, "request %s: lower the protection of %s to %d; pending %d approval(s)\n", q.Ref(args[0]), alias, q.To, q.Approvals)
			}
			fmt.Fprintf(a.stdout, "audit head %s\n", head)
			return nil
		},
	}
	cmd.Flags().StringVar(&alias, "alias", "", "the alias to protect")
	cmd.Flags().IntVar(&approvals, "approvals", 0, "approvals a promotion needs (0 removes the protection, by request)")
	cmd.Flags().StringVar(&reason, "reason", "", "why (required; recorded)")
	return cmd
}

func (a *app) modelsDecideCommand(decision string) *cobra.Command {
	var (
		reason string
		sf     signFlags
		asJSON bool
	)
	verb := map[string]string{"approve": "Approve", "reject": "Reject"}[decision]
	cmd := &cobra.Command{
		Use:   decision + " MODEL/REQUEST --reason TEXT (--key KEY | --signature FILE)",
		Short: verb + " a pending request to change a protected alias, with a signed decision",
		Long: verb + ` a pending request (as 'mlrun models requests' lists it: MODEL/NUMBER).
The decision counts only when signed (namespace mlrun-approval) by a key the
allowed-signers file lists; the approver is the principal the file gives
that key (not MLRUN_ACTOR). The proposer cannot approve, and nobody decides
twice. The approval that completes the count carries the request out: the
gates are evaluated again against the alias's holder, and the alias moves
(or the promotion is refused and recorded).

Exit codes: 0 recorded, 1 refused (signature, self-approval, gate), 2 invalid usage.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, id, err := registry.ParseRequestRef(args[0])
			if err != nil {
				return err
			}
			st, reg, err := a.openRegistry()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			m, err := reg.Get(ctx, name)
			if err != nil {
				return err
			}
			if id > len(m.Requests) {
				return pipeline.Invalidf("model %s has no request %d", name, id)
			}
			sig, done, err := sf.sign(a.stdout, a.stderr, governance.NamespaceApproval, registry.ApprovalPayload(name, &m.Requests[id-1], decision, reason))
			if err != nil || done {
				return err
			}
			signers, err := sf.signers(ctx, st)
			if err != nil {
				return err
			}
			d, err := reg.Decide(ctx, registry.DecideRequest{Model: name, Request: id, Decision: decision, Reason: reason, Signature: sig, Signers: signers})
			var ge *registry.GateError
			if errors.As(err, &ge) {
				fmt.Fprintf(a.stdout, "approved, but refused when carried out: %s@%d not promoted to %s\n", ge.Model, ge.Version, ge.Alias)
				writeGates(a.stdout, ge.Results)
				fmt.Fprintf(a.stdout, "audit head %s\n", ge.Head)
				return &silentError{code: pipeline.ExitCheckFailed}
			}
			var de *registry.DecisionError
			if errors.As(err, &de) {
				fmt.Fprintf(a.stdout, "%s\naudit head %s (the attempt is recorded)\n", de.Msg, de.Head)
				return &silentError{code: pipeline.ExitCheckFailed}
			}
			if err != nil {
				return err
			}
			if asJSON {
				return a.writeJSON(d)
			}
			q := d.Request
			last := q.Decisions[len(q.Decisions)-1]
			fmt.Fprintf(a.stdout, "%s %s by %s (%s): %s, %d/%d approvals\n", q.Ref(name), decision+"d", last.Principal, last.Key, q.Status, q.Approved(), q.Approvals)
			if d.Move != nil {
				writeGates(a.stdout, d.Move.Gates)
				fmt.Fprintf(a.stdout, "%s %s: %s -> %d\n", name, d.Move.Alias, holderText(d.Move.From), d.Move.To)
			}
			fmt.Fprintf(a.stdout, "audit head %s\n", d.Head)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&reason, "reason", "", "why (required; signed)")
	fl.BoolVar(&asJSON, "json", false, "print the request as JSON")
	sf.add(fl)
	return cmd
}

func (a *app) modelsRequestsCommand() *cobra.Command {
	var (
		all, asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "requests [NAME]",
		Short: "List the requests to change protected aliases: pending ones, or --all",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, reg, err := a.openRegistryRead()
			if err != nil {
				return err
			}
			var models []*registry.Model
			if len(args) == 1 {
				m, err := reg.Get(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				models = []*registry.Model{m}
			} else if models, err = reg.List(cmd.Context()); err != nil {
				return err
			}
			type row struct {
				Model string `json:"model"`
				registry.Request
			}
			rows, now := []row{}, time.Now()
			for _, m := range models {
				for _, q := range m.Requests {
					if all || q.State(now) == registry.RequestPending {
						rows = append(rows, row{m.Name, q})
					}
				}
			}
			if asJSON {
				return a.writeJSON(rows)
			}
			if len(rows) == 0 {
				fmt.Fprintln(a.stdout, "no requests")
			}
			for _, r := range rows {
				writeRequest(a.stdout, r.Model, &r.Request)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "also closed requests")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// writeRequest prints a request and its decisions.
func writeRequest(w io.Writer, model string, q *registry.Request) {
	what := fmt.Sprintf("promote %s@%d to %s", model, q.Version, q.Alias)
	if q.Action == registry.ActionProtect {
		what = fmt.Sprintf("lower the protection of %s to %d approval(s)", q.Alias, q.To)
	}
	state := q.State(time.Now())
	fmt.Fprintf(w, "%s  %s  %s: %s, %d/%d approvals, proposed by %s %s: %s\n", q.Ref(model), state, q.Created.Format("2006-01-02 15:04Z"),
		what, q.Approved(), q.Approvals, q.Proposer, viaText(q.Via), q.Reason)
	if state == registry.RequestPending && !q.Expires.IsZero() {
		fmt.Fprintf(w, "      expires %s\n", q.Expires.Format("2006-01-02 15:04Z"))
	}
	for _, d := range q.Decisions {
		fmt.Fprintf(w, "      %s by %s (%s) %s: %s\n", d.Verdict, d.Principal, d.Key, d.Time.Format("2006-01-02 15:04Z"), d.Reason)
	}
	if q.Outcome != "" && q.Status != registry.RequestPending {
		fmt.Fprintf(w, "      %s\n", q.Outcome)
	}
}

func viaText(via string) string {
	if via == "" {
		return ""
	}
	return "(via " + via + ")"
}
