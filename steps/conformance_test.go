package steps

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/table"
)

var (
	kindName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	// portName is what a YAML key of a step, an output name or a port may
	// be: output names end up in references (step.output) and records.
	portName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// TestKindConformance checks the contract every registered step kind must
// keep, whatever its package: a name, an implementation version, documented
// ports and settings that do not collide, required settings that exist, and
// a Compile that reports problems, with positions, instead of panicking when
// the step has no settings at all.
func TestKindConformance(t *testing.T) {
	reg, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	names := reg.KindNames()
	if len(names) == 0 {
		t.Fatal("no kinds registered")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			k, ok := reg.Kind(name)
			if !ok {
				t.Fatalf("KindNames lists %q but Kind does not find it", name)
			}
			if k.Name() != name || !kindName.MatchString(name) {
				t.Errorf("Name() = %q, registered as %q; want a lower-case identifier", k.Name(), name)
			}
			if k.Version() < 1 {
				t.Errorf("Version() = %d, want >= 1", k.Version())
			}

			outs := k.Outputs()
			if len(outs) == 0 {
				t.Errorf("Outputs() is empty: a step must produce something")
			}
			for i, o := range outs {
				if !portName.MatchString(o) {
					t.Errorf("output %q is not a lower-case identifier", o)
				}
				if slices.Contains(outs[:i], o) {
					t.Errorf("output %q listed twice", o)
				}
			}

			settings := k.Settings()
			if settings == nil {
				t.Errorf("Settings() is nil; want a (possibly empty) JSON Schema properties object")
			}
			for _, reserved := range []string{"kind", "doc"} {
				if _, ok := settings[reserved]; ok {
					t.Errorf("setting %q collides with the reserved step key", reserved)
				}
			}
			for sname, schema := range settings {
				if !portName.MatchString(sname) {
					t.Errorf("setting %q is not a lower-case identifier", sname)
				}
				m, ok := schema.(map[string]any)
				if !ok {
					t.Errorf("setting %q: schema is a %T, want a JSON Schema object (map[string]any)", sname, schema)
					continue
				}
				if d, _ := m["description"].(string); d == "" {
					t.Errorf("setting %q has no description", sname)
				}
			}

			var ports []string
			for _, p := range k.Inputs() {
				if !portName.MatchString(p.Name) || p.Name == "kind" || p.Name == "doc" {
					t.Errorf("input port %q is not a lower-case identifier or is reserved", p.Name)
				}
				if slices.Contains(ports, p.Name) {
					t.Errorf("input port %q listed twice", p.Name)
				}
				if _, ok := settings[p.Name]; ok {
					t.Errorf("input port %q is also a setting", p.Name)
				}
				if p.Doc == "" {
					t.Errorf("input port %q has no Doc", p.Name)
				}
				ports = append(ports, p.Name)
			}

			for _, r := range k.Required() {
				if _, ok := settings[r]; !ok {
					t.Errorf("required setting %q is not among Settings()", r)
				}
			}

			// Compile with no settings: problems, each with a position in
			// the file, never a panic. First with no input connected (the
			// loader reports missing required inputs itself, but a kind must
			// not crash on them), then with every port connected to a dataset
			// of no columns (a model port must say it wants a model).
			if _, _, panicked := compileEmpty(k, t.TempDir(), nil); panicked != nil {
				t.Fatalf("Compile with no settings and no inputs panicked: %v", panicked)
			}
			inputs := map[string]pipeline.Type{}
			for _, p := range ports {
				inputs[p] = &table.Schema{}
			}
			diags, compiled, panicked := compileEmpty(k, t.TempDir(), inputs)
			if panicked != nil {
				t.Fatalf("Compile with no settings panicked: %v", panicked)
			}
			var errs []diag.Diagnostic
			for _, d := range diags.Items() {
				if d.Pos.Line < 1 || d.Pos.File == "" {
					t.Errorf("diagnostic without a position: %s", d.String())
				}
				if d.Severity == diag.Error {
					errs = append(errs, d)
				}
			}
			if len(k.Required()) > 0 && len(errs) == 0 {
				t.Errorf("Compile with no settings (required: %v) reported no error", k.Required())
			}
			if len(errs) == 0 {
				if compiled == nil {
					t.Fatalf("Compile returned nil without reporting an error")
				}
				types := compiled.OutputTypes()
				for _, o := range outs {
					if types[o] == nil {
						t.Errorf("compiled without errors but OutputTypes() has no type for output %q", o)
					}
				}
			}
			t.Logf("with no settings: %d problem(s), compiled: %v", len(errs), compiled != nil)
		})
	}
}

// compileEmpty compiles a step `s: {kind: NAME}` of a pipeline in dir,
// whose input ports have the given types.
func compileEmpty(k pipeline.Kind, dir string, inputs map[string]pipeline.Type) (diags *diag.List, c pipeline.Compiled, panicked any) {
	src := fmt.Sprintf("kind: %s\n", k.Name())
	ports := slices.Sorted(maps.Keys(inputs))
	for _, port := range ports {
		src += port + ": up\n"
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		panic(err)
	}
	p := &pipeline.Pipeline{File: "p.yaml", Dir: dir, Name: "conformance"}
	step := &pipeline.StepSpec{ID: "s", Kind: k.Name(), KindImpl: k, Node: doc.Content[0],
		Pos: diag.Pos{File: "p.yaml", Line: 1, Col: 1}}
	p.Steps = []*pipeline.StepSpec{step}
	for i, port := range ports {
		pos := diag.Pos{File: "p.yaml", Line: i + 2, Col: len(port) + 3}
		step.Inputs = append(step.Inputs, pipeline.InputRef{Port: port, Step: "up", Output: "data", Pos: pos})
	}
	diags = new(diag.List)
	defer func() { panicked = recover() }()
	c = k.Compile(&pipeline.CompileRequest{
		Step: step, Pipeline: p, Inputs: inputs, Params: map[string]any{}, Diags: diags,
	})
	return diags, c, nil
}
