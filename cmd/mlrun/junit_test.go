package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// xsdSuites mirrors the structure of the common JUnit XML schema
// (Jenkins junit-10.xsd): attributes are read as strings so that a missing
// required one is detected.
type xsdSuites struct {
	XMLName xml.Name `xml:"testsuites"`
	Suites  []struct {
		Attrs      []xml.Attr `xml:",any,attr"`
		Properties *struct {
			Property []struct {
				Name  *string `xml:"name,attr"`
				Value *string `xml:"value,attr"`
			} `xml:"property"`
		} `xml:"properties"`
		Cases []struct {
			Attrs   []xml.Attr `xml:",any,attr"`
			Failure []struct {
				Message *string `xml:"message,attr"`
				Type    *string `xml:"type,attr"`
				Text    string  `xml:",chardata"`
			} `xml:"failure"`
			Error []struct {
				Message *string `xml:"message,attr"`
			} `xml:"error"`
			Skipped []struct {
				Message *string `xml:"message,attr"`
			} `xml:"skipped"`
		} `xml:"testcase"`
		SystemOut *string `xml:"system-out"`
		SystemErr *string `xml:"system-err"`
	} `xml:"testsuite"`
}

func attr(attrs []xml.Attr, name string) (string, bool) {
	for _, a := range attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// TestJUnitSchema writes the JUnit report of a run with a failed gate, a
// warning, a failed and a skipped step, and checks it against the
// structure and required attributes of the common JUnit schema.
func TestJUnitSchema(t *testing.T) {
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	rec := &lineage.RunRecord{ID: "20261126T120000Z-abcdef", Pipeline: "p", Start: start, End: start.Add(time.Second), Status: lineage.RunFailed,
		Steps: []lineage.StepRecord{
			{ID: "quality", Kind: "validate", Status: lineage.StepOK, Checks: []pipeline.Check{
				{Name: "ok_rule", Kind: "rule", Passed: true, Severity: "error", Message: "0 rows fail"},
				{Name: "warn_rule", Kind: "rule", Passed: false, Severity: "warn", Message: "3 rows fail", Failing: 3, Fraction: 0.03, Rows: []int{1, 2, 3}},
			}},
			{ID: "evaluation", Kind: "evaluate", Status: lineage.StepCheckFailed, Metrics: lineage.Metrics{"auc": 0.82}, Checks: []pipeline.Check{
				{Name: "auc_floor", Kind: "gate", Expr: "auc >= params.min_auc", Passed: false, Severity: "error",
					Message: "auc = 0.82, needs auc >= 0.99", Values: map[string]float64{"auc": 0.82, "min_auc": 0.99}},
			}},
			{ID: "broken", Kind: "derive", Status: lineage.StepFailed, Error: "boom <&>"},
			{ID: "after", Kind: "train", Status: lineage.StepSkipped, Reason: `upstream step "broken" failed`},
		}}
	file := filepath.Join(t.TempDir(), "junit.xml")
	if err := writeJUnit(nil, file, rec); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), xml.Header) {
		t.Error("no XML header")
	}
	var doc xsdSuites
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Suites) != 4 {
		t.Fatalf("%d testsuites, want 4", len(doc.Suites))
	}
	failures := 0
	for _, s := range doc.Suites {
		for _, req := range []string{"name", "tests", "failures", "errors", "time", "timestamp", "hostname", "id", "package"} {
			if _, ok := attr(s.Attrs, req); !ok {
				t.Errorf("testsuite lacks required attribute %q", req)
			}
		}
		if s.Properties == nil || s.SystemOut == nil || s.SystemErr == nil {
			t.Errorf("testsuite lacks properties, system-out or system-err")
		}
		if ts, _ := attr(s.Attrs, "timestamp"); ts != "2026-11-26T12:00:00" {
			t.Errorf("timestamp %q is not an ISO 8601 date-time without zone", ts)
		}
		for _, c := range s.Cases {
			for _, req := range []string{"name", "classname", "time"} {
				if _, ok := attr(c.Attrs, req); !ok {
					t.Errorf("testcase lacks required attribute %q", req)
				}
			}
			if len(c.Failure)+len(c.Error)+len(c.Skipped) > 1 {
				t.Error("testcase with more than one of failure, error, skipped")
			}
			for _, f := range c.Failure {
				failures++
				if f.Message == nil || f.Type == nil {
					t.Error("failure lacks message or type")
				}
				if !strings.Contains(f.Text, "auc = 0.82") || !strings.Contains(*f.Message, "0.99") {
					t.Errorf("failure without the numbers: %q %q", *f.Message, f.Text)
				}
			}
		}
	}
	if failures != 1 {
		t.Errorf("%d failures, want 1 (the gate; the warning passes)", failures)
	}
	got := junitReport(rec)
	if got.Tests != 5 || got.Failures != 1 || got.Errors != 1 || got.Skipped != 1 {
		t.Errorf("totals tests=%d failures=%d errors=%d skipped=%d, want 5 1 1 1", got.Tests, got.Failures, got.Errors, got.Skipped)
	}
}
