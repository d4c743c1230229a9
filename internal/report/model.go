package report

import (
	"time"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/steps/stats"
)

// Report is everything a report shows, gathered from the store by Build.
// Renderers only format it; they compute nothing.
type Report struct {
	Header     Header
	Card       Card
	Checks     []CheckRow
	Data       Data
	Features   Features
	Training   []Training
	Evaluation []Evaluation
	Monitoring []MonitorBatch
	Lineage    []LineageStep
	// Notes say what could not be shown and why.
	Notes []string
}

// Header identifies the run and the model.
type Header struct {
	Pipeline    string
	Description string
	RunID       string
	// Models are the registered versions trained by the run, e.g.
	// "credit-risk@3 (champion)".
	Models []ModelRef
	// Created is the run's start time (UTC).
	Created  time.Time
	Duration time.Duration
	User     string
	Host     string
	// MlrunVersion is the version that ran the pipeline.
	MlrunVersion string
	Git          *lineage.GitInfo
	File         string
	FileSHA256   string
	Params       []KV
	// AuditHead is the hash of the run's last audit entry (its
	// run.finished), AuditSeq its sequence number; empty when the log has
	// no entry for the run.
	AuditHead string
	AuditSeq  uint64
	// Status is the run's status; Passed is true when the run is ok and no
	// error-severity check failed.
	Status   string
	Passed   bool
	Failed   int
	Warned   int
	CheckSum int
}

// ModelRef is a registered model version trained by the run.
type ModelRef struct {
	Name    string
	Version int
	Step    string
	Aliases []string
	// Selected is true for the version the report was asked for
	// (mlrun report --model).
	Selected bool
}

// KV is a name and a value rendered as text.
type KV struct {
	Key, Value string
}

// Card holds the pipeline's `model_card:` block. Missing is true when the
// block is absent; Unavailable explains why it could not be read.
type Card struct {
	Missing     bool
	Unavailable string
	pipeline.ModelCard
	OtherKV   []KV
	Protected []string
	Reasons   []KV
}

// CheckRow is one check of one step.
type CheckRow struct {
	Step string
	pipeline.Check
}

// Outcome renders a check's outcome: pass, FAIL or warn.
func (c CheckRow) Outcome() string {
	switch {
	case c.Passed:
		return "pass"
	case c.Severity == pipeline.SeverityError:
		return "FAIL"
	default:
		return "warn"
	}
}

// Data describes the inputs, validation and splits.
type Data struct {
	Inputs      []Input
	Validations []Validation
	Splits      []Split
}

// Input is one load step's file and dataset.
type Input struct {
	Step    string
	Path    string
	AbsPath string
	SHA256  string
	Size    int64
	Object  string
	Rows    int
	Columns []ColumnStat
}

// ColumnStat is a column's type and missing values.
type ColumnStat struct {
	Name    string
	Type    string
	Missing int
	Share   float64
}

// Validation is one validate step's report.
type Validation struct {
	Step            string
	Rows, Columns   int
	MissingCells    int
	MissingFraction float64
	Passed          bool
	Rules           []RuleRow
}

// RuleRow is a validation rule with its definition and outcome.
type RuleRow struct {
	CheckRow
	Kind   string
	Desc   string
	Mostly float64
}

// Split is a split step: its definition and the sizes and class balance of
// its outputs.
type Split struct {
	Step    string
	Method  string
	Test    float64
	Valid   float64
	Seed    int64
	Extra   string
	Target  string
	Outputs []SplitPart
}

// SplitPart is one output of a split.
type SplitPart struct {
	Name      string
	Rows      int
	Share     float64
	Positives int
	// Rate is the share of positives; NaN when unknown.
	Rate float64
}

// Features describes the derived columns and the column lineage.
type Features struct {
	Derived []Derived
	Lineage []ColumnLineage
}

// Derived is one derived column.
type Derived struct {
	Step string
	Name string
	Expr string
	Type string
	Uses []string
}

// ColumnLineage traces a model input back to the CSV fields it is computed
// from.
type ColumnLineage struct {
	Model   string
	Feature string
	Via     []string
	Sources []string
}

// Training is a train step.
type Training struct {
	Step       string
	Algorithm  string
	Target     string
	Positive   string
	Features   []string
	Seed       int64
	Params     []KV
	Duration   time.Duration
	CacheHit   bool
	Object     string
	Rows       int
	Positives  int
	Fit        []KV
	Metrics    []KV
	Importance []Importance
	// ImportanceKind says what Importance measures.
	ImportanceKind string
	ImportanceSVG  string
}

// Importance is one feature's global importance.
type Importance struct {
	Feature string
	Value   float64
}

// Evaluation is the recomputed performance of an evaluate step.
type Evaluation struct {
	Step      string
	Data      string
	ModelStep string
	Threshold float64
	Rows      int
	Positives int
	Metrics   []Metric
	AUCLow    float64
	AUCHigh   float64
	Resamples int
	Confusion stats.Confusion
	HL        *stats.HosmerLemeshowResult
	Gates     []CheckRow
	// Mismatch lists metrics whose recomputed value differs from the
	// recorded one.
	Mismatch []string
	Charts   []Chart
	Fairness []Fairness
	Error    string
}

// Metric is a named performance number; Pct renders it as a percentage.
type Metric struct {
	Name  string
	Value float64
	Pct   bool
	Doc   string
}

// Chart is an SVG chart with its caption.
type Chart struct {
	ID      string
	Title   string
	Caption string
	SVG     string
}

// Fairness compares the groups of one attribute on the evaluated data.
type Fairness struct {
	Column string
	Report *stats.FairnessReport
	Chart  *Chart
	Error  string
}

// MonitorBatch is one monitored batch of the run's model.
type MonitorBatch struct {
	Source    string
	Time      string
	Data      string
	Object    string
	Rows      int
	Drifted   []string
	Share     float64
	ScorePSI  float64
	Features  []DriftRow
	Perf      []PerfRow
	Failed    []CheckRow
	Charts    []Chart
	Fairness  *stats.FairnessReport
	Error     string
	CheckRows int
}

// DriftRow is one feature's drift.
type DriftRow struct {
	Feature string
	Kind    string
	PSI     float64
	KS      float64
	KSP     float64
	Drifted bool
}

// PerfRow compares a metric with its baseline.
type PerfRow struct {
	Name              string
	Current, Baseline float64
}

// LineageStep is one node of the step graph.
type LineageStep struct {
	ID       string
	Kind     string
	Status   string
	CacheHit bool
	Duration time.Duration
	Inputs   []PortRef
	Outputs  []PortRef
	CacheKey string
}

// PortRef is an object read or written on a port.
type PortRef struct {
	Port string
	From string
	Type string
	ID   string
}
