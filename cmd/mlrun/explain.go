package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
)

// explanation answers a regulator's question about one decision from the
// records alone.
type explanation struct {
	Decision   decision            `json:"decision"`
	Batch      *batchRecord        `json:"batch"`
	ScoredBy   string              `json:"scored_by,omitempty"`
	AuditEntry uint64              `json:"audit_seq,omitempty"`
	AuditHash  string              `json:"audit_hash,omitempty"`
	Version    *registry.Version   `json:"model_version"`
	Data       []pipeline.FileInfo `json:"training_data"`
}

func (a *app) auditExplainCommand() *cobra.Command {
	var (
		rowHash, batchID string
		row              int
		asJSON           bool
	)
	cmd := &cobra.Command{
		Use:   "explain --decision ROW_HASH | --batch ID --row N",
		Short: "Explain one scored decision from the records, back to the training data",
		Long: `Answer "why was this application declined, by which model, trained on what?"
from the store alone: the scored batch and its decision log (score, decision,
reasons), the model version and the run that trained it, the mlrun version,
the SHA-256 of the training data and pipeline file, and the evaluation
metrics and checks (gates, fairness) recorded for the model.

ROW_HASH is the SHA-256 of the row's entered values (printed in the decision
log; a unique prefix of at least 8 hex digits is enough). A row scored in
several batches is explained once per batch.

Exit codes: 0 explained, 2 no such decision or invalid usage, 3 store failure.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (rowHash == "") == (batchID == "") || (batchID != "" && row < 1) {
				return pipeline.Invalidf("give --decision ROW_HASH, or --batch ID and --row N (1-based)")
			}
			if rowHash != "" && (len(rowHash) < 8 || !isHexPrefix(strings.ToLower(rowHash))) {
				return pipeline.Invalidf("--decision wants at least 8 hex digits of a row hash, got %q", rowHash)
			}
			ctx := cmd.Context()
			st, reg, err := a.openRegistryRead()
			if err != nil {
				return err
			}
			exps, err := findDecisions(ctx, st, strings.ToLower(rowHash), batchID, row)
			if err != nil {
				return err
			}
			if len(exps) == 0 {
				return pipeline.Invalidf("no scored decision matches (searched every recorded batch)")
			}
			entries, hashes, err := st.AuditLog(ctx)
			if err != nil {
				return err
			}
			for _, e := range exps {
				for i, en := range entries {
					if en.Type == auditBatchScored && en.Detail["batch"] == e.Batch.ID {
						e.ScoredBy, e.AuditEntry, e.AuditHash = en.User+"@"+en.Host, en.Seq, hashes[i]
					}
				}
				if e.Batch.Model != "" && e.Batch.Version > 0 {
					if _, e.Version, err = reg.Resolve(ctx, fmt.Sprintf("%s@%d", e.Batch.Model, e.Batch.Version)); err != nil {
						return err
					}
				} else {
					run, err := st.GetRun(ctx, e.Batch.Run)
					if err != nil {
						return fmt.Errorf("run %s of batch %s: %w", e.Batch.Run, e.Batch.ID, err)
					}
					if e.Version, err = registry.Describe(run, e.Batch.Step); err != nil {
						return err
					}
				}
				e.Data = e.Version.TrainingData
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
	fl.BoolVar(&asJSON, "json", false, "print the explanations as JSON")
	return cmd
}

// findDecisions scans the recorded batches for decisions matching a row
// hash prefix, or row N of one batch.
func findDecisions(ctx context.Context, st *lineage.Store, rowHash, batchID string, row int) ([]*explanation, error) {
	view, err := st.View(ctx)
	if err != nil {
		return nil, err
	}
	names, err := view.List(ctx, nsBatches)
	if err != nil {
		return nil, err
	}
	if batchID == "latest" {
		// Ids have one-second resolution: pick by recorded time.
		var newest time.Time
		for _, name := range names {
			var br batchRecord
			if err := view.GetJSON(ctx, nsBatches, name, &br); err != nil {
				return nil, fmt.Errorf("batch record %s: %w", name, err)
			}
			if !br.Time.Before(newest) {
				newest, batchID = br.Time, name
			}
		}
	}
	var out []*explanation
	var expired []string
	for _, name := range names {
		if batchID != "" && name != batchID {
			continue
		}
		var br batchRecord
		if err := view.GetJSON(ctx, nsBatches, name, &br); err != nil {
			return nil, fmt.Errorf("batch record %s: %w", name, err)
		}
		raw, err := st.GetObject(ctx, br.DecisionLog)
		if errors.Is(err, lineage.ErrNotFound) {
			if _, perr := view.RecordID(ctx, "pins", "batch-"+name); errors.Is(perr, lineage.ErrNotFound) {
				expired = append(expired, name) // released by gc after the retention period
				continue
			}
		}
		if err != nil {
			return nil, fmt.Errorf("decision log of batch %s: %w", name, err)
		}
		var dl decisionLog
		if err := json.Unmarshal(raw, &dl); err != nil {
			return nil, fmt.Errorf("decision log of batch %s: %w", name, err)
		}
		for _, d := range dl.Decisions {
			if (rowHash != "" && strings.HasPrefix(d.RowHash, rowHash)) || (batchID != "" && d.Row == row) {
				brc := br
				out = append(out, &explanation{Decision: d, Batch: &brc})
			}
		}
	}
	if rowHash != "" {
		seen := map[string]bool{}
		for _, e := range out {
			seen[e.Decision.RowHash] = true
		}
		if len(seen) > 1 {
			return nil, pipeline.Invalidf("row hash prefix %q is ambiguous: %d different rows match", rowHash, len(seen))
		}
	}
	if len(out) == 0 && len(expired) > 0 {
		return nil, pipeline.Invalidf("no scored decision matches; the decision logs of %d batch(es) were removed by gc after the retention period (%s): their batch records and audit entries remain",
			len(expired), strings.Join(expired, ", "))
	}
	return out, nil
}

func (a *app) writeExplanation(e *explanation) {
	w := a.stdout
	d, b, v := e.Decision, e.Batch, e.Version
	id := ""
	if d.ID != "" {
		id = " id " + d.ID
	}
	fmt.Fprintf(w, "decision %s: row %d%s of batch %s\n", d.RowHash, d.Row, id, b.ID)
	fmt.Fprintf(w, "  scored %s by %s with %s (model %s), threshold %g\n", b.Time.Format("2006-01-02 15:04:05Z"), orNone(e.ScoredBy), v.Ref(), b.ModelObject.Short(), b.Threshold)
	fmt.Fprintf(w, "  input %s sha256:%s  output sha256:%s\n", b.Input.Path, b.Input.SHA256, b.Output.SHA256)
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
			if !c.Passed {
				status = "FAILED"
			}
			fmt.Fprintf(w, "    %s %s %s: %s\n", c.Kind, c.Name, status, c.Message)
		}
	}
	if e.AuditHash != "" {
		fmt.Fprintf(w, "  audit entry #%d %s\n", e.AuditEntry, e.AuditHash)
	}
}
