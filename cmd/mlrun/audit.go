package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/pipeline"
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
nothing up to it was altered, removed or inserted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.auditLogCommand(), a.auditVerifyCommand(), a.auditExplainCommand())
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
	fmt.Fprintf(w, "#%d %s %s %-13s %s  by %s@%s\n", e.Seq, short(hash), e.Time.Format("2006-01-02 15:04:05Z"), e.Type, strings.Join(subject, " "), e.User, e.Host)
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
		head   string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the audit log's hash chain",
		Long: `Re-hash every audit entry and check the chain. With --head HASH (a head
printed earlier), also check that the entry with that hash is still in the
chain, so that a log rewritten consistently from some point on is caught.

Exit codes: 0 intact, 1 broken or head not found, 3 the store cannot be read.`,
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
			if asJSON {
				if err := a.writeJSON(rep); err != nil {
					return err
				}
			} else {
				writeAuditVerify(a.stdout, rep)
			}
			if !rep.OK() {
				return &silentError{code: pipeline.ExitCheckFailed}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&head, "head", "", "a head hash printed earlier that must still be in the chain")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// checkAuditHead adds a problem to rep when head (a hash printed earlier)
// is given and is no longer in the log.
func checkAuditHead(ctx context.Context, st *lineage.Store, head string, rep *lineage.AuditReport) error {
	if head == "" {
		return nil
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
