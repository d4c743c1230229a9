// Package argotest runs an exported Argo workflow without a cluster, for
// tests: each task's container command and args run as a separate process
// (the image's binary replaced by a local mlrun), in DAG order and in
// parallel, with the task's input artifacts fetched from S3 (a versitygw on
// loopback in the tests), its ConfigMap files mounted, its environment
// resolved from Secret references, and a fresh emptyDir per task.
//
// All pods see the same root at the same path (Cluster.Root stands for
// the container's /), as pods of one image do: paths recorded by the
// steps are the same in every task.
package argotest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/internal/argo"
)

// Cluster is where workflows run.
type Cluster struct {
	// Binary replaces each container's command[0].
	Binary string
	// Root is the pods' shared file system root: a container path /x is
	// Root/x, but for emptyDir mounts, which are the task's own.
	Root string
	// Secrets are the namespace's Secrets: name -> key -> value.
	Secrets map[string]map[string]string
	// Jobs is how many tasks run at once (default 4).
	Jobs int
	// Env is added to every task's environment (e.g. lease settings).
	Env []string
	// Submissions counts workflows run, for workflow names.
	mu          sync.Mutex
	submissions int
}

// Task is the outcome of one DAG task.
type Task struct {
	Name string
	// Phase is Succeeded, Failed, Skipped (when false) or Omitted (its
	// dependencies did not hold).
	Phase string
	// ExitCode is the process's exit code (-1 when it did not run).
	ExitCode int
	// Args are the args run, as mapped to the local file system.
	Args   []string
	Output string
	// Start and End bound the process.
	Start, End time.Time
}

// Result is the outcome of a workflow.
type Result struct {
	Name string
	// Tasks are in the DAG's order.
	Tasks []*Task
	// Phase is Succeeded or Failed (a failed task without continueOn).
	Phase string
	// MaxParallel is the most tasks that ran at the same time.
	MaxParallel int
}

// Task returns the named task's outcome.
func (r *Result) Task(name string) *Task {
	for _, t := range r.Tasks {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// manifest is what the harness reads of an exported workflow.
type manifest struct {
	configMaps map[string]map[string]string
	name       string
	spec       *argo.WorkflowSpec
}

func parse(b []byte) (*manifest, error) {
	m := &manifest{configMaps: map[string]map[string]string{}}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var node yaml.Node
		if err := dec.Decode(&node); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
		var head struct {
			Kind     string            `yaml:"kind"`
			Metadata argo.ObjectMeta   `yaml:"metadata"`
			Data     map[string]string `yaml:"data"`
		}
		if err := node.Decode(&head); err != nil {
			return nil, err
		}
		name := head.Metadata.Name
		if name == "" {
			name = head.Metadata.GenerateName
		}
		switch head.Kind {
		case "ConfigMap":
			m.configMaps[head.Metadata.Name] = head.Data
		case argo.KindWorkflow, argo.KindWorkflowTemplate:
			var w struct {
				Spec argo.WorkflowSpec `yaml:"spec"`
			}
			if err := node.Decode(&w); err != nil {
				return nil, err
			}
			m.name, m.spec = name, &w.Spec
		case argo.KindCronWorkflow:
			var w struct {
				Spec argo.CronWorkflowSpec `yaml:"spec"`
			}
			if err := node.Decode(&w); err != nil {
				return nil, err
			}
			m.name, m.spec = name, w.Spec.WorkflowSpec
		default:
			return nil, fmt.Errorf("argotest: kind %q", head.Kind)
		}
	}
	if m.spec == nil {
		return nil, errors.New("argotest: no workflow in the manifest")
	}
	return m, nil
}

// Submit runs a workflow manifest (multi-document YAML) to its end.
func (c *Cluster) Submit(ctx context.Context, manifestYAML []byte) (*Result, error) {
	m, err := parse(manifestYAML)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.submissions++
	name := fmt.Sprintf("%s%05d", strings.TrimSuffix(m.name, "-")+"-", c.submissions)
	c.mu.Unlock()
	tmpls := map[string]*argo.Template{}
	for i := range m.spec.Templates {
		tmpls[m.spec.Templates[i].Name] = &m.spec.Templates[i]
	}
	entry := tmpls[m.spec.Entrypoint]
	if entry == nil || entry.DAG == nil {
		return nil, fmt.Errorf("argotest: entrypoint %q is no DAG template", m.spec.Entrypoint)
	}
	res := &Result{Name: name, Phase: "Succeeded"}
	done := map[string]chan struct{}{}
	byName := map[string]*Task{}
	for _, t := range entry.DAG.Tasks {
		tr := &Task{Name: t.Name, ExitCode: -1}
		res.Tasks = append(res.Tasks, tr)
		byName[t.Name] = tr
		done[t.Name] = make(chan struct{})
	}
	jobs := c.Jobs
	if jobs <= 0 {
		jobs = 4
	}
	sem := make(chan struct{}, jobs)
	var (
		mu      sync.Mutex
		running int
		wg      sync.WaitGroup
		errs    []error
	)
	for _, t := range entry.DAG.Tasks {
		wg.Go(func() {
			defer close(done[t.Name])
			tr := byName[t.Name]
			var deps []string
			deps = append(deps, t.Dependencies...)
			deps = append(deps, names(t.Depends)...)
			for _, d := range deps {
				ch, ok := done[d]
				if !ok {
					mu.Lock()
					errs = append(errs, fmt.Errorf("task %s: unknown dependency %q", t.Name, d))
					mu.Unlock()
					tr.Phase = "Omitted"
					return
				}
				<-ch
			}
			mu.Lock()
			ok := true
			for _, d := range t.Dependencies {
				ok = ok && (byName[d].Phase == "Succeeded" || byName[d].Phase == "Skipped")
			}
			if t.Depends != "" {
				ok = ok && evalDepends(t.Depends, byName)
			}
			when := t.When
			for _, d := range deps {
				when = strings.ReplaceAll(when, "{{tasks."+d+".exitCode}}", fmt.Sprint(byName[d].ExitCode))
			}
			mu.Unlock()
			if !ok {
				tr.Phase = "Omitted"
				return
			}
			if when != "" && !evalWhen(when) {
				tr.Phase = "Skipped"
				return
			}
			tmpl := tmpls[t.Template]
			if tmpl == nil || tmpl.Container == nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("task %s: no container template %q", t.Name, t.Template))
				mu.Unlock()
				tr.Phase = "Failed"
				return
			}
			sem <- struct{}{}
			mu.Lock()
			running++
			res.MaxParallel = max(res.MaxParallel, running)
			mu.Unlock()
			err := c.run(ctx, m, name, tmpl, tr)
			mu.Lock()
			running--
			if err != nil {
				errs = append(errs, fmt.Errorf("task %s: %w", t.Name, err))
			}
			if tr.Phase == "Failed" && (t.ContinueOn == nil || !t.ContinueOn.Failed) {
				res.Phase = "Failed"
			}
			mu.Unlock()
			<-sem
		})
	}
	wg.Wait()
	return res, errors.Join(errs...)
}

// run runs one task's container as a process, retrying as its
// retryStrategy says (for the exit codes the export retries: above 2).
func (c *Cluster) run(ctx context.Context, m *manifest, wfName string, tmpl *argo.Template, tr *Task) error {
	if err := os.MkdirAll(c.Root+"-pods", 0o755); err != nil {
		return err
	}
	pod, err := os.MkdirTemp(c.Root+"-pods", tr.Name+"-")
	if err != nil {
		return err
	}
	ct := tmpl.Container
	emptyDirs := map[string]string{} // container path -> local
	for _, vm := range ct.VolumeMounts {
		for _, v := range m.spec.Volumes {
			if v.Name == vm.Name && v.EmptyDir != nil {
				emptyDirs[vm.MountPath] = filepath.Join(pod, v.Name)
				if err := os.MkdirAll(emptyDirs[vm.MountPath], 0o755); err != nil {
					return err
				}
			}
		}
	}
	local := func(p string) string {
		for mp, dir := range emptyDirs {
			if p == mp || strings.HasPrefix(p, mp+"/") {
				return dir + strings.TrimPrefix(p, mp)
			}
		}
		return filepath.Join(c.Root, filepath.FromSlash(p))
	}
	// ConfigMap files (subPath mounts) and input artifacts.
	for _, vm := range ct.VolumeMounts {
		for _, v := range m.spec.Volumes {
			if v.Name != vm.Name || v.ConfigMap == nil {
				continue
			}
			data, ok := m.configMaps[v.ConfigMap.Name]
			if !ok {
				return fmt.Errorf("no ConfigMap %q in the manifest", v.ConfigMap.Name)
			}
			content, ok := data[vm.SubPath]
			if vm.SubPath == "" || !ok {
				return fmt.Errorf("ConfigMap %s has no key %q", v.ConfigMap.Name, vm.SubPath)
			}
			if err := writeFile(local(vm.MountPath), []byte(content)); err != nil {
				return err
			}
		}
	}
	if tmpl.Inputs != nil {
		for _, a := range tmpl.Inputs.Artifacts {
			b, err := c.fetch(ctx, a)
			if err != nil {
				return fmt.Errorf("artifact %s: %w", a.Name, err)
			}
			if err := writeFile(local(a.Path), b); err != nil {
				return err
			}
		}
	}
	subst := strings.NewReplacer("{{workflow.name}}", wfName, "{{workflow.namespace}}", "default")
	env := []string{"HOME=" + filepath.Join(pod, "home"), "PATH=" + os.Getenv("PATH")}
	for _, e := range ct.Env {
		v := subst.Replace(e.Value)
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			ref := e.ValueFrom.SecretKeyRef
			s, ok := c.Secrets[ref.Name][ref.Key]
			if !ok {
				return fmt.Errorf("env %s: no key %q in Secret %q", e.Name, ref.Key, ref.Name)
			}
			v = s
		}
		if strings.HasPrefix(v, "/") {
			v = local(v)
		}
		env = append(env, e.Name+"="+v)
	}
	env = append(env, c.Env...)
	var args []string
	for _, a := range ct.Args {
		a = subst.Replace(a)
		if strings.HasPrefix(a, "/") {
			a = local(a)
		}
		args = append(args, a)
	}
	tr.Args = args
	attempts := 1
	if rs := tmpl.RetryStrategy; rs != nil {
		var n int
		fmt.Sscan(rs.Limit, &n)
		attempts += n
	}
	tr.Start = time.Now()
	defer func() { tr.End = time.Now() }()
	for i := 0; i < attempts; i++ {
		cmd := exec.CommandContext(ctx, c.Binary, args...)
		cmd.Env, cmd.Dir = env, pod
		out, err := cmd.CombinedOutput()
		tr.Output += string(out)
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			tr.ExitCode = ee.ExitCode()
		case err != nil:
			return err
		default:
			tr.ExitCode = 0
		}
		if tr.ExitCode <= 2 {
			break
		}
	}
	tr.Phase = "Succeeded"
	if tr.ExitCode != 0 {
		tr.Phase = "Failed"
	}
	return nil
}

// fetch reads an S3 input artifact with its own endpoint and credentials.
func (c *Cluster) fetch(ctx context.Context, a argo.Artifact) ([]byte, error) {
	if a.S3 == nil {
		return nil, errors.New("not an S3 artifact")
	}
	var id, secret string
	if a.S3.AccessKeySecret != nil && a.S3.SecretKeySecret != nil {
		id = c.Secrets[a.S3.AccessKeySecret.Name][a.S3.AccessKeySecret.Key]
		secret = c.Secrets[a.S3.SecretKeySecret.Name][a.S3.SecretKeySecret.Key]
	} else {
		return nil, errors.New("argotest: artifacts with useSDKCreds need a pod identity; export with --secret")
	}
	scheme := "https://"
	if a.S3.Insecure {
		scheme = "http://"
	}
	cl := s3.New(s3.Options{Region: a.S3.Region, BaseEndpoint: aws.String(scheme + a.S3.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")})
	out, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(a.S3.Bucket), Key: aws.String(a.S3.Key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// Put uploads a file to S3 (the data files, before a submission).
func Put(ctx context.Context, endpoint, region, id, secret, bucket, key string, body []byte) error {
	cl := s3.New(s3.Options{Region: region, BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")})
	_, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	return err
}

// writeFile writes atomically: tasks sharing the root write the same
// bytes at the same time.
func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

var depName = regexp.MustCompile(`[a-zA-Z0-9][-a-zA-Z0-9]*(\.[A-Za-z]+)?`)

// names are the task names of a depends expression.
func names(depends string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range depName.FindAllString(depends, -1) {
		n, _, _ := strings.Cut(m, ".")
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// evalDepends evaluates the depends forms the export writes: terms
// `task` (Succeeded or Skipped) and `task.Phase`, joined by && or ||.
func evalDepends(expr string, tasks map[string]*Task) bool {
	or := false
	for _, alt := range strings.Split(expr, "||") {
		and := true
		for _, term := range strings.Split(alt, "&&") {
			term = strings.Trim(strings.TrimSpace(term), "()")
			n, phase, ok := strings.Cut(term, ".")
			t := tasks[n]
			switch {
			case t == nil:
				and = false
			case !ok:
				and = and && (t.Phase == "Succeeded" || t.Phase == "Skipped")
			default:
				and = and && t.Phase == phase
			}
		}
		or = or || and
	}
	return or
}

// evalWhen evaluates `A == B` and `A != B` (the export's when forms).
func evalWhen(expr string) bool {
	if a, b, ok := strings.Cut(expr, "!="); ok {
		return strings.TrimSpace(a) != strings.TrimSpace(b)
	}
	if a, b, ok := strings.Cut(expr, "=="); ok {
		return strings.TrimSpace(a) == strings.TrimSpace(b)
	}
	return false
}
