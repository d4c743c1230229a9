package pipeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline/diag"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// overridesIn reads "# -p name=value" lines at the top of a test file.
func overridesIn(t *testing.T, src []byte) map[string]string {
	t.Helper()
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "# -p ") {
			continue
		}
		name, value, ok := strings.Cut(strings.TrimPrefix(line, "# -p "), "=")
		if !ok {
			t.Fatalf("bad override line %q", line)
		}
		m[name] = value
	}
	return m
}

// checkGolden compares got with the golden file, or rewrites it under -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (go test -update rewrites it)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

// TestBadCorpus loads every testdata/bad/*.yaml and compares the rendered
// diagnostics with its .golden file.
func TestBadCorpus(t *testing.T) {
	reg := fakeRegistry()
	v := NewValidator(reg)
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad corpus: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Load(f, LoadOptions{Registry: reg, Validator: v, Overrides: overridesIn(t, src)})
			if err == nil {
				t.Fatalf("loaded %d steps, want errors", len(p.Steps))
			}
			if p != nil {
				t.Errorf("got a pipeline along with the error")
			}
			de, ok := diag.AsErrors(err)
			if !ok {
				t.Fatalf("error %T is not *diag.Errors: %v", err, err)
			}
			if ExitCode(err) != ExitInvalid {
				t.Errorf("exit code %d, want %d", ExitCode(err), ExitInvalid)
			}
			for i := 1; i < len(de.Diagnostics); i++ {
				if de.Diagnostics[i].Pos.Before(de.Diagnostics[i-1].Pos) {
					t.Errorf("diagnostics out of order: %v before %v", de.Diagnostics[i-1], de.Diagnostics[i])
				}
			}
			checkGolden(t, strings.TrimSuffix(f, ".yaml")+".golden", []byte(err.Error()+"\n"))
		})
	}
}

// TestGoodCorpus loads every testdata/good/*.yaml and compares a rendering
// of the loaded pipeline with its .golden file.
func TestGoodCorpus(t *testing.T) {
	reg := fakeRegistry()
	files, err := filepath.Glob("testdata/good/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no good corpus: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var warns diag.List
			p, err := Load(f, LoadOptions{Registry: reg, Overrides: overridesIn(t, src), Warnings: &warns})
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			checkGolden(t, strings.TrimSuffix(f, ".yaml")+".golden", []byte(render(t, p, &warns)))
		})
	}
}

func render(t *testing.T, p *Pipeline, warns *diag.List) string {
	var b strings.Builder
	fmt.Fprintf(&b, "file: %s\ndir: %s\nname: %s\ndescription: %s\nversion: %d\nsha256 ok: %v\nsource bytes: %d\n",
		p.File, p.Dir, p.Name, p.Description, p.Version, len(p.SHA256) == 64, len(p.Source))
	if p.ModelCard != nil {
		mc, err := json.Marshal(p.ModelCard)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "model_card: %s\n", mc)
	}
	b.WriteString("params:\n")
	for _, pr := range p.Params {
		fmt.Fprintf(&b, "  %s = %#v (%T) at %s overridden=%v\n", pr.Name, pr.Value, pr.Value, pr.Pos, pr.Overridden)
	}
	b.WriteString("steps:\n")
	for _, s := range p.Steps {
		fmt.Fprintf(&b, "  %s: kind %s at %s\n", s.ID, s.Kind, s.Pos)
		if s.Doc != "" {
			fmt.Fprintf(&b, "    doc: %s\n", s.Doc)
		}
		for _, in := range s.Inputs {
			fmt.Fprintf(&b, "    input %s <- %s at %s\n", in.Port, in, in.Pos)
		}
		fmt.Fprintf(&b, "    deps: %v\n", s.Deps())
		fmt.Fprintf(&b, "    node: %s\n", nodeText(s.Node))
		if s.Compiled == nil {
			t.Errorf("step %s not compiled", s.ID)
			continue
		}
		cfg, err := json.Marshal(s.Compiled.CacheConfig())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "    config: %s\n", cfg)
		var outs []string
		for name, typ := range s.Compiled.OutputTypes() {
			ft := typ.(*fakeType)
			outs = append(outs, fmt.Sprintf("%s=%s%v", name, ft.name, ft.cols))
		}
		sort.Strings(outs)
		fmt.Fprintf(&b, "    outputs: %s\n", strings.Join(outs, " "))
	}
	for _, d := range warns.Items() {
		fmt.Fprintf(&b, "warning: %s\n", d)
	}
	return b.String()
}

// TestParamTypes checks the type a ${params.X} reference takes, with and
// without -p overrides.
func TestParamTypes(t *testing.T) {
	reg := fakeRegistry()
	const src = `mlrun: 1
name: p
params:
  n: 3
  f: 0.5
  b: true
  s: hello
  list: [a, b]
  big: 12345678901234567890
steps:
  raw:
    kind: source
    path: ${params.s}.csv
    columns: ${params.list}
  t:
    kind: transform
    input: raw
    VALUE:
      ${params.X}
`
	tests := []struct {
		key, ref  string
		overrides map[string]string
		want      any
		err       string
	}{
		{key: "seed", ref: "n", want: int64(3)},
		{key: "ratio", ref: "f", want: 0.5},
		{key: "flag", ref: "b", want: true},
		{key: "label", ref: "s", want: "hello"},
		{key: "cols", ref: "list", want: []any{"a", "b"}},
		{key: "seed", ref: "n", overrides: map[string]string{"n": "17"}, want: int64(17)},
		{key: "ratio", ref: "f", overrides: map[string]string{"f": "1e-3"}, want: 0.001},
		{key: "ratio", ref: "f", overrides: map[string]string{"f": "0"}, want: int64(0)},
		{key: "label", ref: "s", overrides: map[string]string{"s": ""}, want: ""},
		{key: "label", ref: "s", overrides: map[string]string{"s": "a: b"}, want: "a: b"},
		{key: "cols", ref: "list", overrides: map[string]string{"list": "[x, y, z]"}, want: []any{"x", "y", "z"}},
		{key: "label", ref: "n", overrides: map[string]string{"n": "x"}, want: "x"},
		{key: "seed", ref: "s", err: `p.yaml:19:7: setting "seed": got string, want integer`},
		{key: "ratio", ref: "f", overrides: map[string]string{"f": "2"}, err: `p.yaml:19:7: setting "ratio": maximum: got 2, want 1`},
		{key: "seed", ref: "n", overrides: map[string]string{"nn": "1"}, err: `-p nn=1: unknown param "nn"; did you mean "n"?`},
		{key: "label", ref: "nn", err: `p.yaml:19:7: unknown param "nn"; did you mean "n"?`},
		{key: "flag", ref: "big", err: `p.yaml:19:7: setting "flag": got number, want boolean`},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.ref+fmt.Sprint(tt.overrides), func(t *testing.T) {
			text := strings.Replace(strings.Replace(src, "VALUE", tt.key, 1), "X", tt.ref, 1)
			p, err := Parse("p.yaml", []byte(text), LoadOptions{Registry: reg, Overrides: tt.overrides})
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n := p.Step("t").Setting(tt.key)
			got := toJSON(n)
			if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", tt.want) {
				t.Errorf("%s = %#v, want %#v", tt.key, got, tt.want)
			}
			if n.Line != 19 || n.Column != 7 {
				t.Errorf("substituted node at %d:%d, want the reference's 19:7", n.Line, n.Column)
			}
			wantPath := "hello.csv"
			if v, ok := tt.overrides["s"]; ok {
				wantPath = v + ".csv"
			}
			if got := p.Step("raw").Setting("path").Value; got != wantPath {
				t.Errorf("interpolated path = %q, want %q", got, wantPath)
			}
			for _, pr := range p.Params {
				if pr.Overridden != hasKey(tt.overrides, pr.Name) {
					t.Errorf("param %s overridden=%v", pr.Name, pr.Overridden)
				}
			}
			// The original document keeps the reference.
			if !strings.Contains(nodeText(p.Root), "${params."+tt.ref+"}") {
				t.Errorf("Root lost the reference: %s", nodeText(p.Root))
			}
		})
	}
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// TestInterpolation checks string interpolation of scalar params.
func TestInterpolation(t *testing.T) {
	reg := fakeRegistry()
	src := `mlrun: 1
name: p
params: {n: 3, f: 0.25, b: false, s: x}
steps:
  raw:
    kind: source
    path: "data/${params.s}-${ params.n }-${params.f}-${params.b}-$${params.s}.csv"
`
	p, err := Parse("p.yaml", []byte(src), LoadOptions{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Step("raw").Setting("path").Value, "data/x-3-0.25-false-$x.csv"; got != want {
		t.Errorf("path = %q, want %q", got, want)
	}
}

// TestLoadErrors covers errors that do not come from a file's content.
func TestLoadErrors(t *testing.T) {
	reg := fakeRegistry()
	_, err := Load("nope/missing.yaml", LoadOptions{Registry: reg})
	if err == nil || err.Error() != "nope/missing.yaml: cannot read pipeline file: no such file or directory" {
		t.Errorf("missing file: %v", err)
	}
	if ExitCode(err) != ExitInvalid {
		t.Errorf("missing file exit code %d", ExitCode(err))
	}
	read := func(string) ([]byte, error) {
		return []byte("mlrun: 1\nname: x\nsteps: {a: {kind: source, path: p}}\n"), nil
	}
	p, err := Load("virtual/p.yaml", LoadOptions{Registry: reg, ReadFile: read})
	if err != nil || p.Dir != "virtual" || p.Name != "x" {
		t.Errorf("injected ReadFile: %v %+v", err, p)
	}
	if _, err := Parse("p.yaml", nil, LoadOptions{}); err == nil || ExitCode(err) != ExitRuntime {
		t.Errorf("nil registry: %v", err)
	}
	if _, err := Parse("p.yaml", nil, LoadOptions{Registry: reg, Validator: NewValidator(NewRegistry())}); err == nil {
		t.Errorf("validator of another registry accepted")
	}
	bad := NewRegistry()
	if err := bad.Register(&fakeKind{name: "x", settings: map[string]any{"a": map[string]any{"type": "nonsense"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Parse("p.yaml", []byte("mlrun: 1\n"), LoadOptions{Registry: bad}); err == nil || !strings.Contains(err.Error(), "compile pipeline schema") {
		t.Errorf("invalid kind schema: %v", err)
	}
	var de *diag.Errors
	_, err = Parse("p.yaml", []byte("[1"), LoadOptions{Registry: reg})
	if !errors.As(err, &de) || len(de.Diagnostics) != 1 {
		t.Errorf("syntax error: %v", err)
	}
}

func BenchmarkValidatorCompile(b *testing.B) {
	reg := fakeRegistry()
	for b.Loop() {
		if err := NewValidator(reg).compile(); err != nil {
			b.Fatal(err)
		}
	}
}

// benchSource is a pipeline of the size of the credit-risk example.
const benchSource = `mlrun: 1
name: bench
description: A pipeline the size of the credit-risk example.
params: {seed: 42, test_size: 0.2, min_auc: 0.7, cols: [age, income, default]}
steps:
  applications:
    kind: source
    doc: Loan applications.
    path: ../data/applications.csv
    columns: ${params.cols}
  quality:
    kind: transform
    input: applications
    expr: age > 0
    time: {column: age, from: "2020-01-01"}
  features:
    kind: transform
    input: quality
    expr: income / 2
    mode: exact
    cols: [age, income]
  split:
    kind: splitter
    input: features
    test: ${params.test_size}
  model:
    kind: trainer
    input: split.train
    target: default
    features: [age, income, derived]
  evaluation:
    kind: sink
    model: model
    data: split.test
    threshold: 0.5
`

// BenchmarkLoad measures Parse of a credit-risk-sized pipeline: "cold"
// compiles the schema as a single CLI invocation does, "warm" reuses a
// Validator.
func BenchmarkLoad(b *testing.B) {
	reg := fakeRegistry()
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			if _, err := Parse("bench.yaml", []byte(benchSource), LoadOptions{Registry: reg}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("warm", func(b *testing.B) {
		v := NewValidator(reg)
		for b.Loop() {
			if _, err := Parse("bench.yaml", []byte(benchSource), LoadOptions{Registry: reg, Validator: v}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestConcurrentLoad shares one Validator between goroutines (run with -race).
func TestConcurrentLoad(t *testing.T) {
	reg := fakeRegistry()
	v := NewValidator(reg)
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func(i int) {
			src := benchSource
			if i%2 == 1 {
				src = strings.Replace(src, "threshold: 0.5", "threshold: high", 1)
			}
			_, err := Parse("c.yaml", []byte(src), LoadOptions{Registry: reg, Validator: v})
			if i%2 == 0 && err != nil || i%2 == 1 && (err == nil || err.Error() != `c.yaml:35:16: setting "threshold": got string, want number`) {
				errs <- fmt.Errorf("goroutine %d: %v", i, err)
				return
			}
			errs <- nil
		}(i)
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
