package pipeline

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

func TestGenerateSchemaGolden(t *testing.T) {
	got, err := GenerateSchema(fakeRegistry())
	if err != nil {
		t.Fatal(err)
	}
	again, err := GenerateSchema(fakeRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, again) {
		t.Fatal("GenerateSchema is not deterministic")
	}
	checkGolden(t, "testdata/schema.golden.json", got)
	if _, err := GenerateSchema(nil); err == nil {
		t.Error("nil registry accepted")
	}
	empty, err := GenerateSchema(NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := compileSchema(t, empty); err != nil {
		t.Errorf("schema of an empty registry does not compile: %v", err)
	}
}

func compileSchema(t *testing.T, b []byte) (*jsonschema.Schema, error) {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("urn:test:schema.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("urn:test:schema.json")
}

// TestSchemaForEditors checks the committed (editor) form against documents
// as written, before params are substituted, and the strict form Load uses.
func TestSchemaForEditors(t *testing.T) {
	reg := fakeRegistry()
	b, err := GenerateSchema(reg)
	if err != nil {
		t.Fatal(err)
	}
	editor, err := compileSchema(t, b)
	if err != nil {
		t.Fatal(err)
	}
	v := NewValidator(reg)
	if err := v.compile(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, doc          string
		editorOK, strictOK bool
	}{
		{"plain", "{kind: transform, input: a, ratio: 0.5, seed: 1, cols: [x]}", true, true},
		{"param refs", "{kind: transform, input: a, ratio: '${params.r}', seed: '${ params.s }', mode: '${params.m}', cols: '${params.c}', time: {column: '${params.c}'}}", true, false},
		{"partial ref in a number", "{kind: transform, input: a, ratio: 'x${params.r}'}", false, false},
		{"bad type", "{kind: transform, input: a, ratio: true}", false, false},
		{"bad ref", "{kind: transform, input: A.b.c}", false, false},
		{"unknown kind", "{kind: nope}", false, false},
		{"unknown key", "{kind: source, path: p, extra: 1}", false, false},
		{"missing required", "{kind: source}", false, false},
		{"ref in a port", "{kind: transform, input: '${params.x}'}", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var step any
			if err := yaml.Unmarshal([]byte(tt.doc), &step); err != nil {
				t.Fatal(err)
			}
			doc := map[string]any{"mlrun": 1, "name": "x", "steps": map[string]any{"s": step}}
			inst, err := jsonRoundTrip(doc)
			if err != nil {
				t.Fatal(err)
			}
			if err := editor.Validate(inst); (err == nil) != tt.editorOK {
				t.Errorf("editor schema: %v, want ok=%v", err, tt.editorOK)
			}
			if probs := v.validate(inst); (len(probs) == 0) != tt.strictOK {
				t.Errorf("strict schema: %v, want ok=%v", probs, tt.strictOK)
			}
		})
	}
}

func TestSchemaShape(t *testing.T) {
	b, err := GenerateSchema(fakeRegistry())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["$schema"] != schemaDraft || doc["additionalProperties"] != false {
		t.Errorf("top level: $schema=%v additionalProperties=%v", doc["$schema"], doc["additionalProperties"])
	}
	defs := doc["$defs"].(map[string]any)
	step := defs["step"].(map[string]any)
	if n := len(step["allOf"].([]any)); n != 6 {
		t.Errorf("%d kind branches, want 6", n)
	}
	sink := defs["kind_sink"].(map[string]any)
	if got := sink["required"]; !equalJSON(got, []any{"model"}) {
		t.Errorf("sink required = %v", got)
	}
	if !strings.HasSuffix(string(b), "}\n") {
		t.Error("no final newline")
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
