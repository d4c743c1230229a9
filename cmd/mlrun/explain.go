package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/internal/decisions"
	"github.com/mlrun-cli/mlrun/internal/serve"
	"github.com/mlrun-cli/mlrun/pipeline"
)

func (a *app) auditExplainCommand() *cobra.Command {
	var (
		rowHash, batchID, request string
		journal                   string
		row                       int
		asJSON                    bool
	)
	cmd := &cobra.Command{
		Use:   "explain --decision ROW_HASH | --batch ID --row N | --request ID",
		Short: "Explain one scored decision from the records, back to the training data",
		Long: `Answer "why was this application declined, by which model, trained on what?"
from the store alone: the scored batch and its decision log (score, decision,
reasons), the model version and the run that trained it, the mlrun version,
the SHA-256 of the training data and pipeline file, and the evaluation
metrics and checks (gates, fairness) recorded for the model.

ROW_HASH is the SHA-256 of the row's entered values (printed in the decision
log; a unique prefix of at least 8 hex digits is enough). A row scored in
several batches is explained once per batch.

An online decision (mlrun serve) reaches the store when its journal segment
rolls (every 10 s or 10,000 decisions) or when a server next starts on the
store. Until then it is durable in the decision journal (--journal, default
STORE/journal for a local store): when no recorded decision matches, the
journal is searched, and a match is shown as pending, with its score,
decision and reasons, but not yet in the audit chain.

Exit codes: 0 explained, 2 no such decision or invalid usage, 3 store failure.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if n := btoi(rowHash != "") + btoi(batchID != "") + btoi(request != ""); n != 1 || (batchID != "" && row < 1) {
				return pipeline.Invalidf("give --decision ROW_HASH, --batch ID and --row N (1-based), or --request ID")
			}
			ctx := cmd.Context()
			st, reg, err := a.openRegistryRead()
			if err != nil {
				return err
			}
			q := decisions.Query{RowHash: rowHash, Batch: batchID, Row: row, Request: request}
			exps, pending, err := serve.Explain(ctx, st, reg, q, journal)
			if err != nil {
				return err
			}
			if len(pending) > 0 {
				if asJSON {
					return a.writeJSON(map[string]any{"pending": pending})
				}
				for _, p := range pending {
					a.writePending(p)
				}
				return nil
			}
			if asJSON {
				return a.writeJSON(exps)
			}
			for _, e := range exps {
				a.writeExplanation(e)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&rowHash, "decision", "", "the row hash of the decision (or a unique prefix)")
	fl.StringVar(&batchID, "batch", "", "a scored batch id, or latest (with --row)")
	fl.IntVar(&row, "row", 0, "the 1-based data row of --batch")
	fl.StringVar(&request, "request", "", "the request id of an online decision (mlrun serve)")
	fl.StringVar(&journal, "journal", "", "the decision journal of mlrun serve to search for decisions not yet committed (default STORE/journal)")
	fl.BoolVar(&asJSON, "json", false, "print the explanations as JSON")
	return cmd
}

// writePending prints a decision found in the decision journal, not yet
// committed into the store.
func (a *app) writePending(p serve.Pending) {
	w, d, h := a.stdout, p.Decision, p.Header
	fmt.Fprintf(w, "decision %s: row %d of batch %s, PENDING: durable in the decision journal, not yet in the store\n", d.RowHash, d.Row, h.Batch)
	if d.Request != "" {
		fmt.Fprintf(w, "  online request %s decided %s\n", d.Request, d.Time.Format("2006-01-02 15:04:05.000Z"))
	}
	fmt.Fprintf(w, "  segment %s (server %s, started %s)\n", p.Segment, h.Server, h.Started.Format("2006-01-02 15:04:05Z"))
	model := h.Model
	if h.Version > 0 {
		model = fmt.Sprintf("%s@%d", h.Model, h.Version)
	}
	fmt.Fprintf(w, "  scored with %s (model %s, run %s step %s), threshold %g\n", model, h.ModelObject.Short(), h.Run, h.Step, h.Threshold)
	fmt.Fprintf(w, "  score %.6f -> %s\n", d.Score, d.Decision)
	for i, r := range d.Reasons {
		text := ""
		if r.Text != "" {
			text = fmt.Sprintf(" %q", r.Text)
		}
		fmt.Fprintf(w, "  reason %d: %s (contribution %+.4f)%s\n", i+1, r.Feature, r.Contribution, text)
	}
	fmt.Fprintln(w, "  the segment is committed (decision log, batch record, audit entry) when it rolls or when a server next starts on the store; run this again then for the model's lineage")
}

func (a *app) writeExplanation(e *decisions.Explanation) {
	w := a.stdout
	d, b, v := e.Decision, e.Batch, e.Version
	id := ""
	if d.ID != "" {
		id = " id " + d.ID
	}
	fmt.Fprintf(w, "decision %s: row %d%s of batch %s\n", d.RowHash, d.Row, id, b.ID)
	if d.Request != "" {
		// An online decision (mlrun serve): its request and when it was made.
		fmt.Fprintf(w, "  online request %s decided %s\n", d.Request, d.Time.Format("2006-01-02 15:04:05.000Z"))
	}
	fmt.Fprintf(w, "  scored %s by %s with %s (model %s), threshold %g\n", b.Time.Format("2006-01-02 15:04:05Z"), orNone(e.ScoredBy), v.Ref(), b.ModelObject.Short(), b.Threshold)
	if b.Output.SHA256 != "" {
		fmt.Fprintf(w, "  input %s sha256:%s  output sha256:%s\n", b.Input.Path, b.Input.SHA256, b.Output.SHA256)
	} else {
		fmt.Fprintf(w, "  input %s sha256:%s\n", b.Input.Path, b.Input.SHA256)
	}
	fmt.Fprintf(w, "  score %.6f -> %s\n", d.Score, d.Decision)
	for i, r := range d.Reasons {
		text := ""
		if r.Text != "" {
			text = fmt.Sprintf(" %q", r.Text)
		}
		space := "log-odds"
		if v.Algorithm == "random_forest" {
			space = "probability"
		}
		fmt.Fprintf(w, "  reason %d: %s (contribution %+.4f to the %s)%s\n", i+1, r.Feature, r.Contribution, space, text)
	}
	if len(b.Protected) > 0 {
		fmt.Fprintf(w, "  protected attributes (never features, never reasons): %s\n", strings.Join(b.Protected, ", "))
	}
	fmt.Fprintf(w, "  model %s trained by run %s step %s (mlrun %s), %s on %s\n", v.Ref(), v.Run, v.Step, v.MlrunVersion, v.Algorithm, strings.Join(v.Features, ", "))
	for _, f := range e.Data {
		fmt.Fprintf(w, "  training data %s sha256:%s\n", f.Path, f.SHA256)
	}
	fmt.Fprintf(w, "  pipeline %s sha256:%s\n", v.PipelineFile, v.PipelineSHA256)
	for _, ev := range v.Evaluations {
		fmt.Fprintf(w, "  evaluation %s: %s\n", ev.Step, fmtMetrics(ev.Metrics, 12))
		for _, c := range ev.Checks {
			status := "passed"
			switch {
			case c.Passed:
			case c.NotEvaluated:
				status = "NOT EVALUATED"
			case c.Severity == pipeline.SeverityWarn:
				status = "warned (severity warn)"
			default:
				status = "FAILED"
			}
			fmt.Fprintf(w, "    %s %s %s: %s\n", c.Kind, c.Name, status, c.Message)
		}
	}
	if e.AuditHash != "" {
		fmt.Fprintf(w, "  audit entry #%d %s\n", e.AuditEntry, e.AuditHash)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
