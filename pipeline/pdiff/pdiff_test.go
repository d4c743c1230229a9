package pdiff_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/pdiff"
	"github.com/mlrun-cli/mlrun/steps"
)

var update = flag.Bool("update", false, "rewrite the golden files testdata/*/want.{txt,md,json}")

// TestGolden diffs testdata/CASE/old.yaml against new.yaml and compares
// the text, Markdown and JSON renderings with want.txt, want.md and
// want.json; -update rewrites them.
func TestGolden(t *testing.T) {
	reg, err := steps.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	v := pipeline.NewValidator(reg)
	dirs, _ := filepath.Glob("testdata/*")
	if len(dirs) == 0 {
		t.Fatal("no testdata")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			load := func(name string) *pipeline.Pipeline {
				p, err := pipeline.Load(filepath.Join(dir, name), pipeline.LoadOptions{Registry: reg, Validator: v})
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			rep := pdiff.Compare(load("old.yaml"), load("new.yaml"))
			rep.Old, rep.New = "old.yaml", "new.yaml"
			var txt, md bytes.Buffer
			if err := rep.WriteText(&txt); err != nil {
				t.Fatal(err)
			}
			if err := rep.WriteMarkdown(&md); err != nil {
				t.Fatal(err)
			}
			js, err := json.MarshalIndent(rep, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join(dir, "want.txt"), txt.Bytes())
			golden(t, filepath.Join(dir, "want.md"), md.Bytes())
			golden(t, filepath.Join(dir, "want.json"), append(js, '\n'))
		})
	}
}

func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs; got:\n%s\nwant:\n%s", file, got, want)
	}
}

func TestValues(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     []string
	}{
		{"equal", `{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1}`, nil},
		{"scalar", `{"a":1}`, `{"a":2}`, []string{"a: 1 -> 2"}},
		{"nested added removed", `{"p":{"x":1,"y":2}}`, `{"p":{"x":1,"z":3}}`, []string{"p.y removed (was 2)", "p.z added: 3"}},
		{"named list", `{"c":[{"name":"a","expr":"x"},{"name":"b","expr":"y"}]}`, `{"c":[{"name":"a","expr":"x+1"},{"name":"b","expr":"y"}]}`,
			[]string{`c[a].expr: "x" -> "x+1"`}},
		{"named list reordered", `{"c":[{"name":"a"},{"name":"b"}]}`, `{"c":[{"name":"b"},{"name":"a"}]}`,
			[]string{`c reordered: ["a","b"] -> ["b","a"]`}},
		{"list by index", `[1,2,3]`, `[1,5,3]`, []string{"[1]: 2 -> 5"}},
		{"list length", `{"f":[1,2]}`, `{"f":[1,2,3]}`, []string{"f: [1,2] -> [1,2,3]"}},
		{"type", `{"a":"1"}`, `{"a":1}`, []string{`a: "1" -> 1`}},
		{"not json", `{`, `}`, []string{`value: "{" -> "}"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, c := range pdiff.JSON([]byte(tt.old), []byte(tt.new)) {
				got = append(got, c.String())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("got %q, want %q", got[i], tt.want[i])
				}
			}
		})
	}
}
