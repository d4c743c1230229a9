//go:build unix

package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInterruptReports sends SIGINT (Ctrl-C) to `mlrun run --junit F
// --summary S` while its split step runs. The run must record itself
// interrupted (one run.interrupted entry, no run.finished), exit 3, and
// still write its JUnit report (the step that was running as an error, the
// steps that never started as skipped) and a summary saying it was
// interrupted.
func TestInterruptReports(t *testing.T) {
	e := newCLIEnv(t)
	writeSynth(t, e.path("data.csv"), 50_000, 7)
	if err := os.WriteFile(e.path("soak.yaml"), []byte(soakPipeline), 0o644); err != nil {
		t.Fatal(err)
	}
	store := e.path("store")
	junit, summary := e.path("junit.xml"), e.path("summary.md")
	next := filepath.Join(store, "records", "audit", "000000000004.json") // three steps committed
	r, sent := e.runUntil(store, syscall.SIGINT, func(time.Duration) bool {
		_, err := os.Stat(next)
		return err == nil
	}, "run", "--junit", junit, "--summary", summary, "-p", "seed=1", "soak.yaml")
	if !sent {
		t.Skipf("the run ended before the signal (exit %d)", r.code)
	}
	if r.code != 3 {
		t.Fatalf("exit %d, want 3:\n%s%s", r.code, r.stdout, r.stderr)
	}
	runs := e.runsList(t, store)
	if len(runs) != 1 || runs[0].Status != "interrupted" {
		t.Fatalf("runs %+v, want one interrupted run", runs)
	}
	var audit []soakEntry
	e.mustJSON(t, store, &audit, "audit", "log", "--run", runs[0].ID, "--json")
	n := map[string]int{}
	for _, en := range audit {
		n[en.Type]++
	}
	if n["run.interrupted"] != 1 || n["run.finished"] != 0 {
		t.Errorf("audit entries %v, want one run.interrupted and no run.finished", n)
	}

	data, err := os.ReadFile(junit)
	if err != nil {
		t.Fatalf("no JUnit report for the interrupted run: %v\n%s%s", err, r.stdout, r.stderr)
	}
	var doc struct {
		Suites []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name  string `xml:"name,attr"`
				Error *struct {
					Message string `xml:"message,attr"`
				} `xml:"error"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var errs, skipped int
	said := false
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			if c.Error != nil {
				errs++
				said = said || strings.Contains(c.Error.Message, "interrupted")
			}
			if c.Skipped != nil {
				skipped++
			}
		}
	}
	// A suite per step, and one for the run that says it was interrupted
	// (the signal may come as the last step finishes: no step is then
	// cut short, but the run still is not a pass).
	if len(doc.Suites) != soakSteps+1 || !said {
		t.Errorf("JUnit: %d suites (want %d), %d errors, %d skipped, none saying the run was interrupted:\n%s", len(doc.Suites), soakSteps+1, errs, skipped, data)
	}
	sum, err := os.ReadFile(summary)
	if err != nil {
		t.Fatalf("no summary for the interrupted run: %v", err)
	}
	if !strings.Contains(string(sum), "interrupted") {
		t.Errorf("the summary does not say the run was interrupted:\n%s", sum)
	}
}
