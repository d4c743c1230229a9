package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mlrun-cli/mlrun/internal/argo"
	"github.com/mlrun-cli/mlrun/internal/argo/argotest"
	"github.com/mlrun-cli/mlrun/pipeline/lineage/s3store/s3test"
)

// argoEnv is an exporting machine (a copy of internal/argo's test
// pipelines), a versitygw on loopback, and a cluster harness whose pods
// run this test's mlrun.
type argoEnv struct {
	t       *testing.T
	bin     string
	src     string
	srv     *s3test.Server
	cluster *argotest.Cluster
}

func newArgoEnv(t *testing.T) *argoEnv {
	t.Helper()
	srv := s3test.Start(t, "team")
	e := &argoEnv{t: t, bin: scriptBinary(t), src: filepath.Join(t.TempDir(), "src"), srv: srv}
	if err := os.CopyFS(e.src, os.DirFS("../../internal/argo/testdata/pipelines")); err != nil {
		t.Fatal(err)
	}
	e.cluster = &argotest.Cluster{Binary: e.bin, Root: filepath.Join(t.TempDir(), "root"),
		Secrets: map[string]map[string]string{"mlrun-s3": {argo.SecretKeys[0]: srv.AccessKey, argo.SecretKeys[1]: srv.SecretKey}}}
	return e
}

// mlrun runs the CLI on the exporting machine with the S3 environment.
func (e *argoEnv) mlrun(args ...string) string {
	e.t.Helper()
	cmd := exec.Command(e.bin, args...)
	cmd.Dir = filepath.Dir(e.src)
	cmd.Env = append(append(os.Environ(), e.srv.Env()...), "MLRUN_CACHE_DIR="+filepath.Join(e.t.TempDir(), "cache"))
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		e.t.Fatalf("mlrun %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
	}
	return string(out)
}

// export prints the workflow and uploads the data files its header lists.
func (e *argoEnv) export(file string, args ...string) []byte {
	e.t.Helper()
	out := e.mlrun(append([]string{"--store", "s3://team/credit", "export", "argo", file, "--image", "mlrun:test",
		"--data", "s3://team/in", "--secret", "mlrun-s3", "--s3-endpoint", e.srv.Endpoint}, args...)...)
	up := regexp.MustCompile(`(?m)^#   aws s3 cp (\S+) s3://team/(\S+)$`)
	ms := up.FindAllStringSubmatch(out, -1)
	if len(ms) == 0 {
		e.t.Fatalf("no upload in the header:\n%s", out)
	}
	for _, m := range ms {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(e.src), m[1]))
		if err != nil {
			e.t.Fatal(err)
		}
		if err := argotest.Put(context.Background(), e.srv.Endpoint, "us-east-1", e.srv.AccessKey, e.srv.SecretKey, "team", m[2], b); err != nil {
			e.t.Fatal(err)
		}
	}
	return []byte(out)
}

type runJSON struct {
	Steps []struct {
		ID       string `json:"id"`
		Kind     string `json:"kind"`
		CacheHit bool   `json:"cache_hit"`
		Outputs  map[string]struct {
			ID string `json:"id"`
		} `json:"outputs"`
	} `json:"steps"`
}

// outputs are a run's output object ids by step and output name, and
// how many steps ran (but report steps, which the export leaves out).
func outputs(t *testing.T, js string) (map[string]string, int) {
	t.Helper()
	var r runJSON
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	out, ran := map[string]string{}, 0
	for _, s := range r.Steps {
		for name, o := range s.Outputs {
			out[s.ID+"."+name] = o.ID
		}
		// The export leaves report steps out.
		if !s.CacheHit && s.Kind != "report" {
			ran++
		}
	}
	return out, ran
}

// TestArgoHarness runs an exported workflow's tasks as separate processes
// in DAG order and in parallel against versitygw: every task succeeds,
// the store then holds every step under the keys a full run looks up, with
// the objects of a local run, and a second submission is all cached.
func TestArgoHarness(t *testing.T) {
	e := newArgoEnv(t)
	manifest := e.export("src/flows/sweep.yaml")
	for _, secret := range []string{e.srv.AccessKey, e.srv.SecretKey} {
		if strings.Contains(string(manifest), secret) {
			t.Fatal("the manifest holds a credential")
		}
	}
	ctx := context.Background()
	res, err := e.cluster.Submit(ctx, manifest)
	if err != nil {
		t.Fatal(err)
	}
	ranOne := regexp.MustCompile(`\(1 ran, \d+ cached, 0 skipped, 0 failed\)`)
	for _, task := range res.Tasks {
		if task.Phase != "Succeeded" || !ranOne.MatchString(task.Output) {
			t.Errorf("task %s: %s (exit %d)\n%s", task.Name, task.Phase, task.ExitCode, task.Output)
		}
	}
	if res.Phase != "Succeeded" || len(res.Tasks) != 8 {
		t.Fatalf("workflow %s with %d tasks", res.Phase, len(res.Tasks))
	}
	if res.MaxParallel < 2 {
		t.Errorf("at most %d task ran at a time: the variants should run in parallel", res.MaxParallel)
	}
	// The matrix variants' tasks overlapped in time.
	a, b := res.Task("model--max-depth-2"), res.Task("model--max-depth-4")
	if a.Start.After(b.End) || b.Start.After(a.End) {
		t.Errorf("the variants did not overlap: %v-%v and %v-%v", a.Start, a.End, b.Start, b.End)
	}

	// A full run against the store, with the pods' paths, finds every step.
	podFile := filepath.Join(e.cluster.Root, argo.Root, "flows", "sweep.yaml")
	remote, ran := outputs(t, e.mlrun("--store", "s3://team/credit", "run", podFile, "--json", "--no-register"))
	if ran != 0 {
		t.Errorf("a full run after the workflow ran %d steps", ran)
	}
	localStore := filepath.Join(t.TempDir(), "local")
	local, _ := outputs(t, e.mlrun("--store", localStore, "run", "src/flows/sweep.yaml", "--json"))
	if len(local) != 13 || len(remote) != len(local) {
		t.Fatalf("outputs: %d remote, %d local", len(remote), len(local))
	}
	for k, id := range local {
		if remote[k] != id {
			t.Errorf("%s: %s in the workflow's store, %s locally", k, remote[k], id)
		}
	}
	if out := e.mlrun("--store", "s3://team/credit", "verify"); !strings.Contains(out, "store intact") {
		t.Errorf("verify: %s", out)
	}
	// The register variants' tasks registered the best variant once, as a
	// local run does.
	if out := e.mlrun("--store", "s3://team/credit", "models", "list"); !regexp.MustCompile(`(?m)^pd +latest 1 `).MatchString(out) {
		t.Errorf("models list: %s", out)
	}

	// A second submission: every task finds its step cached.
	res, err = e.cluster.Submit(ctx, manifest)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range res.Tasks {
		if task.Phase != "Succeeded" || !strings.Contains(task.Output, "(0 ran, ") {
			t.Errorf("second submission, task %s: %s\n%s", task.Name, task.Phase, task.Output)
		}
	}
}

// TestArgoHarnessCronRetrain submits the exported CronWorkflow of a
// monitor pipeline whose monitor step declares on_critical: retrain, as
// the schedule would: the drifted batch fails the monitor task (exit 1,
// continueOn), the retraining tasks run the training pipeline on the new
// window, and the retrain task registers the challenger and, the champion
// alias being protected, leaves a pending request. A second run finds
// every step cached and the request already pending.
func TestArgoHarnessCronRetrain(t *testing.T) {
	e := newArgoEnv(t)
	manifest := e.export("src/flows/monitor.yaml", "--cron", "0 6 * * *")
	// The first champion, trained on the training window, and its
	// protection (as a team would set them up).
	st := []string{"--store", "s3://team/credit"}
	out := e.mlrun(append(st, "retrain", "src/flows/train.yaml", "--model", "pd")...)
	if !strings.Contains(out, "retrain: promoted pd@1 to champion (was 0)") {
		t.Fatalf("first champion: %s", out)
	}
	e.mlrun(append(st, "models", "protect", "pd", "--alias", "champion", "--approvals", "1", "--reason", "policy")...)

	ctx := context.Background()
	res, err := e.cluster.Submit(ctx, manifest)
	if err != nil {
		t.Fatal(err)
	}
	phases := func(res *argotest.Result) string {
		var b strings.Builder
		for _, task := range res.Tasks {
			b.WriteString(task.Name + ":" + task.Phase + " ")
		}
		return strings.TrimSpace(b.String())
	}
	want := "applications:Succeeded batch:Succeeded batch-features:Succeeded features:Succeeded split:Succeeded model:Succeeded monitoring:Failed " +
		"retrain-window:Succeeded retrain-features:Succeeded retrain-split:Succeeded retrain-model:Succeeded retrain-evaluation:Succeeded retrain:Succeeded"
	if got := phases(res); got != want || res.Phase != "Succeeded" {
		t.Fatalf("tasks %s (workflow %s)\nwant %s", got, res.Phase, want)
	}
	if m := res.Task("monitoring"); m.ExitCode != 1 || !strings.Contains(m.Output, "psi:credit_utilization") {
		t.Errorf("monitoring: exit %d\n%s", m.ExitCode, m.Output)
	}
	rt := res.Task("retrain").Output
	for _, w := range []string{"retrain: registered challenger pd@2 (alias challenger)",
		"retrain: champion is protected: request pd/1 to promote pd@2 is pending 1 approval(s)"} {
		if !strings.Contains(rt, w) {
			t.Errorf("retrain task: no %q in\n%s", w, rt)
		}
	}
	// The retrain task found every step of the training pipeline in the
	// store, as the retraining tasks left them.
	if !regexp.MustCompile(`retrain: ran /\S+/train.yaml \(run \S+, ok\)`).MatchString(rt) {
		t.Errorf("retrain task:\n%s", rt)
	}
	show := e.mlrun(append(st, "models", "show", "pd")...)
	if !strings.Contains(show, "request pd/1  pending") {
		t.Errorf("models show pd:\n%s", show)
	}

	// The next day, the same batch: all cached, nothing new to promote.
	res, err = e.cluster.Submit(ctx, manifest)
	if err != nil {
		t.Fatal(err)
	}
	if got := phases(res); got != want {
		t.Fatalf("second run: %s", got)
	}
	for _, task := range res.Tasks {
		if task.Name != "retrain" && !strings.Contains(task.Output, "(0 ran, ") {
			t.Errorf("second run, task %s ran a step:\n%s", task.Name, task.Output)
		}
	}
	if rt := res.Task("retrain").Output; !strings.Contains(rt, "the model trained already is pd@2; nothing new to promote") {
		t.Errorf("second retrain:\n%s", rt)
	}
}
