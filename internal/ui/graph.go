package ui

import (
	"fmt"
	"html/template"
	"path"
	"strings"

	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// Sizes of the lineage graph, in SVG user units.
const (
	nodeW, nodeH = 180, 44
	gapX, gapY   = 56, 14
	pad          = 8
)

// graphNode is a box of the lineage graph: a data file or a step.
type graphNode struct {
	id, label, sub, class, href, title string
	depth, row                         int
}

// lineageGraph draws a run's lineage as SVG: the files the load steps
// read (with their SHA-256), then every step in columns by depth, an arrow
// from the step (or file) each input came from. Steps link to their row
// in the page's step table. Every text is escaped; the drawing is styled
// by the stylesheet (classes), with no style attribute.
func lineageGraph(rec *lineage.RunRecord) template.HTML {
	var nodes []*graphNode
	byID := map[string]*graphNode{}
	type edge struct{ from, to string }
	var edges []edge
	for i := range rec.Steps {
		st := &rec.Steps[i]
		for _, f := range st.Files {
			id := "file:" + f.Path
			if byID[id] == nil {
				n := &graphNode{id: id, label: path.Base(f.Path), sub: "sha256 " + shortHex(f.SHA256), class: "file", title: f.Path + " sha256:" + f.SHA256}
				nodes = append(nodes, n)
				byID[id] = n
			}
			edges = append(edges, edge{id, st.ID})
		}
	}
	for i := range rec.Steps {
		st := &rec.Steps[i]
		sub := st.Kind
		switch {
		case st.CacheHit:
			sub += " · cached"
		case st.Status == lineage.StepSkipped:
			sub += " · skipped"
		case st.Status == lineage.StepFailed || st.Status == lineage.StepCheckFailed:
			sub += " · " + st.Status
		default:
			sub += " · " + fmtDuration(st.Duration)
		}
		n := &graphNode{id: st.ID, label: st.ID, sub: sub, class: "step " + stepClass(st), href: "#step-" + st.ID, title: st.ID + " (" + st.Kind + "): " + st.Status}
		nodes = append(nodes, n)
		byID[st.ID] = n
		seen := map[string]bool{}
		for _, port := range sortedKeys(st.Inputs) {
			if p := rec.Producer(st.ID, st.Inputs[port].ID); p != "" && !seen[p] {
				seen[p] = true
				edges = append(edges, edge{p, st.ID})
			}
		}
	}
	// Depth: one more than the deepest source (steps are recorded in
	// topological order, so sources come first).
	for _, e := range edges {
		if f, t := byID[e.from], byID[e.to]; f != nil && t != nil && t.depth < f.depth+1 {
			t.depth = f.depth + 1
		}
	}
	rows := map[int]int{}
	maxDepth, maxRows := 0, 0
	for _, n := range nodes {
		n.row = rows[n.depth]
		rows[n.depth]++
		maxDepth, maxRows = max(maxDepth, n.depth), max(maxRows, rows[n.depth])
	}
	w := pad*2 + (maxDepth+1)*nodeW + maxDepth*gapX
	h := pad*2 + maxRows*nodeH + max(maxRows-1, 0)*gapY
	x := func(n *graphNode) int { return pad + n.depth*(nodeW+gapX) }
	y := func(n *graphNode) int { return pad + n.row*(nodeH+gapY) }
	esc := template.HTMLEscapeString
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="Lineage graph of run %s">`, w, h, w, h, esc(rec.ID))
	fmt.Fprintf(&b, `<title>Lineage graph of run %s: %d steps</title>`, esc(rec.ID), len(rec.Steps))
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path class="head" d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>`)
	for _, e := range edges {
		f, t := byID[e.from], byID[e.to]
		if f == nil || t == nil {
			continue
		}
		x1, y1 := x(f)+nodeW, y(f)+nodeH/2
		x2, y2 := x(t), y(t)+nodeH/2
		fmt.Fprintf(&b, `<path d="M %d %d C %d %d, %d %d, %d %d" marker-end="url(#arrow)"/>`, x1, y1, x1+gapX/2, y1, x2-gapX/2, y2, x2, y2)
	}
	for _, n := range nodes {
		label := n.label
		if len(label) > 26 {
			label = label[:25] + "…"
		}
		open, closeTag := "<g", "</g>"
		if n.href != "" {
			open, closeTag = `<a href="`+esc(n.href)+`"`, "</a>"
		}
		fmt.Fprintf(&b, `%s class="%s"><title>%s</title><rect x="%d" y="%d" width="%d" height="%d" rx="5"/><text x="%d" y="%d">%s</text><text class="sub" x="%d" y="%d">%s</text>%s`,
			open, esc(n.class), esc(n.title), x(n), y(n), nodeW, nodeH, x(n)+8, y(n)+18, esc(label), x(n)+8, y(n)+34, esc(n.sub), closeTag)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
