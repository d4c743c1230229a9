package report

import (
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
)

func compile(t *testing.T, src string) (pipeline.Compiled, []string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	p := &pipeline.Pipeline{File: "p.yaml", Source: []byte(src)}
	var diags diag.List
	c := Kind().Compile(&pipeline.CompileRequest{
		Step:     &pipeline.StepSpec{ID: "card", Kind: "report", Node: doc.Content[0], Pos: diag.Pos{File: "p.yaml", Line: 1, Col: 1}},
		Pipeline: p, Diags: &diags,
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
		{src: "out: r/card.html", want: Config{Out: "r/card.html", Format: HTML}},
		{src: "out: card.MD", want: Config{Out: "card.MD", Format: Markdown}},
		{src: "out: card.txt\nformat: md", want: Config{Out: "card.txt", Format: Markdown}},
		{src: "out: card.md\nformat: pdf", errs: []string{`p.yaml:2:9: format must be html or md, got a string`}},
		{src: "out: reports/", errs: []string{`p.yaml:1:6: out must name a file, not a directory: "reports/"`}},
		{src: "out: [a]", errs: []string{`p.yaml:1:6: out must be a file name, got a list`}},
		{src: "format: md", errs: []string{`p.yaml:1:1: report needs out: the file to write`}},
	}
	for _, tt := range tests {
		c, errs := compile(t, tt.src)
		if !slices.Equal(errs, tt.errs) {
			t.Errorf("%q: errors %q, want %q", tt.src, errs, tt.errs)
			continue
		}
		if tt.errs == nil && c.CacheConfig() != tt.want {
			t.Errorf("%q: config %+v, want %+v", tt.src, c.CacheConfig(), tt.want)
		}
	}
}

func TestPath(t *testing.T) {
	for _, tt := range []struct{ out, file, want string }{
		{"../reports/a.html", "pipelines/p.yaml", "reports/a.html"},
		{"a.md", "p.yaml", "a.md"},
		{"/tmp/a.html", "pipelines/p.yaml", "/tmp/a.html"},
	} {
		if got := (Config{Out: tt.out}).Path(tt.file); got != tt.want {
			t.Errorf("Path(%q, %q) = %q, want %q", tt.out, tt.file, got, tt.want)
		}
	}
}
