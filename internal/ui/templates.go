package ui

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mlrun-cli/mlrun/steps/stats"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/style.css static/favicon.svg
var staticFS embed.FS

// pageNames are the pages, one template file each besides the layout.
var pageNames = []string{"error", "runs", "run", "compare", "models", "model", "monitoring", "audit", "explain"}

var funcs = template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"dur":   fmtDuration,
	"short": shortHex,
	"num":   num,
	"numn":  func(v stats.Num) string { return num(float64(v)) },
	"pct":   func(v float64) string { return pct(v) },
	"join":  strings.Join,
	"inc":   func(i int) int { return i + 1 },
	"any":   func(v any) string { return fmtAny(v) },
	"bytes": fmtBytes,
	// svg marks a chart drawn by internal/report or this package as safe
	// HTML: their writers escape every text they put in it.
	"svg": func(s string) template.HTML { return template.HTML(s) },
}

// parsePages parses the layout with each page.
func parsePages() (map[string]*template.Template, error) {
	base, err := template.New("base").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("ui: templates: %w", err)
	}
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("ui: template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// serveCSS serves the stylesheet and the icon.
func (s *Server) serveCSS(w http.ResponseWriter, r *http.Request) {
	b, err := fs.ReadFile(staticFS, "static/style.css")
	if err != nil {
		s.serveError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "max-age=3600")
	w.Write(b)
}

func (s *Server) serveIcon(w http.ResponseWriter, r *http.Request) {
	b, err := fs.ReadFile(staticFS, "static/favicon.svg")
	if err != nil {
		s.serveError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'none'")
	w.Header().Set("Cache-Control", "max-age=3600")
	w.Write(b)
}

func fmtDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

func shortHex(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// num shows a number with 4 significant digits ("—" for NaN).
func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'g', -1, 64)
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return strconv.FormatFloat(100*v, 'f', 1, 64) + "%"
}

func fmtAny(v any) string {
	if v == nil {
		return "(unset)"
	}
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
