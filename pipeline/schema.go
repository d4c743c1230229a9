package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Patterns shared by the hand-written checks and the JSON Schema.
const (
	// stepIDPattern is what a step id must match: ids name store records
	// and appear in references, so they are never paths and hold no dots.
	stepIDPattern = `^[a-z][a-z0-9_-]*$`
	// refPattern is what an input port's value must match: "step" or
	// "step.output".
	refPattern = `^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)?$`
	// paramNamePattern is what a parameter name must match, so that it can
	// be written params.NAME in expressions.
	paramNamePattern = `^[A-Za-z_][A-Za-z0-9_]*$`
	// paramRefPattern matches a setting whose whole value is one
	// ${params.NAME} reference (editor schema only).
	paramRefPattern = `^\$\{\s*params\.[A-Za-z_][A-Za-z0-9_]*\s*\}$`

	schemaDraft = "https://json-schema.org/draft/2020-12/schema"
	// schemaResource is the name the schema is compiled under; it is never
	// fetched.
	schemaResource = "urn:mlrun:pipeline.schema.json"
)

// topLevelKeys returns the keys a pipeline file may hold at its top level.
func topLevelKeys() []string {
	return []string{"description", "model_card", "mlrun", "name", "params", "protected", "reasons", "steps"}
}

// GenerateSchema returns the JSON Schema (draft 2020-12) of pipeline files
// for the registry's kinds: the content of schemas/pipeline.schema.json, as
// indented JSON with sorted keys and a final newline, so equal registries
// give equal bytes.
//
// Every step is checked against its kind's ports and settings (selected by
// an if/then on the `kind` const). Because editors check files before
// parameters are substituted, every setting whose schema rejects strings
// also accepts a whole-value `${params.NAME}` reference; Load itself
// validates the substituted document against the strict form of the same
// schema.
func GenerateSchema(reg *Registry) ([]byte, error) {
	doc, err := schemaDocument(reg, true)
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("generate pipeline schema: %w", err)
	}
	return append(b, '\n'), nil
}

// schemaDocument builds the schema as a JSON value. editor selects the form
// that accepts ${params.NAME} references in settings.
func schemaDocument(reg *Registry, editor bool) (map[string]any, error) {
	if reg == nil {
		return nil, fmt.Errorf("generate pipeline schema: nil registry")
	}
	names := reg.KindNames()
	defs := map[string]any{
		"scalar": map[string]any{"type": []any{"string", "number", "boolean"}},
		"param": map[string]any{
			"description": "A parameter value: a scalar or a list of scalars. Use it as ${params.NAME} in settings and params.NAME in expressions; override it with -p NAME=VALUE.",
			"anyOf": []any{
				map[string]any{"$ref": "#/$defs/scalar"},
				map[string]any{"type": "array", "items": map[string]any{"$ref": "#/$defs/scalar"}},
			},
		},
		"ref": map[string]any{
			"description": `A reference to another step's output: "step" (its default output) or "step.output".`,
			"type":        "string",
			"pattern":     refPattern,
		},
	}
	if editor {
		defs["param_ref"] = map[string]any{
			"description": "A reference to a parameter, replaced by its value before the step is checked.",
			"type":        "string",
			"pattern":     paramRefPattern,
		}
	}
	kindEnum := make([]any, 0, len(names))
	var branches []any
	for _, name := range names {
		k, _ := reg.Kind(name)
		kindEnum = append(kindEnum, name)
		def, err := kindSchema(k, editor)
		if err != nil {
			return nil, err
		}
		defs[kindDefName(name)] = def
		branches = append(branches, map[string]any{
			"if": map[string]any{
				"properties": map[string]any{"kind": map[string]any{"const": name}},
				"required":   []any{"kind"},
			},
			"then": map[string]any{"$ref": "#/$defs/" + pointerEscape(kindDefName(name))},
		})
	}
	step := map[string]any{
		"description": "A step: its kind, an optional doc, its input ports (references to other steps) and its kind's settings.",
		"type":        "object",
		"required":    []any{"kind"},
		"properties": map[string]any{
			"kind": map[string]any{"description": "The step kind.", "enum": kindEnum},
			"doc":  map[string]any{"description": "What the step is for.", "type": "string"},
		},
	}
	if len(branches) > 0 {
		step["allOf"] = branches
	}
	defs["step"] = step
	return map[string]any{
		"$schema":              schemaDraft,
		"title":                "mlrun pipeline",
		"description":          "A credit-risk ML pipeline run by mlrun: a format version, a name, parameters and a mapping of steps.",
		"type":                 "object",
		"additionalProperties": false,
		"required":             []any{"mlrun", "name", "steps"},
		"properties": map[string]any{
			"mlrun":       map[string]any{"description": "The pipeline format version.", "const": FormatVersion},
			"name":        map[string]any{"description": "The pipeline's name.", "type": "string", "minLength": 1},
			"description": map[string]any{"description": "What the pipeline does.", "type": "string"},
			"params": map[string]any{
				"description":          "Parameters by name.",
				"type":                 "object",
				"propertyNames":        map[string]any{"pattern": paramNamePattern},
				"additionalProperties": map[string]any{"$ref": "#/$defs/param"},
			},
			"steps": map[string]any{
				"description":          "Steps by id; ids name store records, so they are never paths.",
				"type":                 "object",
				"minProperties":        1,
				"propertyNames":        map[string]any{"pattern": stepIDPattern},
				"additionalProperties": map[string]any{"$ref": "#/$defs/step"},
			},
			"model_card": map[string]any{
				"description": "Model card shown by `mlrun report`: intended and out-of-scope use, owner, contacts, limitations; other keys are kept as text.",
				"type":        "object",
				"properties": map[string]any{
					"intended_use": map[string]any{"description": "What the model is for.", "type": "string"},
					"out_of_scope": map[string]any{"description": "Uses the model is not fit for.", "type": "string"},
					"owner":        map[string]any{"description": "Who answers for the model.", "type": "string"},
					"contacts": map[string]any{
						"description": "Whom to ask: one or a list.",
						"anyOf":       []any{map[string]any{"type": "string"}, map[string]any{"type": "array", "items": map[string]any{"type": "string"}}},
					},
					"limitations": map[string]any{"description": "Known limitations.", "type": "string"},
				},
			},
			"reasons": map[string]any{
				"description":          "Reason-code text by feature name, used by `mlrun predict` for adverse decisions.",
				"type":                 "object",
				"additionalProperties": map[string]any{"type": "string", "minLength": 1},
			},
			"protected": map[string]any{
				"description": "Protected attributes: columns never used as model features and never given as reasons.",
				"type":        "array",
				"items":       map[string]any{"type": "string", "minLength": 1},
				"uniqueItems": true,
			},
		},
		"$defs": defs,
	}, nil
}

// kindDefName is the $defs entry of a kind's step schema.
func kindDefName(name string) string { return "kind_" + name }

// pointerEscape escapes one JSON pointer token and makes it safe in a URI
// fragment.
func pointerEscape(tok string) string {
	tok = strings.ReplaceAll(tok, "~", "~0")
	tok = strings.ReplaceAll(tok, "/", "~1")
	return url.PathEscape(tok)
}

// kindSchema is the schema of a step of kind k: kind, doc, ports and
// settings, nothing else.
func kindSchema(k Kind, editor bool) (map[string]any, error) {
	props := map[string]any{
		"kind": map[string]any{"const": k.Name()},
		"doc":  map[string]any{"type": "string"},
	}
	// Settings may hold any Go values: round-trip them through JSON so the
	// document is plain JSON values.
	settings, err := jsonRoundTrip(k.Settings())
	if err != nil {
		return nil, fmt.Errorf("generate pipeline schema: kind %q: settings: %w", k.Name(), err)
	}
	if m, ok := settings.(map[string]any); ok {
		for name, s := range m {
			if editor {
				s = allowParamRefs(s)
			}
			props[name] = s
		}
	}
	sweep := false
	if sw, ok := k.(Sweepable); ok && sw.Sweepable() && editor {
		props["matrix"], sweep = matrixSchema(props), true
	}
	var required []string
	for _, p := range k.Inputs() {
		ref := map[string]any{"$ref": "#/$defs/ref"}
		if p.Doc != "" {
			ref["description"] = p.Doc
		}
		props[p.Name] = ref
		if p.Required {
			required = append(required, p.Name)
		}
	}
	required = append(required, k.Required()...)
	sort.Strings(required)
	out := map[string]any{
		"description":          fmt.Sprintf("A step of kind %s (outputs: %s).", k.Name(), strings.Join(k.Outputs(), ", ")),
		"type":                 "object",
		"properties":           props,
		"additionalProperties": false,
	}
	if len(required) > 0 {
		req := make([]any, len(required))
		for i, r := range required {
			req[i] = r
		}
		out["required"] = req
	}
	if sweep {
		matrixRequired(out, k.Required())
	}
	return out, nil
}

func jsonRoundTrip(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// allowParamRefs returns a copy of schema s in which every subschema that
// constrains its value beyond "any string" also accepts a ${params.NAME}
// reference, so that editors do not flag references that Load resolves.
// The branches of anyOf/oneOf/allOf are not wrapped themselves (a
// reference would then match several oneOf branches); the schema holding
// them is.
func allowParamRefs(s any) any { return allowRefs(s, true) }

func allowRefs(s any, wrap bool) any {
	m, ok := s.(map[string]any)
	if !ok {
		return s
	}
	c := make(map[string]any, len(m))
	for k, v := range m {
		switch k {
		case "properties", "patternProperties", "$defs", "dependentSchemas":
			if sub, ok := v.(map[string]any); ok {
				cs := make(map[string]any, len(sub))
				for name, x := range sub {
					cs[name] = allowRefs(x, true)
				}
				v = cs
			}
		case "items", "additionalProperties", "contains", "unevaluatedProperties", "unevaluatedItems":
			v = allowRefs(v, true)
		case "prefixItems":
			if arr, ok := v.([]any); ok {
				ca := make([]any, len(arr))
				for i, x := range arr {
					ca[i] = allowRefs(x, true)
				}
				v = ca
			}
		case "anyOf", "oneOf", "allOf":
			if arr, ok := v.([]any); ok {
				ca := make([]any, len(arr))
				for i, x := range arr {
					ca[i] = allowRefs(x, false)
				}
				v = ca
			}
		case "not", "if", "then", "else":
			v = allowRefs(v, false)
		}
		c[k] = v
	}
	if !wrap || !constrainsBeyondString(c) {
		return c
	}
	wrapped := map[string]any{"anyOf": []any{c, map[string]any{"$ref": "#/$defs/param_ref"}}}
	for _, k := range []string{"description", "default", "title"} {
		if v, ok := c[k]; ok {
			wrapped[k] = v
		}
	}
	return wrapped
}

// constrainsBeyondString reports whether schema m would reject some string
// such as "${params.x}".
func constrainsBeyondString(m map[string]any) bool {
	for _, k := range []string{"enum", "const", "pattern", "format", "minLength", "maxLength", "anyOf", "oneOf", "allOf", "not", "if"} {
		if _, ok := m[k]; ok {
			return true
		}
	}
	switch t := m["type"].(type) {
	case string:
		return t != "string"
	case []any:
		for _, x := range t {
			if x == "string" {
				return false
			}
		}
		return true
	}
	return false
}

// Validator holds the strict pipeline schema of one registry, compiled on
// first use. It is safe for concurrent use. Load compiles one per call
// unless LoadOptions.Validator supplies one, so a process that loads many
// pipelines (tests, benchmarks, a watch mode) compiles the schema once.
type Validator struct {
	reg     *Registry
	once    sync.Once
	doc     map[string]any
	schema  *jsonschema.Schema
	printer *message.Printer
	err     error
}

// NewValidator returns a Validator for reg's kinds. The schema is built
// and compiled when first needed.
func NewValidator(reg *Registry) *Validator { return &Validator{reg: reg} }

func (v *Validator) compile() error {
	v.once.Do(func() {
		doc, err := schemaDocument(v.reg, false)
		if err != nil {
			v.err = err
			return
		}
		b, err := json.Marshal(doc)
		if err != nil {
			v.err = fmt.Errorf("compile pipeline schema: %w", err)
			return
		}
		parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			v.err = fmt.Errorf("compile pipeline schema: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		if err := c.AddResource(schemaResource, parsed); err != nil {
			v.err = fmt.Errorf("compile pipeline schema: %w", err)
			return
		}
		sch, err := c.Compile(schemaResource)
		if err != nil {
			v.err = fmt.Errorf("compile pipeline schema: %w", err)
			return
		}
		v.doc, v.schema, v.printer = doc, sch, message.NewPrinter(language.English)
	})
	return v.err
}

// schemaProblem is one leaf of a schema validation failure.
type schemaProblem struct {
	// at is the instance location the problem is shown at; subject is
	// the location it is about (for a missing key: the key's).
	at, subject []string
	// loc is the value the message is about (the mapping, for a key).
	loc []string
	// onKey places the problem on the key node of at, not on its value.
	onKey bool
	msg   string
}

// validate checks inst (a JSON value) and returns its problems, leaves
// only, with one-of/any-of failures narrowed to the branch the value was
// meant for.
func (v *Validator) validate(inst any) []schemaProblem {
	err := v.schema.Validate(inst)
	if err == nil {
		return nil
	}
	verr, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return []schemaProblem{{msg: err.Error()}}
	}
	var out []schemaProblem
	v.leaves(verr, &out)
	return out
}

func (v *Validator) leaves(e *jsonschema.ValidationError, out *[]schemaProblem) {
	if len(e.Causes) == 0 {
		*out = append(*out, v.leafProblems(e)...)
		return
	}
	switch k := e.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
		if o, ok := k.(*kind.OneOf); ok && len(o.Subschemas) > 0 {
			break
		}
		// Branches that rejected the value's type were not the one the
		// author meant; if every branch did, say which types would do.
		var kept []*jsonschema.ValidationError
		var got string
		var want []string
		for _, c := range e.Causes {
			if t, ok := typeMismatchAt(c, e.InstanceLocation); ok {
				got = t.Got
				for _, w := range t.Want {
					if !contains(want, w) {
						want = append(want, w)
					}
				}
				continue
			}
			kept = append(kept, c)
		}
		if len(kept) == 0 && len(want) > 0 {
			*out = append(*out, schemaProblem{
				loc: e.InstanceLocation, at: e.InstanceLocation, subject: e.InstanceLocation,
				msg: fmt.Sprintf("got %s, want %s", got, strings.Join(want, " or ")),
			})
			return
		}
		for _, c := range kept {
			v.leaves(c, out)
		}
		return
	}
	for _, c := range e.Causes {
		v.leaves(c, out)
	}
}

// typeMismatchAt reports whether e (through single-cause wrappers) is a
// type error on the value at loc itself.
func typeMismatchAt(e *jsonschema.ValidationError, loc []string) (*kind.Type, bool) {
	for len(e.Causes) == 1 {
		e = e.Causes[0]
	}
	t, ok := e.ErrorKind.(*kind.Type)
	if !ok || len(e.Causes) != 0 || !equalTokens(e.InstanceLocation, loc) {
		return nil, false
	}
	return t, true
}

func (v *Validator) leafProblems(e *jsonschema.ValidationError) []schemaProblem {
	loc := e.InstanceLocation
	switch k := e.ErrorKind.(type) {
	case *kind.Type:
		return []schemaProblem{{loc: loc, at: loc, subject: loc, msg: fmt.Sprintf("got %s, want %s", k.Got, strings.Join(k.Want, " or "))}}
	case *kind.Required:
		var out []schemaProblem
		for _, m := range k.Missing {
			out = append(out, schemaProblem{loc: loc, at: loc, subject: appendToken(loc, m), onKey: true, msg: fmt.Sprintf("missing required key %q", m)})
		}
		return out
	case *kind.AdditionalProperties:
		allowed := v.propertyNames(e.SchemaURL)
		var out []schemaProblem
		for _, p := range k.Properties {
			out = append(out, schemaProblem{loc: loc, at: appendToken(loc, p), subject: appendToken(loc, p), onKey: true,
				msg: fmt.Sprintf("unknown key %q%s", p, didYouMean(p, allowed))})
		}
		return out
	case *kind.FalseSchema:
		return []schemaProblem{{loc: loc, at: loc, subject: loc, msg: "not allowed here"}}
	}
	return []schemaProblem{{loc: loc, at: loc, subject: loc, msg: e.ErrorKind.LocalizedString(v.printer)}}
}

// propertyNames returns the names under "properties" of the schema at
// schemaURL (a location in the strict schema document), or nil.
func (v *Validator) propertyNames(schemaURL string) []string {
	_, frag, ok := strings.Cut(schemaURL, "#")
	if !ok {
		return nil
	}
	if f, err := url.PathUnescape(frag); err == nil {
		frag = f
	}
	var cur any = v.doc
	for _, tok := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
		if tok == "" {
			continue
		}
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			cur = c[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	m, _ := cur.(map[string]any)
	props, _ := m["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func appendToken(loc []string, tok string) []string {
	return append(append(make([]string, 0, len(loc)+1), loc...), tok)
}

func equalTokens(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
