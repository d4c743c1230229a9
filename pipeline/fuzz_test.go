package pipeline

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline/diag"
)

// FuzzParse checks that Parse never panics and that every failure is a
// *diag.Errors whose diagnostics are sorted and carry a message.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/good", "testdata/bad"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("mlrun: 1\nname: x\nsteps:\n  a: &s {kind: transform, input: b}\n  b: {<<: *s, input: a}\n"))
	reg := fakeRegistry()
	v := NewValidator(reg)
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := Parse("fuzz.yaml", src, LoadOptions{Registry: reg, Validator: v})
		if err == nil {
			if p == nil || len(p.Steps) == 0 {
				t.Fatalf("no error and no steps: %+v", p)
			}
			for _, s := range p.Steps {
				if s.Compiled == nil {
					t.Fatalf("step %s loaded uncompiled", s.ID)
				}
			}
			return
		}
		de, ok := diag.AsErrors(err)
		if !ok {
			t.Fatalf("error %T is not *diag.Errors: %v", err, err)
		}
		if len(de.Diagnostics) == 0 {
			t.Fatal("empty *diag.Errors")
		}
		for i, d := range de.Diagnostics {
			if d.Message == "" {
				t.Fatalf("empty message at %v", d.Pos)
			}
			if i > 0 && d.Pos.Before(de.Diagnostics[i-1].Pos) {
				t.Fatalf("unsorted: %v before %v", de.Diagnostics[i-1], d)
			}
		}
	})
}
