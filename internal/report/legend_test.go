package report

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/steps/monitor"
	"github.com/mlrun-cli/mlrun/steps/stats"
)

// box is an axis-aligned rectangle in the chart's drawing coordinates.
type box struct{ x0, y0, x1, y1 float64 }

func emptyBox() box { return box{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)} }

func (b box) empty() bool { return b.x0 > b.x1 }

func (b box) add(x, y float64) box {
	return box{math.Min(b.x0, x), math.Min(b.y0, y), math.Max(b.x1, x), math.Max(b.y1, y)}
}

func (b box) union(o box) box {
	if o.empty() {
		return b
	}
	return b.add(o.x0, o.y0).add(o.x1, o.y1)
}

// overlaps reports whether the interiors of a and b meet.
func (a box) overlaps(b box) bool {
	return !a.empty() && !b.empty() && a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1
}

func (b box) String() string {
	return fmt.Sprintf("[%.1f,%.1f]x[%.1f,%.1f]", b.x0, b.x1, b.y0, b.y1)
}

// element is one drawn path or text of a chart, with its bounding box.
type element struct {
	what   string
	box    box
	legend bool
}

var fontSize = regexp.MustCompile(`font-size:([0-9.]+)px`)

// pathBox is the bounding box of the points of gonum/plot's SVG path data
// (absolute M, L and A commands), padded by pad for arcs and strokes.
func pathBox(d string, pad float64) box {
	b := emptyBox()
	// Every "x,y" pair in the path is a point it passes through (an arc's
	// radii pair "r,r" is filtered out by the A command's grammar below).
	cmds := regexp.MustCompile(`([MLAZ])([^MLAZ]*)`).FindAllStringSubmatch(d, -1)
	for _, c := range cmds {
		args := strings.Fields(strings.ReplaceAll(c[2], ",", " "))
		var xy []string
		switch c[1] {
		case "M", "L":
			xy = args
		case "A": // rx,ry rot large sweep x,y
			if len(args) >= 7 {
				xy = args[5:7]
			}
		}
		for i := 0; i+1 < len(xy); i += 2 {
			x, err1 := strconv.ParseFloat(xy[i], 64)
			y, err2 := strconv.ParseFloat(xy[i+1], 64)
			if err1 == nil && err2 == nil {
				b = b.add(x, y)
			}
		}
	}
	if b.empty() {
		return b
	}
	return box{b.x0 - pad, b.y0 - pad, b.x1 + pad, b.y1 + pad}
}

// chartElements parses one chart's SVG (as render writes it) into its
// drawn elements, in gonum/plot's coordinates (y up): paths by their
// points, texts by their baseline and an estimate of their extent
// (Liberation Sans averages about 0.55 em a character; ascent 0.8 em,
// descent 0.25 em). Elements inside <g class="legend"> are the legend's.
// The first path, the white background over the whole chart, is left out.
func chartElements(svg string) ([]element, error) {
	d := xml.NewDecoder(strings.NewReader(svg))
	var out []element
	var stack []bool // legend group?
	inLegend := func() bool {
		for _, l := range stack {
			if l {
				return true
			}
		}
		return false
	}
	paths := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch e := tok.(type) {
		case xml.StartElement:
			attr := map[string]string{}
			for _, a := range e.Attr {
				attr[a.Name.Local] = a.Value
			}
			switch e.Name.Local {
			case "g":
				stack = append(stack, attr["class"] == "legend")
			case "path":
				paths++
				if paths == 1 {
					continue // the background
				}
				pad := 0.5
				if strings.Contains(attr["d"], "A") {
					pad = 0 // arc end points lie on the circle; its centre is inside
				}
				out = append(out, element{what: "path " + shorten(attr["d"]), box: pathBox(attr["d"], pad), legend: inLegend()})
			case "text":
				var s string
				if err := d.DecodeElement(&s, &e); err != nil {
					return nil, err
				}
				x, _ := strconv.ParseFloat(attr["x"], 64)
				y, _ := strconv.ParseFloat(attr["y"], 64)
				y = -y // transform="scale(1, -1)"
				size := 10.0
				if m := fontSize.FindStringSubmatch(attr["style"]); m != nil {
					size, _ = strconv.ParseFloat(m[1], 64)
				}
				w := 0.55 * size * float64(len([]rune(s)))
				out = append(out, element{what: "text " + strconv.Quote(s), box: box{x, y - 0.25*size, x + w, y + 0.8*size}, legend: inLegend()})
			}
		case xml.EndElement:
			if e.Name.Local == "g" && len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
	return out, nil
}

func shorten(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// TestLegendsOutsideData is issue 14's third item: chart legends were
// drawn inside the plotting area, over curves and bars. Every chart with a
// legend must draw it in a <g class="legend"> whose box meets nothing else
// of the chart: no curve, marker, bar, grid line, axis, tick or label.
func TestLegendsOutsideData(t *testing.T) {
	f := newFixture(t)
	// A second batch, so that the drift trend chart is drawn too.
	rep := monitor.Report{Format: "mlrun-monitor", Version: 1, Rows: 1000, DriftShare: 0.25,
		Score:  &monitor.FeatureDrift{Name: "score", Kind: "numeric", Vars: map[string]stats.Num{"psi": 0.08}},
		Checks: []pipeline.Check{{Name: "psi", Kind: "drift", Passed: true, Severity: pipeline.SeverityError}}}
	ok, _, err := f.st.PutObject(context.Background(), monitor.TypeName, &pipeline.Document{Type: monitor.TypeName, Value: rep})
	if err != nil {
		t.Fatal(err)
	}
	f.putBatch(t, "model", "/data/june.csv", f.run.End.Add(time.Hour), ok)
	var page bytes.Buffer
	if err := HTML(&page, f.buildWith(t, Options{MonitorNS: testMonitorNS})); err != nil {
		t.Fatal(err)
	}
	titles := map[string]bool{}
	legends := 0
	for _, svg := range svgElem.FindAllString(page.String(), -1) {
		title := svgTitleRe.FindStringSubmatch(svg)[1]
		els, err := chartElements(svg)
		if err != nil {
			t.Fatalf("chart %q: %v", title, err)
		}
		leg := emptyBox()
		for _, e := range els {
			if e.legend {
				leg = leg.union(e.box)
			}
		}
		if leg.empty() {
			continue
		}
		legends++
		fields := strings.Fields(title)
		titles[fields[0]] = true
		titles[strings.Join(fields[:min(2, len(fields))], " ")] = true
		for _, e := range els {
			if !e.legend && leg.overlaps(e.box) {
				t.Errorf("chart %q: the legend %v covers %s at %v", title, leg, e.what, e.box)
			}
		}
	}
	// ROC, precision–recall, calibration, scores, KS, approval rate, the
	// drift of each drifted feature and the drift trend have legends.
	for _, want := range []string{"ROC", "Precision–recall", "Calibration", "Score", "KS", "Approval", "Drift of", "Drift over"} {
		if !titles[want] {
			t.Errorf("no chart titled %s… with a legend group (charts with one: %v)", want, sortedKeys(titles))
		}
	}
	if legends < 8 {
		t.Errorf("%d charts with a legend, want at least 8", legends)
	}
}
