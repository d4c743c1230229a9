package register

import (
	"reflect"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/table"
)

func compile(t *testing.T, src string, input pipeline.Type) (pipeline.Compiled, []string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	var diags diag.List
	c := Kind().Compile(&pipeline.CompileRequest{
		Step:     &pipeline.StepSpec{ID: "reg", Kind: "register", Node: doc.Content[0], Pos: diag.Pos{File: "p.yaml", Line: 1, Col: 1}},
		Pipeline: &pipeline.Pipeline{File: "p.yaml", Source: []byte(src)},
		Inputs:   map[string]pipeline.Type{"model": input}, Diags: &diags,
	})
	var msgs []string
	for _, d := range diags.Items() {
		msgs = append(msgs, d.String())
	}
	return c, msgs
}

func TestCompile(t *testing.T) {
	tests := []struct {
		src  string
		want Config
		errs []string
	}{
		{src: "model: m\nname: pd\ngates: ['auc >= current.auc + 0.01', 'train_auc > 0.5']\naliases: [challenger]\nreason: nightly",
			want: Config{Name: "pd", Gates: []string{"auc >= current.auc + 0.01", "train_auc > 0.5"}, Aliases: []string{"challenger"}, Reason: "nightly"}},
		{src: "model: m", errs: []string{`p.yaml:1:1: register needs name: the registered model's name`}},
		{src: "model: m\nname: PD", errs: []string{`p.yaml:2:7: model name "PD": want lower-case letters, digits, '.', '_' or '-', starting with a letter or digit`}},
		{src: "model: m\nname: pd\ngates: auc > 1", errs: []string{`p.yaml:3:8: gates must be a list of expressions, got a string`}},
		{src: "model: m\nname: pd\ngates: ['auc + 1']", errs: []string{`p.yaml:3:9: gate "auc + 1": 1:1: gate must be a bool expression, got float`}},
		{src: "model: m\nname: pd\naliases: [prod, prod, 9x]", errs: []string{
			`p.yaml:3:17: alias "prod" given twice`,
			`p.yaml:3:23: alias "9x": want a lower-case word (letters, digits, '_', '-'), such as production or champion`}},
	}
	for _, tt := range tests {
		c, errs := compile(t, tt.src, nil)
		if !slices.Equal(errs, tt.errs) {
			t.Errorf("%q: errors\n got %q\nwant %q", tt.src, errs, tt.errs)
			continue
		}
		if tt.errs == nil && !reflect.DeepEqual(c.CacheConfig(), tt.want) {
			t.Errorf("%q: config %+v, want %+v", tt.src, c.CacheConfig(), tt.want)
		}
	}
	// The model input must be a model.
	if _, errs := compile(t, "model: m\nname: pd", &table.Schema{}); len(errs) != 1 {
		t.Errorf("dataset as model: errors %q", errs)
	}
}
