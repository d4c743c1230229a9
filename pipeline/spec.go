package pipeline

import (
	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline/diag"
)

// FormatVersion is the pipeline format version this mlrun reads (`mlrun: 1`).
const FormatVersion = 1

// Pipeline is a loaded, checked and compiled pipeline file.
type Pipeline struct {
	// File is the path the pipeline was loaded from, as given.
	File string
	// Dir is the directory of File; relative paths in settings resolve
	// against it.
	Dir string
	// Source is the file's bytes and SHA256 their hex digest.
	Source []byte
	SHA256 string
	// Version is the `mlrun:` format version.
	Version int
	// Name and Description come from the top-level keys.
	Name        string
	Description string
	// Params are the resolved parameters, sorted by name.
	Params []*Param
	// Steps are all steps in a stable topological order (dependencies
	// first, ties broken by id).
	Steps []*StepSpec
	// Root is the document's root mapping node.
	Root *yaml.Node
	// Protected lists the protected attributes of the top-level
	// `protected:` list, in file order: columns that train refuses as
	// features and that are never given as reason codes. ProtectedPos
	// holds the position of each entry.
	Protected    []string
	ProtectedPos []diag.Pos
	// Reasons maps a feature to the text of its reason code, from the
	// top-level `reasons:` mapping (nil when absent).
	Reasons map[string]string
	// ModelCard is the top-level `model_card:` block (nil when absent),
	// shown by `mlrun report`.
	ModelCard *ModelCard
}

// ModelCard is the optional documentation of a pipeline's model, in the
// sense of Mitchell et al.'s model cards: what it is for, what it is not
// for, who answers for it. Every field is optional; other keys of the block
// are kept as text in Other.
type ModelCard struct {
	IntendedUse string            `json:"intended_use,omitempty"`
	OutOfScope  string            `json:"out_of_scope,omitempty"`
	Owner       string            `json:"owner,omitempty"`
	Contacts    []string          `json:"contacts,omitempty"`
	Limitations string            `json:"limitations,omitempty"`
	Other       map[string]string `json:"other,omitempty"`
}

// Param is one entry of the top-level `params:` mapping.
type Param struct {
	Name string
	// Value is the resolved value: a string, bool, int64, float64, or a
	// list or map of those; an override from `-p key=value` replaces it.
	Value any
	// Pos is where the parameter is declared.
	Pos diag.Pos
	// Overridden is true when -p set it.
	Overridden bool
}

// ParamMap returns the params as a map, for expression environments.
func (p *Pipeline) ParamMap() map[string]any {
	m := make(map[string]any, len(p.Params))
	for _, pr := range p.Params {
		m[pr.Name] = pr.Value
	}
	return m
}

// Step returns the step with the given id.
func (p *Pipeline) Step(id string) *StepSpec {
	for _, s := range p.Steps {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// Pos returns the position of n in the pipeline file.
func (p *Pipeline) Pos(n *yaml.Node) diag.Pos {
	if n == nil {
		return diag.Pos{File: p.File}
	}
	return diag.Pos{File: p.File, Line: n.Line, Col: n.Column}
}

// StepSpec is one entry of the `steps:` mapping.
type StepSpec struct {
	// ID is the step's key in `steps:`.
	ID string
	// Pos is the position of the key.
	Pos diag.Pos
	// Kind is the `kind:` value; KindImpl the registered kind.
	Kind     string
	KindImpl Kind
	// Doc is the optional `doc:` text.
	Doc string
	// Node is the step's mapping node, with ${params.X} references resolved.
	Node *yaml.Node
	// Inputs are the step's connected input ports, sorted by port name.
	Inputs []InputRef
	// Compiled is the compiled step (nil when compilation failed).
	Compiled Compiled
	// Variant is set on a step a `matrix:` expanded (nil otherwise).
	Variant *Variant
}

// Setting returns the value node of the step's key name, or nil.
func (s *StepSpec) Setting(name string) *yaml.Node {
	if s.Node == nil || s.Node.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(s.Node.Content); i += 2 {
		if s.Node.Content[i].Value == name {
			return s.Node.Content[i+1]
		}
	}
	return nil
}

// Deps returns the ids of the steps this step reads from, sorted, unique.
func (s *StepSpec) Deps() []string {
	var out []string
	seen := map[string]bool{}
	for _, in := range s.Inputs {
		if !seen[in.Step] {
			seen[in.Step] = true
			out = append(out, in.Step)
		}
	}
	sortStrings(out)
	return out
}

// InputRef connects an input port to another step's output.
type InputRef struct {
	// Port is the input port (YAML field) name.
	Port string
	// Step and Output name the producer; Output is the producer kind's
	// default output when the reference is a bare step id.
	Step   string
	Output string
	// Pos is the position of the reference in the file.
	Pos diag.Pos
}

// String renders the reference as "step.output".
func (r InputRef) String() string { return r.Step + "." + r.Output }
