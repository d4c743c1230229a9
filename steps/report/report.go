// Package report is the report step kind: it declares the audit report and
// model card of the run (internal/report, as `mlrun report RUN` writes it)
// as a file of the repository, written when the run finishes.
//
//	card:
//	  kind: report
//	  out: ../reports/credit-risk.html   # relative to the pipeline file
//	  format: html                       # or md; default from the extension
//
// The report describes the whole run (every step, cached or not, its checks
// and gates, the registered version), so it is written after the last step,
// by `mlrun run`, whether the run passed or not: a failed gate is what a
// reviewer most needs to see. The step itself only checks and records the
// request.
package report

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/internal/yamlnode"
)

// Version is the implementation version of the report kind.
const Version = 1

// TypeName is the object type of the step's output.
const TypeName = "report-request"

// Formats of a report.
const (
	HTML     = "html"
	Markdown = "md"
)

// Config is the resolved request, the step's cache config and output.
type Config struct {
	// Out is the file to write, as written in the pipeline (relative to
	// the pipeline file's directory unless absolute).
	Out string `json:"out"`
	// Format is HTML or Markdown.
	Format string `json:"format"`
}

// Path returns the file to write for a pipeline file.
func (c Config) Path(pipelineFile string) string {
	if filepath.IsAbs(c.Out) {
		return c.Out
	}
	return filepath.Join(filepath.Dir(pipelineFile), c.Out)
}

// Kind returns the report step kind.
func Kind() pipeline.Kind { return kind{} }

type kind struct{}

func (kind) Name() string { return "report" }

func (kind) Version() int { return Version }

func (kind) Inputs() []pipeline.Port { return nil }

func (kind) Outputs() []string { return []string{"request"} }

func (kind) Required() []string { return []string{"out"} }

func (kind) Settings() map[string]any {
	return map[string]any{
		"out": map[string]any{
			"type": "string", "minLength": 1,
			"description": "the file to write when the run finishes, relative to the pipeline file: the run's audit report and model card (as `mlrun report RUN`)",
		},
		"format": map[string]any{
			"type": "string", "enum": []string{HTML, Markdown},
			"description": "html (one self-contained page with inline SVG charts) or md (a Markdown model card); default md for a .md file, else html",
		},
	}
}

type compiled struct{ cfg Config }

func (k kind) Compile(req *pipeline.CompileRequest) pipeline.Compiled {
	d := new(diag.List)
	defer req.Diags.Merge(d)
	var cfg Config
	n := req.Setting("out")
	if n == nil {
		d.Add(req.Step.Pos, "report needs out: the file to write")
		return nil
	}
	out, ok := yamlnode.Str(n)
	switch {
	case !ok || out == "":
		d.Add(req.Pos(n), "out must be a file name, got %s", yamlnode.Describe(n))
	case strings.HasSuffix(out, "/") || filepath.Base(filepath.Clean(out)) == "." || filepath.Base(filepath.Clean(out)) == "..":
		d.Add(req.Pos(n), "out must name a file, not a directory: %q", out)
	}
	cfg.Out = out
	cfg.Format = HTML
	if strings.EqualFold(filepath.Ext(out), ".md") {
		cfg.Format = Markdown
	}
	if f := req.Setting("format"); f != nil {
		s, _ := yamlnode.Str(f)
		switch s {
		case HTML, Markdown:
			cfg.Format = s
		default:
			d.Add(req.Pos(f), "format must be html or md, got %s", yamlnode.Describe(f))
		}
	}
	if d.HasErrors() {
		return nil
	}
	return &compiled{cfg: cfg}
}

// requestType is the compile-time type of the step's output.
type requestType struct{}

func (requestType) TypeName() string { return TypeName }

func (c *compiled) OutputTypes() map[string]pipeline.Type {
	return map[string]pipeline.Type{"request": requestType{}}
}

func (c *compiled) CacheConfig() any { return c.cfg }

// Run records the request; `mlrun run` writes the file when the run has
// finished.
func (c *compiled) Run(ctx context.Context, req *pipeline.RunRequest) (*pipeline.Result, error) {
	return &pipeline.Result{
		Outputs: map[string]pipeline.Object{"request": &pipeline.Document{Type: TypeName, Value: c.cfg}},
		Notes:   []string{"writes the run's " + c.cfg.Format + " report to " + c.cfg.Out + " when the run finishes"},
	}, nil
}
