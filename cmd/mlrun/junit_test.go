package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
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
	if got.Tests != 5 || got.Failures != 1 || got.Errors != 1 || got.skipped != 1 {
		t.Errorf("totals tests=%d failures=%d errors=%d skipped=%d, want 5 1 1 1", got.Tests, got.Failures, got.Errors, got.skipped)
	}
}

// junitXSD encodes the rules of the JUnit schema mlrun follows, Jenkins'
// junit-10.xsd (xunit-plugin, src/main/resources/org/jenkinsci/plugins/
// xunit/types/model/xsd/junit-10.xsd): for each element, the attributes
// it allows (required ones marked), the child elements it allows, and
// whether it may hold text. Anything else fails a strict validator.
var junitXSD = map[string]xsdElement{
	"testsuites": {
		attrs:    map[string]bool{"name": false, "time": false, "tests": false, "failures": false, "errors": false},
		children: []string{"testsuite"},
	},
	"testsuite": {
		attrs: map[string]bool{"name": true, "tests": true, "failures": true, "errors": true, "group": false, "time": false,
			"skipped": false, "timestamp": false, "hostname": false, "id": false, "package": false, "file": false, "log": false, "url": false},
		children: []string{"testsuite", "properties", "testcase", "system-out", "system-err"},
	},
	"properties": {children: []string{"property"}},
	"property":   {attrs: map[string]bool{"name": true, "value": true}},
	"testcase": {
		attrs: map[string]bool{"name": true, "time": false, "classname": false, "group": false},
		children: []string{"skipped", "error", "failure", "rerunFailure", "rerunError", "flakyFailure", "flakyError",
			"system-out", "system-err"},
	},
	"failure":    {attrs: map[string]bool{"type": false, "message": false}, text: true},
	"error":      {attrs: map[string]bool{"type": false, "message": false}, text: true},
	"skipped":    {attrs: map[string]bool{"type": false, "message": false}, text: true},
	"system-out": {text: true},
	"system-err": {text: true},
}

type xsdElement struct {
	attrs    map[string]bool // name -> required
	children []string
	text     bool // mixed or simple content
}

// surefireTime is the SUREFIRE_TIME type of the time attributes of
// testsuites and testsuite.
var surefireTime = regexp.MustCompile(`^(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?$`)

// checkJUnitXSD reports every way data breaks the rules of junitXSD.
func checkJUnitXSD(data []byte) []string {
	var problems []string
	dec := xml.NewDecoder(bytes.NewReader(data))
	var stack []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return append(problems, "not well-formed XML: "+err.Error())
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			el, ok := junitXSD[name]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("element <%s> is not in the schema", name))
			case len(stack) == 0 && name != "testsuites" && name != "testsuite":
				problems = append(problems, fmt.Sprintf("root element <%s>", name))
			case len(stack) > 0 && !slices.Contains(junitXSD[stack[len(stack)-1]].children, name):
				problems = append(problems, fmt.Sprintf("<%s> is not allowed in <%s>", name, stack[len(stack)-1]))
			}
			seen := map[string]bool{}
			for _, a := range t.Attr {
				seen[a.Name.Local] = true
				if _, ok := el.attrs[a.Name.Local]; !ok {
					problems = append(problems, fmt.Sprintf("attribute %q is not allowed on <%s>", a.Name.Local, name))
				}
				if a.Name.Local == "time" && (name == "testsuite" || name == "testsuites") && !surefireTime.MatchString(a.Value) {
					problems = append(problems, fmt.Sprintf("<%s time=%q> is not a SUREFIRE_TIME", name, a.Value))
				}
			}
			for a, req := range el.attrs {
				if req && !seen[a] {
					problems = append(problems, fmt.Sprintf("<%s> lacks required attribute %q", name, a))
				}
			}
			stack = append(stack, name)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 && !junitXSD[stack[len(stack)-1]].text && len(bytes.TrimSpace(t)) > 0 {
				problems = append(problems, fmt.Sprintf("text %q inside <%s>", t, stack[len(stack)-1]))
			}
		}
	}
	return problems
}

// TestJUnitXSD checks the JUnit reports of a run with every kind of
// outcome, of an interrupted run and of an invalid pipeline against the
// rules of junit-10.xsd.
func TestJUnitXSD(t *testing.T) {
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	rec := &lineage.RunRecord{ID: "20261126T120000Z-abcdef", Pipeline: "p", Start: start, End: start.Add(1500 * time.Millisecond), Status: lineage.RunFailed,
		Steps: []lineage.StepRecord{
			{ID: "quality", Kind: "validate", Status: lineage.StepCheckFailed, Duration: 1234567 * time.Microsecond, Checks: []pipeline.Check{
				{Name: "ok_rule", Kind: "rule", Passed: true, Severity: "error", Message: "0 rows fail"},
				{Name: "bad_rule", Kind: "rule", Passed: false, Severity: "error", Message: "3 rows fail"},
				{Name: "warn_rule", Kind: "rule", Passed: false, Severity: "warn", Message: "3 rows fail"},
			}},
			{ID: "broken", Kind: "derive", Status: lineage.StepFailed, Error: "boom <&>\x00"},
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
	for _, p := range checkJUnitXSD(data) {
		t.Errorf("run report: %s", p)
	}

	rec.Status, rec.Error = lineage.RunInterrupted, "run 20261126T120000Z-abcdef interrupted: context canceled"
	rec.Steps[1].Error = "context canceled"
	rec.Steps[2].Reason = "run interrupted"
	if err := writeJUnit(nil, file, rec); err != nil {
		t.Fatal(err)
	}
	data, err = os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checkJUnitXSD(data) {
		t.Errorf("interrupted run report: %s", p)
	}
	if got := junitReport(rec); len(got.Suites) != 4 || got.Suites[3].Errors != 1 || got.Errors != 2 ||
		!strings.Contains(got.Suites[3].Cases[0].Error.Message, "interrupted") {
		t.Errorf("interrupted run: %d suites, %d errors; want a 4th suite whose run testcase is an error saying so", len(got.Suites), got.Errors)
	}

	de := &diag.Errors{Diagnostics: []diag.Diagnostic{
		{Pos: diag.Pos{File: "p.yaml", Line: 3, Col: 5}, Message: `unknown key "pth"`},
		{Pos: diag.Pos{File: "p.yaml", Line: 9, Col: 1}, Severity: diag.Warning, Message: "a warning"},
		{Pos: diag.Pos{File: "p.yaml"}, Message: "no position"},
	}}
	if err := writeJUnitXML(nil, file, junitInvalid("p.yaml", de, time.Now())); err != nil {
		t.Fatal(err)
	}
	data, err = os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checkJUnitXSD(data) {
		t.Errorf("invalid pipeline report: %s", p)
	}
	if got := junitInvalid("p.yaml", de, time.Now()); got.Tests != 3 || got.Failures != 2 {
		t.Errorf("invalid pipeline: %d tests, %d failures, want 3 and 2", got.Tests, got.Failures)
	}

	// The checker itself: it refuses what a strict validator refuses.
	bad := `<testsuites skipped="1" time="1.5s"><testsuite name="a" tests="1" failures="0"><testcase><weird/></testcase>text</testsuite></testsuites>`
	want := []string{`attribute "skipped" is not allowed on <testsuites>`, `<testsuites time="1.5s"> is not a SUREFIRE_TIME`,
		`<testsuite> lacks required attribute "errors"`, `<testcase> lacks required attribute "name"`,
		`element <weird> is not in the schema`, `text "text" inside <testsuite>`}
	got := strings.Join(checkJUnitXSD([]byte(bad)), "\n")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("the checker does not report %s; it reports:\n%s", w, got)
		}
	}
}
