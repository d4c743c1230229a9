package argo

// The Kubernetes and Argo Workflows objects the export writes: only the
// fields it sets, with Argo's JSON names, in the order they are written.
// The tests check them against Argo's published JSON Schema and refuse any
// key the schema does not define.

// Object is one Kubernetes object of the export: a ConfigMap, Workflow,
// WorkflowTemplate or CronWorkflow.
type Object struct {
	APIVersion string     `yaml:"apiVersion" json:"apiVersion"`
	Kind       string     `yaml:"kind" json:"kind"`
	Metadata   ObjectMeta `yaml:"metadata" json:"metadata"`
	// Immutable and Data are a ConfigMap's.
	Immutable bool              `yaml:"immutable,omitempty" json:"immutable,omitempty"`
	Data      map[string]string `yaml:"data,omitempty" json:"data,omitempty"`
	// Spec is a WorkflowSpec or a CronWorkflowSpec.
	Spec any `yaml:"spec,omitempty" json:"spec,omitempty"`
}

// ObjectMeta is the metadata of an object.
type ObjectMeta struct {
	Name         string            `yaml:"name,omitempty" json:"name,omitempty"`
	GenerateName string            `yaml:"generateName,omitempty" json:"generateName,omitempty"`
	Namespace    string            `yaml:"namespace,omitempty" json:"namespace,omitempty"`
	Labels       map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
	Annotations  map[string]string `yaml:"annotations,omitempty" json:"annotations,omitempty"`
}

// CronWorkflowSpec schedules a WorkflowSpec.
type CronWorkflowSpec struct {
	Schedules                  []string      `yaml:"schedules" json:"schedules"`
	Timezone                   string        `yaml:"timezone,omitempty" json:"timezone,omitempty"`
	ConcurrencyPolicy          string        `yaml:"concurrencyPolicy,omitempty" json:"concurrencyPolicy,omitempty"`
	StartingDeadlineSeconds    int           `yaml:"startingDeadlineSeconds,omitempty" json:"startingDeadlineSeconds,omitempty"`
	SuccessfulJobsHistoryLimit int           `yaml:"successfulJobsHistoryLimit,omitempty" json:"successfulJobsHistoryLimit,omitempty"`
	FailedJobsHistoryLimit     int           `yaml:"failedJobsHistoryLimit,omitempty" json:"failedJobsHistoryLimit,omitempty"`
	WorkflowSpec               *WorkflowSpec `yaml:"workflowSpec" json:"workflowSpec"`
}

// WorkflowSpec is the spec of a Workflow or WorkflowTemplate.
type WorkflowSpec struct {
	Entrypoint         string              `yaml:"entrypoint" json:"entrypoint"`
	ServiceAccountName string              `yaml:"serviceAccountName,omitempty" json:"serviceAccountName,omitempty"`
	SecurityContext    *PodSecurityContext `yaml:"securityContext,omitempty" json:"securityContext,omitempty"`
	Volumes            []Volume            `yaml:"volumes,omitempty" json:"volumes,omitempty"`
	Templates          []Template          `yaml:"templates" json:"templates"`
}

// PodSecurityContext is the pods' security context.
type PodSecurityContext struct {
	RunAsNonRoot   bool            `yaml:"runAsNonRoot" json:"runAsNonRoot"`
	RunAsUser      int             `yaml:"runAsUser,omitempty" json:"runAsUser,omitempty"`
	RunAsGroup     int             `yaml:"runAsGroup,omitempty" json:"runAsGroup,omitempty"`
	SeccompProfile *SeccompProfile `yaml:"seccompProfile,omitempty" json:"seccompProfile,omitempty"`
}

// SeccompProfile selects a seccomp profile.
type SeccompProfile struct {
	Type string `yaml:"type" json:"type"`
}

// Volume is a pod volume: the pipeline's ConfigMap or an emptyDir.
type Volume struct {
	Name      string           `yaml:"name" json:"name"`
	ConfigMap *ConfigMapVolume `yaml:"configMap,omitempty" json:"configMap,omitempty"`
	EmptyDir  *EmptyDir        `yaml:"emptyDir,omitempty" json:"emptyDir,omitempty"`
}

// ConfigMapVolume mounts a ConfigMap.
type ConfigMapVolume struct {
	Name string `yaml:"name" json:"name"`
}

// EmptyDir is a scratch volume.
type EmptyDir struct {
	SizeLimit string `yaml:"sizeLimit,omitempty" json:"sizeLimit,omitempty"`
}

// Template is a DAG template or a container template.
type Template struct {
	Name          string         `yaml:"name" json:"name"`
	Inputs        *Inputs        `yaml:"inputs,omitempty" json:"inputs,omitempty"`
	DAG           *DAG           `yaml:"dag,omitempty" json:"dag,omitempty"`
	RetryStrategy *RetryStrategy `yaml:"retryStrategy,omitempty" json:"retryStrategy,omitempty"`
	Container     *Container     `yaml:"container,omitempty" json:"container,omitempty"`
}

// Inputs are a template's input artifacts.
type Inputs struct {
	Artifacts []Artifact `yaml:"artifacts,omitempty" json:"artifacts,omitempty"`
}

// Artifact is an input file fetched from S3 before the container starts.
type Artifact struct {
	Name string      `yaml:"name" json:"name"`
	Path string      `yaml:"path" json:"path"`
	S3   *S3Artifact `yaml:"s3" json:"s3"`
}

// S3Artifact locates an artifact in S3; credentials come from a Secret
// or, with UseSDKCreds, from the pod's role (IRSA).
type S3Artifact struct {
	Endpoint        string     `yaml:"endpoint" json:"endpoint"`
	Bucket          string     `yaml:"bucket" json:"bucket"`
	Key             string     `yaml:"key" json:"key"`
	Region          string     `yaml:"region,omitempty" json:"region,omitempty"`
	Insecure        bool       `yaml:"insecure,omitempty" json:"insecure,omitempty"`
	AccessKeySecret *SecretKey `yaml:"accessKeySecret,omitempty" json:"accessKeySecret,omitempty"`
	SecretKeySecret *SecretKey `yaml:"secretKeySecret,omitempty" json:"secretKeySecret,omitempty"`
	UseSDKCreds     bool       `yaml:"useSDKCreds,omitempty" json:"useSDKCreds,omitempty"`
}

// SecretKey selects one key of a Secret.
type SecretKey struct {
	Name string `yaml:"name" json:"name"`
	Key  string `yaml:"key" json:"key"`
}

// DAG is the tasks of a DAG template.
type DAG struct {
	Tasks []Task `yaml:"tasks" json:"tasks"`
}

// Task is one node of a DAG: a step (or matrix variant) of the pipeline.
type Task struct {
	Name         string      `yaml:"name" json:"name"`
	Template     string      `yaml:"template" json:"template"`
	Dependencies []string    `yaml:"dependencies,omitempty" json:"dependencies,omitempty"`
	Depends      string      `yaml:"depends,omitempty" json:"depends,omitempty"`
	When         string      `yaml:"when,omitempty" json:"when,omitempty"`
	ContinueOn   *ContinueOn `yaml:"continueOn,omitempty" json:"continueOn,omitempty"`
}

// ContinueOn lets a DAG go on past a failed task.
type ContinueOn struct {
	Failed bool `yaml:"failed,omitempty" json:"failed,omitempty"`
}

// RetryStrategy retries a failed task.
type RetryStrategy struct {
	// Limit is an IntOrString, which Argo's schema types as a string.
	Limit       string   `yaml:"limit" json:"limit"`
	RetryPolicy string   `yaml:"retryPolicy,omitempty" json:"retryPolicy,omitempty"`
	Expression  string   `yaml:"expression,omitempty" json:"expression,omitempty"`
	Backoff     *Backoff `yaml:"backoff,omitempty" json:"backoff,omitempty"`
}

// Backoff spaces retries.
type Backoff struct {
	Duration    string `yaml:"duration" json:"duration"`
	Factor      string `yaml:"factor" json:"factor"` // an IntOrString
	MaxDuration string `yaml:"maxDuration,omitempty" json:"maxDuration,omitempty"`
}

// Container is the container a step's task runs.
type Container struct {
	Name            string                    `yaml:"name,omitempty" json:"name,omitempty"`
	Image           string                    `yaml:"image" json:"image"`
	Command         []string                  `yaml:"command" json:"command"`
	Args            []string                  `yaml:"args" json:"args"`
	Env             []EnvVar                  `yaml:"env,omitempty" json:"env,omitempty"`
	Resources       *Resources                `yaml:"resources,omitempty" json:"resources,omitempty"`
	VolumeMounts    []VolumeMount             `yaml:"volumeMounts,omitempty" json:"volumeMounts,omitempty"`
	SecurityContext *ContainerSecurityContext `yaml:"securityContext,omitempty" json:"securityContext,omitempty"`
}

// EnvVar is a container's environment variable: a value or a Secret's key.
type EnvVar struct {
	Name      string        `yaml:"name" json:"name"`
	Value     string        `yaml:"value,omitempty" json:"value,omitempty"`
	ValueFrom *EnvVarSource `yaml:"valueFrom,omitempty" json:"valueFrom,omitempty"`
}

// EnvVarSource takes a variable from a Secret.
type EnvVarSource struct {
	SecretKeyRef *SecretKey `yaml:"secretKeyRef" json:"secretKeyRef"`
}

// Resources are a container's resource requests and limits.
type Resources struct {
	Requests map[string]string `yaml:"requests,omitempty" json:"requests,omitempty"`
	Limits   map[string]string `yaml:"limits,omitempty" json:"limits,omitempty"`
}

// VolumeMount mounts a volume (or one file of it, SubPath).
type VolumeMount struct {
	Name      string `yaml:"name" json:"name"`
	MountPath string `yaml:"mountPath" json:"mountPath"`
	SubPath   string `yaml:"subPath,omitempty" json:"subPath,omitempty"`
	ReadOnly  bool   `yaml:"readOnly,omitempty" json:"readOnly,omitempty"`
}

// ContainerSecurityContext locks the container down.
type ContainerSecurityContext struct {
	AllowPrivilegeEscalation bool          `yaml:"allowPrivilegeEscalation" json:"allowPrivilegeEscalation"`
	ReadOnlyRootFilesystem   bool          `yaml:"readOnlyRootFilesystem" json:"readOnlyRootFilesystem"`
	Capabilities             *Capabilities `yaml:"capabilities,omitempty" json:"capabilities,omitempty"`
}

// Capabilities drops Linux capabilities.
type Capabilities struct {
	Drop []string `yaml:"drop" json:"drop"`
}
