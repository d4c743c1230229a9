package predict

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
	"slices"
	"strings"

	"github.com/mlrun-cli/mlrun/internal/decisions"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/exec"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// FileOptions configure Scorer.File.
type FileOptions struct {
	// ID names an input column whose value each decision carries
	// (Decision.ID); "" for none.
	ID string
	// AllowFailed scores a batch that fails an error-severity rule of the
	// chain; otherwise File returns a *ChecksError and scores nothing.
	AllowFailed bool
}

// FileResult is a scored CSV file.
type FileResult struct {
	// Path is the file's absolute path; SHA256 and Size are of its bytes.
	Path   string
	SHA256 string
	Size   int64
	// Checks are the chain's checks over the batch, in step order.
	Checks []pipeline.Check
	// Failed are the checks that failed (error severity), with their step.
	Failed []StepCheck
	// Decisions holds one decision per data row: Row (1-based), ID (with
	// FileOptions.ID), RowHash, Score, Decision and Reasons.
	Decisions []decisions.Decision
	// Adverse counts the adverse decisions.
	Adverse int
	// Protected are the pipeline's protected attributes (never reasons).
	Protected []string
}

// StepCheck is a check with the step that made it.
type StepCheck struct {
	Step  string
	Check pipeline.Check
}

// ChecksError is returned by File when the batch fails an error-severity
// rule of the chain (exit code 1): the batch is not scored.
type ChecksError struct {
	Failed []StepCheck
}

// Error implements error.
func (e *ChecksError) Error() string {
	names := make([]string, len(e.Failed))
	for i, f := range e.Failed {
		names[i] = f.Step + "/" + f.Check.Name
	}
	return "the batch fails the validation the model was trained behind: " + strings.Join(names, ", ")
}

// ExitCode implements pipeline.ExitCoder: a failed check.
func (e *ChecksError) ExitCode() int { return pipeline.ExitCheckFailed }

// File scores the rows of a CSV file: the chain's load step reads it with
// the training columns' types (declaring only the columns of its header),
// the chain runs over it in memory, then the model and the explainer.
func (s *Scorer) File(ctx context.Context, path string, o FileOptions) (*FileResult, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := CheckInputFile(abs); err != nil {
		return nil, pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("--data %s: %w", path, err))
	}
	header, err := CSVHeader(abs)
	if err != nil {
		return nil, pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("--data %s: %w", path, err))
	}
	if o.ID != "" && !slices.Contains(header, o.ID) {
		return nil, pipeline.Invalidf("--id %q is not a column of %s", o.ID, path)
	}
	src, err := s.chain.ForBatch(header, abs)
	if err != nil {
		return nil, err
	}
	p, err := pipeline.Parse(s.docName(), src, pipeline.LoadOptions{Registry: s.kinds})
	if err != nil {
		return nil, err
	}
	results, err := exec.RunInMemory(ctx, p, s.jobs, s.log)
	if err != nil {
		return nil, err
	}
	res := &FileResult{Path: abs, Protected: p.Protected}
	for _, st := range p.Steps {
		for _, c := range results[st.ID].Checks {
			res.Checks = append(res.Checks, c)
			if c.Failed() {
				res.Failed = append(res.Failed, StepCheck{Step: st.ID, Check: c})
			}
		}
	}
	if len(res.Failed) > 0 && !o.AllowFailed {
		return res, &ChecksError{Failed: res.Failed}
	}
	final := s.chain.Final
	ds, ok := results[final.Step].Outputs[final.Output].(*table.Dataset)
	if !ok {
		return nil, fmt.Errorf("step %q output %q is not a dataset", final.Step, final.Output)
	}
	decs, adverse, err := s.decide(ds, p.Protected, p.Reasons, s.jobs)
	if err != nil {
		return nil, fmt.Errorf("batch %s: %w", path, err)
	}
	hashes, ids, sum, size, err := rowHashes(abs, o.ID)
	if err != nil {
		return nil, err
	}
	if len(hashes) != ds.Rows {
		return nil, fmt.Errorf("batch %s: %d rows read, %d scored", path, len(hashes), ds.Rows)
	}
	for i := range decs {
		decs[i].Row, decs[i].RowHash = i+1, hashes[i]
		if o.ID != "" {
			decs[i].ID = ids[i]
		}
	}
	res.Decisions, res.Adverse, res.SHA256, res.Size = decs, adverse, sum, size
	return res, nil
}

// docName is the file name the chain's document is parsed under (in
// positions of its messages).
func (s *Scorer) docName() string {
	if s.v.PipelineFile != "" {
		return s.v.PipelineFile
	}
	return "pipeline.yaml"
}

// CheckInputFile refuses an input file that is not a regular file: reading
// a device or a FIFO could block or never end.
func CheckInputFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	return nil
}

// CSVHeader returns the column names of a CSV file.
func CSVHeader(path string) ([]string, error) {
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

// rowHashes returns, for every data row of the CSV file, the row hash of
// its entered values (decisions.RowHash), the row's id column value, and
// the file's SHA-256 and size.
func rowHashes(path, idCol string) (hashes, ids []string, fileSum string, size int64, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, "", 0, err
	}
	sum := sha256.Sum256(b)
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, nil, "", 0, err
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\uFEFF")
	}
	idAt := slices.Index(header, idCol)
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, "", 0, pipeline.WithExitCode(pipeline.ExitInvalid, err)
		}
		hashes = append(hashes, decisions.RowHash(header, rec))
		if idCol != "" && idAt >= 0 && idAt < len(rec) {
			ids = append(ids, rec[idAt])
		}
	}
	return hashes, ids, hex.EncodeToString(sum[:]), int64(len(b)), nil
}
