package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlrun-cli/mlrun/internal/synth"
)

const crashPipeline = `mlrun: 1
name: crash
steps:
  data:
    kind: load
    path: data.csv
    columns: {loan_default: int, application_date: date}
  quality:
    kind: validate
    input: data
    rules:
      amount_positive: {expr: loan_amount > 0}
      missing: {max_missing: 0.05}
  features:
    kind: derive
    input: quality
    columns:
      debt_to_income_ratio: total_debt / (annual_income + 0.01)
      credit_utilization: credit_card_balance / (credit_limit + 0.01)
      payment_score: on_time_payments / (total_payments + 1) * 100
  split:
    kind: split
    input: features
    method: stratified
    stratify: loan_default
    seed: 42
  model:
    kind: train
    input: split.train
    algorithm: logistic_regression
    target: loan_default
    features: [debt_to_income_ratio, credit_utilization, payment_score, annual_income]
  evaluation:
    kind: evaluate
    model: model
    data: split.test
`

// TestCrash SIGKILLs `mlrun run` at many points of a run, each on a fresh
// store, and checks that the store it leaves is intact (`mlrun verify` exits
// 0: no partial object is visible, every record's references hold) and that
// the next run succeeds. The points are a few fixed delays (while the
// pipeline is loaded) and moments observed in the store as the run writes
// it (store created, a write in progress, the n-th object, the run record,
// cache entries), so that they do not depend on the machine's speed.
func TestCrash(t *testing.T) {
	bin := scriptBinary(t)
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "data.csv"))
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := synth.Write(w, synth.Options{Rows: 50_000, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	pipelineFile := filepath.Join(dir, "crash.yaml")
	if err := os.WriteFile(pipelineFile, []byte(crashPipeline), 0o644); err != nil {
		t.Fatal(err)
	}

	mlrun := func(store string, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--store", store}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "MLRUN_STORE=")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			return string(out), ee.ExitCode()
		case err != nil:
			t.Fatalf("mlrun %s: %v", strings.Join(args, " "), err)
		}
		return string(out), 0
	}
	count := func(pattern string) int {
		m, _ := filepath.Glob(pattern)
		return len(m)
	}
	after := func(d time.Duration) func(string, time.Duration) bool {
		return func(_ string, elapsed time.Duration) bool { return elapsed >= d }
	}
	objects := func(n int) func(string, time.Duration) bool {
		return func(store string, _ time.Duration) bool { return count(filepath.Join(store, "objects", "*", "*")) >= n }
	}
	writing := func(minObjects int) func(string, time.Duration) bool {
		return func(store string, _ time.Duration) bool {
			return count(filepath.Join(store, "tmp", "*")) > 0 && count(filepath.Join(store, "objects", "*", "*")) >= minObjects
		}
	}
	points := []struct {
		name  string
		ready func(store string, elapsed time.Duration) bool
	}{
		{"after 5ms", after(5 * time.Millisecond)},
		{"after 10ms", after(10 * time.Millisecond)},
		{"after 20ms", after(20 * time.Millisecond)},
		{"after 40ms", after(40 * time.Millisecond)},
		{"store created", func(store string, _ time.Duration) bool {
			_, err := os.Stat(filepath.Join(store, "mlrun-store.json"))
			return err == nil
		}},
		{"first run record", func(store string, _ time.Duration) bool {
			return count(filepath.Join(store, "records", "runs", "*")) > 0
		}},
		{"first write in progress", writing(0)},
		{"1 object", objects(1)},
		{"a write in progress after 2 objects", writing(2)},
		{"3 objects", objects(3)},
		{"5 objects", objects(5)},
		{"a write in progress after 5 objects", writing(5)},
		{"7 objects", objects(7)},
		{"3 cache entries", func(store string, _ time.Duration) bool {
			return count(filepath.Join(store, "records", "cache", "*")) >= 3
		}},
		{"5 cache entries", func(store string, _ time.Duration) bool {
			return count(filepath.Join(store, "records", "cache", "*")) >= 5
		}},
	}
	killed := 0
	for i, pt := range points {
		store := filepath.Join(dir, fmt.Sprintf("store-%02d", i))
		cmd := exec.Command(bin, "--store", store, "run", "-q", pipelineFile)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "MLRUN_STORE=")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var err error
	wait:
		for {
			select {
			case err = <-done:
				break wait // it finished before the point was reached
			default:
			}
			if pt.ready(store, time.Since(start)) {
				_ = cmd.Process.Kill() // SIGKILL
				err = <-done
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == -1 {
			killed++
		} else {
			t.Logf("%s: the run ended before it was killed: %v\n%s", pt.name, err, out.Bytes())
		}
		t.Logf("killed at %q after %v: %d run record(s), %d object(s), %d temporary file(s)", pt.name, time.Since(start).Round(time.Millisecond),
			count(filepath.Join(store, "records", "runs", "*")), count(filepath.Join(store, "objects", "*", "*")), count(filepath.Join(store, "tmp", "*")))

		if out, code := mlrun(store, "verify"); code != 0 {
			t.Errorf("killed at %q: verify exited %d:\n%s", pt.name, code, out)
		}
		out2, code := mlrun(store, "run", pipelineFile)
		if code != 0 || !strings.Contains(out2, "crash: OK in") {
			t.Errorf("killed at %q: the next run exited %d:\n%s", pt.name, code, out2)
		}
		if out, code := mlrun(store, "verify"); code != 0 || !strings.Contains(out, "store intact") {
			t.Errorf("killed at %q, then run again: verify exited %d:\n%s", pt.name, code, out)
		}
	}
	// A point observed only in passing (a short write) may come too late on
	// a fast machine; most must be hit for the test to mean anything.
	if killed < len(points)/2 {
		t.Errorf("only %d of %d runs were killed before they finished", killed, len(points))
	}
}

// scriptBinary returns the mlrun command that testscript.Main installed in
// $PATH (a copy of this test binary that runs Main when named mlrun).
func scriptBinary(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("mlrun")
	if err != nil {
		t.Fatalf("mlrun is not in $PATH (TestMain installs it): %v", err)
	}
	if !strings.HasPrefix(filepath.Base(filepath.Dir(filepath.Dir(bin))), "testscript-main") {
		t.Fatalf("mlrun in $PATH is %s, not the copy of the test binary installed by testscript.Main", bin)
	}
	return bin
}
