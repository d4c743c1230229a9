package report

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
	"github.com/mlrun-cli/mlrun/steps/monitor"
)

// testMonitorNS is the record namespace the tests write monitored batches
// to, as `mlrun monitor` and `mlrun run` do (cmd/mlrun's monitorNS).
const testMonitorNS = "monitor"

// putBatch records a monitored batch of the fixture's run, as cmd/mlrun
// writes it: records/monitor/<run>--<step>--<time>.
func (f *fixture) putBatch(t *testing.T, step, data string, at time.Time, report lineage.ID) {
	t.Helper()
	rec := map[string]any{"time": at.UTC(), "run": f.run.ID, "step": step, "data": data, "report": report}
	name := f.run.ID + "--" + step + "--" + at.UTC().Format("20060102T150405.000000000Z")
	if _, err := f.st.Update(context.Background(), func(ctx context.Context, tx *lineage.Tx) error {
		_, err := tx.PutJSON(ctx, testMonitorNS, name, rec)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// putReport stores a monitor report with the given checks.
func (f *fixture) putReport(t *testing.T, rows int, checks ...pipeline.Check) lineage.ID {
	t.Helper()
	rep := monitor.Report{Format: "mlrun-monitor", Version: 1, Rows: rows, Checks: checks}
	id, _, err := f.st.PutObject(context.Background(), monitor.TypeName, &pipeline.Document{Type: monitor.TypeName, Value: rep})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (f *fixture) buildWith(t *testing.T, opts Options) *Report {
	t.Helper()
	opts.Store, opts.Registry, opts.Jobs = f.st, f.reg, 2
	r, err := Build(context.Background(), f.run, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// stepReport is the report object of the run's monitor step.
func (f *fixture) stepReport(t *testing.T, step string) lineage.ID {
	t.Helper()
	s := f.run.Step(step)
	if s == nil {
		t.Fatalf("the run has no step %s", step)
	}
	o, ok := s.Outputs["report"]
	if !ok {
		t.Fatalf("step %s has no report output", step)
	}
	return o.ID
}

// TestMonitorStepBatchOnce is the regression test of issue 14's first
// item: `mlrun run` records the batch of the run's own monitor step in the
// monitor namespace too, and the report listed it twice (once as the step,
// once as a monitored batch).
func TestMonitorStepBatchOnce(t *testing.T) {
	f := newFixture(t)
	// What mlrun run records for its monitor step.
	f.putBatch(t, "model", "batch_features.data", f.run.End, f.stepReport(t, "monitoring"))
	// A batch monitored later by mlrun monitor.
	later := f.putReport(t, 1200, pipeline.Check{Name: "psi", Kind: "drift", Passed: true, Severity: pipeline.SeverityError})
	f.putBatch(t, "model", "/data/june.csv", f.run.End.Add(24*time.Hour), later)

	r := f.buildWith(t, Options{MonitorNS: testMonitorNS})
	var sources []string
	for _, b := range r.Monitoring {
		sources = append(sources, b.Source+" "+b.Object[:12])
	}
	if len(r.Monitoring) != 2 {
		t.Fatalf("want 2 batches (the monitor step's, then the later one), got %d:\n%s", len(r.Monitoring), strings.Join(sources, "\n"))
	}
	if r.Monitoring[0].Source != "step monitoring" || r.Monitoring[1].Object != later.String() {
		t.Errorf("batches in the wrong order or from the wrong source:\n%s", strings.Join(sources, "\n"))
	}
	var page bytes.Buffer
	if err := HTML(&page, r); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(page.String(), "<h3>Batch "); n != 2 {
		t.Errorf("the page shows %d batches, want 2", n)
	}
}

// passingFixture runs testdata/card.yaml on the undrifted batch: the run
// passes every check, its model is registered as pd@production.
func passingFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureFrom(t, "testdata/card.yaml", map[string]string{"batch": "../../../examples/data/applications_batch.csv"}, pipeline.ExitOK, "production")
}

// TestBannerMonitoringFailed is issue 14's fourth item: the report of
// pd@production said PASS while the latest monitored batch of the model
// failed a critical check. The banner must say so, and the header show the
// latest batch's outcome.
func TestBannerMonitoringFailed(t *testing.T) {
	f := passingFixture(t)
	_, v, err := registry.New(f.st, nil).Resolve(context.Background(), "pd@production")
	if err != nil {
		t.Fatal(err)
	}
	render := func(r *Report) (string, string) {
		t.Helper()
		var page, md bytes.Buffer
		if err := HTML(&page, r); err != nil {
			t.Fatal(err)
		}
		if err := Markdown(&md, r); err != nil {
			t.Fatal(err)
		}
		return page.String(), md.String()
	}
	banner := func(page string) string {
		t.Helper()
		i := strings.Index(page, `<div class="banner`)
		if i < 0 {
			t.Fatal("no banner")
		}
		return page[i : i+strings.Index(page[i:], "</div>")]
	}

	// Only the run's own monitor step: the batch passed, so does the run.
	r := f.buildWith(t, Options{Model: v, MonitorNS: testMonitorNS})
	if !r.Header.Passed || r.Header.Verdict != VerdictPass {
		t.Fatalf("the run on the undrifted batch: passed %v, verdict %q; want a pass", r.Header.Passed, r.Header.Verdict)
	}
	page, md := render(r)
	if b := banner(page); !strings.Contains(b, "PASS") || !strings.Contains(b, "latest monitored batch") || !strings.Contains(b, "batch 1") {
		t.Errorf("banner of a passing run whose batch passed:\n%s", b)
	}

	// A later batch, monitored with mlrun monitor, fails critically.
	bad := f.putReport(t, 2000,
		pipeline.Check{Name: "psi:credit_utilization", Kind: "drift", Passed: false, Severity: pipeline.SeverityError, Message: "credit_utilization: psi = 0.435, needs psi < 0.25"},
		pipeline.Check{Name: "performance", Kind: "performance", Passed: false, Severity: pipeline.SeverityError, Message: "auc_drop = 0.08"},
		pipeline.Check{Name: "fairness", Kind: "fairness", Passed: false, Severity: pipeline.SeverityWarn, Message: "disparate_impact = 0.56"},
		pipeline.Check{Name: "dataset_drift", Kind: "drift", Passed: true, Severity: pipeline.SeverityError})
	f.putBatch(t, "model", "/data/july.csv", f.run.End.Add(48*time.Hour), bad)
	// An older batch recorded under another step name sorts after it by
	// name but not by time: the latest is the July batch.
	ok := f.putReport(t, 500, pipeline.Check{Name: "psi", Kind: "drift", Passed: true, Severity: pipeline.SeverityError})
	f.putBatch(t, "zz_model", "/data/may.csv", f.run.End.Add(time.Hour), ok)

	r = f.buildWith(t, Options{Model: v, MonitorNS: testMonitorNS})
	h := r.Header
	if h.Verdict != VerdictMonitoringFailed {
		t.Errorf("verdict %q, want %q", h.Verdict, VerdictMonitoringFailed)
	}
	if h.Latest == nil || h.Latest.Batch != 3 || h.Latest.Critical != 2 || h.Latest.Warned != 1 || h.Latest.Checks != 4 || h.Latest.Passed {
		t.Fatalf("latest batch %+v: want batch 3 (July), 2 critical failures and 1 warning of 4 checks", h.Latest)
	}
	if r.Monitoring[1].Data != "/data/may.csv" || r.Monitoring[2].Data != "/data/july.csv" {
		t.Errorf("batches not in time order: %q, %q", r.Monitoring[1].Data, r.Monitoring[2].Data)
	}
	page, md = render(r)
	if dir := os.Getenv("MLRUN_ARTIFACTS"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "monitoring-failed.html"), []byte(page), 0o644)
	}
	b := banner(page)
	if strings.Contains(b, "PASS:") || !strings.Contains(b, "MONITORING FAILED") || !strings.Contains(b, `role="alert"`) {
		t.Errorf("banner of a passing run whose latest batch failed critically:\n%s", b)
	}
	for _, want := range []string{"batch 3", "/data/july.csv", "2 critical", "psi:credit_utilization"} {
		if !strings.Contains(b, want) {
			t.Errorf("banner lacks %q:\n%s", want, b)
		}
	}
	if !strings.Contains(md, "> **MONITORING FAILED**") || strings.Contains(md, "> **PASS**") {
		t.Errorf("Markdown card's banner:\n%s", md[:min(len(md), 800)])
	}
}
