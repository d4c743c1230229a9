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
	Governance *Governance
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
	Waived   int
	Warned   int
	CheckSum int
	// Latest is the outcome of the latest monitored batch (nil when none
	// is recorded), shown in the banner.
	Latest *LatestBatch
	// Verdict is what the banner says: VerdictPass, VerdictFail (the run
	// failed) or VerdictMonitoringFailed (the run passed but its latest
	// monitored batch failed a critical check).
	Verdict string
}

// The verdicts of the banner.
const (
	VerdictPass             = "PASS"
	VerdictFail             = "FAIL"
	VerdictMonitoringFailed = "MONITORING FAILED"
	// VerdictWaived: the run failed checks, and every failure is waived.
	VerdictWaived = "WAIVED"
)

// LatestBatch is the outcome of the latest monitored batch of the run's
// model: the last of Report.Monitoring, which are in time order.
type LatestBatch struct {
	// Batch is its number in Report.Monitoring (1-based).
	Batch              int
	Source, Time, Data string
	Rows               int
	// Critical counts its failed error-severity checks, Warned its failed
	// warnings, Checks all its checks; CriticalNames names the critical
	// ones.
	Critical, Warned, Checks int
	CriticalNames            []string
	// Error says why its report could not be read.
	Error string
	// Passed is true when the report was read and no critical check failed.
	Passed bool
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
	// Waiver describes the active waiver of a failed check ("" when none).
	Waiver string
}

// Outcome renders a check's outcome: pass, FAIL, WAIVED (failed, and
// waived) or warn.
func (c CheckRow) Outcome() string {
	switch {
	case c.Passed:
		return "pass"
	case c.Waiver != "":
		return "WAIVED"
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
	// Coefficients are a logistic regression's signed coefficients; nil
	// for other models, for which CoefNote says why there are none.
	Coefficients *Coefficients
	CoefNote     string
}

// Coefficients are the signed coefficients of a logistic regression,
//
//	log-odds of default = b + Σ_j β_j·z_j,  z_j = (x_j − m_j)/s_j
//	                    = b' + Σ_j β'_j·x_j, β'_j = β_j/s_j, b' = b − Σ_j β_j·m_j/s_j,
//
// on the standardised scale (β_j: the effect of one standard deviation)
// and in original units (β'_j: the effect of one unit of the feature).
type Coefficients struct {
	// Standardized is false when the model was fitted on the features'
	// own scales (m_j = 0, s_j = 1: both scales agree).
	Standardized bool
	// Intercept is b, InterceptOriginal b'.
	Intercept, InterceptOriginal float64
	// Rows are the design columns, by decreasing |β_j|.
	Rows []Coefficient
}

// Coefficient is one design column of a logistic regression.
type Coefficient struct {
	// Feature is the model input; Column the design column ("feature" or
	// "feature=level" for an indicator of a string level).
	Feature, Column string
	// Indicator is true for the 0/1 column of a string level.
	Indicator bool
	// Median replaces a missing numeric value (NaN for an indicator).
	Median float64
	// Mean and Scale are the training mean m_j and standard deviation s_j.
	Mean, Scale float64
	// Coef is β_j, CoefOriginal β'_j; OddsRatio is e^β_j, the factor on the
	// odds of default per standard deviation.
	Coef, CoefOriginal, OddsRatio float64
}

// Direction says which way a coefficient moves the probability of default.
func (c Coefficient) Direction() string {
	switch {
	case c.Coef > 0:
		return "raises the probability of default"
	case c.Coef < 0:
		return "lowers the probability of default"
	default:
		return "no effect"
	}
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
	// Gains is the gains table of the evaluated data (GainsGroups groups
	// of the score); GainsKS is the largest KS over its groups.
	Gains   []GainsRow
	GainsKS float64
	// TrainTest compares the model on its training data and on this data.
	TrainTest *TrainTest
	Error     string
}

// GainsGroups is the number of score groups of the gains table (deciles).
const GainsGroups = 10

// GainsRow is one score group of a gains table: the rows sorted by
// decreasing probability of default (ties in row order) and cut into
// groups of nearly equal size (numpy.array_split), group 1 the riskiest.
type GainsRow struct {
	Decile int `json:"decile"`
	// Rows, Bads and Goods count the group's rows, positives and negatives.
	Rows  int `json:"rows"`
	Bads  int `json:"bads"`
	Goods int `json:"goods"`
	// MinScore and MaxScore bound the group's probabilities.
	MinScore float64 `json:"min_score"`
	MaxScore float64 `json:"max_score"`
	// BadRate is Bads/Rows.
	BadRate float64 `json:"bad_rate"`
	// CumBads and CumGoods are the shares of all bads and of all goods in
	// groups 1..Decile; KS is CumBads − CumGoods.
	CumBads  float64 `json:"cum_bads"`
	CumGoods float64 `json:"cum_goods"`
	KS       float64 `json:"ks"`
	// Lift is BadRate over the overall bad rate; CumLift the bad rate of
	// groups 1..Decile over the overall bad rate.
	Lift    float64 `json:"lift"`
	CumLift float64 `json:"cum_lift"`
}

// TrainTest compares the model on its training data with the evaluated
// data.
type TrainTest struct {
	// TrainData names the training data ("split.train").
	TrainData           string
	TrainRows, TestRows int
	Rows                []TrainTestRow
	// ScorePSI is the PSI of the evaluated data's scores against the
	// training scores, over PSIBins quantile bins of the training scores.
	ScorePSI float64
	PSIBins  int
	Error    string
}

// TrainTestRow is one metric on both datasets.
type TrainTestRow struct {
	Name        string
	Train, Test float64
	Pct         bool
}

// Diff is Test − Train.
func (r TrainTestRow) Diff() float64 { return r.Test - r.Train }

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
	// Bands says how a numeric column was cut into bands ("" when it was
	// not).
	Bands  string
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
	// Critical counts the failed error-severity checks among Failed.
	Critical int
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
