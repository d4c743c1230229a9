//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mlrun-cli/mlrun/internal/decisions"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// servePipeline is the pipeline of models_predict.txtar: a validate step
// with a dataset rule (rows) and a row rule (range on age), derived
// features, reason texts and protected attributes.
const servePipeline = `mlrun: 1
name: pd
protected: [age, age_group]
reasons:
  debt_to_income_ratio: Debt too high relative to income
  credit_utilization: Credit card balances too high relative to limits
  payment_score: Too few payments made on time
  annual_income: Income too low
steps:
  applications:
    kind: load
    path: applications.csv
    columns:
      loan_default: int
      application_date: date
  quality:
    kind: validate
    input: applications
    rules:
      enough_rows:
        rows: {min: 1000}
      age_plausible:
        range: {column: age, min: 18, max: 100}
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
    test: 0.2
    seed: 42
  model:
    kind: train
    input: split.train
    algorithm: logistic_regression
    target: loan_default
    features: [debt_to_income_ratio, credit_utilization, payment_score, annual_income]
    class_weight: balanced
`

// serveEnv is a store with pd@1 registered and promoted to production,
// and the applications as records (fields as entered, the target left
// out).
type serveEnv struct {
	*cliEnv
	store   string
	records []map[string]string
	header  []string
}

func newServeEnv(t *testing.T) *serveEnv {
	t.Helper()
	e := &serveEnv{cliEnv: newCLIEnv(t)}
	e.store = e.path("store")
	src, err := os.ReadFile("../../examples/data/applications.csv")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.path("applications.csv"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.path("p.yaml"), []byte(servePipeline), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"run", "-q", "p.yaml"},
		{"models", "register", "--run", "latest", "--step", "model", "--name", "pd"},
		{"models", "promote", "pd", "1", "--alias", "production", "--reason", "first"},
	} {
		if r := e.mlrun(e.store, args...); r.code != 0 {
			t.Fatalf("mlrun %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
	rows, err := csv.NewReader(bytes.NewReader(src)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range rows[0] {
		if h != "loan_default" {
			e.header = append(e.header, h)
		}
	}
	for _, row := range rows[1:] {
		rec := map[string]string{}
		for i, h := range rows[0] {
			if h != "loan_default" {
				rec[h] = row[i]
			}
		}
		e.records = append(e.records, rec)
	}
	return e
}

// server is a running mlrun serve.
type server struct {
	cmd    *exec.Cmd
	url    string
	stdout *bytes.Buffer
	stderr *bytes.Buffer
	done   chan error
	// scanned is closed when stdout is read to its end.
	scanned chan struct{}
}

var servingRe = regexp.MustCompile(`serving \S+ \(\S+\) on (http://\S+)`)

// start starts mlrun serve on an ephemeral loopback port and waits for its
// "serving" line.
func (e *serveEnv) start(t *testing.T, args ...string) *server {
	t.Helper()
	cmd, _, stderr := e.command(e.store, append([]string{"serve", "--model", "pd@production", "--addr", "127.0.0.1:0", "--log-level", "info"}, args...)...)
	pr, pw := io.Pipe()
	var out bytes.Buffer
	cmd.Stdout = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, stdout: &out, stderr: stderr, done: make(chan error, 1), scanned: make(chan struct{})}
	go func() { err := cmd.Wait(); pw.Close(); s.done <- err }()
	urlc := make(chan string, 1)
	go func() {
		defer close(s.scanned)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if m := servingRe.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
	}()
	select {
	case s.url = <-urlc:
	case err := <-s.done:
		<-s.scanned
		t.Fatalf("mlrun serve exited (%v) before serving:\n%s%s", err, out.String(), stderr.String())
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("mlrun serve did not start:\n%s", stderr.String())
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return s
}

// stop sends sig and waits for the exit; it returns the exit code (-1:
// killed by the signal).
func (s *server) stop(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	_ = s.cmd.Process.Signal(sig)
	select {
	case err := <-s.done:
		<-s.scanned
		if err == nil {
			return 0
		}
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		t.Fatal(err)
	case <-time.After(60 * time.Second):
		s.cmd.Process.Kill()
		t.Fatal("mlrun serve did not stop")
	}
	return 0
}

// post sends a JSON body and decodes the JSON answer.
func post(c *http.Client, url, reqID string, body any, out any) (int, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequest("POST", url, bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if reqID != "" {
		req.Header.Set("X-Request-Id", reqID)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%w: %s", err, data)
		}
	}
	return resp.StatusCode, nil
}

// onlineDecisions reads every decision log of the store's batches of
// source serve, by request id.
func onlineDecisions(t *testing.T, store string) map[string][]decisions.Decision {
	t.Helper()
	ctx := context.Background()
	st, err := lineage.Open(store, lineage.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	view, err := st.View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names, err := view.List(ctx, decisions.NS)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]decisions.Decision{}
	for _, n := range names {
		var b decisions.Batch
		if err := view.GetJSON(ctx, decisions.NS, n, &b); err != nil {
			t.Fatal(err)
		}
		if b.Source != "serve" {
			continue
		}
		raw, err := st.GetObject(ctx, b.DecisionLog)
		if err != nil {
			t.Fatal(err)
		}
		var dl decisions.Log
		if err := json.Unmarshal(raw, &dl); err != nil {
			t.Fatal(err)
		}
		if len(dl.Decisions) != b.Rows {
			t.Errorf("batch %s: %d decisions, record says %d", n, len(dl.Decisions), b.Rows)
		}
		for _, d := range dl.Decisions {
			out[d.Request] = append(out[d.Request], d)
		}
	}
	return out
}

type plainAnswer struct {
	RequestID string `json:"request_id"`
	Version   int    `json:"version"`
	Decisions []struct {
		Score    float64 `json:"score"`
		Decision string  `json:"decision"`
		RowHash  string  `json:"row_hash"`
		Reasons  []struct {
			Code string `json:"code"`
			Text string `json:"text"`
		} `json:"reasons"`
	} `json:"decisions"`
	Error  string `json:"error"`
	Fields []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"fields"`
	Rules []struct {
		Rule   string   `json:"rule"`
		Fields []string `json:"fields"`
	} `json:"rules"`
}

// TestServeKill9 kills mlrun serve with SIGKILL under load: every request
// answered 200 must be in a decision log after the restart (each once,
// with the row hash it was answered with), explainable by request id, and
// the store must verify clean.
func TestServeKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers under load")
	}
	e := newServeEnv(t)
	// Small segments: some roll into the store while serving, the last is
	// left in the journal by the kill.
	s := e.start(t, "--segment-rows", "300")
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var (
		mu       sync.Mutex
		answered = map[string]string{} // request id -> row hash
		wg       sync.WaitGroup
	)
	stop := time.Now().Add(1500 * time.Millisecond)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				if time.Now().After(stop.Add(time.Second)) {
					return
				}
				id := fmt.Sprintf("k%d-%d", g, n)
				rec := e.records[(g*997+n)%len(e.records)]
				var a plainAnswer
				code, err := post(c, s.url+"/score", id, rec, &a)
				if err != nil {
					if time.Now().After(stop) {
						return // the server is gone
					}
					continue
				}
				if code == http.StatusOK {
					if len(a.Decisions) != 1 || a.RequestID != id {
						t.Errorf("request %s: answer %+v", id, a)
						return
					}
					mu.Lock()
					answered[id] = a.Decisions[0].RowHash
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(time.Until(stop))
	if code := s.stop(t, syscall.SIGKILL); code != -1 {
		t.Fatalf("exit %d, want killed", code)
	}
	wg.Wait()
	mu.Lock()
	n := len(answered)
	mu.Unlock()
	if n < 100 {
		t.Fatalf("only %d requests answered before the kill", n)
	}
	left, _ := filepath.Glob(filepath.Join(e.store, "journal", "*.journal"))
	t.Logf("%d requests answered 200 before SIGKILL; %d segment(s) left in the journal", n, len(left))

	// The restart commits what the killed server left.
	s2 := e.start(t)
	if code := s2.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("restarted server: exit %d\n%s", code, s2.stderr)
	}
	if len(left) > 0 && !strings.Contains(s2.stdout.String(), "recovered ") {
		t.Errorf("the restart did not say it recovered the journal:\n%s", s2.stdout)
	}
	if rest, _ := filepath.Glob(filepath.Join(e.store, "journal", "*.journal")); len(rest) > 0 {
		t.Errorf("segments left after a clean stop: %v", rest)
	}
	logged := onlineDecisions(t, e.store)
	missing := 0
	for id, hash := range answered {
		ds := logged[id]
		switch {
		case len(ds) == 0:
			missing++
		case len(ds) > 1:
			t.Errorf("request %s recorded %d times", id, len(ds))
		case ds[0].RowHash != hash:
			t.Errorf("request %s recorded with row hash %s, answered %s", id, ds[0].RowHash, hash)
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d requests answered 200 are in no decision log", missing, n)
	}
	// A few through the CLI, as a regulator would ask.
	k := 0
	for id := range answered {
		if k++; k > 3 {
			break
		}
		r := e.mlrun(e.store, "audit", "explain", "--request", id)
		if r.code != 0 || !strings.Contains(r.stdout, "with pd@1") {
			t.Errorf("audit explain --request %s: exit %d\n%s%s", id, r.code, r.stdout, r.stderr)
		}
	}
	if r := e.mlrun(e.store, "verify"); r.code != 0 {
		t.Errorf("verify after the kill: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := e.mlrun(e.store, "audit", "verify"); r.code != 0 {
		t.Errorf("audit verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestServe checks the endpoints: a decision online and the same row in a
// batch agree (score, row hash, reasons); bad input is a 400 naming every
// bad field; a record failing a rule is refused; an oversized body is a
// 413; the OIP v2 endpoints; metrics; an alias moved by promotion is
// served without a restart; SIGTERM records every decision.
func TestServe(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	e := newServeEnv(t)
	// A small batch of the first rows, without the target.
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(e.header)
	for _, rec := range e.records[:5] {
		row := make([]string, len(e.header))
		for i, h := range e.header {
			row[i] = rec[h]
		}
		_ = w.Write(row)
	}
	w.Flush()
	if err := os.WriteFile(e.path("five.csv"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := e.mlrun(e.store, "predict", "--model", "pd@production", "--data", "five.csv", "--out", "five-scores.csv", "--allow-failed-checks"); r.code != 0 {
		t.Fatalf("predict: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	scores, err := os.ReadFile(e.path("five-scores.csv"))
	if err != nil {
		t.Fatal(err)
	}
	batch, _ := csv.NewReader(bytes.NewReader(scores)).ReadAll()

	s := e.start(t, "--reload", "100ms", "--max-body", "4096", "--segment-age", "10m")
	c := &http.Client{Timeout: 10 * time.Second}
	var adverseHash string
	for i, rec := range e.records[:5] {
		var a plainAnswer
		code, err := post(c, s.url+"/score", fmt.Sprintf("same-%d", i), rec, &a)
		if err != nil || code != 200 {
			t.Fatalf("score row %d: %d %v %+v", i+1, code, err, a)
		}
		d := a.Decisions[0]
		if got := fmt.Sprintf("%.6f", d.Score); got != batch[i+1][0] || d.Decision != batch[i+1][1] {
			t.Errorf("row %d: online %s %s, batch %s %s", i+1, got, d.Decision, batch[i+1][0], batch[i+1][1])
		}
		for k, r := range d.Reasons {
			if r.Text != batch[i+1][2+k] {
				t.Errorf("row %d reason %d: online %q, batch %q", i+1, k+1, r.Text, batch[i+1][2+k])
			}
		}
		if d.Decision == "adverse" {
			adverseHash = d.RowHash
		}
	}

	// Before its segment rolls, a decision is found in the journal, shown
	// as pending (durable, not yet in the store).
	if r := e.mlrun(e.store, "audit", "explain", "--request", "same-0"); r.code != 0 || !strings.Contains(r.stdout, "PENDING: durable in the decision journal") ||
		!strings.Contains(r.stdout, "online request same-0 decided 20") || !strings.Contains(r.stdout, "scored with pd@1") {
		t.Errorf("explain same-0 before its segment rolled: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := e.mlrun(e.store, "audit", "explain", "--request", "never-sent"); r.code != 2 || !strings.Contains(r.stderr, "no scored decision matches") {
		t.Errorf("explain of an unknown request: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// OIP v2: metadata, readiness, inference with one tensor per field.
	get := func(path string) (int, string) {
		resp, err := c.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for path, want := range map[string]string{
		"/v2/health/live": `"live":true`, "/v2/health/ready": `"ready":true`, "/v2/models/pd/ready": `"ready":true`,
		"/v2/models/pd": `"versions":["1"]`,
	} {
		if code, body := get(path); code != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d %s", path, code, body)
		}
	}
	if code, _ := get("/v2/models/other"); code != 404 {
		t.Errorf("GET /v2/models/other: %d, want 404", code)
	}
	var inputs []map[string]any
	for _, h := range e.header {
		inputs = append(inputs, map[string]any{"name": h, "datatype": "BYTES", "shape": []int{2}, "data": []string{e.records[0][h], e.records[1][h]}})
	}
	var inf struct {
		ID      string `json:"id"`
		Version string `json:"model_version"`
		Outputs []struct {
			Name  string          `json:"name"`
			Shape []int           `json:"shape"`
			Data  json.RawMessage `json:"data"`
		} `json:"outputs"`
	}
	if code, err := post(c, s.url+"/v2/models/pd/infer", "", map[string]any{"id": "oip-1", "inputs": inputs}, &inf); err != nil || code != 200 {
		t.Fatalf("infer: %d %v", code, err)
	}
	if inf.ID != "oip-1" || inf.Version != "1" || len(inf.Outputs) < 4 || inf.Outputs[0].Name != "score" || inf.Outputs[3].Shape[1] != 4 {
		t.Errorf("infer answer %+v", inf)
	}
	var oipScores []float64
	_ = json.Unmarshal(inf.Outputs[0].Data, &oipScores)
	if len(oipScores) != 2 || fmt.Sprintf("%.6f", oipScores[1]) != batch[2][0] {
		t.Errorf("infer scores %v, batch row 2 %s", oipScores, batch[2][0])
	}

	// Bad input: every bad field named.
	bad := map[string]any{"anual_income": 1, "total_debt": "lots", "credit_card_balance": map[string]any{}, "credit_limit": 1000, "on_time_payments": 1, "total_payments": 2, "age": 30}
	var a plainAnswer
	code, err := post(c, s.url+"/score", "", bad, &a)
	if err != nil || code != 400 {
		t.Fatalf("bad record: %d %v", code, err)
	}
	got := map[string]string{}
	for _, f := range a.Fields {
		got[f.Field] = f.Message
	}
	for field, want := range map[string]string{
		"anual_income":        `unknown field (did you mean "annual_income"?)`,
		"annual_income":       "required field missing",
		"total_debt":          "want float",
		"credit_card_balance": "want a number, a string, a boolean or null",
	} {
		if !strings.Contains(got[field], want) {
			t.Errorf("field %s: message %q, want %q (all: %v)", field, got[field], want, got)
		}
	}
	if len(got) != 4 {
		t.Errorf("bad fields %v, want 4", got)
	}
	old := map[string]string{}
	for k, v := range e.records[0] {
		old[k] = v
	}
	old["age"] = "130"
	a = plainAnswer{}
	if code, err := post(c, s.url+"/score", "", old, &a); err != nil || code != 400 || len(a.Rules) != 1 || a.Rules[0].Rule != "age_plausible" || a.Rules[0].Fields[0] != "age" {
		t.Errorf("record failing a rule: %d %v %+v", code, err, a)
	}
	// Several records: every failing one named by its index, the same
	// answer twice (nothing of one answer leaks into the next).
	for range 2 {
		a = plainAnswer{}
		code, err := post(c, s.url+"/score", "", map[string]any{"records": []any{e.records[0], old, old}}, &a)
		if err != nil || code != 400 || len(a.Rules) != 2 || a.Rules[0].Fields[0] != "records[1].age" || a.Rules[1].Fields[0] != "records[2].age" {
			t.Errorf("records failing a rule: %d %v %+v", code, err, a)
		}
	}
	big := map[string]string{"application_id": strings.Repeat("x", 8000)}
	if code, _ := post(c, s.url+"/score", "", big, nil); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d, want 413", code)
	}
	for _, body := range []string{"{", "[1]", `"x"`, "{} {}"} {
		resp, err := c.Post(s.url+"/score", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(data), `"error"`) {
			t.Errorf("body %q: %d %s", body, resp.StatusCode, data)
		}
	}

	// Metrics in the Prometheus text format.
	_, metrics := get("/metrics")
	for _, want := range []string{
		`mlrun_serve_requests_total{endpoint="score",code="200"} 5`,
		`mlrun_serve_requests_total{endpoint="score",code="400"}`,
		`mlrun_serve_request_duration_seconds_bucket{endpoint="score",le="+Inf"}`,
		`mlrun_serve_decisions_total{decision="adverse",model="pd",version="1"}`,
		`mlrun_serve_model_version{model="pd",ref="pd@production"} 1`,
		`mlrun_serve_journal_fsyncs_total`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s:\n%s", want, metrics)
		}
	}

	// A promotion moves the alias: the server follows without a restart.
	p2 := strings.Replace(servePipeline, "seed: 42", "seed: 43", 1)
	if err := os.WriteFile(e.path("p2.yaml"), []byte(p2), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"run", "-q", "p2.yaml"},
		{"models", "register", "--run", "latest", "--step", "model", "--name", "pd"},
		{"models", "promote", "pd", "2", "--alias", "production", "--reason", "retrained"},
	} {
		if r := e.mlrun(e.store, args...); r.code != 0 {
			t.Fatalf("mlrun %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		a = plainAnswer{}
		if code, err := post(c, s.url+"/score", "after-promotion", e.records[0], &a); err != nil || code != 200 {
			t.Fatalf("score after promotion: %d %v", code, err)
		}
		if a.Version == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if a.Version != 2 {
		t.Fatalf("still serving version %d 10s after the promotion", a.Version)
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, s.stderr)
	}
	if !strings.Contains(s.stderr.String(), "model reloaded") {
		t.Errorf("no reload logged:\n%s", s.stderr)
	}

	// Every decision is explained by request id, with its version; the
	// adverse row scored online and in the batch is the same row hash.
	r := e.mlrun(e.store, "audit", "explain", "--request", "same-0")
	if r.code != 0 || !strings.Contains(r.stdout, "with pd@1") || !strings.Contains(r.stdout, "online request same-0 decided 20") {
		t.Errorf("explain same-0: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = e.mlrun(e.store, "audit", "explain", "--request", "oip-1")
	if r.code != 0 || strings.Count(r.stdout, "decision ") != 2 {
		t.Errorf("explain oip-1 (2 rows): %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var exps []decisions.Explanation
	e.mustJSON(t, e.store, &exps, "audit", "explain", "--request", "after-promotion", "--json")
	// The id was sent until an answer came from version 2: the last
	// answer is explained with pd@2, the earlier ones with pd@1.
	byVersion := map[int]int{}
	for _, x := range exps {
		if x.Version == nil || x.Batch.Source != "serve" || x.Version.Version != x.Batch.Version {
			t.Errorf("after-promotion explained as %+v", x.Batch)
			continue
		}
		byVersion[x.Version.Version]++
	}
	if byVersion[2] != 1 || byVersion[1] != len(exps)-1 {
		t.Errorf("after-promotion decisions by version %v, want one of version 2", byVersion)
	}
	if adverseHash == "" {
		t.Fatal("no adverse decision among the first rows")
	}
	exps = nil
	e.mustJSON(t, e.store, &exps, "audit", "explain", "--decision", adverseHash, "--json")
	sources := map[string]int{}
	for _, x := range exps {
		sources[x.Batch.Source]++
		if x.Decision.Score != exps[0].Decision.Score || len(x.Decision.Reasons) == 0 || fmt.Sprint(x.Decision.Reasons) != fmt.Sprint(exps[0].Decision.Reasons) {
			t.Errorf("row %s: score %v reasons %d, first %v", adverseHash[:12], x.Decision.Score, len(x.Decision.Reasons), exps[0].Decision.Score)
		}
	}
	if sources[""] != 1 || sources["serve"] < 1 {
		t.Errorf("row %s found in batches by source %v, want the batch and the server", adverseHash[:12], sources)
	}
	if r := e.mlrun(e.store, "verify"); r.code != 0 {
		t.Errorf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
