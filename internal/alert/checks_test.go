package alert

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline"
)

// TestNew: which failed checks an alert lists, its severity and its text.
func TestNew(t *testing.T) {
	crit := pipeline.Check{Name: "psi:x", Severity: pipeline.SeverityError, Message: "x: psi = 0.4, needs psi < 0.25", Values: map[string]float64{"psi": 0.4}}
	warn := pipeline.Check{Name: "ks:x", Severity: pipeline.SeverityWarn, Message: "x: ks_pvalue = 0.001"}
	pass := pipeline.Check{Name: "rows", Passed: true, Severity: pipeline.SeverityWarn, Message: "rows = 2000"}
	base := Alert{ID: "r--monitoring", Run: "r", Step: "monitoring", Data: "b.csv", Report: "abcdef"}
	subj := Subject{Source: "mlrun run", What: "monitoring of run r", Report: "abc"}
	tests := []struct {
		name     string
		checks   []pipeline.Check
		on       string
		severity string
		failed   []string
	}{
		{"critical", []pipeline.Check{pass, warn, crit}, Critical, Critical, []string{"psi:x"}},
		{"warnings ignored", []pipeline.Check{pass, warn}, Critical, "", nil},
		{"warnings on warn", []pipeline.Check{pass, warn}, Warn, Warn, []string{"ks:x"}},
		{"both on warn", []pipeline.Check{warn, crit}, Warn, Critical, []string{"ks:x", "psi:x"}},
		{"all passed", []pipeline.Check{pass}, Warn, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New(base, tt.checks, tt.on, subj)
			if tt.failed == nil {
				if a != nil {
					t.Fatalf("alert %+v, want none", a)
				}
				return
			}
			if a == nil {
				t.Fatal("no alert")
			}
			var names []string
			for _, c := range a.Failed {
				names = append(names, c.Name)
			}
			if fmt.Sprint(names) != fmt.Sprint(tt.failed) || a.Severity != tt.severity {
				t.Errorf("failed %v severity %s, want %v %s", names, a.Severity, tt.failed, tt.severity)
			}
			if a.ID != base.ID || a.Run != "r" || a.Report != "abcdef" {
				t.Errorf("identity not kept: %+v", a)
			}
			head := fmt.Sprintf("mlrun run: %d %s check(s) failed for monitoring of run r on b.csv (report abc)\n", len(tt.failed), tt.severity)
			if !strings.HasPrefix(a.Text, head) {
				t.Errorf("text %q, want prefix %q", a.Text, head)
			}
		})
	}
	if base.Failed != nil || base.Text != "" {
		t.Errorf("New changed base: %+v", base)
	}
}

// TestNewText: the text lists five checks and counts the rest.
func TestNewText(t *testing.T) {
	var checks []pipeline.Check
	for i := range 7 {
		checks = append(checks, pipeline.Check{Name: fmt.Sprintf("c%d", i), Severity: pipeline.SeverityError, Message: "m"})
	}
	a := New(Alert{Data: "d.csv"}, checks, Critical, Subject{Source: "mlrun monitor", What: "model of run r", Report: "abc"})
	want := "mlrun monitor: 7 critical check(s) failed for model of run r on d.csv (report abc)\n" +
		"• c0 (critical): m\n• c1 (critical): m\n• c2 (critical): m\n• c3 (critical): m\n• c4 (critical): m\n… and 2 more"
	if a.Text != want {
		t.Errorf("text\n%s\nwant\n%s", a.Text, want)
	}
}
