//go:build unix

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
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
// it (store created, a write in progress, the n-th object, the n-th audit
// commit), so that they do not depend on the machine's speed. TestSoak
// does the same at random moments on a store reused across runs.
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
	// Records live in the state tree: what a run has recorded shows as
	// its audit commits (run.started, one per executed step, then its end).
	commits := func(n int) func(string, time.Duration) bool {
		return func(store string, _ time.Duration) bool {
			return count(filepath.Join(store, "records", "audit", "*")) >= n
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
		{"run started (first commit)", commits(1)},
		{"first write in progress", writing(0)},
		{"1 object", objects(1)},
		{"a write in progress after 2 objects", writing(2)},
		{"3 objects", objects(3)},
		{"5 objects", objects(5)},
		{"a write in progress after 5 objects", writing(5)},
		{"7 objects", objects(7)},
		{"3 steps committed", commits(4)},
		{"5 steps committed", commits(6)},
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
		t.Logf("killed at %q after %v: %d audit commit(s), %d object(s), %d temporary file(s)", pt.name, time.Since(start).Round(time.Millisecond),
			count(filepath.Join(store, "records", "audit", "*")), count(filepath.Join(store, "objects", "*", "*")), count(filepath.Join(store, "tmp", "*")))

		if out, code := mlrun(store, "verify"); code != 0 {
			// Killed before the store existed: verify says there is none.
			if _, err := os.Stat(filepath.Join(store, "mlrun-store.json")); err == nil || code != 2 || !strings.Contains(out, "no mlrun store at") {
				t.Errorf("killed at %q: verify exited %d:\n%s", pt.name, code, out)
			}
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

// TestSigterm sends SIGTERM, and os.Interrupt, to `mlrun run` while a step
// runs (the load step, just after the run.started commit; the split, after
// three steps committed). The process must exit 3 by itself, having
// recorded the run as interrupted with a run.interrupted entry, despite its
// cancelled context (before any other command could record it: the entry
// gives the signal as the reason); the store must verify clean, and the
// next run succeed, finding cached the steps the interrupted run committed.
func TestSigterm(t *testing.T) {
	e := newCLIEnv(t)
	writeSynth(t, e.path("data.csv"), 50_000, 7)
	if err := os.WriteFile(e.path("soak.yaml"), []byte(soakPipeline), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		sig    os.Signal
		name   string
		commit int // the signal is sent when audit commit n exists
	}{
		{syscall.SIGTERM, "SIGTERM during load", 1},
		{syscall.SIGTERM, "SIGTERM during split", 4},
		{os.Interrupt, "os.Interrupt during load", 1},
		{os.Interrupt, "os.Interrupt during split", 4},
	} {
		// On a loaded machine the run can finish its last step before the
		// signal is delivered (it then exits 0, rightly): such an attempt
		// proves nothing and is repeated, in a fresh store, up to 3 times.
		var (
			store string
			r     cliResult
			sent  bool
		)
		for attempt := range 3 {
			store = e.path(fmt.Sprintf("store-%d-%d", i, attempt))
			next := filepath.Join(store, "records", "audit", fmt.Sprintf("%012d.json", c.commit))
			r, sent = e.runUntil(store, c.sig, func(time.Duration) bool {
				_, err := os.Stat(next)
				return err == nil
			}, "run", "-p", "seed=1", "soak.yaml")
			if !sent || r.code != 0 {
				break
			}
			t.Logf("%s: attempt %d finished before the signal took effect; again", c.name, attempt+1)
		}
		if !sent {
			t.Errorf("%s: the run ended before the signal (exit %d):\n%s%s", c.name, r.code, r.stdout, r.stderr)
			continue
		}
		if r.code != 3 {
			t.Errorf("%s: exit %d, want 3:\n%s%s", c.name, r.code, r.stdout, r.stderr)
			continue
		}
		if !strings.Contains(r.stderr, "interrupted: context canceled") || !strings.Contains(r.stdout, "soak: INTERRUPTED in") {
			t.Errorf("%s: output does not say the run was interrupted:\n%s%s", c.name, r.stdout, r.stderr)
		}
		t.Logf("%s: exit %d after %v", c.name, r.code, r.elapsed.Round(time.Millisecond))

		// Recorded by the run itself: the entry gives the signal as the
		// reason (RecoverInterrupted would have said who detected it).
		runs := e.runsList(t, store)
		if len(runs) != 1 || runs[0].Status != "interrupted" || runs[0].ExitCode != 3 {
			t.Errorf("%s: runs %+v, want one interrupted run with exit code 3", c.name, runs)
			continue
		}
		id := runs[0].ID
		var audit []soakEntry
		e.mustJSON(t, store, &audit, "audit", "log", "--run", id, "--json")
		var committed []string
		n := map[string]int{}
		for _, en := range audit {
			n[en.Type]++
			switch {
			case en.Type == "run.interrupted":
				if en.Detail["reason"] != "cancelled (signal)" || en.Detail["detected_by"] != "" {
					t.Errorf("%s: run.interrupted was not written by the run: %v", c.name, en.Detail)
				}
				if en.Detail["exit_code"] != "3" {
					t.Errorf("%s: run.interrupted has exit_code %q, want 3", c.name, en.Detail["exit_code"])
				}
			case en.Type == "step.executed" && en.Detail["status"] == "ok":
				committed = append(committed, en.Step)
			}
		}
		if n["run.interrupted"] != 1 || n["run.finished"] != 0 || n["run.started"] != 1 {
			t.Errorf("%s: audit entries of run %s: %v, want one run.started and one run.interrupted", c.name, id, n)
		}
		if len(committed) < c.commit-1 {
			t.Errorf("%s: %d steps committed, want at least %d", c.name, len(committed), c.commit-1)
		}
		v, _, ok := e.checkStore(t, store, c.name)
		if !ok {
			continue
		}
		if strings.Contains(v.stderr, "was interrupted") {
			t.Errorf("%s: verify recorded an interrupted run the run had recorded itself:\n%s", c.name, v.stderr)
		}

		// The next run succeeds and reuses the committed steps.
		r = e.mlrun(store, "run", "--json", "-p", "seed=1", "soak.yaml")
		var nextRun soakRun
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &nextRun) != nil || nextRun.Status != "ok" {
			t.Errorf("%s: the next run exited %d:\n%s%s", c.name, r.code, r.stdout, r.stderr)
			continue
		}
		hit := map[string]bool{}
		for _, st := range nextRun.Steps {
			hit[st.ID] = st.CacheHit
		}
		for _, s := range committed {
			if !hit[s] {
				t.Errorf("%s: step %s was committed by the interrupted run but the next run did not find it cached", c.name, s)
			}
		}
		t.Logf("%s: %d step(s) committed before the signal, cached by the next run", c.name, len(committed))
		e.checkStore(t, store, c.name+", then run again")
	}
}

// TestDiskFull runs the pipeline on a store on a small tmpfs (mounted as
// root; skipped where mounting is not permitted) filled with a file to leave
// a range of free space, on a fresh store and on one holding a run. The run
// must fail with exit 3 and a "no space left on device" error, and leave
// nothing half-written: with the space freed, `mlrun verify` is clean, no
// run is left running (the failed one is recorded failed or interrupted),
// and the next run succeeds, reusing the steps the failed one committed.
func TestDiskFull(t *testing.T) {
	e := newCLIEnv(t)
	fsDir := mountTmpfs(t, e.path("fs"), "4m")
	writeDiskFullInputs(t, e)
	free := func() int64 { return freeSpace(t, fsDir) }
	store := filepath.Join(fsDir, "store")
	fill := filepath.Join(fsDir, "fill")
	run := func(seed int) cliResult {
		return e.mlrun(store, "run", "-q", "-p", fmt.Sprintf("seed=%d", seed), "soak.yaml")
	}

	// What a run needs: a first one on an empty store, a second one (a new
	// split seed) on a store holding the first.
	total := free()
	if r := run(1); r.code != 0 {
		t.Fatalf("a run with space exited %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	afterCold := free()
	if r := run(2); r.code != 0 {
		t.Fatalf("a second run with space exited %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	needCold, needWarm := total-afterCold, afterCold-free()
	t.Logf("tmpfs of %d KiB: a first run takes %d KiB, a second %d KiB", total>>10, needCold>>10, needWarm>>10)

	seed := 10
	failures := 0
	for _, sc := range []struct {
		name    string
		warm    bool
		budgets []int64
	}{
		{"empty store", false, []int64{0, 4 << 10, 32 << 10, 128 << 10, needCold / 4, needCold / 2, needCold * 3 / 4, needCold - 96<<10}},
		{"store holding a run", true, []int64{0, 16 << 10, needWarm / 3, needWarm * 2 / 3, needWarm - 64<<10}},
	} {
		for _, budget := range sc.budgets {
			what := fmt.Sprintf("%s, %d KiB free", sc.name, budget>>10)
			if err := os.RemoveAll(store); err != nil {
				t.Fatal(err)
			}
			seed++
			if sc.warm {
				if r := run(1); r.code != 0 {
					t.Fatalf("%s: the first run exited %d:\n%s%s", what, r.code, r.stdout, r.stderr)
				}
			}
			before := map[string]bool{}
			if sc.warm {
				for _, r := range e.runsList(t, store) {
					before[r.ID] = true
				}
			}
			fillDisk(t, fill, budget)
			left := free()
			r := run(seed)
			if n := countDir(filepath.Join(store, "tmp")); n != 0 {
				t.Errorf("%s: the run left %d temporary file(s) in the store", what, n)
			}
			switch {
			case r.code == 0:
				t.Logf("%s (%d KiB left): the run fit", what, left>>10)
			case r.code != 3:
				t.Errorf("%s: exit %d, want 3:\n%s%s", what, r.code, r.stdout, r.stderr)
			case !strings.Contains(r.stderr, "no space left on device"):
				t.Errorf("%s: the error does not say the disk is full:\n%s", what, r.stderr)
			default:
				failures++
				t.Logf("%s (%d KiB left): exit 3: %s", what, left>>10, firstLine(r.stderr))
			}
			if err := os.Remove(fill); err != nil {
				t.Fatal(err)
			}

			_, rep, ok := e.checkStore(t, store, what)
			if !ok {
				continue
			}
			var committed []string
			for _, run := range rep.runs {
				if before[run.ID] {
					continue
				}
				switch {
				case r.code != 0 && run.Status != "failed" && run.Status != "interrupted":
					t.Errorf("%s: the run that failed is recorded %s", what, run.Status)
				case r.code == 0 && run.Status != "ok":
					t.Errorf("%s: the run that fit is recorded %s", what, run.Status)
				}
				for _, en := range rep.byRun[run.ID] {
					if en.Type == "step.executed" && en.Detail["status"] == "ok" {
						committed = append(committed, en.Step)
					}
				}
			}
			r = e.mlrun(store, "run", "--json", "-p", fmt.Sprintf("seed=%d", seed), "soak.yaml")
			var nextRun soakRun
			if r.code != 0 || json.Unmarshal([]byte(r.stdout), &nextRun) != nil || nextRun.Status != "ok" {
				t.Errorf("%s: the next run, with space, exited %d:\n%s%s", what, r.code, r.stdout, r.stderr)
				continue
			}
			hit := map[string]bool{}
			for _, st := range nextRun.Steps {
				hit[st.ID] = st.CacheHit
			}
			for _, s := range committed {
				if !hit[s] {
					t.Errorf("%s: step %s was committed by the failed run but the next run did not find it cached", what, s)
				}
			}
			if v := e.mlrun(store, "verify"); v.code != 0 {
				t.Errorf("%s, then run again: verify exited %d:\n%s%s", what, v.code, v.stdout, v.stderr)
			}
		}
	}
	if failures < 6 {
		t.Errorf("only %d runs failed for want of space", failures)
	}
}

// TestVerifyOnFullDisk runs `mlrun verify` on a full disk after the first
// run of a store died of it having committed only its start: verify cannot
// record the run as interrupted (no space), but the store it checks is
// intact, and it must say so (exit 0), as it does once space is freed.
func TestVerifyOnFullDisk(t *testing.T) {
	e := newCLIEnv(t)
	fsDir := mountTmpfs(t, e.path("fs"), "4m")
	writeDiskFullInputs(t, e)
	store := filepath.Join(fsDir, "store")
	fillDisk(t, filepath.Join(fsDir, "fill"), 32<<10)
	r := e.mlrun(store, "run", "-q", "soak.yaml")
	if r.code != 3 || !strings.Contains(r.stderr, "no space left on device") {
		t.Fatalf("the run on a full disk exited %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	runs := e.runsList(t, store)
	if len(runs) != 1 || len(runs[0].Steps) != 0 {
		t.Fatalf("want one run that committed no step, got %+v", runs)
	}
	v := e.mlrun(store, "verify")
	if !strings.Contains(v.stderr, "cannot record interrupted runs") {
		t.Errorf("verify on the full disk does not say it cannot record the interrupted run:\n%s", v.stderr)
	}
	if v.code != 0 || !strings.Contains(v.stdout, "store intact") {
		t.Errorf("verify on the full disk exited %d:\n%s%s", v.code, v.stdout, v.stderr)
	}
	if err := os.Remove(filepath.Join(fsDir, "fill")); err != nil {
		t.Fatal(err)
	}
	if v := e.mlrun(store, "verify"); v.code != 0 || !strings.Contains(v.stdout, "store intact") {
		t.Errorf("verify with space exited %d:\n%s%s", v.code, v.stdout, v.stderr)
	}
}

// mountTmpfs mounts a tmpfs of size (mount -o size=) at dir, unmounted by
// the test's cleanup, and returns dir. It skips the test where mounting is
// not permitted (not root, not Linux, no mount).
func mountTmpfs(t *testing.T, dir, size string) string {
	t.Helper()
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root on Linux")
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount -t tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
			_ = exec.Command("umount", "-l", dir).Run()
		}
	})
	return dir
}

// writeDiskFullInputs writes soak.yaml and data.csv, the first 2500
// applications of the example data: two runs' objects take half of a 4 MiB
// tmpfs.
func writeDiskFullInputs(t *testing.T, e *cliEnv) {
	t.Helper()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(repo, "examples", "data", "applications.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfterN(data, []byte("\n"), 2502)
	data = bytes.Join(lines[:2501], nil)
	if err := os.WriteFile(e.path("data.csv"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.path("soak.yaml"), []byte(soakPipeline), 0o644); err != nil {
		t.Fatal(err)
	}
}

// freeSpace returns the bytes free for users on the file system of dir.
func freeSpace(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize) // Bsize is uint32 on darwin
}

// fillDisk writes file with dd so that about budget bytes stay free.
func fillDisk(t *testing.T, file string, budget int64) {
	t.Helper()
	n := (freeSpace(t, filepath.Dir(file)) - budget) / 4096
	if out, err := exec.Command("dd", "if=/dev/zero", "of="+file, "bs=4096", fmt.Sprintf("count=%d", max(n, 0))).CombinedOutput(); err != nil {
		t.Fatalf("dd: %v: %s", err, out)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// TestVerifyDuringFirstRun runs `mlrun verify` while the first run of a
// store is in progress: the run is stopped (SIGSTOP) just after its
// run.started commit, so the store holds runs/<id> and active/<id>, the
// same record. A run in progress is not damage: verify must exit 0 (it says
// the run is in progress), and the run, continued, must finish.
func TestVerifyDuringFirstRun(t *testing.T) {
	e := newCLIEnv(t)
	writeSynth(t, e.path("data.csv"), 20_000, 7)
	if err := os.WriteFile(e.path("soak.yaml"), []byte(soakPipeline), 0o644); err != nil {
		t.Fatal(err)
	}
	store := e.path("store")
	cmd, stdout, stderr := e.command(store, "run", "-q", "soak.yaml")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(store, "records", "audit", "000000000001.json")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(first); err == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("no run.started commit after 30s:\n%s%s", stdout, stderr)
		}
		time.Sleep(100 * time.Microsecond)
	}
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	v := e.mlrun(store, "verify")
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the run, continued: %v\n%s%s", err, stdout, stderr)
	}
	if v.code != 0 || !strings.Contains(v.stdout, "store intact") {
		t.Errorf("verify during the store's first run exited %d:\n%s%s", v.code, v.stdout, v.stderr)
	}
	if v := e.mlrun(store, "verify"); v.code != 0 {
		t.Errorf("verify after the run exited %d:\n%s%s", v.code, v.stdout, v.stderr)
	}
}
