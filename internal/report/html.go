package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/mlrun-cli/mlrun/steps/stats"
)

//go:embed report.html.tmpl
var htmlSource string

// htmlTemplate is parsed on first use, not at every mlrun start.
var htmlTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
		"join":  strings.Join,
		"time":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"dur":   dur,
		"short": shortID,
		"inc":   func(i int) int { return i + 1 },
		"count": count,
		"countf": func(v float64) string {
			if v == math.Trunc(v) {
				return count(int(v))
			}
			return sig3(v)
		},
		"bytes": func(n int64) string {
			switch {
			case n >= 1<<20:
				return sig3(float64(n)/(1<<20)) + " MiB"
			case n >= 1<<10:
				return sig3(float64(n)/(1<<10)) + " KiB"
			}
			return fmt.Sprintf("%d B", n)
		},
		"num":    func(v float64) template.HTML { return titled(sig3(v), v) },
		"signed": func(v float64) template.HTML { return titled(signed(v), v) },
		"latest": latestPhrase,
		"numn":   func(v stats.Num) template.HTML { return titled(sig3(float64(v)), float64(v)) },
		"pctx":   func(v float64) template.HTML { return titled(pct(v), v) },
		"pctn":   func(v stats.Num) template.HTML { return titled(pct(float64(v)), float64(v)) },
		// svg marks a chart drawn by this package as safe HTML: its text is
		// escaped by the SVG writer.
		"svg": func(s string) template.HTML { return template.HTML(s) },
	}).Parse(htmlSource))
})

// titled renders a rounded number in a span whose title holds the exact
// value.
func titled(shown string, v float64) template.HTML {
	if math.IsNaN(v) {
		return template.HTML(template.HTMLEscapeString(shown))
	}
	return template.HTML(`<span title="` + template.HTMLEscapeString(exact(v)) + `">` + template.HTMLEscapeString(shown) + `</span>`)
}

// HTML writes the report as one self-contained HTML page: inline CSS and
// SVG, no scripts, nothing fetched; XHTML-compatible markup (every element
// closed), so an XML parser reads it too.
func HTML(w io.Writer, r *Report) error {
	var b strings.Builder
	if err := htmlTemplate().Execute(&b, r); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	_, err := io.WriteString(w, tidy(b.String()))
	return err
}

// tidy drops the blank lines that template actions leave.
func tidy(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n") + "\n"
}
