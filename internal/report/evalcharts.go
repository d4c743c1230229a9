package report

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg/draw"

	"github.com/mlrun-cli/mlrun/steps/stats"
)

// maxCurvePoints bounds the points drawn per curve.
const maxCurvePoints = 400

// evalCharts draws the ROC, precision–recall, calibration, score
// distribution and KS charts of probabilities p against labels y.
func evalCharts(step string, p, y []float64, roc *stats.ROC, auc, ks float64) ([]Chart, error) {
	var charts []Chart
	add := func(id, title, caption string, pl *plot.Plot) error {
		svg, err := Render(pl, title)
		if err != nil {
			return err
		}
		charts = append(charts, Chart{ID: step + "-" + id, Title: title, Caption: caption, SVG: svg})
		return nil
	}

	// ROC.
	fpr := []float64{0}
	tpr := []float64{0}
	for k := range roc.Thresholds {
		fpr = append(fpr, roc.FP[k]/roc.Neg)
		tpr = append(tpr, roc.TP[k]/roc.Pos)
	}
	fx, fy := Thin(fpr, tpr, maxCurvePoints)
	pl := NewPlot("ROC curve", "false positive rate (goods flagged)", "true positive rate (bads caught)")
	UnitAxes(pl)
	if err := Line(pl, fmt.Sprintf("model (AUC %s)", sig3(auc)), XYs(fx, fy), black, 1.6, nil, draw.CircleGlyph{}, max(len(fx)/10, 1)); err != nil {
		return nil, err
	}
	if err := Diagonal(pl, "chance"); err != nil {
		return nil, err
	}
	if err := add("roc", "ROC curve", "True positive rate against false positive rate at every threshold; the dotted diagonal is a model that ranks at random.", pl); err != nil {
		return nil, err
	}

	// Precision–recall.
	rec, prec := prCurve(roc)
	rx, ry := Thin(rec, prec, maxCurvePoints)
	pl = NewPlot("Precision–recall curve", "recall", "precision")
	UnitAxes(pl)
	if err := Line(pl, "model", XYs(rx, ry), black, 1.6, nil, draw.CircleGlyph{}, max(len(rx)/10, 1)); err != nil {
		return nil, err
	}
	base := roc.Pos / (roc.Pos + roc.Neg)
	if err := Line(pl, fmt.Sprintf("prevalence (%s)", pct(base)), plotter.XYs{{X: 0, Y: base}, {X: 1, Y: base}}, midGrey, 1, dotted, nil, 0); err != nil {
		return nil, err
	}
	if err := add("pr", "Precision–recall curve", "Precision (bads among those flagged) against recall (bads caught); the dotted line is the share of bads, what flagging at random achieves.", pl); err != nil {
		return nil, err
	}

	// Calibration.
	mp, rate := calibration(p, y, 10)
	pl = NewPlot("Calibration (reliability)", "mean predicted probability", "observed default rate")
	UnitAxes(pl)
	if err := Line(pl, "model (10 equal-count groups)", XYs(mp, rate), black, 1.4, nil, draw.SquareGlyph{}, 1); err != nil {
		return nil, err
	}
	if err := Diagonal(pl, "perfect calibration"); err != nil {
		return nil, err
	}
	if err := add("calibration", "Calibration (reliability)", "Observed default rate against mean predicted probability in ten groups of equal size, sorted by probability; a calibrated model lies on the dotted diagonal.", pl); err != nil {
		return nil, err
	}

	// Score distributions.
	var goods, bads []float64
	for i := range p {
		if y[i] == 1 {
			bads = append(bads, p[i])
		} else {
			goods = append(goods, p[i])
		}
	}
	const bins = 20
	hg, hb := histogram(goods, bins), histogram(bads, bins)
	centres := make([]float64, bins)
	for i := range centres {
		centres[i] = (float64(i) + 0.5) / bins
	}
	pl = NewPlot("Score distributions", "predicted probability of default", "share of class")
	pl.X.Min, pl.X.Max, pl.Y.Min = 0, 1, 0
	if err := Line(pl, fmt.Sprintf("goods (n=%d)", len(goods)), XYs(centres, hg), black, 1.4, nil, draw.CircleGlyph{}, 1); err != nil {
		return nil, err
	}
	if err := Line(pl, fmt.Sprintf("bads (n=%d)", len(bads)), XYs(centres, hb), darkGrey, 1.4, dashed, draw.TriangleGlyph{}, 1); err != nil {
		return nil, err
	}
	if err := add("scores", "Score distributions", "Share of goods and of bads in 20 equal-width probability bins; the less they overlap, the better the model separates them.", pl); err != nil {
		return nil, err
	}

	// KS separation.
	kx, kg, kb, at := ksCurves(p, y)
	if kx != nil {
		gx, gy := Thin(kx, kg, maxCurvePoints)
		bx, by := Thin(kx, kb, maxCurvePoints)
		pl = NewPlot("KS separation", "predicted probability of default", "cumulative share of class")
		pl.X.Min, pl.X.Max, pl.Y.Min, pl.Y.Max = 0, 1, 0, 1
		if err := Line(pl, "goods", XYs(gx, gy), black, 1.4, nil, draw.CircleGlyph{}, max(len(gx)/10, 1)); err != nil {
			return nil, err
		}
		if err := Line(pl, "bads", XYs(bx, by), darkGrey, 1.4, dashed, draw.TriangleGlyph{}, max(len(bx)/10, 1)); err != nil {
			return nil, err
		}
		if !math.IsNaN(at) {
			if err := Line(pl, fmt.Sprintf("KS %s at %s", sig3(ks), sig3(at)), plotter.XYs{{X: at, Y: 0}, {X: at, Y: 1}}, midGrey, 1, dotted, nil, 0); err != nil {
				return nil, err
			}
		}
		if err := add("ks", "KS separation", "Cumulative share of goods and of bads scoring at or below each probability; KS is the largest vertical gap (dotted line).", pl); err != nil {
			return nil, err
		}
	}
	return charts, nil
}
