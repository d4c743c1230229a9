package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/mlrun-cli/mlrun/internal/runquery"
)

// writeRunDiffMarkdown writes a run diff as Markdown tables, for a
// pull-request or merge-request comment.
func writeRunDiffMarkdown(w io.Writer, d *runquery.Diff) {
	var b strings.Builder
	fmt.Fprintf(&b, "### Run diff: `%s` → `%s`\n\n", d.A, d.B)
	empty := true
	if d.Pipeline != nil || d.Version != nil {
		empty = false
		if d.Pipeline != nil {
			fmt.Fprintf(&b, "- pipeline file: `%v` → `%v`\n", d.Pipeline.A, d.Pipeline.B)
		}
		if d.Version != nil {
			fmt.Fprintf(&b, "- mlrun version: `%v` → `%v`\n", d.Version.A, d.Version.B)
		}
		b.WriteString("\n")
	}
	if len(d.Params) > 0 {
		empty = false
		b.WriteString("#### Params\n\n| param | before | after |\n|---|---|---|\n")
		for _, p := range d.Params {
			fmt.Fprintf(&b, "| `%s` | `%s` | `%s` |\n", p.Name, mdCell(fmtAny(p.A)), mdCell(fmtAny(p.B)))
		}
		b.WriteString("\n")
	}
	if len(d.Files) > 0 {
		empty = false
		b.WriteString("#### Data\n\n| step | file | sha256 before | sha256 after |\n|---|---|---|---|\n")
		for _, f := range d.Files {
			fmt.Fprintf(&b, "| `%s` | `%s` | `%s` | `%s` |\n", f.Step, mdCell(f.Path), orNone(short(f.A)), orNone(short(f.B)))
		}
		b.WriteString("\n")
	}
	if len(d.Steps) > 0 {
		empty = false
		b.WriteString("#### Steps\n\n| step | change |\n|---|---|\n")
		for _, s := range d.Steps {
			fmt.Fprintf(&b, "| `%s` | %s |\n", s.Step, mdCell(s.Change))
		}
		b.WriteString("\n")
	}
	if len(d.Metrics) > 0 {
		empty = false
		b.WriteString("#### Metrics\n\n| metric | before | after | change |\n|---|---:|---:|---:|\n")
		for _, m := range d.Metrics {
			fmt.Fprintf(&b, "| `%s.%s` | %s | %s | %+.4g |\n", m.Step, m.Metric, fmtFloat(m.A), fmtFloat(m.B), m.Delta)
		}
		b.WriteString("\n")
	}
	if empty {
		b.WriteString("No differences in params, data, steps or metrics.\n")
	}
	io.WriteString(w, b.String())
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
