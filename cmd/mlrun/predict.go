package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/exec"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
	"github.com/mlrun-cli/mlrun/steps/explain"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// Audit type and record namespace of scored batches.
const (
	auditBatchScored = "batch.scored"
	nsBatches        = "batches"
	decisionLogType  = "decision-log"
	maxReasons       = 4
)

// batchRecord is records/batches/<id>.json.
type batchRecord struct {
	ID          string             `json:"id"`
	Time        time.Time          `json:"time"`
	Model       string             `json:"model,omitempty"`
	Version     int                `json:"version,omitempty"`
	Run         string             `json:"run"`
	Step        string             `json:"step"`
	ModelObject lineage.ID         `json:"model_object"`
	Threshold   float64            `json:"threshold"`
	Input       pipeline.FileInfo  `json:"input"`
	Output      pipeline.FileInfo  `json:"output"`
	DecisionLog lineage.ID         `json:"decision_log"`
	Rows        int                `json:"rows"`
	Adverse     int                `json:"adverse"`
	Checks      []pipeline.Check   `json:"checks,omitempty"`
	Baseline    map[string]float64 `json:"baseline,omitempty"`
	Protected   []string           `json:"protected,omitempty"`
}

// decision is one row of a decision log.
type decision struct {
	Row      int              `json:"row"`
	ID       string           `json:"id,omitempty"`
	RowHash  string           `json:"row_hash"`
	Score    float64          `json:"score"`
	Decision string           `json:"decision"`
	Reasons  []explain.Reason `json:"reasons,omitempty"`
}

// decisionLog is the object stored for a batch.
type decisionLog struct {
	Batch     string     `json:"batch"`
	Model     string     `json:"model,omitempty"`
	Version   int        `json:"version,omitempty"`
	Run       string     `json:"run"`
	Step      string     `json:"step"`
	Input     string     `json:"input_sha256"`
	Threshold float64    `json:"threshold"`
	Decisions []decision `json:"decisions"`
}

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
of --run RUN --step STEP). The pipeline file recorded with the model's run must
still have the SHA-256 it had then (exit 2 otherwise); its load, validate and
derive steps upstream of the train step are re-applied to the batch in memory
(the load step reads --data with the training columns' types; split steps
pass every row through), so that scoring cannot drift from training.

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
object, and a "batch.scored" audit entry.

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
	fl.StringVar(&pipeFile, "pipeline", "", "the pipeline file, when it moved since the run (its SHA-256 must match)")
	fl.Float64Var(&threshold, "threshold", 0.5, "decision threshold (default: the model's evaluate step's)")
	fl.BoolVar(&allowFailed, "allow-failed-checks", false, "score even when a validation rule fails on the batch")
	return cmd
}

func (a *app) predict(ctx context.Context, st *lineage.Store, v *registry.Version, pipeFile, data, out, idCol string, allowFailed bool) error {
	src, err := os.ReadFile(pipeFile)
	if err != nil {
		return pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("pipeline file of run %s: %w (use --pipeline PATH if it moved)", v.Run, err))
	}
	if sum := sha256.Sum256(src); hex.EncodeToString(sum[:]) != v.PipelineSHA256 {
		return pipeline.Invalidf("pipeline file %s changed since run %s trained the model: sha256 %s then, %s now; scoring would not apply the steps the model was trained behind",
			pipeFile, v.Run, v.PipelineSHA256, hex.EncodeToString(sum[:]))
	}
	absData, err := filepath.Abs(data)
	if err != nil {
		return err
	}
	header, err := csvHeader(absData)
	if err != nil {
		return pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("--data %s: %w", data, err))
	}
	if idCol != "" && !contains(header, idCol) {
		return pipeline.Invalidf("--id %q is not a column of %s", idCol, data)
	}
	reg, err := a.registry()
	if err != nil {
		return err
	}
	run, _ := st.GetRun(ctx, v.Run) // pinned for registered versions; nil: no params or types to restore
	loaded := func(loadStep string) *table.Schema {
		if run == nil {
			return nil
		}
		for _, s := range run.Steps {
			if o, ok := s.Outputs["data"]; ok && s.ID == loadStep {
				if b, err := st.GetObject(ctx, o.ID); err == nil {
					if ds, err := table.Decode(b); err == nil {
						return ds.Schema()
					}
				}
			}
		}
		return nil
	}
	chainSrc, final, err := scoringChain(src, v.Step, header, absData, run, reg, loaded)
	if err != nil {
		return err
	}
	p, err := pipeline.Parse(pipeFile, chainSrc, pipeline.LoadOptions{Registry: reg})
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
	for k := 1; k <= maxReasons; k++ {
		head = append(head, fmt.Sprintf("reason_%d", k))
	}
	_ = w.Write(head)
	batchID := lineage.NewRunID(time.Now())
	dlog := &decisionLog{Batch: batchID, Model: v.Model, Version: v.Version, Run: v.Run, Step: v.Step, Input: inSum, Threshold: v.Threshold}
	adverse := 0
	for i := range ds.Rows {
		d := decision{Row: i + 1, RowHash: hashes[i], Score: scores[i], Decision: "approve"}
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
			d.Reasons = explain.Reasons(ex.Features(), contrib[i], p.Protected, p.Reasons, maxReasons)
		}
		rec = append(rec, strconv.FormatFloat(scores[i], 'f', 6, 64), d.Decision)
		for k := range maxReasons {
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
	if err := writeFileAtomic(out, buf.Bytes()); err != nil {
		return err
	}
	outSum := sha256.Sum256(buf.Bytes())

	// Record the batch: decision log object, pin, batch record, audit.
	unlock, err := st.RunLock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	logID, _, err := st.PutObject(ctx, decisionLogType, &pipeline.Document{Type: decisionLogType, Value: dlog})
	if err != nil {
		return err
	}
	pin := &lineage.Pin{Objects: []lineage.ID{logID, v.Object.ID}, Runs: []string{v.Run}, Why: "scored batch " + batchID,
		Created: time.Now().UTC(), Expires: true} // kept for the retention period (mlrun gc --retention)
	if err := st.PutPin(ctx, "batch-"+batchID, pin); err != nil {
		return err
	}
	info, _ := os.Stat(absData)
	br := &batchRecord{
		ID: batchID, Time: time.Now().UTC(), Model: v.Model, Version: v.Version, Run: v.Run, Step: v.Step,
		ModelObject: v.Object.ID, Threshold: v.Threshold,
		Input:       pipeline.FileInfo{Path: absData, SHA256: inSum, Size: info.Size()},
		Output:      pipeline.FileInfo{Path: out, SHA256: hex.EncodeToString(outSum[:]), Size: int64(buf.Len())},
		DecisionLog: logID, Rows: ds.Rows, Adverse: adverse, Checks: checks, Protected: p.Protected,
	}
	if l, ok := ex.(*explain.Logistic); ok {
		br.Baseline = l.BaselineRow()
	}
	rb, err := json.MarshalIndent(br, "", "  ")
	if err != nil {
		return err
	}
	if err := st.Backend().PutRecord(ctx, nsBatches, batchID, append(rb, '\n')); err != nil {
		return err
	}
	ref := v.Model
	if v.Version > 0 {
		ref = fmt.Sprintf("%s@%d", v.Model, v.Version)
	}
	auditHead, err := st.AppendAudit(ctx, lineage.AuditEntry{
		Type: auditBatchScored, Run: v.Run, Step: v.Step, Pipeline: v.Pipeline,
		Detail: map[string]string{
			"batch": batchID, "model": v.Model, "version": strconv.Itoa(v.Version), "model_object": v.Object.ID.String(),
			"input": absData, "input_sha256": inSum, "output": out, "output_sha256": br.Output.SHA256,
			"decision_log": logID.String(), "rows": strconv.Itoa(ds.Rows), "adverse": strconv.Itoa(adverse),
		},
	})
	if err != nil {
		return err
	}
	if ref == "" {
		ref = "run " + v.Run + " step " + v.Step
	}
	fmt.Fprintf(a.stdout, "scored %d rows with %s (threshold %g): %d adverse, %d approved -> %s\n", ds.Rows, ref, v.Threshold, adverse, ds.Rows-adverse, out)
	fmt.Fprintf(a.stdout, "batch %s  input sha256:%s  output sha256:%s  decision log %s\n", batchID, inSum, br.Output.SHA256, logID)
	fmt.Fprintf(a.stdout, "audit head %s\n", auditHead)
	return nil
}

// scoringChain returns a pipeline document holding only the steps upstream
// of the train step trainID (split steps replaced by their input), with the
// one load step reading path (declared types completed from loaded, the
// schema the training run's load step read; columns absent from the batch
// dropped), and the
// reference of the dataset the model scores. The recorded params of the run
// replace the file's defaults.
func scoringChain(src []byte, trainID string, header []string, path string, run *lineage.RunRecord, reg *pipeline.Registry,
	loaded func(loadStep string) *table.Schema) ([]byte, pipeline.InputRef, error) {
	var doc yaml.Node
	var ref pipeline.InputRef
	if err := yaml.Unmarshal(src, &doc); err != nil || len(doc.Content) == 0 {
		return nil, ref, pipeline.Invalidf("pipeline file: cannot parse: %v", err)
	}
	root := doc.Content[0]
	stepsNode := mapGet(root, "steps")
	if stepsNode == nil {
		return nil, ref, pipeline.Invalidf("pipeline file has no steps")
	}
	kindOf := func(id string) string {
		if n := mapGet(stepsNode, id); n != nil {
			if k := mapGet(n, "kind"); k != nil {
				return k.Value
			}
		}
		return ""
	}
	parseRef := func(s string) pipeline.InputRef {
		step, out, ok := strings.Cut(s, ".")
		r := pipeline.InputRef{Step: step, Output: out}
		if !ok {
			if k, ok := reg.Kind(kindOf(step)); ok && len(k.Outputs()) > 0 {
				r.Output = k.Outputs()[0]
			}
		}
		return r
	}
	train := mapGet(stepsNode, trainID)
	if train == nil || mapGet(train, "input") == nil {
		return nil, ref, pipeline.Invalidf("pipeline has no step %q with an input", trainID)
	}
	ref = parseRef(mapGet(train, "input").Value)
	for kindOf(ref.Step) == "split" {
		in := mapGet(mapGet(stepsNode, ref.Step), "input")
		if in == nil {
			return nil, ref, pipeline.Invalidf("split step %q has no input", ref.Step)
		}
		ref = parseRef(in.Value)
	}
	keep := map[string]bool{}
	var loads []string
	var walk func(id string) error
	walk = func(id string) error {
		if keep[id] {
			return nil
		}
		n := mapGet(stepsNode, id)
		k, ok := reg.Kind(kindOf(id))
		if n == nil || !ok {
			return pipeline.Invalidf("pipeline step %q: unknown step or kind", id)
		}
		if k.Name() == "split" {
			return pipeline.Invalidf("step %q: a split upstream of the scored data is not supported", id)
		}
		keep[id] = true
		if k.Name() == "load" {
			loads = append(loads, id)
		}
		for _, port := range k.Inputs() {
			if in := mapGet(n, port.Name); in != nil && in.Kind == yaml.ScalarNode {
				if err := walk(parseRef(in.Value).Step); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(ref.Step); err != nil {
		return nil, ref, err
	}
	if len(loads) != 1 {
		return nil, ref, pipeline.Invalidf("predict needs exactly one load step upstream of %q, found %d", trainID, len(loads))
	}
	// Drop the other steps.
	var content []*yaml.Node
	for i := 0; i+1 < len(stepsNode.Content); i += 2 {
		if keep[stepsNode.Content[i].Value] {
			content = append(content, stepsNode.Content[i], stepsNode.Content[i+1])
		}
	}
	stepsNode.Content = content
	// Point the load step at the batch, with the training types.
	load := mapGet(stepsNode, loads[0])
	mapSet(load, "path", &yaml.Node{Kind: yaml.ScalarNode, Value: path})
	cols := mapGet(load, "columns")
	if cols == nil || cols.Kind != yaml.MappingNode {
		cols = &yaml.Node{Kind: yaml.MappingNode}
		mapSet(load, "columns", cols)
	}
	var kept []*yaml.Node
	for i := 0; i+1 < len(cols.Content); i += 2 {
		if contains(header, cols.Content[i].Value) {
			kept = append(kept, cols.Content[i], cols.Content[i+1])
		}
	}
	cols.Content = kept
	if schema := loaded(loads[0]); schema != nil {
		for _, f := range schema.Fields {
			if contains(header, f.Name) && mapGet(cols, f.Name) == nil && f.Type != table.Time {
				cols.Content = append(cols.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: f.Name}, &yaml.Node{Kind: yaml.ScalarNode, Value: f.Type.String()})
			}
		}
	}
	if len(cols.Content) == 0 {
		mapDel(load, "columns")
	}
	// The run's params.
	if params := mapGet(root, "params"); params != nil && run != nil {
		for i := 0; i+1 < len(params.Content); i += 2 {
			name := params.Content[i].Value
			rv, ok := run.Params[name]
			if !ok {
				continue
			}
			var n yaml.Node
			if err := n.Encode(rv); err == nil {
				var fv any
				_ = params.Content[i+1].Decode(&fv)
				if fmt.Sprint(normNum(fv)) != fmt.Sprint(normNum(rv)) {
					params.Content[i+1] = &n
				}
			}
		}
	}
	b, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, ref, err
	}
	return b, ref, nil
}

func normNum(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	}
	return v
}

func mapGet(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func mapSet(n *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			n.Content[i+1] = v
			return
		}
	}
	n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
}

func mapDel(n *yaml.Node, key string) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			n.Content = append(n.Content[:i], n.Content[i+2:]...)
			return
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
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
		hashes = append(hashes, RowHash(header, rec))
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

// RowHash is the hex SHA-256 of the canonical JSON of a row's entered
// values: an object of column name to the field as written, keys sorted.
func RowHash(header, rec []string) string {
	m := make(map[string]string, len(header))
	for i, h := range header {
		if i < len(rec) {
			m[h] = rec[i]
		}
	}
	b, _ := json.Marshal(m)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// writeFileAtomic writes a file through a temporary file and a rename;
// the file is created 0644 less the umask, as os.WriteFile does.
func writeFileAtomic(path string, data []byte) error {
	var tmp *os.File
	for {
		var r [8]byte
		if _, err := rand.Read(r[:]); err != nil {
			return err
		}
		name := filepath.Join(filepath.Dir(path), ".mlrun-"+hex.EncodeToString(r[:]))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		tmp = f
		break
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
