package main

import (
	"encoding/xml"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/internal/outpath"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// JUnit XML, in the shape of the common schema that Jenkins, GitLab and
// GitHub test reporters read (Jenkins' junit-10.xsd, a superset of Ant's):
// <testsuites name tests failures errors time> (that schema allows no
// other attribute there: the skipped count is per testsuite) of
// <testsuite name tests failures errors skipped time timestamp hostname id
// package>, each holding <properties>, <testcase name classname time> with
// an optional <failure message type>, <error> or <skipped message>, then
// <system-out> and <system-err>. TestJUnitXSD checks the output against
// the schema's rules.

type junitSuites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Name     string   `xml:"name,attr"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Time     string   `xml:"time,attr"`
	// skipped sums the suites' skipped counts (not an attribute here).
	skipped int
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Hostname   string          `xml:"hostname,attr"`
	ID         int             `xml:"id,attr"`
	Package    string          `xml:"package,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  string          `xml:"system-out"`
	SystemErr  string          `xml:"system-err"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitProblem `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// junitReport turns a run record into JUnit: a testsuite per step, a
// testcase per validation rule, gate or monitor check (failed error-severity
// checks are failures, with the numbers; failed warnings pass with the
// message in system-out), and a "step" testcase for a step that failed
// (error) or was skipped. An interrupted run has one more testsuite,
// named after the pipeline, whose "run" testcase is an error saying so
// (the steps it cut short are errors, those it never started skipped).
func junitReport(rec *lineage.RunRecord) *junitSuites {
	host, _ := os.Hostname()
	out := &junitSuites{Name: "mlrun " + rec.Pipeline, Time: seconds(rec.End.Sub(rec.Start).Seconds())}
	for i, s := range rec.Steps {
		su := junitSuite{
			Name: rec.Pipeline + "." + s.ID, Time: seconds(s.Duration.Seconds()),
			Timestamp: rec.Start.UTC().Format("2006-01-02T15:04:05"), Hostname: host, ID: i, Package: rec.Pipeline,
			Properties: []junitProperty{
				{Name: "run", Value: rec.ID}, {Name: "step", Value: s.ID}, {Name: "kind", Value: s.Kind},
				{Name: "status", Value: s.Status}, {Name: "cache_key", Value: s.CacheKey},
			},
		}
		if s.CacheHit {
			su.Properties = append(su.Properties, junitProperty{Name: "cached", Value: "true"})
		}
		for _, k := range sortedKeys(s.Metrics) {
			su.Properties = append(su.Properties, junitProperty{Name: "metric." + k, Value: fmtFloat(s.Metrics[k])})
		}
		for _, c := range s.Checks {
			tc := junitCase{Name: c.Name, Classname: rec.Pipeline + "." + s.ID, Time: "0"}
			detail := checkDetail(c)
			switch {
			case c.NotEvaluated && c.Failed():
				// Not decided either way: an error, not a failure.
				tc.Error = &junitProblem{Message: c.Message, Type: "not evaluated", Text: detail}
				su.Errors++
			case c.NotEvaluated:
				tc.Skipped = &junitProblem{Message: c.Message}
				su.Skipped++
			case c.Failed():
				typ := c.Kind
				if typ == "" {
					typ = "check"
				}
				tc.Failure = &junitProblem{Message: c.Message, Type: typ, Text: detail}
				su.Failures++
			case !c.Passed:
				tc.SystemOut = "warning: " + c.Message + "\n" + detail
			}
			su.Cases = append(su.Cases, tc)
		}
		switch s.Status {
		case lineage.StepFailed:
			su.Cases = append(su.Cases, junitCase{Name: "step", Classname: rec.Pipeline + "." + s.ID, Time: su.Time,
				Error: &junitProblem{Message: s.Error, Type: "step failed", Text: s.Error}})
			su.Errors++
		case lineage.StepSkipped:
			su.Cases = append(su.Cases, junitCase{Name: "step", Classname: rec.Pipeline + "." + s.ID, Time: "0",
				Skipped: &junitProblem{Message: s.Reason}})
			su.Skipped++
		}
		su.Tests = len(su.Cases)
		su.SystemOut = strings.Join(s.Notes, "\n")
		out.Suites = append(out.Suites, su)
		out.Tests += su.Tests
		out.Failures += su.Failures
		out.Errors += su.Errors
		out.skipped += su.Skipped
	}
	if rec.Status == lineage.RunInterrupted {
		msg := rec.Error
		if msg == "" {
			msg = "run " + rec.ID + " interrupted"
		}
		out.Suites = append(out.Suites, junitSuite{
			Name: rec.Pipeline, Tests: 1, Errors: 1, Time: out.Time,
			Timestamp: rec.Start.UTC().Format("2006-01-02T15:04:05"), Hostname: host, ID: len(out.Suites), Package: rec.Pipeline,
			Properties: []junitProperty{{Name: "run", Value: rec.ID}, {Name: "status", Value: rec.Status}},
			Cases: []junitCase{{Name: "run", Classname: rec.Pipeline, Time: out.Time,
				Error: &junitProblem{Message: msg, Type: "interrupted", Text: msg}}},
		})
		out.Tests++
		out.Errors++
	}
	return out
}

// junitInvalid is the JUnit report of a pipeline file that did not load:
// one testsuite named after the file, with a testcase per diagnostic,
// named by its position; errors are failures, warnings pass with the
// message in system-out.
func junitInvalid(file string, de *diag.Errors, now time.Time) *junitSuites {
	host, _ := os.Hostname()
	su := junitSuite{Name: file, Time: seconds(0), Timestamp: now.UTC().Format("2006-01-02T15:04:05"), Hostname: host, Package: file,
		Properties: []junitProperty{{Name: "status", Value: "invalid"}}}
	for _, d := range de.Diagnostics {
		name := d.Pos.String()
		if name == "" {
			name = file
		}
		tc := junitCase{Name: name, Classname: file, Time: "0"}
		if d.Severity == diag.Error {
			text := d.String()
			if d.Snippet != "" {
				text += "\n" + d.Snippet
			}
			tc.Failure = &junitProblem{Message: d.Message, Type: "error", Text: text}
			su.Failures++
		} else {
			tc.SystemOut = "warning: " + d.Message
		}
		su.Cases = append(su.Cases, tc)
	}
	su.Tests = len(su.Cases)
	return &junitSuites{Name: "mlrun " + file, Tests: su.Tests, Failures: su.Failures, Time: seconds(0), Suites: []junitSuite{su}}
}

// checkDetail renders what a check was decided on: expression, numbers,
// failing rows.
func checkDetail(c pipeline.Check) string {
	var b strings.Builder
	if c.Expr != "" {
		fmt.Fprintf(&b, "expr: %s\n", c.Expr)
	}
	fmt.Fprintf(&b, "severity: %s\n", c.Severity)
	if c.Failing > 0 {
		fmt.Fprintf(&b, "failing rows: %d (%.4g)\n", c.Failing, c.Fraction)
	}
	if len(c.Rows) > 0 {
		fmt.Fprintf(&b, "first rows: %s\n", joinInts(c.Rows, 10))
	}
	keys := make([]string, 0, len(c.Values))
	for k := range c.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, fmtFloat(c.Values[k]))
	}
	return b.String()
}

func seconds(s float64) string { return fmt.Sprintf("%.3f", s) }

// writeJUnit writes the run's JUnit XML to file.
func writeJUnit(g *outpath.Guard, file string, rec *lineage.RunRecord) error {
	return writeJUnitXML(g, file, junitReport(rec))
}

func writeJUnitXML(g *outpath.Guard, file string, doc *junitSuites) error {
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return g.WriteFile(file, append([]byte(xml.Header), append(b, '\n')...))
}

// writeSummary writes a Markdown summary of the run to file (appending, as
// $GITHUB_STEP_SUMMARY expects): status, metrics, gates, failing checks and
// warnings, the run id.
func writeSummary(g *outpath.Guard, file string, rec *lineage.RunRecord) error {
	var b strings.Builder
	mark := map[string]string{lineage.RunOK: "passed", lineage.RunCheckFailed: "checks failed", lineage.RunFailed: "failed",
		lineage.RunInterrupted: "interrupted"}[rec.Status]
	if mark == "" {
		mark = rec.Status
	}
	fmt.Fprintf(&b, "## mlrun: %s — %s\n\n", rec.Pipeline, mark)
	var ran, cached, skipped int
	for _, s := range rec.Steps {
		switch {
		case s.Status == lineage.StepSkipped:
			skipped++
		case s.CacheHit:
			cached++
		default:
			ran++
		}
	}
	fmt.Fprintf(&b, "Run `%s` (exit %d): %d ran, %d cached, %d skipped.\n\n", rec.ID, rec.ExitCode, ran, cached, skipped)
	for _, s := range rec.Steps {
		if len(s.Metrics) == 0 || (s.Kind != "evaluate" && s.Kind != "monitor") {
			continue
		}
		fmt.Fprintf(&b, "### `%s` metrics\n\n| metric | value |\n|---|---|\n", s.ID)
		for _, k := range sortedKeys(s.Metrics) {
			fmt.Fprintf(&b, "| %s | %s |\n", k, fmtFloat(s.Metrics[k]))
		}
		b.WriteString("\n")
	}
	var gates, failing, warnings []string
	for _, s := range rec.Steps {
		for _, c := range s.Checks {
			line := fmt.Sprintf("`%s/%s`: %s", s.ID, c.Name, strings.ReplaceAll(c.Message, "|", `\|`))
			switch {
			case c.Kind == "gate" || c.Kind == "drift" || s.Kind == "monitor":
				res := "pass"
				if c.Failed() {
					res = "**FAIL**"
				} else if !c.Passed {
					res = "warn"
				}
				gates = append(gates, fmt.Sprintf("| `%s/%s` | %s | `%s` | %s |", s.ID, c.Name, res, strings.ReplaceAll(c.Expr, "|", `\|`), strings.ReplaceAll(c.Message, "|", `\|`)))
			}
			if c.Failed() {
				failing = append(failing, "- "+line)
			} else if !c.Passed {
				warnings = append(warnings, "- "+line)
			}
		}
		if s.Status == lineage.StepFailed {
			failing = append(failing, fmt.Sprintf("- `%s` failed: %s", s.ID, s.Error))
		}
	}
	if rec.Status == lineage.RunInterrupted {
		var cut, never []string
		for _, s := range rec.Steps {
			switch s.Status {
			case lineage.StepFailed:
				cut = append(cut, "`"+s.ID+"`")
			case lineage.StepSkipped:
				never = append(never, "`"+s.ID+"`")
			}
		}
		line := "- the run was interrupted"
		if len(cut) > 0 {
			line += "; cut short: " + strings.Join(cut, ", ")
		}
		if len(never) > 0 {
			line += "; not run: " + strings.Join(never, ", ")
		}
		failing = append(failing, line)
	}
	if len(gates) > 0 {
		b.WriteString("### Gates and checks\n\n| check | result | expression | detail |\n|---|---|---|---|\n")
		b.WriteString(strings.Join(gates, "\n") + "\n\n")
	}
	if len(failing) > 0 {
		b.WriteString("### Failing\n\n" + strings.Join(failing, "\n") + "\n\n")
	}
	if len(warnings) > 0 {
		b.WriteString("### Warnings\n\n" + strings.Join(warnings, "\n") + "\n\n")
	}
	return g.AppendFile(file, []byte(b.String()))
}

// writeSummaryInvalid appends the Markdown summary of a pipeline file that
// did not load: every problem with its position, and that nothing ran.
func writeSummaryInvalid(g *outpath.Guard, file string, pipelineFile string, de *diag.Errors) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## mlrun: %s — invalid\n\n", pipelineFile)
	errs, warns := countProblems(de.Diagnostics)
	fmt.Fprintf(&b, "%d problem(s)", errs)
	if warns > 0 {
		fmt.Fprintf(&b, ", %s", plural(warns, "warning"))
	}
	fmt.Fprintf(&b, ": nothing ran (exit %d).\n\n", de.ExitCode())
	for _, d := range de.Diagnostics {
		msg := d.Message
		if d.Severity == diag.Warning {
			msg = "warning: " + msg
		}
		if pos := d.Pos.String(); pos != "" {
			fmt.Fprintf(&b, "- `%s`: %s\n", pos, msg)
		} else {
			fmt.Fprintf(&b, "- %s\n", msg)
		}
	}
	b.WriteString("\n")
	return g.AppendFile(file, []byte(b.String()))
}

// reportFlags are run's --junit and --summary.
type reportFlags struct{ junit, summary string }

func (f *reportFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.junit, "junit", "", "write every validation rule, gate and check as a JUnit XML test case to `FILE`")
	cmd.Flags().StringVar(&f.summary, "summary", "", "append a Markdown summary (metrics, gates, failing checks, run id) to `FILE`, e.g. $GITHUB_STEP_SUMMARY")
}

// write writes the requested reports of a finished run.
// check refuses, before anything runs, output paths that g refuses.
func (f *reportFlags) check(g *outpath.Guard) error {
	for flag, path := range map[string]string{"--junit": f.junit, "--summary": f.summary} {
		if path == "" {
			continue
		}
		if err := g.Check(path); err != nil {
			return fmt.Errorf("%s: %w", flag, err)
		}
	}
	return nil
}

// writeInvalid writes the requested reports of a pipeline file that did not
// load.
func (f *reportFlags) writeInvalid(g *outpath.Guard, pipelineFile string, de *diag.Errors) error {
	if f.junit != "" {
		if err := writeJUnitXML(g, f.junit, junitInvalid(pipelineFile, de, time.Now())); err != nil {
			return fmt.Errorf("--junit: %w", err)
		}
	}
	if f.summary != "" {
		if err := writeSummaryInvalid(g, f.summary, pipelineFile, de); err != nil {
			return fmt.Errorf("--summary: %w", err)
		}
	}
	return nil
}

func (f *reportFlags) write(g *outpath.Guard, rec *lineage.RunRecord) error {
	if f.junit != "" {
		if err := writeJUnit(g, f.junit, rec); err != nil {
			return fmt.Errorf("--junit: %w", err)
		}
	}
	if f.summary != "" {
		if err := writeSummary(g, f.summary, rec); err != nil {
			return fmt.Errorf("--summary: %w", err)
		}
	}
	return nil
}
