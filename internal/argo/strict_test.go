package argo_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// schemaFile is Argo's published schema (see testdata/README.md).
const schemaFile = "testdata/argo-workflows.schema.json"

// configMapSchema is the ConfigMap the export writes, which Argo's schema
// does not define: strict, with Kubernetes' key pattern.
const configMapSchema = `{
  "type": "object",
  "required": ["apiVersion", "kind", "metadata", "data"],
  "additionalProperties": false,
  "properties": {
    "apiVersion": {"const": "v1"},
    "kind": {"const": "ConfigMap"},
    "metadata": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
    "immutable": {"type": "boolean"},
    "data": {"type": "object", "propertyNames": {"pattern": "^[-._a-zA-Z0-9]+$", "maxLength": 253},
             "additionalProperties": {"type": "string"}}
  }
}`

type argoSchema struct {
	defs    map[string]any
	schemas map[string]*jsonschema.Schema
}

var (
	schemaOnce sync.Once
	schemaVal  *argoSchema
	schemaErr  error
)

// loadSchema compiles Argo's schema once, with the ConfigMap definition
// added, and returns a validator per kind.
func loadSchema(t *testing.T) *argoSchema {
	t.Helper()
	schemaOnce.Do(func() {
		b, err := os.ReadFile(schemaFile)
		if err != nil {
			schemaErr = err
			return
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			schemaErr = err
			return
		}
		defs := doc["definitions"].(map[string]any)
		var cm any
		if err := json.Unmarshal([]byte(configMapSchema), &cm); err != nil {
			schemaErr = err
			return
		}
		defs["mlrun.ConfigMap"] = cm
		full, _ := json.Marshal(doc)
		parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(full))
		if err != nil {
			schemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		if err := c.AddResource("argo.json", parsed); err != nil {
			schemaErr = err
			return
		}
		s := &argoSchema{defs: defs, schemas: map[string]*jsonschema.Schema{}}
		for kind, def := range kindDefs {
			if s.schemas[kind], err = c.Compile("argo.json#/definitions/" + def); err != nil {
				schemaErr = fmt.Errorf("compile %s: %w", def, err)
				return
			}
		}
		// The whole published schema compiles as well (its oneOf root).
		if _, err := c.Compile("argo.json"); err != nil {
			schemaErr = err
			return
		}
		schemaVal = s
	})
	if schemaErr != nil {
		t.Fatal(schemaErr)
	}
	return schemaVal
}

var kindDefs = map[string]string{
	"ConfigMap":        "mlrun.ConfigMap",
	"Workflow":         "io.argoproj.workflow.v1alpha1.Workflow",
	"WorkflowTemplate": "io.argoproj.workflow.v1alpha1.WorkflowTemplate",
	"CronWorkflow":     "io.argoproj.workflow.v1alpha1.CronWorkflow",
}

// validateYAML checks every document of a multi-document YAML stream
// against its kind's schema and the strict key check; it returns the
// problems, one a line, and the documents' kinds.
func validateYAML(t *testing.T, out []byte) (kinds []string, problems []string) {
	t.Helper()
	s := loadSchema(t)
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var doc any
		if err := dec.Decode(&doc); err != nil {
			if err.Error() == "EOF" {
				break
			}
			t.Fatalf("decode: %v", err)
		}
		// Through JSON: the validator's instance model.
		b, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		kind, _ := inst.(map[string]any)["kind"].(string)
		kinds = append(kinds, kind)
		sch := s.schemas[kind]
		if sch == nil {
			problems = append(problems, fmt.Sprintf("document %d: kind %q", len(kinds), kind))
			continue
		}
		if err := sch.Validate(inst); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", kind, err))
		}
		problems = append(problems, s.unknownKeys(map[string]any{"$ref": "#/definitions/" + kindDefs[kind]}, inst, kind)...)
	}
	return kinds, problems
}

// unknownKeys walks an instance along its schema and names every object
// key the schema does not define: the published schema allows them, so a
// misspelt field (retryStrtegy) would pass it and be dropped by the
// cluster without a word.
func (s *argoSchema) unknownKeys(sch map[string]any, inst any, at string) []string {
	sch = s.resolve(sch)
	var out []string
	switch v := inst.(type) {
	case map[string]any:
		props := s.properties(sch)
		addl, hasAddl := sch["additionalProperties"].(map[string]any)
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			switch {
			case props[k] != nil:
				out = append(out, s.unknownKeys(props[k], v[k], at+"."+k)...)
			case hasAddl:
				out = append(out, s.unknownKeys(addl, v[k], at+"."+k)...)
			case len(props) > 0 || sch["type"] == "object":
				out = append(out, "unknown key "+at+"."+k)
			}
		}
	case []any:
		if items, ok := sch["items"].(map[string]any); ok {
			for i, e := range v {
				out = append(out, s.unknownKeys(items, e, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return out
}

func (s *argoSchema) resolve(sch map[string]any) map[string]any {
	for {
		ref, ok := sch["$ref"].(string)
		if !ok {
			return sch
		}
		def, ok := s.defs[strings.TrimPrefix(ref, "#/definitions/")].(map[string]any)
		if !ok {
			return map[string]any{}
		}
		sch = def
	}
}

// properties are a schema's own properties and its allOf/anyOf/oneOf
// branches'.
func (s *argoSchema) properties(sch map[string]any) map[string]map[string]any {
	props := map[string]map[string]any{}
	if p, ok := sch["properties"].(map[string]any); ok {
		for k, v := range p {
			if m, ok := v.(map[string]any); ok {
				props[k] = m
			}
		}
	}
	for _, comb := range []string{"allOf", "anyOf", "oneOf"} {
		if list, ok := sch[comb].([]any); ok {
			for _, b := range list {
				if m, ok := b.(map[string]any); ok {
					for k, v := range s.properties(s.resolve(m)) {
						props[k] = v
					}
				}
			}
		}
	}
	return props
}

// TestStrictCheckCatches shows the strict check finds what the published
// schema lets through: a misspelt key deep in a template, a key of the
// wrong object, and one in a ConfigMap.
func TestStrictCheckCatches(t *testing.T) {
	tests := []struct {
		name, doc string
		schemaOK  bool
		want      []string
	}{
		{"valid", `{apiVersion: argoproj.io/v1alpha1, kind: Workflow, metadata: {generateName: a-}, spec: {entrypoint: m, templates: [{name: m, retryStrategy: {limit: "1"}, container: {image: i, resources: {requests: {cpu: "1"}}}}]}}`, true, nil},
		{"misspelt", `{apiVersion: argoproj.io/v1alpha1, kind: Workflow, metadata: {generateName: a-}, spec: {entrypoint: m, templates: [{name: m, retryStrtegy: {limit: 1}, container: {image: i}}]}}`, true,
			[]string{"unknown key Workflow.spec.templates[0].retryStrtegy"}},
		{"misplaced", `{apiVersion: argoproj.io/v1alpha1, kind: CronWorkflow, metadata: {name: a}, spec: {schedules: ["@daily"], entrypoint: m, workflowSpec: {entrypoint: m, templates: [{name: m}]}}}`, true,
			[]string{"unknown key CronWorkflow.spec.entrypoint"}},
		{"configmap", `{apiVersion: v1, kind: ConfigMap, metadata: {name: a, lables: {x: y}}, data: {a.yaml: x}}`, true,
			[]string{"unknown key ConfigMap.metadata.lables"}},
		{"schema", `{apiVersion: argoproj.io/v1alpha1, kind: Workflow, metadata: {generateName: a-}, spec: {entrypoint: m, templates: [{name: m, container: {image: 3, command: x}}]}}`, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, problems := validateYAML(t, []byte(tt.doc))
			var schema, strict []string
			for _, p := range problems {
				if strings.HasPrefix(p, "unknown key ") {
					strict = append(strict, p)
				} else {
					schema = append(schema, p)
				}
			}
			if (len(schema) == 0) != tt.schemaOK {
				t.Errorf("schema problems %q, want ok=%v", schema, tt.schemaOK)
			}
			if strings.Join(strict, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("strict check: %q, want %q", strict, tt.want)
			}
		})
	}
}
