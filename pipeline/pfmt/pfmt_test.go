package pfmt_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/pfmt"
	"github.com/mlrun-cli/mlrun/steps"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

const example = "../../examples/pipelines/credit-risk.yaml"

func registry(t testing.TB) *pipeline.Registry {
	t.Helper()
	reg, err := steps.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestGolden formats testdata/*.yaml and compares with the .golden files;
// -update rewrites them.
func TestGolden(t *testing.T) {
	reg := registry(t)
	files, _ := filepath.Glob("testdata/*.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got, err := pfmt.Format(src, reg)
			if err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Format(%s) =\n%s\nwant (%s)\n%s", file, got, golden, want)
			}
			checkIdempotent(t, reg, got)
			checkComments(t, src, got)
		})
	}
}

// TestExamplesAreFormatted keeps the shipped examples in canonical form.
func TestExamplesAreFormatted(t *testing.T) {
	files, _ := filepath.Glob("../../examples/pipelines/*.yaml")
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	reg := registry(t)
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pfmt.Format(src, reg)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, src) {
			t.Errorf("%s is not formatted; run mlrun fmt -w on it. Formatted:\n%s", file, got)
		}
	}
}

// TestScrambledExample: a shuffled copy of the example formats to the
// example's layout (but for its data path) and loads to the same spec.
func TestScrambledExample(t *testing.T) {
	reg := registry(t)
	src, err := os.ReadFile("testdata/scrambled.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pfmt.Format(src, reg)
	if err != nil {
		t.Fatal(err)
	}
	a := spec(t, reg, "testdata/scrambled.yaml", src)
	b := spec(t, reg, "testdata/scrambled.yaml", got)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("formatting changed the spec:\n%v\n%v", a, b)
	}
}

func TestErrors(t *testing.T) {
	for _, src := range []string{"", "a: [", "a: 1\n---\nb: 2\n"} {
		if _, err := pfmt.Format([]byte(src), nil); !errors.Is(err, pfmt.ErrNotYAML) {
			t.Errorf("Format(%q) = %v, want ErrNotYAML", src, err)
		}
	}
}

// spec is what a loaded pipeline means.
func spec(t testing.TB, reg *pipeline.Registry, name string, src []byte) map[string]string {
	t.Helper()
	p, err := pipeline.Parse(name, src, pipeline.LoadOptions{Registry: reg})
	if err != nil {
		t.Fatalf("parse %s: %v\n%s", name, err, src)
	}
	return specOf(t, p)
}

func jsonString(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checkIdempotent(t testing.TB, reg *pipeline.Registry, once []byte) {
	t.Helper()
	twice, err := pfmt.Format(once, reg)
	if err != nil {
		t.Fatalf("formatting the formatted output: %v\n%s", err, once)
	}
	if !bytes.Equal(once, twice) {
		t.Fatalf("not idempotent:\n--- once\n%s\n--- twice\n%s", once, twice)
	}
}

// checkComments checks that every comment of src is in out.
func checkComments(t testing.TB, src, out []byte) {
	t.Helper()
	for _, c := range comments(src) {
		if !bytes.Contains(out, []byte(c)) {
			t.Errorf("comment %q lost:\n%s", c, out)
		}
	}
}

// comments returns the comment texts of YAML source: what follows a "#"
// that starts a line or follows a space outside quotes (good enough for
// the test inputs, which have no "#" inside strings).
func comments(src []byte) []string {
	var out []string
	for _, line := range strings.Split(string(src), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "#") {
			out = append(out, t)
		} else if i := strings.Index(line, " #"); i >= 0 && !strings.ContainsAny(line[:i], `"'`) {
			out = append(out, strings.TrimSpace(line[i:]))
		}
	}
	return out
}

// FuzzFormat checks that Format is idempotent, keeps every comment, and
// that a file that loads formats to one that loads to the same spec.
func FuzzFormat(f *testing.F) {
	for _, pattern := range []string{"testdata/*.yaml", "../testdata/good/*.yaml", example} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("a: &x {b: 1}\nc: *x\nd:\n  <<: *x\n  e: 2\n"))
	reg := registry(f)
	v := pipeline.NewValidator(reg)
	f.Fuzz(func(t *testing.T, src []byte) {
		once, err := pfmt.Format(src, reg)
		if err != nil {
			return
		}
		checkIdempotent(t, reg, once)
		// Specs compare only for files that load; the name puts relative
		// data paths where the example's are.
		opts := pipeline.LoadOptions{Registry: reg, Validator: v}
		p, err := pipeline.Parse(example, src, opts)
		if err != nil {
			return
		}
		q, err := pipeline.Parse(example, once, opts)
		if err != nil {
			t.Fatalf("the formatted file does not load: %v\n%s", err, once)
		}
		if a, b := specOf(t, p), specOf(t, q); !reflect.DeepEqual(a, b) {
			t.Fatalf("formatting changed the spec:\n%v\n%v\n%s", a, b, once)
		}
	})
}

// specOf is what a loaded pipeline means: name, description, params and
// each step's kind, inputs and resolved cache config (no positions).
func specOf(t testing.TB, p *pipeline.Pipeline) map[string]string {
	out := map[string]string{"name": p.Name, "description": p.Description}
	for _, pr := range p.Params {
		out["params."+pr.Name] = jsonString(t, pr.Value)
	}
	for _, s := range p.Steps {
		var ins []string
		for _, in := range s.Inputs {
			ins = append(ins, in.Port+"="+in.String())
		}
		out["steps."+s.ID] = s.Kind + " " + strings.Join(ins, ",") + " " + jsonString(t, s.Compiled.CacheConfig())
	}
	return out
}
