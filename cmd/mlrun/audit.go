package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/governance"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

func (a *app) auditCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read and verify the hash-chained audit log",
		Long: `The audit log records every run started and finished, every step executed or
found cached (with its cache key, input files and output objects), and every
gc, in an append-only chain: each entry holds the SHA-256 of the one before.
Commands that append print the new head hash ("audit head ..."); keep it in a
ticket or a signed tag, and 'mlrun audit verify --head HASH' proves later that
nothing up to it was altered, removed or inserted.

Whoever can write the store could still append entries that chain
correctly. With MLRUN_SIGNING_KEY set (an SSH key), mlrun signs the head
after every commit; 'mlrun audit verify --allowed-signers FILE' (a file kept
outside the store, in the repository) then reports every commit no valid
signature covers, and every signed head no longer in the log. 'mlrun audit
head --signed' prints a line for a CI job summary: an anchor kept elsewhere.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.auditLogCommand(), a.auditVerifyCommand(), a.auditExplainCommand(), a.auditHeadCommand(), a.auditSignCommand())
	return cmd
}

func (a *app) auditLogCommand() *cobra.Command {
	var (
		since, run, typ, pipe, mdl string
		asJSON                     bool
	)
	cmd := &cobra.Command{
		Use:   "log",
		Short: "Print audit entries, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var from time.Time
			if since != "" {
				var err error
				from, err = parseSince(since)
				if err != nil {
					return err
				}
			}
			st, err := a.openStoreRead()
			if err != nil {
				return err
			}
			entries, hashes, err := st.AuditLog(cmd.Context())
			if err != nil {
				return err
			}
			type row struct {
				lineage.AuditEntry
				Hash string `json:"hash"`
			}
			var rows []row
			for i, e := range entries {
				if !from.IsZero() && e.Time.Before(from) {
					continue
				}
				if run != "" && !strings.HasPrefix(e.Run, run) {
					continue
				}
				if typ != "" && e.Type != typ && !strings.HasPrefix(e.Type, typ+".") {
					continue
				}
				if pipe != "" && e.Pipeline != pipe {
					continue
				}
				if mdl != "" && e.Detail["model"] != mdl {
					continue
				}
				rows = append(rows, row{e, hashes[i]})
			}
			if asJSON {
				if rows == nil {
					rows = []row{}
				}
				return a.writeJSON(rows)
			}
			for _, r := range rows {
				writeAuditEntry(a.stdout, r.AuditEntry, r.Hash)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&since, "since", "", "only entries at or after this time: 2026-11-26, an RFC 3339 time, or a duration ago (24h)")
	fl.StringVar(&run, "run", "", "only entries of this run (id or prefix)")
	fl.StringVar(&typ, "type", "", "only entries of this type (run, step, gc, run.finished, ...)")
	fl.StringVar(&pipe, "pipeline", "", "only entries of this pipeline")
	fl.StringVar(&mdl, "model", "", "only entries about this registered model (registrations, alias moves, scored batches)")
	fl.BoolVar(&asJSON, "json", false, "print entries as JSON, each with its hash")
	return cmd
}

func parseSince(s string) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, pipeline.Invalidf("--since %q: want a date (2026-11-26), an RFC 3339 time or a duration (24h)", s)
}

func writeAuditEntry(w io.Writer, e lineage.AuditEntry, hash string) {
	var subject []string
	if e.Pipeline != "" {
		subject = append(subject, e.Pipeline)
	}
	if e.Run != "" {
		subject = append(subject, "run "+e.Run)
	}
	if e.Step != "" {
		subject = append(subject, "step "+e.Step)
	}
	fmt.Fprintf(w, "#%d %s %s %-13s %s  by %s\n", e.Seq, short(hash), e.Time.Format("2006-01-02 15:04:05Z"), e.Type, strings.Join(subject, " "), actorText(e.Actor, e.Via, e.User, e.Host))
	keys := make([]string, 0, len(e.Detail))
	for k := range e.Detail {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "      %s: %s\n", k, e.Detail[k])
	}
}

func (a *app) auditVerifyCommand() *cobra.Command {
	var (
		head, allowed string
		asJSON        bool
	)
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the audit log's hash chain (and, with --allowed-signers, its signed heads)",
		Long: `Re-hash every audit entry and check the chain. With --head HASH (a head
printed earlier, or the line 'mlrun audit head --signed' printed), also
check that the entry with that hash is still in the chain, so that a log
rewritten consistently from some point on is caught.

With --allowed-signers FILE (or MLRUN_ALLOWED_SIGNERS; keys allowed the
namespace mlrun-audit), also check the signed heads: every signature valid,
every signed head still in the log, and no commit after the last signed one
(an entry appended without the signing key: forged). Keep that file outside
the store (in the repository): the store's own cannot vouch for the store.

Exit codes: 0 intact, 1 broken, unsigned or head not found, 3 the store cannot be read.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStoreRead()
			if err != nil {
				return err
			}
			rep, err := st.VerifyAudit(cmd.Context())
			if err != nil {
				return err
			}
			if err := checkAuditHead(cmd.Context(), st, head, rep); err != nil {
				return err
			}
			var heads *lineage.HeadReport
			if allowed != "" {
				if heads, err = verifyHeads(cmd.Context(), st, allowed); err != nil {
					return err
				}
			}
			if asJSON {
				if err := a.writeJSON(struct {
					*lineage.AuditReport
					Heads *lineage.HeadReport `json:"signed_heads,omitempty"`
				}{rep, heads}); err != nil {
					return err
				}
			} else {
				writeAuditVerify(a.stdout, rep)
				if heads != nil {
					writeHeadVerify(a.stdout, heads)
				}
			}
			if !rep.OK() || heads != nil && !heads.OK() {
				return &silentError{code: pipeline.ExitCheckFailed}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&head, "head", "", "a head hash printed earlier (or a line of 'audit head --signed') that must still be in the chain")
	cmd.Flags().StringVar(&allowed, "allowed-signers", os.Getenv("MLRUN_ALLOWED_SIGNERS"), "check the signed heads against this allowed-signers file (env MLRUN_ALLOWED_SIGNERS)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// checkAuditHead adds a problem to rep when head (a hash printed earlier)
// is given and is no longer in the log.
func checkAuditHead(ctx context.Context, st *lineage.Store, head string, rep *lineage.AuditReport) error {
	if head == "" {
		return nil
	}
	if i := strings.Index(head, "head="); i >= 0 {
		// A line of 'mlrun audit head --signed'.
		head, _, _ = strings.Cut(head[i+len("head="):], " ")
	}
	if _, err := lineage.ParseID(head); err != nil {
		return pipeline.Invalidf("--head %q: want the 64-hex-digit hash printed as \"audit head ...\"", head)
	}
	ok, err := st.AuditContains(ctx, head)
	if err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("cannot check head %s: %v", head, err))
		return nil
	}
	if !ok {
		rep.Problems = append(rep.Problems, fmt.Sprintf("head %s is not in the log: entries up to it were altered or removed, or the tail was rewritten", head))
	}
	return nil
}

func writeAuditVerify(w io.Writer, rep *lineage.AuditReport) {
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "  audit: %s\n", p)
	}
	if rep.OK() {
		fmt.Fprintf(w, "audit log intact: %d entries, head %s\n", rep.Entries, rep.Head)
		return
	}
	fmt.Fprintf(w, "audit log BROKEN: %d problem(s) in %d entries\n", len(rep.Problems), rep.Entries)
}

// verifyHeads checks the store's signed heads against an allowed-signers
// file (namespace mlrun-audit).
func verifyHeads(ctx context.Context, st *lineage.Store, path string) (*lineage.HeadReport, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, pipeline.Invalidf("--allowed-signers: %v", err)
	}
	signers, err := governance.ParseSigners(data, path)
	if err != nil {
		return nil, err
	}
	return st.VerifyHeads(ctx, func(msg, sig []byte, at time.Time) (string, error) {
		p, _, err := signers.Set.Verify(sig, governance.NamespaceAudit, msg, at)
		return p, err
	})
}

func writeHeadVerify(w io.Writer, rep *lineage.HeadReport) {
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "  signed heads: %s\n", p)
	}
	if rep.OK() {
		if n := len(rep.Signed); n > 0 {
			last := rep.Signed[n-1]
			fmt.Fprintf(w, "signed heads valid: %d signature(s), commit %d of %d signed by %s\n", n, last.Commit, rep.Commits, last.Signer)
		} else {
			fmt.Fprintln(w, "signed heads: the log is empty")
		}
		return
	}
	fmt.Fprintf(w, "signed heads NOT VALID: %d problem(s); last commit covered by a valid signature: %d of %d\n", len(rep.Problems), rep.LastSigned, rep.Commits)
}

func (a *app) auditHeadCommand() *cobra.Command {
	var signed, asJSON bool
	cmd := &cobra.Command{
		Use:   "head",
		Short: "Print the audit head (with --signed: a signed line for a CI job summary)",
		Long: `Print the hash of the last audit entry. With --signed, print the head's
signature as one line (commit, sequence number, head, time, signer), for a CI
job summary or a ticket: an anchor outside the store that 'mlrun audit verify
--head LINE' checks later. An unsigned head is signed first when
MLRUN_SIGNING_KEY is set; otherwise --signed fails (exit 1).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := a.openStoreRead()
			if err != nil {
				return err
			}
			head, seq, err := st.AuditHead(ctx)
			if err != nil {
				return err
			}
			if !signed {
				if asJSON {
					return a.writeJSON(map[string]any{"head": head, "seq": seq})
				}
				fmt.Fprintln(a.stdout, head)
				return nil
			}
			sh, err := st.HeadSignature(ctx, head)
			if errors.Is(err, lineage.ErrNotFound) && os.Getenv("MLRUN_SIGNING_KEY") != "" {
				sh, err = st.SignHead(ctx)
			}
			if errors.Is(err, lineage.ErrNotFound) {
				fmt.Fprintf(a.stderr, "mlrun: audit head %s is not signed (set MLRUN_SIGNING_KEY to sign it)\n", short(head))
				return &silentError{code: pipeline.ExitCheckFailed}
			}
			if err != nil {
				return err
			}
			if asJSON {
				return a.writeJSON(sh)
			}
			fmt.Fprintln(a.stdout, sh.Anchor())
			return nil
		},
	}
	cmd.Flags().BoolVar(&signed, "signed", false, "print the head's signature line")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (with --signed: the signature record)")
	return cmd
}

func (a *app) auditSignCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "sign",
		Short: "Sign the audit head with MLRUN_SIGNING_KEY (after reviewing commits appended unsigned)",
		Long: `Sign the current audit head with the key MLRUN_SIGNING_KEY names. A head's
signature covers every entry up to it, so signing the tip after a review
covers commits that were appended without the key (or whose signing failed).
Review them first: 'mlrun audit verify --allowed-signers FILE' lists them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStore()
			if err != nil {
				return err
			}
			sh, err := st.SignHead(cmd.Context())
			if err != nil {
				return pipeline.WithExitCode(pipeline.ExitInvalid, err)
			}
			fmt.Fprintln(a.stdout, sh.Anchor())
			return nil
		},
	}
}
