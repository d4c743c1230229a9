package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/internal/decisions"
	"github.com/mlrun-cli/mlrun/internal/predict"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
)

func (a *app) predictCommand() *cobra.Command {
	var (
		modelRef, runID, stepID, data, out, idCol, pipeFile string
		threshold                                           float64
		allowFailed                                         bool
	)
	cmd := &cobra.Command{
		Use:   "predict --model NAME@ALIAS|NAME@VERSION --data batch.csv --out scores.csv",
		Short: "Score a batch with a model, re-applying the steps it was trained behind",
		Long: `Score the rows of a CSV file with a registered model version (or with the model
of --run RUN --step STEP). The load, validate and derive steps upstream of the
train step are re-applied to the batch in memory, as the training run read
them (the load step reads --data with the training columns' types; split
steps pass every row through), so that scoring cannot drift from training.
They come from the store (a registered version keeps its resolved scoring
chain, every run its pipeline file): editing, moving or deleting the pipeline
file changes nothing. (A run recorded before mlrun kept its pipeline file
needs the file unchanged; --pipeline PATH if it moved.)

Each output row holds the --id column (when given), the score (probability of
the positive class, default), the decision at the model's threshold (the
evaluate step's, or --threshold): "adverse" when score >= threshold, else
"approve", and for adverse decisions up to 4 reasons, ordered by their
contribution to the score. Reasons come from exact per-feature contributions
(logistic regression: coefficient times the standardised distance from the
training mean); protected attributes (top-level protected:) are never reasons;
reason text comes from the top-level reasons: map.

The batch is recorded: model version, input and output SHA-256 and a decision
log (row hash of the entered values, score, decision, reasons) stored as an
object, and a "batch.scored" audit entry, in one commit before the --out
file is written: a decisions file never exists without its decision log.
--out may not lie inside the store (exit 2).

Exit codes: 0 scored, 1 a validation rule failed on the batch (unless
--allow-failed-checks), 2 invalid usage, pipeline changed or data not fitting,
3 runtime failure.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if data == "" || out == "" {
				return pipeline.Invalidf("--data and --out are required")
			}
			if (modelRef == "") == (runID == "" || stepID == "") {
				return pipeline.Invalidf("give --model NAME@ALIAS|NAME@VERSION, or --run RUN and --step STEP")
			}
			ctx := cmd.Context()
			st, reg, err := a.openRegistry()
			if err != nil {
				return err
			}
			var v *registry.Version
			if modelRef != "" {
				if _, v, err = reg.Resolve(ctx, modelRef); err != nil {
					return err
				}
			} else {
				run, err := getRun(ctx, st, runID)
				if err != nil {
					return err
				}
				if v, err = registry.Describe(run, stepID); err != nil {
					return err
				}
			}
			if cmd.Flags().Changed("threshold") {
				if threshold < 0 || threshold > 1 {
					return pipeline.Invalidf("--threshold must be between 0 and 1, got %v", threshold)
				}
				v.Threshold = threshold
			}
			if pipeFile == "" {
				pipeFile = v.PipelineFile
			}
			return a.predict(ctx, st, v, pipeFile, data, out, idCol, allowFailed)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&modelRef, "model", "", "registered model: NAME, NAME@ALIAS or NAME@VERSION")
	fl.StringVar(&runID, "run", "", "score with the model of this run (with --step)")
	fl.StringVar(&stepID, "step", "", "the train step of --run")
	fl.StringVar(&data, "data", "", "the CSV file to score")
	fl.StringVar(&out, "out", "", "the CSV file to write")
	fl.StringVar(&idCol, "id", "", "an input column copied to the output to identify rows")
	fl.StringVar(&pipeFile, "pipeline", "", "for a run recorded before mlrun kept its pipeline file: the file, when it moved (its SHA-256 must match)")
	fl.Float64Var(&threshold, "threshold", 0.5, "decision threshold (default: the model's evaluate step's)")
	fl.BoolVar(&allowFailed, "allow-failed-checks", false, "score even when a validation rule fails on the batch")
	return cmd
}

func (a *app) predict(ctx context.Context, st *lineage.Store, v *registry.Version, pipeFile, data, out, idCol string, allowFailed bool) error {
	if err := a.outputGuard().Check(out); err != nil {
		return err
	}
	kinds, err := a.registry()
	if err != nil {
		return err
	}
	sc, err := predict.New(ctx, st, v, predict.Options{Kinds: kinds, PipelineFile: pipeFile, Jobs: defaultJobs(), Log: a.log})
	if err != nil {
		return err
	}
	res, err := sc.File(ctx, data, predict.FileOptions{ID: idCol, AllowFailed: allowFailed})
	var ce *predict.ChecksError
	if errors.As(err, &ce) {
		for _, f := range ce.Failed {
			fmt.Fprintf(a.stderr, "mlrun: batch: %s %s failed: %s\n", f.Step, f.Check.Name, f.Check.Message)
		}
		fmt.Fprintln(a.stderr, "mlrun: not scored: the batch fails the validation the model was trained behind (--allow-failed-checks to score anyway)")
		return &silentError{code: pipeline.ExitCheckFailed}
	}
	if err != nil {
		return err
	}
	for _, f := range res.Failed {
		fmt.Fprintf(a.stderr, "mlrun: batch: %s %s failed: %s\n", f.Step, f.Check.Name, f.Check.Message)
	}

	// Write the decisions file's bytes.
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	head := []string{}
	if idCol != "" {
		head = append(head, idCol)
	}
	head = append(head, "score", "decision")
	for k := 1; k <= decisions.MaxReasons; k++ {
		head = append(head, fmt.Sprintf("reason_%d", k))
	}
	_ = w.Write(head)
	for _, d := range res.Decisions {
		rec := []string{}
		if idCol != "" {
			rec = append(rec, d.ID)
		}
		rec = append(rec, strconv.FormatFloat(d.Score, 'f', 6, 64), d.Decision)
		for k := range decisions.MaxReasons {
			cell := ""
			if k < len(d.Reasons) {
				cell = predict.ReasonText(d.Reasons[k])
			}
			rec = append(rec, cell)
		}
		_ = w.Write(rec)
	}
	w.Flush()
	outSum := sha256.Sum256(buf.Bytes())
	guard := a.outputGuard()
	if err := guard.Check(out); err != nil {
		return err
	}

	// Record the batch (decision log object, pin, batch record and audit
	// entry, in one commit) before the decisions file exists: a decisions
	// file is never without its decision log.
	unlock, err := st.RunLock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	batchID := lineage.NewRunID(time.Now())
	br := sc.Batch(batchID, time.Now(), res.Protected)
	br.Input = pipeline.FileInfo{Path: res.Path, SHA256: res.SHA256, Size: res.Size}
	br.Output = pipeline.FileInfo{Path: out, SHA256: hex.EncodeToString(outSum[:]), Size: int64(buf.Len())}
	br.Rows, br.Adverse, br.Checks = len(res.Decisions), res.Adverse, res.Checks
	dlog := sc.Log(batchID, res.SHA256, res.Decisions)
	auditHead, err := decisions.Commit(ctx, st, br, dlog, v.Pipeline, nil)
	if err != nil {
		return err
	}
	logID := br.DecisionLog
	if err := guard.WriteFile(out, buf.Bytes()); err != nil {
		return pipeline.WithExitCode(pipeline.ExitRuntime, fmt.Errorf("batch %s is recorded (decision log %s) but its decisions file could not be written: %w", batchID, logID.Short(), err))
	}
	fmt.Fprintf(a.stdout, "scored %d rows with %s (threshold %g): %d adverse, %d approved -> %s\n", br.Rows, sc.Ref(), v.Threshold, res.Adverse, br.Rows-res.Adverse, out)
	fmt.Fprintf(a.stdout, "batch %s  input sha256:%s  output sha256:%s  decision log %s\n", batchID, res.SHA256, br.Output.SHA256, logID)
	fmt.Fprintf(a.stdout, "audit head %s\n", auditHead)
	return nil
}
