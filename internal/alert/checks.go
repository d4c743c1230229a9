package alert

import (
	"fmt"
	"strings"

	"github.com/mlrun-cli/mlrun/pipeline"
)

// Severities of an alert and of the checks it lists, as a monitor step's
// checks and its alerts.on setting write them.
const (
	Critical = "critical"
	Warn     = "warn"
)

// maxTextChecks is how many failed checks an alert's text lists.
const maxTextChecks = 5

// Subject says what an alert is about, for its text.
type Subject struct {
	// Source is the command that raised the alert: "mlrun monitor",
	// "mlrun run".
	Source string
	// What names what was monitored: "model of run R", "credit-risk@2",
	// "step monitoring of run R".
	What string
	// Report is the short id of the monitor report.
	Report string
}

// New returns the alert about the failed checks among checks: every
// failed critical check (pipeline.Check.Failed), and every failed warning
// too when on is Warn; nil when there is none. The alert is base (its ID,
// Time, Run, Step, Model, Version, Data and Report) with Failed, Severity
// (Critical when a critical check failed, else Warn) and Text filled in.
// Text is a headline followed by up to five failed checks, one a line:
//
//	<source>: <n> <severity> check(s) failed for <what> on <data> (report <report>)
//	• <check> (<severity>): <message>
func New(base Alert, checks []pipeline.Check, on string, s Subject) *Alert {
	a := base
	a.Severity, a.Failed = Warn, nil
	var lines []string
	for _, c := range checks {
		if c.Passed || (!c.Failed() && on != Warn) {
			continue
		}
		sev := Warn
		if c.Failed() {
			sev, a.Severity = Critical, Critical
		}
		a.Failed = append(a.Failed, Check{Name: c.Name, Severity: sev, Message: c.Message, Values: c.Values})
		if len(lines) < maxTextChecks {
			lines = append(lines, fmt.Sprintf("• %s (%s): %s", c.Name, sev, c.Message))
		}
	}
	if len(a.Failed) == 0 {
		return nil
	}
	more := ""
	if n := len(a.Failed) - len(lines); n > 0 {
		more = fmt.Sprintf("\n… and %d more", n)
	}
	a.Text = fmt.Sprintf("%s: %d %s check(s) failed for %s on %s (report %s)\n%s%s",
		s.Source, len(a.Failed), a.Severity, s.What, a.Data, s.Report, strings.Join(lines, "\n"), more)
	return &a
}
