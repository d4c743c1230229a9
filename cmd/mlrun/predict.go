package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/internal/decisions"
	"github.com/mlrun-cli/mlrun/internal/scoring"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/exec"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
	"github.com/mlrun-cli/mlrun/steps/explain"
	"github.com/mlrun-cli/mlrun/steps/table"
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
	absData, err := filepath.Abs(data)
	if err != nil {
		return err
	}
	if err := checkInputFile(absData); err != nil {
		return pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("--data %s: %w", data, err))
	}
	header, err := csvHeader(absData)
	if err != nil {
		return pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("--data %s: %w", data, err))
	}
	if idCol != "" && !contains(header, idCol) {
		return pipeline.Invalidf("--id %q is not a column of %s", idCol, data)
	}
	if err := a.outputGuard().Check(out); err != nil {
		return err
	}
	reg, err := a.registry()
	if err != nil {
		return err
	}
	// The steps the model was trained behind, as the run read them: the
	// version's chain, or the run's pipeline source, never the working copy.
	ch, err := scoring.ForVersion(ctx, st, reg, v, pipeFile)
	if err != nil {
		return err
	}
	chainSrc, err := ch.ForBatch(header, absData)
	if err != nil {
		return err
	}
	final := ch.Final
	name := v.PipelineFile
	if name == "" {
		name = "pipeline.yaml"
	}
	p, err := pipeline.Parse(name, chainSrc, pipeline.LoadOptions{Registry: reg})
	if err != nil {
		return err
	}
	results, err := exec.RunInMemory(ctx, p, defaultJobs(), a.log)
	if err != nil {
		return err
	}
	var checks []pipeline.Check
	failed := false
	for _, s := range p.Steps {
		for _, c := range results[s.ID].Checks {
			checks = append(checks, c)
			if c.Failed() {
				failed = true
				fmt.Fprintf(a.stderr, "mlrun: batch: %s %s failed: %s\n", s.ID, c.Name, c.Message)
			}
		}
	}
	if failed && !allowFailed {
		fmt.Fprintln(a.stderr, "mlrun: not scored: the batch fails the validation the model was trained behind (--allow-failed-checks to score anyway)")
		return &silentError{code: pipeline.ExitCheckFailed}
	}
	ds, ok := results[final.Step].Outputs[final.Output].(*table.Dataset)
	if !ok {
		return fmt.Errorf("step %q output %q is not a dataset", final.Step, final.Output)
	}
	m, err := a.loadModel(ctx, st, v.Object.ID)
	if err != nil {
		return err
	}
	if v.TrainingSet == nil {
		return fmt.Errorf("model %s has no recorded training dataset for the reason-code baseline", v.Object.ID.Short())
	}
	tb, err := st.GetObject(ctx, v.TrainingSet.ID)
	if err != nil {
		return fmt.Errorf("training dataset %s: %w", v.TrainingSet.ID.Short(), err)
	}
	train, err := table.Decode(tb)
	if err != nil {
		return fmt.Errorf("training dataset %s: %w", v.TrainingSet.ID.Short(), err)
	}
	ex, err := explain.For(m, train)
	if err != nil {
		return pipeline.WithExitCode(pipeline.ExitInvalid, err)
	}
	scores, err := m.Predict(ds, defaultJobs())
	if err != nil {
		return pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("batch %s: %w", data, err))
	}
	// Reasons are given for adverse decisions only: explain those rows.
	var adverseRows []int
	for i, sc := range scores {
		if sc >= v.Threshold {
			adverseRows = append(adverseRows, i)
		}
	}
	contrib := make([][]float64, ds.Rows)
	if len(adverseRows) > 0 {
		_, c, err := ex.Explain(ds.Take(adverseRows))
		if err != nil {
			return pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("batch %s: %w", data, err))
		}
		for k, i := range adverseRows {
			contrib[i] = c[k]
		}
	}
	hashes, ids, inSum, err := rowHashes(absData, idCol)
	if err != nil {
		return err
	}
	if len(hashes) != ds.Rows {
		return fmt.Errorf("batch %s: %d rows read, %d scored", data, len(hashes), ds.Rows)
	}

	// Score, decide, explain; write the output.
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
	batchID := lineage.NewRunID(time.Now())
	dlog := &decisions.Log{Batch: batchID, Model: v.Model, Version: v.Version, Run: v.Run, Step: v.Step, Input: inSum, Threshold: v.Threshold}
	adverse := 0
	for i := range ds.Rows {
		d := decisions.Decision{Row: i + 1, RowHash: hashes[i], Score: scores[i], Decision: "approve"}
		if idCol != "" {
			d.ID = ids[i]
		}
		rec := []string{}
		if idCol != "" {
			rec = append(rec, ids[i])
		}
		if scores[i] >= v.Threshold {
			d.Decision = "adverse"
			adverse++
			d.Reasons = explain.Reasons(ex.Features(), contrib[i], p.Protected, p.Reasons, decisions.MaxReasons)
		}
		rec = append(rec, strconv.FormatFloat(scores[i], 'f', 6, 64), d.Decision)
		for k := range decisions.MaxReasons {
			cell := ""
			if k < len(d.Reasons) {
				cell = d.Reasons[k].Feature
				if d.Reasons[k].Text != "" {
					cell = d.Reasons[k].Text
				}
			}
			rec = append(rec, cell)
		}
		_ = w.Write(rec)
		dlog.Decisions = append(dlog.Decisions, d)
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
	info, _ := os.Stat(absData)
	br := &decisions.Batch{
		ID: batchID, Time: time.Now().UTC(), Model: v.Model, Version: v.Version, Run: v.Run, Step: v.Step,
		ModelObject: v.Object.ID, Threshold: v.Threshold,
		Input:  pipeline.FileInfo{Path: absData, SHA256: inSum, Size: info.Size()},
		Output: pipeline.FileInfo{Path: out, SHA256: hex.EncodeToString(outSum[:]), Size: int64(buf.Len())},
		Rows:   ds.Rows, Adverse: adverse, Checks: checks, Protected: p.Protected,
	}
	if l, ok := ex.(*explain.Logistic); ok {
		br.Baseline = l.BaselineRow()
	}
	ref := v.Model
	if v.Version > 0 {
		ref = fmt.Sprintf("%s@%d", v.Model, v.Version)
	}
	auditHead, err := decisions.Commit(ctx, st, br, dlog, v.Pipeline, nil)
	if err != nil {
		return err
	}
	logID := br.DecisionLog
	if err := guard.WriteFile(out, buf.Bytes()); err != nil {
		return pipeline.WithExitCode(pipeline.ExitRuntime, fmt.Errorf("batch %s is recorded (decision log %s) but its decisions file could not be written: %w", batchID, logID.Short(), err))
	}
	if ref == "" {
		ref = "run " + v.Run + " step " + v.Step
	}
	fmt.Fprintf(a.stdout, "scored %d rows with %s (threshold %g): %d adverse, %d approved -> %s\n", ds.Rows, ref, v.Threshold, adverse, ds.Rows-adverse, out)
	fmt.Fprintf(a.stdout, "batch %s  input sha256:%s  output sha256:%s  decision log %s\n", batchID, inSum, br.Output.SHA256, logID)
	fmt.Fprintf(a.stdout, "audit head %s\n", auditHead)
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkInputFile refuses an input file that is not a regular file: reading
// a device or a FIFO could block or never end.
func checkInputFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	return nil
}

// csvHeader returns the column names of a CSV file.
func csvHeader(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	rec, err := r.Read()
	if err != nil {
		return nil, err
	}
	if len(rec) > 0 {
		rec[0] = strings.TrimPrefix(rec[0], "\uFEFF")
	}
	return rec, nil
}

// rowHashes returns, for every data row of the CSV file, the SHA-256 of the
// canonical JSON object {column: value as entered} (keys sorted), the row's
// id column value, and the file's SHA-256.
func rowHashes(path, idCol string) (hashes, ids []string, fileSum string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, "", err
	}
	sum := sha256.Sum256(b)
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, nil, "", err
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\uFEFF")
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, "", pipeline.WithExitCode(pipeline.ExitInvalid, err)
		}
		hashes = append(hashes, decisions.RowHash(header, rec))
		if idCol != "" {
			for i, h := range header {
				if h == idCol && i < len(rec) {
					ids = append(ids, rec[i])
				}
			}
		}
	}
	return hashes, ids, hex.EncodeToString(sum[:]), nil
}
