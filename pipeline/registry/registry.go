package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// Audit event types appended by the registry.
const (
	AuditModelRegistered = "model.registered"
	AuditAliasMoved      = "alias.moved"
)

// VersionType is the object type name of a stored version description.
const VersionType = "model-version"

// NS is the record namespace of the models in the store's state.
const NS = "models"

const nsModels = NS

// Sentinel errors. Test with errors.Is.
var (
	// ErrNoModel reports an unknown model, version or alias.
	ErrNoModel = errors.New("no such model")
	// ErrGateFailed reports a promotion refused by a gate.
	ErrGateFailed = errors.New("promotion gate failed")
	// ErrChecksFailed reports a registration refused because the run
	// failed checks that no waiver covers.
	ErrChecksFailed = errors.New("checks failed")
)

var (
	nameRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,99}$`)
	aliasRe = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
)

// Version is the immutable description of one registered model version.
type Version struct {
	Model      string    `json:"model"`
	Version    int       `json:"version"`
	Registered time.Time `json:"registered"`
	// Actor registered it (a claim), Via is where the claim came from;
	// User and Host are the OS's.
	Actor string `json:"actor,omitempty"`
	Via   string `json:"via,omitempty"`
	User  string `json:"user,omitempty"`
	Host  string `json:"host,omitempty"`
	// Run and Step name the train step that produced the model.
	Run  string `json:"run"`
	Step string `json:"step"`
	// Object is the model object; Algorithm, Features and Target describe it.
	Object    lineage.ObjectRef `json:"object"`
	Algorithm string            `json:"algorithm,omitempty"`
	Features  []string          `json:"features,omitempty"`
	Target    string            `json:"target,omitempty"`
	// TrainingData are the files the run's load steps upstream of the
	// train step read, with their SHA-256; TrainingSet is the dataset
	// object the train step fitted on.
	TrainingData []pipeline.FileInfo `json:"training_data"`
	TrainingSet  *lineage.ObjectRef  `json:"training_set,omitempty"`
	// Evaluations are the evaluate steps of the run that read the model.
	Evaluations []Evaluation `json:"evaluations,omitempty"`
	// Metrics are the metrics promotion gates read (see the package doc).
	Metrics lineage.Metrics `json:"metrics,omitempty"`
	// Threshold is the decision threshold of the first evaluation (0.5
	// when there is none).
	Threshold float64 `json:"threshold"`
	// The pipeline file the run read, its SHA-256 and name, its params,
	// the git state and the mlrun version of the run.
	Pipeline       string           `json:"pipeline"`
	PipelineFile   string           `json:"pipeline_file"`
	PipelineSHA256 string           `json:"pipeline_sha256"`
	Params         map[string]any   `json:"params,omitempty"`
	Git            *lineage.GitInfo `json:"git,omitempty"`
	MlrunVersion   string           `json:"mlrun_version"`
	// What scoring, monitoring and reporting the version need, so that
	// they never read the working copy of the pipeline file: its source
	// as an object (whose id is PipelineSHA256), the resolved scoring
	// chain (the steps upstream of the train step, with the run's params,
	// as a pipeline document object), and the pipeline's model card,
	// protected attributes, reason texts and description.
	Source      lineage.ID          `json:"source,omitzero"`
	Chain       lineage.ID          `json:"scoring_chain,omitzero"`
	ModelCard   *pipeline.ModelCard `json:"model_card,omitempty"`
	Protected   []string            `json:"protected,omitempty"`
	Reasons     map[string]string   `json:"reasons,omitempty"`
	Description string              `json:"description,omitempty"`
	// Waivers are the waivers of failed checks of the run that let the
	// version be registered.
	Waivers []WaiverRef `json:"waivers,omitempty"`
}

// Ref renders "name@version".
func (v *Version) Ref() string { return fmt.Sprintf("%s@%d", v.Model, v.Version) }

// Evaluation is an evaluate step that read the model.
type Evaluation struct {
	Step    string                       `json:"step"`
	Kind    string                       `json:"kind"`
	Metrics lineage.Metrics              `json:"metrics,omitempty"`
	Checks  []pipeline.Check             `json:"checks,omitempty"`
	Outputs map[string]lineage.ObjectRef `json:"outputs,omitempty"`
}

// Model is the mutable record of a named model.
type Model struct {
	Name string `json:"name"`
	// Gates are the promotion gates (see the package doc).
	Gates []string `json:"gates,omitempty"`
	// Versions are in version order, numbered from 1.
	Versions []VersionRef `json:"versions"`
	// Aliases maps an alias to the version holding it.
	Aliases map[string]int `json:"aliases,omitempty"`
	// History lists every alias move, oldest first.
	History []Move `json:"history,omitempty"`
	// Protected maps an alias to the approvals a promotion to it needs.
	Protected map[string]Protection `json:"protected,omitempty"`
	// Requests lists every request to change a protected alias, and
	// Refused every promotion a gate refused, oldest first.
	Requests []Request `json:"requests,omitempty"`
	Refused  []Refusal `json:"refused,omitempty"`
}

// VersionRef locates a version's description in the object store.
type VersionRef struct {
	Version    int        `json:"version"`
	Doc        lineage.ID `json:"doc"`
	Registered time.Time  `json:"registered"`
	Run        string     `json:"run"`
	// ModelObject is the version's model object (zero in records written
	// before it was kept here: read the version then).
	ModelObject lineage.ID `json:"model_object,omitzero"`
}

// Move is one change of an alias.
type Move struct {
	Alias string `json:"alias"`
	// Action is "promote", "rollback" or "register" (an alias set at
	// registration).
	Action string `json:"action"`
	// From is the previous holder (0: none); To the new one.
	From int       `json:"from"`
	To   int       `json:"to"`
	Time time.Time `json:"time"`
	// Actor is who moved it (a claim), Via where the claim came from;
	// User and Host are the OS's.
	Actor  string       `json:"actor,omitempty"`
	Via    string       `json:"via,omitempty"`
	User   string       `json:"user,omitempty"`
	Host   string       `json:"host,omitempty"`
	Reason string       `json:"reason,omitempty"`
	Gates  []GateResult `json:"gates,omitempty"`
	// Request and Approvers name the approved request that made a move
	// of a protected alias.
	Request   int      `json:"request,omitempty"`
	Approvers []string `json:"approvers,omitempty"`
}

// Latest returns the highest version number (0 when none).
func (m *Model) Latest() int { return len(m.Versions) }

// Registry reads and changes the models in a lineage store.
type Registry struct {
	st      *lineage.Store
	compile GateCompiler
	// now is replaced in tests.
	now func() time.Time
}

// New returns the registry of the store; compile compiles promotion gates.
func New(st *lineage.Store, compile GateCompiler) *Registry {
	return &Registry{st: st, compile: compile, now: time.Now}
}

// CheckName reports whether name can name a model.
func CheckName(name string) error {
	if !nameRe.MatchString(name) {
		return pipeline.Invalidf("model name %q: want lower-case letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// CheckAlias reports whether alias can name an alias.
func CheckAlias(alias string) error {
	if !aliasRe.MatchString(alias) || isNumber(alias) {
		return pipeline.Invalidf("alias %q: want a lower-case word (letters, digits, '_', '-'), such as production or champion", alias)
	}
	return nil
}

func isNumber(s string) bool { _, err := strconv.Atoi(s); return err == nil }

// Get returns the model's record, or an error wrapping ErrNoModel.
func (r *Registry) Get(ctx context.Context, name string) (*Model, error) {
	v, err := r.st.View(ctx)
	if err != nil {
		return nil, err
	}
	return getModel(ctx, v, name)
}

// recordReader is what reads records: a lineage.View or a lineage.Tx.
type recordReader interface {
	Get(ctx context.Context, ns, name string) ([]byte, error)
}

func getModel(ctx context.Context, v recordReader, name string) (*Model, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	b, err := v.Get(ctx, nsModels, name)
	if errors.Is(err, lineage.ErrNotFound) {
		return nil, pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("model %q: %w", name, ErrNoModel))
	}
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", name, err)
	}
	var m Model
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("model %q: decode record: %w", name, err)
	}
	if m.Name != name {
		return nil, fmt.Errorf("model %q: its record names model %q: %w", name, m.Name, lineage.ErrInvalidData)
	}
	return &m, nil
}

// List returns every model, sorted by name.
func (r *Registry) List(ctx context.Context) ([]*Model, error) {
	v, err := r.st.View(ctx)
	if err != nil {
		return nil, err
	}
	names, err := v.List(ctx, nsModels)
	if err != nil {
		return nil, err
	}
	out := make([]*Model, 0, len(names))
	for _, n := range names {
		m, err := getModel(ctx, v, n)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// Refs returns the objects a model record names (its version
// descriptions), for lineage.VerifyOptions.Refs.
func Refs(data []byte) ([]lineage.ID, error) {
	var m Model
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	out := make([]lineage.ID, 0, len(m.Versions))
	for i, v := range m.Versions {
		if v.Version != i+1 {
			return nil, fmt.Errorf("model %q: version %d listed as number %d", m.Name, i+1, v.Version)
		}
		out = append(out, v.Doc)
	}
	return out, nil
}

// Version returns version v of a model, read from the object store
// (re-hashed, so a tampered description is an error wrapping
// lineage.ErrInvalidData).
func (r *Registry) Version(ctx context.Context, m *Model, v int) (*Version, error) {
	if v < 1 || v > len(m.Versions) {
		return nil, pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("model %q has no version %d (latest %d): %w", m.Name, v, m.Latest(), ErrNoModel))
	}
	return readVersion(ctx, r.st, m, v)
}

// readVersion reads version v of m from the object store.
func readVersion(ctx context.Context, st *lineage.Store, m *Model, v int) (*Version, error) {
	ref := m.Versions[v-1]
	b, err := st.GetObject(ctx, ref.Doc)
	if err != nil {
		return nil, fmt.Errorf("%s@%d: version object %s: %w", m.Name, v, ref.Doc.Short(), err)
	}
	var out Version
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%s@%d: decode version: %w", m.Name, v, err)
	}
	if out.Model != m.Name || out.Version != v {
		return nil, fmt.Errorf("%s@%d: version object %s describes %s: %w", m.Name, v, ref.Doc.Short(), out.Ref(), lineage.ErrInvalidData)
	}
	return &out, nil
}

// Resolve returns the version a reference names: NAME (the latest version),
// NAME@N or NAME@ALIAS.
func (r *Registry) Resolve(ctx context.Context, ref string) (*Model, *Version, error) {
	name, sel, hasSel := strings.Cut(ref, "@")
	m, err := r.Get(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	v := m.Latest()
	switch {
	case !hasSel:
	case isNumber(sel):
		v, _ = strconv.Atoi(sel)
	default:
		h, ok := m.Aliases[sel]
		if !ok {
			return nil, nil, pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("model %q has no alias %q (aliases: %s): %w", name, sel, aliasList(m), ErrNoModel))
		}
		v = h
	}
	ver, err := r.Version(ctx, m, v)
	if err != nil {
		return nil, nil, err
	}
	return m, ver, nil
}

func aliasList(m *Model) string {
	if len(m.Aliases) == 0 {
		return "none"
	}
	var out []string
	for _, a := range sortedKeys(m.Aliases) {
		out = append(out, fmt.Sprintf("%s=%d", a, m.Aliases[a]))
	}
	return strings.Join(out, ", ")
}

// update runs fn on the model's record in a store transaction and commits
// the record with fn's audit entries, so that the log orders changes as the
// record does and no change is recorded without its entry. A missing model
// is passed as a new, empty model when create is set. fn may be called
// again when another writer commits first; it must not act outside the
// transaction.
func (r *Registry) update(ctx context.Context, name string, create bool, fn func(ctx context.Context, tx *lineage.Tx, m *Model) ([]lineage.AuditEntry, error)) (string, error) {
	c, err := r.st.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
		m, err := getModel(ctx, tx, name)
		switch {
		case errors.Is(err, ErrNoModel) && create:
			m = &Model{Name: name, Versions: []VersionRef{}}
		case err != nil:
			return err
		}
		entries, err := fn(ctx, tx, m)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			return nil // nothing changed
		}
		if _, err := tx.PutJSON(ctx, nsModels, name, m); err != nil {
			return fmt.Errorf("registry: %w", err)
		}
		tx.Audit(entries...)
		return nil
	})
	if err != nil {
		return "", err
	}
	return c.Head, nil
}

// sortedKeys returns m's keys sorted.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// holders replays an alias's moves: promotions push, rollbacks pop. The
// last element is the current holder.
func holders(m *Model, alias string) []int {
	var stack []int
	for _, mv := range m.History {
		if mv.Alias != alias {
			continue
		}
		if mv.Action == "rollback" && len(stack) > 0 {
			stack = stack[:len(stack)-1]
			if len(stack) == 0 || stack[len(stack)-1] != mv.To {
				stack = append(stack, mv.To)
			}
			continue
		}
		stack = append(stack, mv.To)
	}
	return slices.Clip(stack)
}
