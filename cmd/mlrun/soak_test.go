package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlrun-cli/mlrun/internal/synth"
)

// soakPipeline is crashPipeline with its split seed a parameter (a new
// seed re-runs the split and everything after it, the rest is cached) and
// a second, heavier model, so that a run has more steps, and commits,
// between which it can be killed.
const soakPipeline = `mlrun: 1
name: soak
params:
  seed: 42
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
    seed: ${params.seed}
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
  forest:
    kind: train
    input: split.train
    algorithm: random_forest
    target: loan_default
    features: [debt_to_income_ratio, credit_utilization, payment_score, annual_income]
    random_forest: {trees: 20, max_depth: 6}
  forest_evaluation:
    kind: evaluate
    model: forest
    data: split.test
`

// soakSteps is the number of steps of soakPipeline, and soakWarmSteps the
// number that a new split seed re-runs.
const (
	soakSteps     = 8
	soakWarmSteps = 5
)

// TestSoak is the kill -9 soak (make soak): SOAK_TRIALS (default 300)
// trials of `mlrun run` and `mlrun predict` SIGKILLed at random moments on
// a store reused across trials (a fresh one every 50), each followed by the
// checks of soakState.trial. It runs only with MLRUN_SOAK=1. SOAK_SEED repeats
// the random draws of an earlier soak (the seed is printed first), SOAK_ROWS
// sets the size of the training data (default 100000) and SOAK_KEEP names a
// directory the store of a failing trial is copied to.
func TestSoak(t *testing.T) {
	if os.Getenv("MLRUN_SOAK") != "1" {
		t.Skip("the kill -9 soak runs with MLRUN_SOAK=1 (make soak); TestSoakQuick runs a few of its trials")
	}
	trials := envInt(t, "SOAK_TRIALS", 300)
	soak(t, trials, 50, envInt(t, "SOAK_ROWS", 100_000))
}

// TestSoakQuick runs a few trials of the soak in the ordinary test suite,
// on smaller data, with a fresh store half-way.
func TestSoakQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	soak(t, 8, 4, 50_000)
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, s)
	}
	return n
}

// soakStats counts what the trials met.
type soakStats struct {
	trials, runs, predicts    int
	killed, finished          int
	byTrigger                 map[string][2]int // trigger -> {killed, finished first}
	runStages                 map[string]int    // what a run had committed when it was killed (or ended)
	interrupted               int               // runs recorded interrupted by the next command
	reusedSteps               int               // steps the next run found cached thanks to a killed run
	predictNothing            int               // killed predict: no batch, no file
	predictRecordedNoFile     int               // killed predict: batch recorded, decisions file not written
	predictRecordedWithFile   int               // killed predict: both
	leftTemp, leftOutputTemps int
	stores                    int
	trialTime                 time.Duration
}

// soak runs the kill -9 trials; see soakState.trial for what each checks.
// Kill delays are drawn against normal durations measured on the first
// store.
func soak(t *testing.T, trials, freshEvery, rows int) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SOAK_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SOAK_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("soak: %d trials, a fresh store every %d, %d rows; seed %d (SOAK_SEED=%d repeats the draws)", trials, freshEvery, rows, seed, seed)
	fmt.Printf("soak seed %d\n", seed)
	rng := rand.New(rand.NewPCG(seed, 0x6d6c72756e))

	e := newCLIEnv(t)
	if err := os.WriteFile(e.path("soak.yaml"), []byte(soakPipeline), 0o644); err != nil {
		t.Fatal(err)
	}
	writeSynth(t, e.path("batch.csv"), rows/2, 1001)

	s := &soakState{e: e, rng: rng, rows: rows, stats: soakStats{byTrigger: map[string][2]int{}, runStages: map[string]int{}},
		kinds:    newDeck("run", "run", "predict"),
		runKinds: newDeck("cold", "warm", "warm", "warm"),
		triggers: newDeck("delay", "delay", "tmp", "audit"),
	}
	start := time.Now()
	for i := 0; i < trials; i++ {
		if i%freshEvery == 0 {
			s.freshStore(t, i/freshEvery)
		}
		ok := s.trial(t, i)
		if !ok {
			s.keep(t)
			t.Fatalf("trial %d failed (seed %d); stopping", i, seed)
		}
	}
	s.stats.trialTime = time.Since(start)
	st := s.stats
	t.Logf("soak: %d trials (%d run, %d predict) on %d stores in %v (%v a trial); seed %d",
		st.trials, st.runs, st.predicts, st.stores, st.trialTime.Round(time.Millisecond), (st.trialTime / time.Duration(max(st.trials, 1))).Round(time.Millisecond), seed)
	t.Logf("soak: %d killed, %d finished before the kill", st.killed, st.finished)
	for _, k := range slices.Sorted(maps.Keys(st.byTrigger)) {
		t.Logf("soak:   trigger %-26s killed %3d, finished first %3d", k, st.byTrigger[k][0], st.byTrigger[k][1])
	}
	for _, k := range slices.Sorted(maps.Keys(st.runStages)) {
		t.Logf("soak:   run had committed %-25s %3d", k, st.runStages[k])
	}
	t.Logf("soak: %d runs recorded interrupted by the next command; %d committed steps of killed runs reused by the next run", st.interrupted, st.reusedSteps)
	t.Logf("soak: killed predicts: %d left nothing, %d recorded the batch without its decisions file, %d recorded it and wrote the file",
		st.predictNothing, st.predictRecordedNoFile, st.predictRecordedWithFile)
	t.Logf("soak: temporary files left by kills: %d in stores' tmp/ (removed by gc after an hour), %d next to --out files", st.leftTemp, st.leftOutputTemps)
	// A trigger may come too late on a fast machine; most trials must kill.
	if st.killed < st.trials/2 {
		t.Errorf("only %d of %d trials were killed before they finished", st.killed, st.trials)
	}
}

// soakState is the soak's store and what it knows about it.
type soakState struct {
	e     *cliEnv
	rng   *rand.Rand
	rows  int
	store string
	// known are the runs of the store before the current trial.
	known map[string]bool
	// reference is the decisions file of the model pd on batch.csv.
	reference []byte
	// normal durations, measured on the first store.
	dCold, dWarm, dPredict time.Duration
	seeds                  int // split seeds used
	// What each trial does, drawn from shuffled decks so that a few
	// trials already cover every kind: 2 runs to 1 predict; 1 cold run
	// (new training data) to 3 warm ones (a new split seed); kill triggers
	// 2 delays to 1 tmp file to 1 audit commit.
	kinds, runKinds, triggers *deck
	stats                     soakStats
}

// deck draws its cards in a random order, reshuffled when all are drawn.
type deck struct {
	cards, left []string
}

func newDeck(cards ...string) *deck { return &deck{cards: cards} }

func (d *deck) draw(rng *rand.Rand) string {
	if len(d.left) == 0 {
		d.left = slices.Clone(d.cards)
		rng.Shuffle(len(d.left), func(i, j int) { d.left[i], d.left[j] = d.left[j], d.left[i] })
	}
	c := d.left[0]
	d.left = d.left[1:]
	return c
}

// freshStore starts store n: a cold run (the first store measures its
// duration), a warm one (a new split seed), the first run's model
// registered as pd, and a predict giving the reference decisions file.
func (s *soakState) freshStore(t *testing.T, n int) {
	t.Helper()
	if s.store != "" {
		if err := os.RemoveAll(s.store); err != nil {
			t.Fatal(err)
		}
	}
	s.store = s.e.path(fmt.Sprintf("store-%03d", n))
	s.known = map[string]bool{}
	s.stats.stores++
	writeSynth(t, s.e.path("data.csv"), s.rows, 7+uint64(n))
	s.seeds++
	r := s.e.mlrun(s.store, "run", "-q", "-p", fmt.Sprintf("seed=%d", s.seeds), "soak.yaml")
	if r.code != 0 {
		t.Fatalf("store %d: first run exited %d:\n%s%s", n, r.code, r.stdout, r.stderr)
	}
	cold := r.elapsed
	s.seeds++
	r = s.e.mlrun(s.store, "run", "-q", "-p", fmt.Sprintf("seed=%d", s.seeds), "soak.yaml")
	if r.code != 0 {
		t.Fatalf("store %d: second run exited %d:\n%s%s", n, r.code, r.stdout, r.stderr)
	}
	warm := r.elapsed
	runs := s.e.runsList(t, s.store)
	if r := s.e.mlrun(s.store, "models", "register", "--run", runs[len(runs)-1].ID, "--step", "model", "--name", "pd"); r.code != 0 {
		t.Fatalf("store %d: register exited %d:\n%s%s", n, r.code, r.stdout, r.stderr)
	}
	ref := s.e.path("reference.csv")
	r = s.e.mlrun(s.store, "predict", "--model", "pd", "--data", "batch.csv", "--out", "reference.csv")
	if r.code != 0 {
		t.Fatalf("store %d: predict exited %d:\n%s%s", n, r.code, r.stdout, r.stderr)
	}
	var err error
	if s.reference, err = os.ReadFile(ref); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		s.dCold, s.dWarm, s.dPredict = cold, warm, r.elapsed
		t.Logf("soak: normal durations: cold run %v, warm run (new split seed) %v, predict %v",
			s.dCold.Round(time.Millisecond), s.dWarm.Round(time.Millisecond), s.dPredict.Round(time.Millisecond))
	}
	for _, run := range s.e.runsList(t, s.store) {
		s.known[run.ID] = true
	}
}

// keep copies the store to $SOAK_KEEP, when set.
func (s *soakState) keep(t *testing.T) {
	dst := os.Getenv("SOAK_KEEP")
	if dst == "" || s.store == "" {
		return
	}
	dst = filepath.Join(dst, filepath.Base(s.store)+"-"+time.Now().Format("150405"))
	if err := os.CopyFS(dst, os.DirFS(s.store)); err != nil {
		t.Logf("keeping the store: %v", err)
		return
	}
	t.Logf("the store of the failing trial is kept in %s", dst)
}

// A killTrigger says when to kill: it is polled every 200µs with the time
// since the process started.
type killTrigger struct {
	name  string
	ready func(elapsed time.Duration) bool
}

// trigger draws the kill moment of a trial: a delay uniform in [0, 1.2×d]
// (half the trials), the j-th new file seen under tmp/ (a write in
// progress; j in [1, temps]), or the k-th new audit commit (just after it,
// before what follows it; k in [1, commits]).
func (s *soakState) trigger(d time.Duration, commits, temps int) killTrigger {
	switch s.triggers.draw(s.rng) {
	case "delay":
		delay := time.Duration(s.rng.Int64N(int64(d)*12/10 + 1))
		return killTrigger{fmt.Sprintf("delay %v", delay.Round(time.Millisecond)), func(el time.Duration) bool { return el >= delay }}
	case "tmp":
		j := 1 + s.rng.IntN(temps)
		tmp := filepath.Join(s.store, "tmp")
		old := map[string]bool{} // left by earlier kills
		ents, _ := os.ReadDir(tmp)
		for _, de := range ents {
			old[de.Name()] = true
		}
		seen := map[string]bool{}
		return killTrigger{fmt.Sprintf("tmp file %d", j), func(time.Duration) bool {
			ents, _ := os.ReadDir(tmp)
			for _, de := range ents {
				if !old[de.Name()] {
					seen[de.Name()] = true
				}
			}
			return len(seen) >= j
		}}
	default:
		k := 1 + s.rng.IntN(commits)
		next := filepath.Join(s.store, "records", "audit", fmt.Sprintf("%012d.json", auditCommits(s.store)+k))
		return killTrigger{fmt.Sprintf("audit commit %d", k), func(time.Duration) bool {
			_, err := os.Stat(next)
			return err == nil
		}}
	}
}

// trial runs one trial: a run (two in three: a new split seed, or new
// training data one time in four) or a predict, SIGKILLed at a drawn
// moment; then
//
//	(a) `mlrun verify` exits 0 (it also records the killed run as
//	    interrupted: it opens the store for writing),
//	(b) every run is finished with its run.finished entry or interrupted
//	    with its run.interrupted entry, none is left running or active, and
//	    `runs show latest` is the newest finished run (checkStore);
//	(c) after a predict, a decisions file that exists is complete (the
//	    reference's bytes) and its batch is recorded: `store ls batches`
//	    names it, `audit log --type batch.scored` has it with the file's
//	    SHA-256, and its decision log object is in the store, intact;
//	(d) the same command again succeeds: a run finds cached every step
//	    the killed run committed; a predict writes the reference again.
//
// It reports whether every check passed.
func (s *soakState) trial(t *testing.T, i int) bool {
	before := t.Failed()
	s.stats.trials++
	if s.kinds.draw(s.rng) == "run" {
		s.runTrial(t, i)
	} else {
		s.predictTrial(t, i)
	}
	return !t.Failed() || before
}

func (s *soakState) runTrial(t *testing.T, i int) {
	s.stats.runs++
	kind, d, steps := "warm", s.dWarm, soakWarmSteps
	if s.runKinds.draw(s.rng) == "cold" {
		kind, d, steps = "cold", s.dCold, soakSteps
		writeSynth(t, s.e.path("data.csv"), s.rows, 1_000_000+s.rng.Uint64N(1<<40))
	}
	s.seeds++
	args := []string{"run", "-q", "-p", fmt.Sprintf("seed=%d", s.seeds), "soak.yaml"}
	trig := s.trigger(d, steps+2, 6)
	what := fmt.Sprintf("trial %d (%s run, kill at %s)", i, kind, trig.name)
	temps := countDir(filepath.Join(s.store, "tmp"))
	r, killed := s.e.runUntil(s.store, syscall.SIGKILL, trig.ready, args...)
	s.count(trig.name, killed)
	if !killed && r.code != 0 {
		t.Errorf("%s: the run ended before the kill with exit %d:\n%s%s", what, r.code, r.stdout, r.stderr)
		return
	}
	s.stats.leftTemp += countDir(filepath.Join(s.store, "tmp")) - temps

	v, rep, ok := s.e.checkStore(t, s.store, what)
	if !ok {
		return
	}
	var victim *soakRun
	for k := range rep.runs {
		if !s.known[rep.runs[k].ID] {
			if victim != nil {
				t.Errorf("%s: two new runs %s and %s", what, victim.ID, rep.runs[k].ID)
				return
			}
			victim = &rep.runs[k]
		}
	}
	var committed []string
	stage := ""
	switch {
	case victim == nil && !killed:
		t.Errorf("%s: the run finished but is not recorded", what)
		return
	case victim == nil:
		stage = "nothing"
	case victim.Status == "interrupted":
		if !killed {
			t.Errorf("%s: run %s finished by itself but is recorded interrupted", what, victim.ID)
		}
		s.stats.interrupted++
		if !strings.Contains(v.stderr, "run "+victim.ID+" was interrupted") {
			t.Errorf("%s: verify did not say it recorded run %s as interrupted:\n%s", what, victim.ID, v.stderr)
		}
		for _, en := range rep.byRun[victim.ID] {
			if en.Type == "run.interrupted" && en.Detail["detected_by"] == "" {
				t.Errorf("%s: run %s: run.interrupted without detected_by: %v", what, victim.ID, en.Detail)
			}
			if en.Type == "step.executed" {
				committed = append(committed, en.Step)
			}
		}
		stage = fmt.Sprintf("start and %d step(s)", len(committed))
	case victim.Status == "ok":
		stage = "its end (ok)"
		for _, st := range victim.Steps {
			committed = append(committed, st.ID)
		}
	default:
		t.Errorf("%s: run %s is %s (exit %d)", what, victim.ID, victim.Status, victim.ExitCode)
		return
	}
	s.stats.runStages[stage]++
	t.Logf("%s after %v: had committed %s", what, r.elapsed.Round(time.Millisecond), stage)

	// (d) The next run succeeds and reuses what the killed one committed.
	r = s.e.mlrun(s.store, append([]string{"run", "--json"}, args[2:]...)...)
	if r.code != 0 {
		t.Errorf("%s: the next run exited %d:\n%s%s", what, r.code, r.stdout, r.stderr)
		return
	}
	var next soakRun
	if err := json.Unmarshal([]byte(r.stdout), &next); err != nil {
		t.Errorf("%s: the next run's JSON: %v\n%s", what, err, r.stdout)
		return
	}
	if next.Status != "ok" {
		t.Errorf("%s: the next run %s is %s", what, next.ID, next.Status)
	}
	hit := map[string]bool{}
	for _, st := range next.Steps {
		hit[st.ID] = st.CacheHit
	}
	for _, id := range committed {
		if !hit[id] {
			t.Errorf("%s: step %s was committed by the killed run %s, but the next run %s did not find it cached", what, id, victim.ID, next.ID)
		}
	}
	s.stats.reusedSteps += len(committed)
	for _, run := range rep.runs {
		s.known[run.ID] = true
	}
	s.known[next.ID] = true
}

func (s *soakState) predictTrial(t *testing.T, i int) {
	s.stats.predicts++
	out := fmt.Sprintf("scores-%03d.csv", i)
	args := []string{"predict", "--model", "pd", "--data", "batch.csv", "--out", out}
	trig := s.trigger(s.dPredict, 1, 3)
	what := fmt.Sprintf("trial %d (predict, kill at %s)", i, trig.name)
	temps := countDir(filepath.Join(s.store, "tmp"))
	r, killed := s.e.runUntil(s.store, syscall.SIGKILL, trig.ready, args...)
	s.count(trig.name, killed)
	if !killed && r.code != 0 {
		t.Errorf("%s: predict ended before the kill with exit %d:\n%s%s", what, r.code, r.stdout, r.stderr)
		return
	}
	s.stats.leftTemp += countDir(filepath.Join(s.store, "tmp")) - temps
	if m, _ := filepath.Glob(s.e.path("." + out + ".*.tmp")); len(m) > 0 {
		s.stats.leftOutputTemps += len(m)
	}

	if _, _, ok := s.e.checkStore(t, s.store, what); !ok {
		return
	}
	// (c) A decisions file is never without its recorded batch.
	scored := s.e.batchesScored(t, s.store, out)
	file, err := os.ReadFile(s.e.path(out))
	exists := err == nil
	switch {
	case !exists && !errors.Is(err, os.ErrNotExist):
		t.Fatal(err)
	case !exists && !killed:
		t.Errorf("%s: predict exited 0 without writing %s", what, out)
	case exists && !bytes.Equal(file, s.reference):
		t.Errorf("%s: %s is not the complete decisions file (%d bytes, want %d)", what, out, len(file), len(s.reference))
	}
	if len(scored) > 1 {
		t.Errorf("%s: %d batch.scored entries for one predict", what, len(scored))
	}
	if exists && len(scored) == 0 {
		t.Errorf("%s: %s exists but no batch.scored entry names it", what, out)
	}
	if exists && len(scored) == 1 {
		sum := sha256.Sum256(file)
		if got := scored[0].Detail["output_sha256"]; got != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: batch.scored has output_sha256 %s, the file has %x", what, got, sum)
		}
	}
	if len(scored) == 1 {
		batch := scored[0].Detail["batch"]
		var recs []struct {
			Record string `json:"record"`
		}
		r := s.e.mlrun(s.store, "store", "ls", "batches", "--json")
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &recs) != nil {
			t.Errorf("%s: store ls batches exited %d:\n%s%s", what, r.code, r.stdout, r.stderr)
		} else if !slices.ContainsFunc(recs, func(x struct {
			Record string `json:"record"`
		}) bool {
			return x.Record == "batches/"+batch
		}) {
			t.Errorf("%s: batch %s of %s is in the audit log but not in store ls batches", what, batch, out)
		}
		if err := objectIntact(s.store, scored[0].Detail["decision_log"]); err != nil {
			t.Errorf("%s: decision log of batch %s: %v", what, batch, err)
		}
	}
	outcome := "scored (exit 0)"
	if killed {
		switch {
		case len(scored) == 0:
			outcome = "nothing recorded, no file"
			s.stats.predictNothing++
		case exists:
			outcome = "batch recorded and file written"
			s.stats.predictRecordedWithFile++
		default:
			outcome = "batch recorded, no file"
			s.stats.predictRecordedNoFile++
		}
	}
	t.Logf("%s after %v: %s", what, r.elapsed.Round(time.Millisecond), outcome)

	// (d) The same predict again succeeds, with the same decisions.
	r = s.e.mlrun(s.store, args...)
	if r.code != 0 {
		t.Errorf("%s: the next predict exited %d:\n%s%s", what, r.code, r.stdout, r.stderr)
		return
	}
	if file, err := os.ReadFile(s.e.path(out)); err != nil || !bytes.Equal(file, s.reference) {
		t.Errorf("%s: the next predict's %s differs from the reference (%v)", what, out, err)
	}
	if n := len(s.e.batchesScored(t, s.store, out)); n != len(scored)+1 {
		t.Errorf("%s: the next predict: %d batch.scored entries for %s, want %d", what, n, out, len(scored)+1)
	}
	_ = os.Remove(s.e.path(out))
}

func (s *soakState) count(trigger string, killed bool) {
	name := trigger
	if f := strings.Fields(trigger); len(f) > 1 {
		name = strings.Join(f[:len(f)-1], " ") // "tmp file 3" -> "tmp file"
	}
	c := s.stats.byTrigger[name]
	if killed {
		s.stats.killed++
		c[0]++
	} else {
		s.stats.finished++
		c[1]++
	}
	s.stats.byTrigger[name] = c
}

// --- running mlrun -----------------------------------------------------

// cliEnv runs the mlrun of the test binary (scriptBinary) in a directory,
// with a memo cache of its own.
type cliEnv struct {
	t     *testing.T
	bin   string
	dir   string
	cache string
}

func newCLIEnv(t *testing.T) *cliEnv {
	t.Helper()
	return &cliEnv{t: t, bin: scriptBinary(t), dir: t.TempDir(), cache: t.TempDir()}
}

func (e *cliEnv) path(name string) string { return filepath.Join(e.dir, name) }

type cliResult struct {
	stdout, stderr string
	code           int // -1: killed by a signal
	elapsed        time.Duration
}

func (e *cliEnv) command(store string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.Command(e.bin, append([]string{"--store", store}, args...)...)
	cmd.Dir = e.dir
	cmd.Env = append(os.Environ(), "MLRUN_STORE=", "MLRUN_CACHE_DIR="+e.cache)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

func (e *cliEnv) result(err error, stdout, stderr *bytes.Buffer, elapsed time.Duration, args []string) cliResult {
	e.t.Helper()
	r := cliResult{stdout: stdout.String(), stderr: stderr.String(), elapsed: elapsed}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		e.t.Fatalf("mlrun %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// mlrun runs mlrun --store store args... to its end.
func (e *cliEnv) mlrun(store string, args ...string) cliResult {
	e.t.Helper()
	cmd, stdout, stderr := e.command(store, args...)
	start := time.Now()
	err := cmd.Run()
	return e.result(err, stdout, stderr, time.Since(start), args)
}

// runUntil starts mlrun --store store args..., polls ready every 200µs and
// sends sig when it is; it reports whether sig was sent before the process
// ended (for SIGKILL: whether the process died of it). The process is
// SIGKILLed when it has not ended 30 s after sig.
func (e *cliEnv) runUntil(store string, sig os.Signal, ready func(time.Duration) bool, args ...string) (cliResult, bool) {
	e.t.Helper()
	cmd, stdout, stderr := e.command(store, args...)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	sent := false
	var err error
wait:
	for {
		select {
		case err = <-done:
			break wait
		default:
		}
		if ready(time.Since(start)) {
			sent = cmd.Process.Signal(sig) == nil
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				err = <-done
				e.t.Errorf("mlrun %s: still running 30s after %v", strings.Join(args, " "), sig)
			}
			break
		}
		time.Sleep(200 * time.Microsecond)
	}
	r := e.result(err, stdout, stderr, time.Since(start), args)
	if sig == syscall.SIGKILL {
		ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
		sent = ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
	}
	return r, sent
}

// --- the store as the commands show it ---------------------------------

// soakRun is what the checks read of a run record.
type soakRun struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	ExitCode int    `json:"exit_code"`
	Error    string `json:"error"`
	Steps    []struct {
		ID       string `json:"id"`
		CacheHit bool   `json:"cache_hit"`
		Status   string `json:"status"`
	} `json:"steps"`
}

// soakEntry is what the checks read of an audit entry.
type soakEntry struct {
	Seq    uint64            `json:"seq"`
	Type   string            `json:"type"`
	Run    string            `json:"run"`
	Step   string            `json:"step"`
	Detail map[string]string `json:"detail"`
}

// storeReport is what checkStore read.
type storeReport struct {
	runs  []soakRun // newest first
	audit []soakEntry
	byRun map[string][]soakEntry
}

func (e *cliEnv) runsList(t *testing.T, store string) []soakRun {
	t.Helper()
	var runs []soakRun
	e.mustJSON(t, store, &runs, "runs", "list", "--json", "--limit", "0")
	return runs
}

func (e *cliEnv) mustJSON(t *testing.T, store string, v any, args ...string) {
	t.Helper()
	r := e.mlrun(store, args...)
	if r.code != 0 {
		t.Fatalf("mlrun %s exited %d:\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("mlrun %s: %v\n%s", strings.Join(args, " "), err, r.stdout)
	}
}

// checkStore runs `mlrun verify` (which records the runs whose process
// died as interrupted) and checks that it exits 0, then that the runs and
// the audit log agree: every run is finished (ok, check-failed, failed)
// with one run.finished entry or interrupted with one run.interrupted
// entry, none is running, every run.started entry has its run, no run is
// marked active, and `runs show latest` is the newest finished run. It
// returns verify's result and what it read, and whether every check passed.
func (e *cliEnv) checkStore(t *testing.T, store, what string) (cliResult, *storeReport, bool) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s: "+format, append([]any{what}, args...)...)
	}
	v := e.mlrun(store, "verify")
	if _, err := os.Stat(filepath.Join(store, "mlrun-store.json")); err != nil {
		// Killed (or out of space) before the store existed: verify says
		// there is none, and there is nothing else to check.
		if v.code != 2 || !strings.Contains(v.stderr, "no mlrun store at") {
			fail("verify of a store never created exited %d:\n%s%s", v.code, v.stdout, v.stderr)
			return v, nil, false
		}
		return v, &storeReport{}, true
	}
	if v.code != 0 || !strings.Contains(v.stdout, "store intact") {
		fail("verify exited %d:\n%s%s", v.code, v.stdout, v.stderr)
		return v, nil, false
	}
	before := t.Failed()
	rep := &storeReport{runs: e.runsList(t, store), byRun: map[string][]soakEntry{}}
	e.mustJSON(t, store, &rep.audit, "audit", "log", "--json")
	for _, en := range rep.audit {
		if en.Run != "" {
			rep.byRun[en.Run] = append(rep.byRun[en.Run], en)
		}
	}
	runs := map[string]bool{}
	var latest *soakRun
	for k, r := range rep.runs {
		runs[r.ID] = true
		n := map[string]int{}
		for _, en := range rep.byRun[r.ID] {
			n[en.Type]++
		}
		switch r.Status {
		case "ok", "check-failed", "failed":
			if n["run.finished"] != 1 || n["run.interrupted"] != 0 {
				fail("run %s is %s with %d run.finished and %d run.interrupted entries", r.ID, r.Status, n["run.finished"], n["run.interrupted"])
			}
			if latest == nil {
				latest = &rep.runs[k]
			}
		case "interrupted":
			if n["run.interrupted"] != 1 || n["run.finished"] != 0 {
				fail("run %s is interrupted with %d run.interrupted and %d run.finished entries", r.ID, n["run.interrupted"], n["run.finished"])
			}
		case "running":
			fail("run %s is stuck running after its process died (%s)", r.ID, r.Error)
		default:
			fail("run %s has status %q", r.ID, r.Status)
		}
		if n["run.started"] != 1 {
			fail("run %s has %d run.started entries", r.ID, n["run.started"])
		}
	}
	for id, ens := range rep.byRun {
		for _, en := range ens {
			if en.Type == "run.started" && !runs[id] {
				fail("run.started #%d of run %s, which has no record", en.Seq, id)
			}
		}
	}
	var active []json.RawMessage
	e.mustJSON(t, store, &active, "store", "ls", "active", "--json")
	if len(active) != 0 {
		fail("%d run(s) still marked active after verify", len(active))
	}
	r := e.mlrun(store, "runs", "show", "latest", "--json")
	switch {
	case latest == nil:
		if r.code != 2 || !strings.Contains(r.stderr, "no finished run") {
			fail("runs show latest with no finished run exited %d:\n%s%s", r.code, r.stdout, r.stderr)
		}
	case r.code != 0:
		fail("runs show latest exited %d:\n%s", r.code, r.stderr)
	default:
		var got soakRun
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			fail("runs show latest --json: %v", err)
		} else if got.ID != latest.ID {
			fail("runs show latest is %s (%s), want the newest finished run %s", got.ID, got.Status, latest.ID)
		}
	}
	return v, rep, !t.Failed() || before
}

// batchesScored returns the batch.scored entries of --out file out.
func (e *cliEnv) batchesScored(t *testing.T, store, out string) []soakEntry {
	t.Helper()
	var all, mine []soakEntry
	e.mustJSON(t, store, &all, "audit", "log", "--type", "batch.scored", "--json")
	for _, en := range all {
		if en.Type != "batch.scored" {
			t.Errorf("audit log --type batch.scored listed a %s entry", en.Type)
		}
		if en.Detail["output"] == out {
			mine = append(mine, en)
		}
	}
	return mine
}

// objectIntact checks that the object id is in the store and re-hashes to
// its name.
func objectIntact(store, id string) error {
	if len(id) != 64 {
		return fmt.Errorf("object id %q", id)
	}
	b, err := os.ReadFile(filepath.Join(store, "objects", id[:2], id))
	if err != nil {
		return err
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != id {
		return fmt.Errorf("object %s has SHA-256 %x", id, sum)
	}
	return nil
}

// auditCommits returns the number of audit commits of the store (they are
// numbered from 1 without gaps).
func auditCommits(store string) int { return countDir(filepath.Join(store, "records", "audit")) }

func countDir(dir string) int {
	ents, _ := os.ReadDir(dir)
	return len(ents)
}

// writeSynth writes rows rows of synthetic applications.
func writeSynth(t *testing.T, path string, rows int, seed uint64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := synth.Write(w, synth.Options{Rows: rows, Seed: seed}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
