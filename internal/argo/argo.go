package argo

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage/s3store"
)

// Kinds of workflow object the export writes.
const (
	KindWorkflow         = "Workflow"
	KindWorkflowTemplate = "WorkflowTemplate"
	KindCronWorkflow     = "CronWorkflow"
)

// APIVersion is the API version of Argo's objects.
const APIVersion = "argoproj.io/v1alpha1"

// Root is where a pod finds the pipeline file and its data files: the
// directory that holds both, as on the machine that exported it, so that
// the paths the cache keys record (relative to the pipeline file) are the
// same as a local run's.
const Root = "/mlrun/src"

// CacheDir is the pods' local cache (an emptyDir at /tmp).
const CacheDir = "/tmp/mlrun-cache"

// SecretKeys are the keys the credentials Secret (Options.Secret) holds.
var SecretKeys = [2]string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}

// Options say how to export a pipeline.
type Options struct {
	// Kind is KindWorkflow (default) or KindWorkflowTemplate; Schedule
	// makes a KindCronWorkflow.
	Kind string
	// Name names the objects (default: the pipeline's name): a Workflow's
	// generateName is Name + "-".
	Name string
	// Namespace, when set, is every object's namespace.
	Namespace string
	// Image is the mlrun container image; Binary the mlrun executable in
	// it (default /mlrun).
	Image  string
	Binary string
	// Store is the shared lineage store, an s3:// URL.
	Store string
	// Data is the s3://BUCKET/PREFIX the pipeline's data files are
	// uploaded under, each at its path relative to the directory that
	// holds the pipeline file and every data file (see Files).
	Data string
	// Params are the -p name=value overrides every task passes on.
	Params []string
	// Secret names a Secret with the keys SecretKeys; ServiceAccount the
	// pods' service account (IRSA: an annotated role). Credentials never
	// appear in the export.
	Secret         string
	ServiceAccount string
	// Region is the S3 region (default us-east-1); Endpoint an
	// S3-compatible server's URL (default AWS).
	Region   string
	Endpoint string
	// Retries is how often a task that failed at run time (exit code 3 or
	// a killed pod, never a failed check nor an invalid pipeline) is
	// retried; negative means none. Default 2 (the zero value).
	Retries int
	// CPU and Memory are each container's resource requests (default
	// 500m and 512Mi); MemoryLimit, when set, its memory limit.
	CPU, Memory, MemoryLimit string
	// Schedule (cron syntax) makes a CronWorkflow; Timezone its zone.
	Schedule, Timezone string
	// Retrain, with a CronWorkflow, adds the retraining DAG run when a
	// monitor task reports critical drift (see Retrain).
	Retrain *Retrain
}

// Retrain is the retraining a scheduled monitoring workflow runs when its
// monitor step fails a critical check (mlrun exits 1): the training
// pipeline's steps as DAG tasks (retrain-STEP, each `mlrun run --only`),
// then one task running `mlrun retrain`, which finds every step in the
// store, registers the challenger and promotes it (or leaves a pending
// approval request on a protected alias).
type Retrain struct {
	// Monitor is the monitor step whose failure triggers it.
	Monitor string
	// Pipeline is the training pipeline, loaded with Params (the new data
	// window); its file and data files reach the pods like the monitored
	// pipeline's.
	Pipeline *pipeline.Pipeline
	Params   []string
	// Step, Model, Alias and Gates are mlrun retrain's flags.
	Step, Model, Alias string
	Gates              []string
}

// File is a file a pod needs: the pipeline file (from the ConfigMap) or a
// data file (an S3 input artifact).
type File struct {
	// Local is the path on the exporting machine; Pod the path in the pod.
	Local, Pod string
	// Key is the data file's S3 key under Options.Data ("" for the
	// pipeline file).
	Key string
}

// Export is what Build makes: the objects, in the order they are applied,
// and the data files that must be uploaded before a submission.
type Export struct {
	Objects []Object
	// Data are the data files, with their keys under Options.Data.
	Data []File
	// Bucket is Options.Data's bucket.
	Bucket string
	// Skipped are the report steps left out of the DAG.
	Skipped []string
	files   []File
}

// fieldName is Argo's pattern for task and template names.
var fieldName = regexp.MustCompile(`^[a-zA-Z0-9][-a-zA-Z0-9]*$`)

// dns1123 is a Kubernetes object name.
var dns1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Build turns a loaded pipeline into the objects of an Argo workflow: a
// ConfigMap holding the pipeline file (named by its content, immutable),
// and a Workflow, WorkflowTemplate or CronWorkflow with one DAG task per
// step and matrix variant, each running `mlrun run FILE --only STEP`
// against the shared store. A task depends on the tasks of the steps it
// reads; a register step's on every other step's (it acts on the whole
// run). Report steps are left out (Export.Skipped): a pod would lose the
// file they write. Errors are invalid usage (exit code 2).
func Build(p *pipeline.Pipeline, opts Options) (*Export, error) {
	o, err := defaults(p, opts)
	if err != nil {
		return nil, err
	}
	pipes := []*pipeline.Pipeline{p}
	if o.Retrain != nil {
		pipes = append(pipes, o.Retrain.Pipeline)
	}
	files, err := podFiles(pipes)
	if err != nil {
		return nil, err
	}
	ex := &Export{files: files}
	var data []File
	for _, f := range files {
		if f.Key != "" {
			data = append(data, f)
		}
	}
	if len(data) > 0 {
		if o.Data == "" {
			return nil, pipeline.Invalidf("export: %s reads data files (%s): give --data s3://BUCKET/PREFIX, where they are uploaded", p.File, localList(data))
		}
		loc, err := s3store.ParseURL(o.Data)
		if err != nil {
			return nil, pipeline.Invalidf("export: --data: %v", err)
		}
		ex.Bucket = loc.Bucket
		for i := range data {
			data[i].Key = loc.Prefix + data[i].Key
		}
	}
	ex.Data = data

	cmName, cm := configMap(o, pipes, files)
	names, err := taskNames(p)
	if err != nil {
		return nil, err
	}
	spec := &WorkflowSpec{
		Entrypoint:         "pipeline",
		ServiceAccountName: o.ServiceAccount,
		SecurityContext: &PodSecurityContext{RunAsNonRoot: true, RunAsUser: 65532, RunAsGroup: 65532,
			SeccompProfile: &SeccompProfile{Type: "RuntimeDefault"}},
		Volumes: []Volume{
			{Name: "pipeline", ConfigMap: &ConfigMapVolume{Name: cmName}},
			{Name: "tmp", EmptyDir: &EmptyDir{}},
		},
	}
	mounts := mountsFor(files)
	artifacts := artifactsFor(o, ex.Bucket, data, names, p)
	pipeFile := podPath(files, p.File)
	dag := &DAG{}
	var tmpls []Template
	for _, s := range p.Steps {
		if s.Kind == "report" {
			// It writes a file, which a pod would lose (and cannot write
			// on its read-only file system): mlrun report reads the run
			// from the store instead.
			ex.Skipped = append(ex.Skipped, s.ID)
			continue
		}
		t := Task{Name: names[s.ID], Template: names[s.ID], Dependencies: deps(p, s, names)}
		dag.Tasks = append(dag.Tasks, t)
		args := append([]string{"--store", o.Store, "run", pipeFile, "--only", s.ID}, paramArgs(o.Params)...)
		tmpls = append(tmpls, o.template(names[s.ID], args, artifacts, mounts))
	}
	if o.Retrain != nil {
		if err := o.addRetrain(p, dag, &tmpls, names, artifacts, mounts, files); err != nil {
			return nil, err
		}
	}
	spec.Templates = append([]Template{{Name: "pipeline", DAG: dag}}, tmpls...)

	labels := map[string]string{"app.kubernetes.io/managed-by": "mlrun", "mlrun.dev/pipeline": o.Name}
	ann := map[string]string{"mlrun.dev/pipeline-file": filepath.ToSlash(p.File), "mlrun.dev/pipeline-sha256": p.SHA256}
	wf := Object{APIVersion: APIVersion, Kind: o.Kind,
		Metadata: ObjectMeta{Namespace: o.Namespace, Labels: labels, Annotations: ann}}
	switch o.Kind {
	case KindWorkflow:
		wf.Metadata.GenerateName = o.Name + "-"
		wf.Spec = spec
	case KindWorkflowTemplate:
		wf.Metadata.Name = o.Name
		wf.Spec = spec
	case KindCronWorkflow:
		wf.Metadata.Name = o.Name
		wf.Spec = &CronWorkflowSpec{Schedules: []string{o.Schedule}, Timezone: o.Timezone,
			ConcurrencyPolicy: "Forbid", StartingDeadlineSeconds: 3600,
			SuccessfulJobsHistoryLimit: 7, FailedJobsHistoryLimit: 14, WorkflowSpec: spec}
	}
	ex.Objects = []Object{cm, wf}
	return ex, nil
}

func defaults(p *pipeline.Pipeline, o Options) (Options, error) {
	if o.Name == "" {
		o.Name = kubeName(p.Name)
	}
	if !dns1123.MatchString(o.Name) || len(o.Name) > 52 {
		return o, pipeline.Invalidf("export: name %q: want a Kubernetes name (lower-case letters, digits and '-', at most 52 characters): give --name", o.Name)
	}
	if o.Schedule != "" {
		if o.Kind != "" && o.Kind != KindCronWorkflow {
			return o, pipeline.Invalidf("export: --cron makes a CronWorkflow, not a %s", o.Kind)
		}
		if len(strings.Fields(o.Schedule)) != 5 && !strings.HasPrefix(o.Schedule, "@") {
			return o, pipeline.Invalidf("export: --cron %q: want a cron schedule of five fields (\"0 6 * * *\") or @daily, @hourly, ...", o.Schedule)
		}
		o.Kind = KindCronWorkflow
	}
	switch o.Kind {
	case "":
		o.Kind = KindWorkflow
	case KindWorkflow, KindWorkflowTemplate:
	case KindCronWorkflow:
		if o.Schedule == "" {
			return o, pipeline.Invalidf("export: a CronWorkflow needs --cron SCHEDULE")
		}
	default:
		return o, pipeline.Invalidf("export: kind %q: want Workflow or WorkflowTemplate (or --cron for a CronWorkflow)", o.Kind)
	}
	if o.Retrain != nil && o.Kind != KindCronWorkflow {
		return o, pipeline.Invalidf("export: --retrain belongs to a scheduled monitoring workflow (--cron)")
	}
	if o.Image == "" {
		return o, pipeline.Invalidf("export: --image is required: the mlrun image the pods run")
	}
	if o.Binary == "" {
		o.Binary = "/mlrun"
	}
	if !s3store.IsURL(o.Store) {
		return o, pipeline.Invalidf("export: the store must be shared by the pods: give --store s3://BUCKET/PREFIX, not %q", o.Store)
	}
	if _, err := s3store.ParseURL(o.Store); err != nil {
		return o, pipeline.Invalidf("export: --store: %v", err)
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return o, pipeline.Invalidf("export: --s3-endpoint %q: want http(s)://HOST[:PORT]", o.Endpoint)
		}
	}
	if o.Retries == 0 {
		o.Retries = 2
	}
	if o.CPU == "" {
		o.CPU = "500m"
	}
	if o.Memory == "" {
		o.Memory = "512Mi"
	}
	for _, kv := range o.Params {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return o, pipeline.Invalidf("-p %q: want name=value", kv)
		}
	}
	return o, nil
}

// kubeName turns a pipeline name into a Kubernetes name.
func kubeName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

// taskNames maps step ids to Argo task (and template) names: '_' becomes
// '-'; an id that would collide with another, or be too long, gets a
// short hash of itself. "pipeline" is the DAG template's name.
func taskNames(p *pipeline.Pipeline) (map[string]string, error) {
	names := map[string]string{}
	used := map[string]string{"pipeline": "", "retrain": ""}
	for _, s := range p.Steps {
		n := strings.ReplaceAll(s.ID, "_", "-")
		if _, dup := used[n]; dup || len(n) > 63 {
			sum := sha256.Sum256([]byte(s.ID))
			n = strings.TrimRight(n[:min(len(n), 50)], "-") + "-" + hex.EncodeToString(sum[:])[:8]
		}
		if _, dup := used[n]; dup || !fieldName.MatchString(n) {
			return nil, pipeline.Invalidf("export: step %q: no Argo task name for it", s.ID)
		}
		used[n] = s.ID
		names[s.ID] = n
	}
	return names, nil
}

// deps are the task names a step's task depends on.
func deps(p *pipeline.Pipeline, s *pipeline.StepSpec, names map[string]string) []string {
	var ids []string
	if isAction(s.Kind) {
		for _, o := range p.Steps {
			if !isAction(o.Kind) {
				ids = append(ids, o.ID)
			}
		}
	} else {
		ids = s.Deps()
	}
	out := make([]string, 0, len(ids))
	seen := map[string]bool{}
	for _, id := range ids {
		if n := names[id]; !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// isAction reports whether a kind acts on the whole run once it finished
// (as mlrun run --only treats it).
func isAction(kind string) bool { return kind == "register" || kind == "report" }

// podFiles lays out the pipeline files and every data file they load
// under Root, at their paths relative to the deepest directory holding
// them all.
func podFiles(pipes []*pipeline.Pipeline) ([]File, error) {
	var local []string
	isPipe := map[string]bool{}
	for _, p := range pipes {
		abs, err := filepath.Abs(p.File)
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		if !isPipe[abs] {
			isPipe[abs] = true
			local = append(local, abs)
		}
		for _, s := range p.Steps {
			fr, ok := s.Compiled.(pipeline.FileReader)
			if !ok {
				continue
			}
			paths := fr.Files()
			if len(paths) == 0 {
				return nil, pipeline.Invalidf("export: step %q reads no regular file (a stream or device cannot be delivered to a pod)", s.ID)
			}
			for _, f := range paths {
				a, err := filepath.Abs(f)
				if err != nil {
					return nil, fmt.Errorf("export: %w", err)
				}
				local = append(local, a)
			}
		}
	}
	root := filepath.Dir(local[0])
	for _, f := range local[1:] {
		for !within(root, f) {
			root = filepath.Dir(root)
		}
	}
	seen := map[string]bool{}
	var files []File
	for _, f := range local {
		if seen[f] {
			continue
		}
		seen[f] = true
		rel, err := filepath.Rel(root, f)
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		rel = filepath.ToSlash(rel)
		ff := File{Local: f, Pod: path.Join(Root, rel)}
		if !isPipe[f] {
			ff.Key = rel
		}
		files = append(files, ff)
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].Pod < files[j].Pod })
	return files, nil
}

func within(dir, f string) bool {
	rel, err := filepath.Rel(dir, f)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func localList(fs []File) string {
	var s []string
	for _, f := range fs {
		s = append(s, f.Key)
	}
	return strings.Join(s, ", ")
}

// podPath returns the pod path of a file given as the pipeline gave it.
func podPath(files []File, local string) string {
	abs, _ := filepath.Abs(local)
	for _, f := range files {
		if f.Local == abs {
			return f.Pod
		}
	}
	return ""
}

// configMap holds the pipeline files, keyed by a flattened pod path. Its
// name carries a hash of its content: a running workflow never sees an
// edited pipeline, and a new export makes a new ConfigMap.
func configMap(o Options, pipes []*pipeline.Pipeline, files []File) (string, Object) {
	data := map[string]string{}
	h := sha256.New()
	for _, f := range files {
		if f.Key != "" {
			continue
		}
		for _, p := range pipes {
			if abs, _ := filepath.Abs(p.File); abs == f.Local {
				data[configKey(f)] = string(p.Source)
				fmt.Fprintf(h, "%s\x00%d\x00%s", f.Pod, len(p.Source), p.Source)
				break
			}
		}
	}
	name := o.Name + "-pipeline-" + hex.EncodeToString(h.Sum(nil))[:10]
	return name, Object{APIVersion: "v1", Kind: "ConfigMap", Immutable: true, Data: data,
		Metadata: ObjectMeta{Name: name, Namespace: o.Namespace,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "mlrun", "mlrun.dev/pipeline": o.Name}}}
}

// configKey is a ConfigMap key for a pod path: [-._a-zA-Z0-9]+.
func configKey(f File) string {
	k := strings.TrimPrefix(f.Pod, Root+"/")
	return strings.ReplaceAll(k, "/", "__")
}

// mountsFor mounts each pipeline file from the ConfigMap (by subPath, so
// that data files may sit beside it) and the scratch /tmp.
func mountsFor(files []File) []VolumeMount {
	var m []VolumeMount
	for _, f := range files {
		if f.Key == "" {
			m = append(m, VolumeMount{Name: "pipeline", MountPath: f.Pod, SubPath: configKey(f), ReadOnly: true})
		}
	}
	return append(m, VolumeMount{Name: "tmp", MountPath: "/tmp"})
}

// artifactsFor are the data files as S3 input artifacts, named after the
// first step loading each (task names are valid artifact names).
func artifactsFor(o Options, bucket string, data []File, names map[string]string, p *pipeline.Pipeline) []Artifact {
	endpoint, insecure := "s3.amazonaws.com", false
	if o.Endpoint != "" {
		u, _ := url.Parse(o.Endpoint)
		endpoint, insecure = u.Host, u.Scheme == "http"
	}
	var arts []Artifact
	used := map[string]bool{}
	for i, f := range data {
		name := fmt.Sprintf("data-%d", i+1)
		for _, s := range p.Steps {
			if fr, ok := s.Compiled.(pipeline.FileReader); ok {
				for _, path := range fr.Files() {
					if abs, _ := filepath.Abs(path); abs == f.Local && !used["data-"+names[s.ID]] {
						name = "data-" + names[s.ID]
						break
					}
				}
			}
			if name != fmt.Sprintf("data-%d", i+1) {
				break
			}
		}
		used[name] = true
		a := Artifact{Name: name, Path: f.Pod, S3: &S3Artifact{Endpoint: endpoint, Bucket: bucket, Key: f.Key,
			Region: o.Region, Insecure: insecure}}
		if o.Secret != "" {
			a.S3.AccessKeySecret = &SecretKey{Name: o.Secret, Key: SecretKeys[0]}
			a.S3.SecretKeySecret = &SecretKey{Name: o.Secret, Key: SecretKeys[1]}
		} else {
			a.S3.UseSDKCreds = true
		}
		arts = append(arts, a)
	}
	return arts
}

// paramArgs are -p flags, in the order given.
func paramArgs(params []string) []string {
	var a []string
	for _, kv := range params {
		a = append(a, "-p", kv)
	}
	return a
}

// env is every container's environment: the S3 settings, credentials by
// Secret reference only, the local cache on the scratch volume, and the
// actor the audit log records.
func (o Options) env() []EnvVar {
	e := []EnvVar{{Name: "AWS_REGION", Value: o.Region}}
	if o.Endpoint != "" {
		e = append(e, EnvVar{Name: "AWS_ENDPOINT_URL", Value: o.Endpoint})
	}
	if o.Secret != "" {
		for _, k := range SecretKeys {
			e = append(e, EnvVar{Name: k, ValueFrom: &EnvVarSource{SecretKeyRef: &SecretKey{Name: o.Secret, Key: k}}})
		}
	}
	return append(e,
		EnvVar{Name: "MLRUN_CACHE_DIR", Value: CacheDir},
		EnvVar{Name: "MLRUN_ACTOR", Value: "argo:{{workflow.namespace}}/{{workflow.name}}"},
	)
}

// template is the container template of one task.
func (o Options) template(name string, args []string, arts []Artifact, mounts []VolumeMount) Template {
	res := &Resources{Requests: map[string]string{"cpu": o.CPU, "memory": o.Memory}}
	if o.MemoryLimit != "" {
		res.Limits = map[string]string{"memory": o.MemoryLimit}
	}
	t := Template{Name: name,
		Container: &Container{Name: "main", Image: o.Image, Command: []string{o.Binary}, Args: args, Env: o.env(),
			Resources: res, VolumeMounts: mounts,
			SecurityContext: &ContainerSecurityContext{AllowPrivilegeEscalation: false, ReadOnlyRootFilesystem: true,
				Capabilities: &Capabilities{Drop: []string{"ALL"}}}}}
	if len(arts) > 0 {
		t.Inputs = &Inputs{Artifacts: arts}
	}
	if o.Retries > 0 {
		// Exit 1 (a failed check or gate) and 2 (an invalid pipeline or a
		// missing upstream) would fail again: only runtime failures retry.
		t.RetryStrategy = &RetryStrategy{Limit: strconv.Itoa(o.Retries), RetryPolicy: "Always",
			Expression: `lastRetry.status == "Error" || asInt(lastRetry.exitCode) > 2`,
			Backoff:    &Backoff{Duration: "10s", Factor: "2", MaxDuration: "5m"}}
	}
	return t
}

// YAML renders the objects as one multi-document YAML stream (the input
// of kubectl apply -f or argo submit).
func (ex *Export) YAML(header string) ([]byte, error) {
	var buf bytes.Buffer
	for _, line := range strings.Split(strings.TrimRight(header, "\n"), "\n") {
		if line != "" || header != "" {
			fmt.Fprintf(&buf, "# %s\n", line)
		}
	}
	for i, obj := range ex.Objects {
		if i > 0 {
			buf.WriteString("---\n")
		}
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(obj); err != nil {
			return nil, fmt.Errorf("export: encode %s: %w", obj.Kind, err)
		}
		if err := enc.Close(); err != nil {
			return nil, fmt.Errorf("export: encode %s: %w", obj.Kind, err)
		}
	}
	return buf.Bytes(), nil
}

// Workflow returns the exported workflow object (the last one).
func (ex *Export) Workflow() *Object { return &ex.Objects[len(ex.Objects)-1] }

// Spec returns the workflow's WorkflowSpec (a CronWorkflow's too).
func (ex *Export) Spec() *WorkflowSpec {
	switch s := ex.Workflow().Spec.(type) {
	case *WorkflowSpec:
		return s
	case *CronWorkflowSpec:
		return s.WorkflowSpec
	}
	return nil
}

// addRetrain makes the DAG of a scheduled monitoring workflow go on to
// the retraining when its monitor step fails its critical checks: the
// monitor task may fail (continueOn), the retraining DAG's first tasks run
// when it failed with exit code 1 (a failed check; a runtime failure, 3,
// retrains nothing), and the others when their dependencies succeeded (a
// skipped task would count as done in a plain depends). Every dependency
// is written as depends, which Argo requires of all tasks of a DAG once
// one uses it.
func (o Options) addRetrain(p *pipeline.Pipeline, dag *DAG, tmpls *[]Template, names map[string]string, arts []Artifact, mounts []VolumeMount, files []File) error {
	rt := o.Retrain
	ms := p.Step(rt.Monitor)
	if ms == nil || ms.Kind != "monitor" {
		return pipeline.Invalidf("export: retrain: %s has no monitor step %q", p.File, rt.Monitor)
	}
	if rt.Model == "" {
		return pipeline.Invalidf("export: retrain: no model name")
	}
	mon := names[rt.Monitor]
	for i := range dag.Tasks {
		t := &dag.Tasks[i]
		t.Depends = strings.Join(t.Dependencies, " && ")
		t.Dependencies = nil
		if t.Name == mon {
			t.ContinueOn = &ContinueOn{Failed: true}
		}
	}
	tp := rt.Pipeline
	tnames, err := taskNames(tp)
	if err != nil {
		return err
	}
	used := map[string]bool{}
	for _, n := range names {
		used[n] = true
	}
	trainFile := podPath(files, tp.File)
	var all []string
	for _, s := range tp.Steps {
		if isAction(s.Kind) {
			continue // mlrun retrain registers
		}
		name := "retrain-" + tnames[s.ID]
		if used[name] || len(name) > 63 {
			return pipeline.Invalidf("export: retrain: no task name for step %q of %s (%q is taken or too long)", s.ID, tp.File, name)
		}
		used[name] = true
		t := Task{Name: name, Template: name}
		var deps []string
		for _, d := range deps0(tp, s) {
			deps = append(deps, "retrain-"+tnames[d]+".Succeeded")
		}
		if len(deps) == 0 {
			t.Depends = mon + ".Failed"
			t.When = "{{tasks." + mon + ".exitCode}} == 1"
		} else {
			t.Depends = strings.Join(deps, " && ")
		}
		dag.Tasks = append(dag.Tasks, t)
		all = append(all, name+".Succeeded")
		args := append([]string{"--store", o.Store, "run", trainFile, "--only", s.ID}, paramArgs(rt.Params)...)
		*tmpls = append(*tmpls, o.template(name, args, arts, mounts))
	}
	if len(all) == 0 {
		return pipeline.Invalidf("export: retrain: %s has no step to run", tp.File)
	}
	args := append([]string{"--store", o.Store, "retrain", trainFile}, paramArgs(rt.Params)...)
	args = append(args, "--model", rt.Model)
	if rt.Alias != "" {
		args = append(args, "--alias", rt.Alias)
	}
	if rt.Step != "" {
		args = append(args, "--step", rt.Step)
	}
	for _, g := range rt.Gates {
		args = append(args, "--gate", g)
	}
	args = append(args, "--reason", fmt.Sprintf("retrained by {{workflow.name}}: monitor step %s of %s failed a critical check", rt.Monitor, p.Name))
	dag.Tasks = append(dag.Tasks, Task{Name: "retrain", Template: "retrain", Depends: strings.Join(all, " && ")})
	*tmpls = append(*tmpls, o.template("retrain", args, arts, mounts))
	return nil
}

// deps0 are a step's dependencies, sorted, without duplicates.
func deps0(p *pipeline.Pipeline, s *pipeline.StepSpec) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range s.Deps() {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}

// PodPath returns where the pods find a file of the export (a pipeline
// or data file given as on the exporting machine), "" when it is none.
func (ex *Export) PodPath(local string) string {
	abs, _ := filepath.Abs(local)
	for _, f := range ex.files {
		if f.Local == abs {
			return f.Pod
		}
	}
	return ""
}
