package argo_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlrun-cli/mlrun/internal/argo"
	"github.com/mlrun-cli/mlrun/internal/retrain"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/steps"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.yaml with the actual exports")

func load(t *testing.T, file string, params map[string]string) *pipeline.Pipeline {
	t.Helper()
	reg, err := steps.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.Load(file, pipeline.LoadOptions{Registry: reg, Overrides: params})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	sweep       = "testdata/pipelines/flows/sweep.yaml"
	monitorFile = "testdata/pipelines/flows/monitor.yaml"
)

// retrainOf is the retraining the monitor step of a pipeline declares.
func retrainOf(t *testing.T, file string) *argo.Retrain {
	t.Helper()
	p := load(t, file, nil)
	spec, ok := retrain.FromMonitor(p, "monitoring")
	if !ok {
		t.Fatalf("%s: no on_critical retrain", file)
	}
	ov := map[string]string{}
	for _, kv := range spec.Params {
		k, v, _ := strings.Cut(kv, "=")
		ov[k] = v
	}
	return &argo.Retrain{Monitor: "monitoring", Pipeline: load(t, spec.Pipeline, ov), Params: spec.Params,
		Model: spec.Model, Alias: spec.Alias, Gates: spec.Gates}
}

// TestGolden exports the sweep pipeline as each kind of object, compares
// with the golden files, and validates every document against Argo's
// schema and the strict key check.
func TestGolden(t *testing.T) {
	base := argo.Options{Image: "ghcr.io/mlrun-cli/mlrun@sha256:" + strings.Repeat("ab", 32), Store: "s3://team/credit",
		Data: "s3://team/inputs"}
	tests := []struct {
		name  string
		opts  func(o *argo.Options)
		kinds string
	}{
		{"workflow", func(o *argo.Options) { o.Secret = "mlrun-s3"; o.Params = []string{"min_auc=0.6"} }, "ConfigMap Workflow"},
		{"template", func(o *argo.Options) {
			o.Kind = argo.KindWorkflowTemplate
			o.ServiceAccount, o.Namespace, o.Name = "mlrun", "risk", "pd-nightly"
			o.Endpoint, o.Region = "http://minio.minio:9000", "eu-west-1"
			o.Retries, o.CPU, o.Memory, o.MemoryLimit = -1, "2", "2Gi", "4Gi"
		}, "ConfigMap WorkflowTemplate"},
		{"cron", func(o *argo.Options) {
			o.Schedule, o.Timezone, o.ServiceAccount = "0 6 * * *", "Europe/London", "mlrun"
		}, "ConfigMap CronWorkflow"},
		{"cron-retrain", func(o *argo.Options) {
			o.Schedule, o.Secret = "0 6 * * *", "mlrun-s3"
			o.Retrain = retrainOf(t, monitorFile)
		}, "ConfigMap CronWorkflow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := load(t, sweep, map[string]string{"min_auc": "0.6"})
			if tt.name == "cron-retrain" {
				p = load(t, monitorFile, nil)
			}
			o := base
			tt.opts(&o)
			ex, err := argo.Build(p, o)
			if err != nil {
				t.Fatal(err)
			}
			out, err := ex.YAML("golden " + tt.name)
			if err != nil {
				t.Fatal(err)
			}
			kinds, problems := validateYAML(t, out)
			if strings.Join(kinds, " ") != tt.kinds {
				t.Errorf("kinds %q, want %q", kinds, tt.kinds)
			}
			for _, p := range problems {
				t.Error(p)
			}
			golden(t, filepath.Join("testdata", "golden", tt.name+".yaml"), out)
		})
	}
}

func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (go test ./internal/argo -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test ./internal/argo -update rewrites it):\n%s", file, diffLines(string(want), string(got)))
	}
}

// diffLines names the first differing line.
func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, x, y)
		}
	}
	return ""
}

// TestDAG checks the tasks and their dependencies: one per step and
// variant, the register variants after every other step, the data file
// at its path relative to the common directory, and the args.
func TestDAG(t *testing.T) {
	p := load(t, sweep, nil)
	ex, err := argo.Build(p, argo.Options{Image: "img", Store: "s3://b/s", Data: "s3://b/in/"})
	if err != nil {
		t.Fatal(err)
	}
	spec := ex.Spec()
	var got []string
	for _, task := range spec.Templates[0].DAG.Tasks {
		got = append(got, task.Name+"<-"+strings.Join(task.Dependencies, ","))
	}
	want := []string{
		"applications<-",
		"split<-applications",
		"model--max-depth-2<-split",
		"evaluation--max-depth-2<-model--max-depth-2,split",
		"model--max-depth-4<-split",
		"evaluation--max-depth-4<-model--max-depth-4,split",
		"registered--max-depth-2<-applications,evaluation--max-depth-2,evaluation--max-depth-4,model--max-depth-2,model--max-depth-4,split",
		"registered--max-depth-4<-applications,evaluation--max-depth-2,evaluation--max-depth-4,model--max-depth-2,model--max-depth-4,split",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("tasks:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	tm := spec.Templates[3] // model--max-depth-2
	if a := strings.Join(tm.Container.Args, " "); a != "--store s3://b/s run /mlrun/src/flows/sweep.yaml --only model--max_depth-2" {
		t.Errorf("args %q", a)
	}
	if len(ex.Data) != 1 || ex.Data[0].Key != "in/data/applications.csv" || ex.Data[0].Pod != "/mlrun/src/data/applications.csv" || ex.Bucket != "b" {
		t.Errorf("data %+v bucket %q", ex.Data, ex.Bucket)
	}
	if a := tm.Inputs.Artifacts[0]; a.Name != "data-applications" || a.S3.Key != "in/data/applications.csv" || !a.S3.UseSDKCreds || a.S3.AccessKeySecret != nil {
		t.Errorf("artifact %+v %+v", a, a.S3)
	}
	if strings.Join(ex.Skipped, ",") != "card" {
		t.Errorf("skipped %q, want the report step", ex.Skipped)
	}
	if got := ex.PodPath(sweep); got != "/mlrun/src/flows/sweep.yaml" {
		t.Errorf("PodPath %q", got)
	}
}

// TestBuildErrors checks the usage errors: exit code 2 and the message.
func TestBuildErrors(t *testing.T) {
	p := load(t, sweep, nil)
	ok := argo.Options{Image: "img", Store: "s3://b/s", Data: "s3://b/in"}
	tests := []struct {
		name string
		edit func(o *argo.Options)
		want string
	}{
		{"no image", func(o *argo.Options) { o.Image = "" }, "export: --image is required: the mlrun image the pods run"},
		{"local store", func(o *argo.Options) { o.Store = ".mlrun" }, `export: the store must be shared by the pods: give --store s3://BUCKET/PREFIX, not ".mlrun"`},
		{"no data", func(o *argo.Options) { o.Data = "" }, "export: " + sweep + " reads data files (data/applications.csv): give --data s3://BUCKET/PREFIX, where they are uploaded"},
		{"bad data", func(o *argo.Options) { o.Data = "/tmp/x" }, `export: --data: store "/tmp/x": want s3://BUCKET/PREFIX`},
		{"bad cron", func(o *argo.Options) { o.Schedule = "daily" }, `export: --cron "daily": want a cron schedule of five fields ("0 6 * * *") or @daily, @hourly, ...`},
		{"cron template", func(o *argo.Options) { o.Schedule, o.Kind = "@daily", argo.KindWorkflowTemplate }, "export: --cron makes a CronWorkflow, not a WorkflowTemplate"},
		{"cron kind", func(o *argo.Options) { o.Kind = argo.KindCronWorkflow }, "export: a CronWorkflow needs --cron SCHEDULE"},
		{"bad kind", func(o *argo.Options) { o.Kind = "Job" }, `export: kind "Job": want Workflow or WorkflowTemplate (or --cron for a CronWorkflow)`},
		{"bad name", func(o *argo.Options) { o.Name = "PD_x" }, `export: name "PD_x": want a Kubernetes name (lower-case letters, digits and '-', at most 52 characters): give --name`},
		{"bad endpoint", func(o *argo.Options) { o.Endpoint = "minio:9000" }, `export: --s3-endpoint "minio:9000": want http(s)://HOST[:PORT]`},
		{"bad param", func(o *argo.Options) { o.Params = []string{"x"} }, `-p "x": want name=value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.edit(&o)
			_, err := argo.Build(p, o)
			if err == nil || err.Error() != tt.want || pipeline.ExitCode(err) != pipeline.ExitInvalid {
				t.Fatalf("err %v (exit %d)\nwant %s", err, pipeline.ExitCode(err), tt.want)
			}
		})
	}
	if _, err := argo.Build(p, ok); err != nil {
		t.Fatal(err)
	}
}
