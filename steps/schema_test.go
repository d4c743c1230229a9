package steps

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline"
)

var update = flag.Bool("update", false, "rewrite schemas/pipeline.schema.json from the registry")

// schemaFile is the committed JSON Schema of the pipeline format.
var schemaFile = filepath.Join("..", "schemas", "pipeline.schema.json")

// TestSchemaInSync checks that schemas/pipeline.schema.json is exactly what
// the registry of built-in kinds generates, byte for byte, so that editors
// and Load check files against the same schema. After changing a kind's
// settings or ports, or adding a kind, run
//
//	go test ./steps -run Schema -update
func TestSchemaInSync(t *testing.T) {
	reg, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	got, err := pipeline.GenerateSchema(reg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := pipeline.GenerateSchema(reg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, again) {
		t.Fatal("GenerateSchema gives different bytes for the same registry")
	}
	if *update {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", schemaFile)
		return
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date: the registry generates a different schema (first difference at line %d);\nrun: go test ./steps -run Schema -update",
			schemaFile, firstDiffLine(got, want))
	}
}

// firstDiffLine returns the 1-based line of the first byte where a and b
// differ.
func firstDiffLine(a, b []byte) int {
	line := 1
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return line
		}
		if a[i] == '\n' {
			line++
		}
	}
	return line
}
