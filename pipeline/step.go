package pipeline

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/hashicorp/go-hclog"
	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline/diag"
)

// Type describes a value flowing between steps at compile time: the schema
// of a dataset, a model's feature list, a metrics record. Concrete types are
// defined by the packages under steps/ (table.Schema, model.Type, ...);
// the pipeline package only needs their names.
type Type interface {
	// TypeName names the kind of value, e.g. "dataset", "model", "metrics".
	TypeName() string
}

// Object is a value produced by a step and stored in the lineage store under
// the SHA-256 of its encoding. Encode must be canonical: equal values give
// equal bytes, whatever the number of workers that produced them.
type Object interface {
	// TypeName names the object's kind; a decoder for it is registered
	// with Registry.RegisterObject.
	TypeName() string
	// Encode writes the canonical encoding.
	Encode(w io.Writer) error
}

// DecodeFunc decodes an object's canonical encoding.
type DecodeFunc func(data []byte) (Object, error)

// Port is an input of a step kind: a field of the step's YAML mapping whose
// value references another step's output as "step" (the default output) or
// "step.output".
type Port struct {
	// Name is the YAML field, e.g. "input", "model", "data".
	Name string
	// Required ports must be connected.
	Required bool
	// Doc is a one-line description, shown in help and the JSON Schema.
	Doc string
}

// Kind is a step kind: load, validate, derive, split, train, evaluate, ...
// Each kind lives in its own package under steps/ and is registered once in
// steps.Builtin.
type Kind interface {
	// Name is the value of the step's `kind:` field.
	Name() string
	// Version is the implementation version. It is part of every cache key,
	// so bump it whenever a change alters the kind's outputs.
	Version() int
	// Inputs lists the YAML fields that reference other steps.
	Inputs() []Port
	// Outputs lists output names; the first is the default output,
	// referenced by the bare step id.
	Outputs() []string
	// Settings describes the other YAML fields the kind accepts (besides
	// "kind", "doc" and its input ports) as a JSON Schema "properties"
	// object: setting name -> JSON Schema of its value. It is the single
	// source for schemas/pipeline.schema.json (generated from the registry)
	// and for reporting unknown keys with a near-miss suggestion.
	Settings() map[string]any
	// Required lists the settings that must be present.
	Required() []string
	// Compile decodes and checks the step's settings against the types of
	// its connected inputs. Problems go to req.Diags with positions; when it
	// adds an error it may return nil.
	Compile(req *CompileRequest) Compiled
}

// CompileRequest is what a Kind gets to compile one step.
type CompileRequest struct {
	// Step is the step's spec: id, kind, its YAML node (params resolved).
	Step *StepSpec
	// Pipeline is the whole pipeline, for its directory and params.
	Pipeline *Pipeline
	// Inputs holds the type of each connected input port, by port name.
	Inputs map[string]Type
	// Params are the resolved parameters, usable in expressions as params.NAME.
	Params map[string]any
	// Diags collects problems.
	Diags *diag.List
	// Memo, when not nil, remembers what a kind learnt at compile time
	// about an external file (load: the schema inferred from every value),
	// so that an unchanged file is not read again. See SchemaMemo.
	Memo SchemaMemo
}

// SchemaMemo is a small persistent key/value memo for compile-time facts
// (the lineage store implements it). The key must describe everything the
// value depends on: a kind puts the file's identity and stat (absolute
// path, size, mtime, inode, ctime) and its own options in it, and does not
// put a value learnt from a file modified within the last two seconds (the
// "racy git" rule of the fingerprint memo). Get and Put never fail: a lost
// or unreadable entry is a miss, and a value must be checked before use.
type SchemaMemo interface {
	Get(key string) ([]byte, bool)
	Put(key string, data []byte)
}

// Setting returns the value node of a setting of the step, or nil.
func (r *CompileRequest) Setting(name string) *yaml.Node { return r.Step.Setting(name) }

// Pos returns the position of a node in the pipeline file.
func (r *CompileRequest) Pos(n *yaml.Node) diag.Pos { return r.Pipeline.Pos(n) }

// Compiled is a step ready to run.
type Compiled interface {
	// OutputTypes gives the type of every output, by name.
	OutputTypes() map[string]Type
	// CacheConfig returns the canonical resolved configuration: everything
	// besides the kind, its version and the inputs that determines the
	// outputs (expression sources, seeds, thresholds, ...). It is encoded
	// as JSON (maps with sorted keys) into the cache key.
	CacheConfig() any
	// Run executes the step.
	Run(ctx context.Context, req *RunRequest) (*Result, error)
}

// FileReader is implemented by compiled steps that read files outside the
// store (load). The executor fingerprints each file (SHA-256, memoised) and
// folds the fingerprints into the cache key.
type FileReader interface {
	// Files returns the paths the step reads, as given to os.Open.
	Files() []string
}

// FileInfo is the fingerprint of an external file, taken by the executor.
type FileInfo struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Progress reports progress of a long step. Implementations must be safe
// for concurrent use; a nil Progress is not allowed (use NoProgress).
type Progress interface {
	// Total sets the amount of work, in units of the step's choosing.
	Total(n int64)
	// Add records n more units done.
	Add(n int64)
}

// NoProgress discards progress reports.
type NoProgress struct{}

// Total implements Progress.
func (NoProgress) Total(int64) {}

// Add implements Progress.
func (NoProgress) Add(int64) {}

// RunRequest is what a compiled step gets to run.
type RunRequest struct {
	// Inputs holds the objects connected to the step's ports, by port name.
	Inputs map[string]Object
	// Files holds the fingerprint of each path from FileReader.Files.
	Files map[string]FileInfo
	// Jobs is the number of goroutines the step may use (>= 1). Results
	// must not depend on it.
	Jobs int
	// Logger is named after the step.
	Logger hclog.Logger
	// Progress receives progress reports.
	Progress Progress
}

// Severity of a check: a failed "error" check fails the step (exit 1);
// a failed "warn" check is only reported.
const (
	SeverityError = "error"
	SeverityWarn  = "warn"
)

// Check is the outcome of one validation rule, gate or monitor check.
type Check struct {
	// Name identifies the check within its step, e.g. "loan_amount_positive".
	Name string `json:"name"`
	// Kind says what produced it: "rule", "gate", "drift", ...
	Kind string `json:"kind,omitempty"`
	// Expr is the expression or built-in description checked.
	Expr string `json:"expr,omitempty"`
	// Passed reports the outcome.
	Passed bool `json:"passed"`
	// Severity is SeverityError or SeverityWarn.
	Severity string `json:"severity"`
	// Message explains the outcome with the numbers that decided it.
	Message string `json:"message"`
	// Failing counts failing rows, for row rules.
	Failing int `json:"failing,omitempty"`
	// Fraction is Failing over the rows checked, for row rules.
	Fraction float64 `json:"fraction,omitempty"`
	// Rows lists the first offending row numbers (1-based data rows).
	Rows []int `json:"rows,omitempty"`
	// Values holds the numbers a gate or check was evaluated on.
	Values map[string]float64 `json:"values,omitempty"`
	// NotEvaluated is set on a check that could not be evaluated (a
	// variable it reads was not computed: no labels, a missing column);
	// it is not passed, and Message says why.
	NotEvaluated bool `json:"not_evaluated,omitempty"`
}

// Failed reports whether the check failed with severity error.
func (c Check) Failed() bool { return !c.Passed && c.Severity != SeverityWarn }

// Result is what a step produced.
type Result struct {
	// Outputs holds every declared output, by name.
	Outputs map[string]Object
	// Metrics are numbers recorded in the run record and usable in
	// `runs list --where`, e.g. auc, rows.
	Metrics map[string]float64
	// Checks are the rules or gates the step evaluated.
	Checks []Check
	// Notes are short human lines for the run summary (e.g. "4454 rows, 14 columns").
	Notes []string
}

// Failed reports whether any check failed with severity error.
func (r *Result) Failed() bool {
	if r == nil {
		return false
	}
	for _, c := range r.Checks {
		if c.Failed() {
			return true
		}
	}
	return false
}

// Registry holds the step kinds and object decoders a pipeline may use.
// It is built once in main (steps.Builtin) and passed down; there is no
// global registry.
type Registry struct {
	kinds    map[string]Kind
	decoders map[string]DecodeFunc
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{kinds: map[string]Kind{}, decoders: map[string]DecodeFunc{}}
}

// Register adds a step kind. Registering a name twice is an error.
func (r *Registry) Register(k Kind) error {
	if _, dup := r.kinds[k.Name()]; dup {
		return fmt.Errorf("step kind %q registered twice", k.Name())
	}
	r.kinds[k.Name()] = k
	return nil
}

// RegisterObject adds the decoder for an object type name.
func (r *Registry) RegisterObject(typeName string, decode DecodeFunc) error {
	if _, dup := r.decoders[typeName]; dup {
		return fmt.Errorf("object type %q registered twice", typeName)
	}
	r.decoders[typeName] = decode
	return nil
}

// Kind returns the kind with the given name.
func (r *Registry) Kind(name string) (Kind, bool) {
	k, ok := r.kinds[name]
	return k, ok
}

// KindNames returns the registered kind names, sorted.
func (r *Registry) KindNames() []string {
	names := make([]string, 0, len(r.kinds))
	for n := range r.kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Decode decodes an object of the named type.
func (r *Registry) Decode(typeName string, data []byte) (Object, error) {
	dec, ok := r.decoders[typeName]
	if !ok {
		return nil, fmt.Errorf("no decoder for object type %q", typeName)
	}
	return dec(data)
}
