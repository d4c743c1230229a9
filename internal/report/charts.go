package report

import (
	"bytes"
	"fmt"
	"image/color"
	"regexp"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Greyscale-safe styles: series differ by dash and marker, and their greys
// differ in lightness.
var (
	black     = color.Gray{Y: 0}
	darkGrey  = color.Gray{Y: 90}
	midGrey   = color.Gray{Y: 150}
	lightGrey = color.Gray{Y: 205}
	dashed    = []vg.Length{vg.Points(5), vg.Points(3)}
	dotted    = []vg.Length{vg.Points(1.5), vg.Points(2.5)}

	sansFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

	circle   = draw.CircleGlyph{}
	triangle = draw.TriangleGlyph{}
)

// chartSize is the size of every chart, in points, without its legend;
// legendGap is the space above and below the legend strip, legendPadding
// the space between its entries.
const (
	chartW        = 4.2 * vg.Inch
	chartH        = 3.2 * vg.Inch
	legendGap     = 4 * vg.Millimeter / 2
	legendPadding = 2.5
)

// NewPlot returns a plot with mlrun's fonts and a light grid.
func NewPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	for _, s := range []*draw.TextStyle{&p.Title.TextStyle, &p.X.Label.TextStyle, &p.Y.Label.TextStyle,
		&p.X.Tick.Label, &p.Y.Tick.Label, &p.Legend.TextStyle} {
		size := s.Font.Size
		s.Font = sansFont
		s.Font.Size = size
	}
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.X.Label.TextStyle.Font.Size = vg.Points(9)
	p.Y.Label.TextStyle.Font.Size = vg.Points(9)
	p.X.Tick.Label.Font.Size = vg.Points(8)
	p.Y.Tick.Label.Font.Size = vg.Points(8)
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = lightGrey, lightGrey
	g.Vertical.Width, g.Horizontal.Width = vg.Points(0.4), vg.Points(0.4)
	p.Add(g)
	return p
}

// UnitAxes fixes both axes to [0, 1].
func UnitAxes(p *plot.Plot) {
	p.X.Min, p.X.Max = 0, 1
	p.Y.Min, p.Y.Max = 0, 1
}

// XYs pairs x and y into the points of a line.
func XYs(x, y []float64) plotter.XYs {
	pts := make(plotter.XYs, len(x))
	for i := range x {
		pts[i].X, pts[i].Y = x[i], y[i]
	}
	return pts
}

// Line adds a line with a dash pattern (nil: solid) and an optional marker
// every step points.
func Line(p *plot.Plot, name string, pts plotter.XYs, c color.Color, width float64, dashes []vg.Length, marker draw.GlyphDrawer, step int) error {
	l, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	l.Color, l.Width, l.Dashes = c, vg.Points(width), dashes
	p.Add(l)
	var thumbs []plot.Thumbnailer = []plot.Thumbnailer{l}
	if marker != nil {
		var marks plotter.XYs
		for i := 0; i < len(pts); i += max(step, 1) {
			marks = append(marks, pts[i])
		}
		s, err := plotter.NewScatter(marks)
		if err != nil {
			return err
		}
		s.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(2.6), Shape: marker}
		p.Add(s)
		thumbs = append(thumbs, s)
	}
	if name != "" {
		p.Legend.Add(name, thumbs...)
	}
	return nil
}

// SeriesStyle returns the i-th of the greyscale-safe styles that tell the
// series of one chart apart (cycling after six): a grey, a dash pattern
// (nil: solid) and a marker, neighbours differing in all three.
func SeriesStyle(i int) (color.Color, []vg.Length, draw.GlyphDrawer) {
	styles := [...]struct {
		c      color.Color
		dashes []vg.Length
		marker draw.GlyphDrawer
	}{
		{black, nil, circle}, {darkGrey, dashed, triangle}, {black, dotted, draw.SquareGlyph{}},
		{midGrey, nil, draw.CrossGlyph{}}, {darkGrey, dotted, draw.PlusGlyph{}}, {midGrey, dashed, draw.RingGlyph{}},
	}
	s := styles[((i%len(styles))+len(styles))%len(styles)]
	return s.c, s.dashes, s.marker
}

// Diagonal adds the dotted reference line y = x.
func Diagonal(p *plot.Plot, name string) error {
	return Line(p, name, plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}}, midGrey, 1, dotted, nil, 0)
}

// svgClose ends gonum/plot's SVG: the group that moves the origin, then
// the document.
const svgClose = "</g>\n</svg>\n"

var (
	svgHeader   = regexp.MustCompile(`(?s)^<\?xml[^>]*\?>\s*(<!--.*?-->\s*)?`)
	svgOpen     = regexp.MustCompile(`^<svg width="[^"]*" height="[^"]*" viewBox="([^"]*)"\s*xmlns="http://www.w3.org/2000/svg"\s*xmlns:xlink="http://www.w3.org/1999/xlink">`)
	fontFamily  = regexp.MustCompile(`font-family:Liberation (Sans|Serif|Mono);`)
	fontGeneric = map[string]string{"Sans": "sans-serif", "Serif": "serif", "Mono": "monospace"}
)

// Render draws p as SVG for inline use in HTML: no XML prolog, the size
// given by the viewBox (CSS scales it), a title for screen readers, and
// font families with fallbacks so that nothing needs to be embedded.
//
// A legend is drawn outside the plotting area, where it cannot cover a
// curve, a bar or a label: in a strip below the x axis, left-aligned with
// the data area, in an SVG group of class "legend". The chart grows by the
// strip, so the data area keeps its size.
func Render(p *plot.Plot, title string) (string, error) {
	leg := p.Legend
	leg.Padding = legendPadding
	legH := leg.Rectangle(draw.Canvas{}).Size().Y
	h := chartH
	if legH > 0 {
		h += legH + 2*legendGap
	}
	c := vgsvg.NewWith(vgsvg.UseWH(chartW, h))
	dc := draw.New(c)
	pc := dc
	if legH > 0 {
		pc.Min.Y += legH + 2*legendGap
	}
	p.Legend = plot.NewLegend()
	p.Draw(pc)
	p.Legend = leg
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", fmt.Errorf("render chart %q: %w", title, err)
	}
	if legH > 0 {
		// The strip: from the bottom of the chart up to the plot's canvas,
		// starting at the left edge of the data area. vgsvg's WriteTo
		// drains what it wrote, so the second write is the legend alone.
		lc := dc
		lc.Min.X = p.DataCanvas(pc).Min.X
		lc.Max.Y = dc.Min.Y + legH + legendGap
		leg.Top, leg.Left, leg.XOffs, leg.YOffs = true, true, 0, 0
		leg.Draw(lc)
		var lb bytes.Buffer
		if _, err := c.WriteTo(&lb); err != nil {
			return "", fmt.Errorf("render chart %q: %w", title, err)
		}
		body, ok := strings.CutSuffix(lb.String(), svgClose)
		plotSVG, ok2 := strings.CutSuffix(b.String(), svgClose)
		if !ok || !ok2 || strings.HasPrefix(body, "<?xml") {
			return "", fmt.Errorf("render chart %q: unexpected SVG from a second write", title)
		}
		b.Reset()
		b.WriteString(plotSVG + "<g class=\"legend\">\n" + body + "</g>\n" + svgClose)
	}
	s := svgHeader.ReplaceAllString(b.String(), "")
	m := svgOpen.FindStringSubmatch(s)
	if m == nil {
		return "", fmt.Errorf("render chart %q: unexpected SVG header", title)
	}
	s = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="` + m[1] + `" role="img" aria-label="` + htmlAttr(title) + `"><title>` + htmlAttr(title) + `</title>` + s[len(m[0]):]
	s = fontFamily.ReplaceAllStringFunc(s, func(f string) string {
		v := fontFamily.FindStringSubmatch(f)[1]
		return "font-family:'Liberation " + v + "',Arial,Helvetica," + fontGeneric[v] + ";"
	})
	return strings.TrimSpace(s), nil
}

func htmlAttr(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

// barChart draws vertical bars with category labels, optionally a dashed
// horizontal reference line.
func barChart(title, ylabel string, names []string, vals []float64, fill color.Color, ref float64, refName string) (*plot.Plot, error) {
	p := NewPlot(title, "", ylabel)
	bars, err := plotter.NewBarChart(plotter.Values(vals), vg.Points(max(8, 180/float64(max(len(vals), 1)))))
	if err != nil {
		return nil, err
	}
	bars.Color = fill
	bars.LineStyle.Color = black
	bars.LineStyle.Width = vg.Points(0.6)
	p.Add(bars)
	p.NominalX(names...)
	p.Y.Min = 0
	if ref > 0 {
		n := float64(len(vals))
		if err := Line(p, refName, plotter.XYs{{X: -0.5, Y: ref}, {X: n - 0.5, Y: ref}}, black, 1.2, dashed, nil, 0); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// HBarChart draws horizontal bars, largest first at the top.
func HBarChart(title, xlabel string, names []string, vals []float64) (*plot.Plot, error) {
	p := NewPlot(title, xlabel, "")
	// Bars are drawn bottom-up: reverse so the first is on top.
	rn := make([]string, len(names))
	rv := make(plotter.Values, len(vals))
	for i := range names {
		rn[len(names)-1-i] = names[i]
		rv[len(vals)-1-i] = vals[i]
	}
	bars, err := plotter.NewBarChart(rv, vg.Points(max(6, 150/float64(max(len(vals), 1)))))
	if err != nil {
		return nil, err
	}
	bars.Horizontal = true
	bars.Color = midGrey
	bars.LineStyle.Color = black
	bars.LineStyle.Width = vg.Points(0.6)
	p.Add(bars)
	p.NominalY(rn...)
	p.X.Min = 0
	return p, nil
}

// groupedBars draws two series of bars side by side (reference and current
// shares of a drifted feature's bins).
func groupedBars(title, xlabel string, names []string, a, b []float64, an, bn string) (*plot.Plot, error) {
	p := NewPlot(title, xlabel, "share of rows")
	w := vg.Points(max(4, 120/float64(max(len(a), 1))))
	ba, err := plotter.NewBarChart(plotter.Values(a), w)
	if err != nil {
		return nil, err
	}
	ba.Color, ba.LineStyle.Color, ba.Offset = lightGrey, black, -w/2
	bb, err := plotter.NewBarChart(plotter.Values(b), w)
	if err != nil {
		return nil, err
	}
	bb.Color, bb.LineStyle.Color, bb.Offset = darkGrey, black, w/2
	ba.LineStyle.Width, bb.LineStyle.Width = vg.Points(0.5), vg.Points(0.5)
	p.Add(ba, bb)
	p.Legend.Add(an, ba)
	p.Legend.Add(bn, bb)
	p.NominalX(names...)
	p.Y.Min = 0
	return p, nil
}
