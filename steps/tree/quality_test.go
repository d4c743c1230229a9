package tree

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/mlrun-cli/mlrun/internal/synth"
	"github.com/mlrun-cli/mlrun/steps/stats"
)

// reference is testdata/sklearn_reference.json, written by
// testdata/make_reference.py (scikit-learn 1.2.1, xgboost 1.7.4).
type reference struct {
	CSVSHA256 string  `json:"csv_sha256"`
	Rows      int     `json:"rows"`
	RF        float64 `json:"random_forest_auc"`
	HGB       float64 `json:"hist_gradient_boosting_auc"`
	XGB       float64 `json:"xgboost_auc"`
}

// TestQualityAgainstScikitLearn fits the workshop's forest and boosted
// trees with xgboost's benchmark settings on the reference data and checks
// their test AUC against scikit-learn's RandomForestClassifier (same
// settings, 0.8201 when the fixture was made), HistGradientBoosting
// (0.8132) and xgboost hist (0.8149): within 0.01, or better.
func TestQualityAgainstScikitLearn(t *testing.T) {
	if testing.Short() {
		t.Skip("fits 200-tree models on 40k rows")
	}
	raw, err := os.ReadFile("testdata/sklearn_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref reference
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := synth.Write(&buf, synth.Options{Rows: ref.Rows, Seed: 42}); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	if got := hex.EncodeToString(sum[:]); got != ref.CSVSHA256 {
		t.Fatalf("the generator wrote different data (sha256 %s) from the fixture's (%s): rerun make_reference.py", got, ref.CSVSHA256)
	}
	train, test := synthData(t, ref.Rows)
	y, err := target.Labels(test)
	if err != nil {
		t.Fatal(err)
	}
	auc := func(p []float64) float64 {
		a, err := stats.AUC(p, y, nil)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	fc := DefaultForestConfig()
	fc.Trees, fc.MaxDepth, fc.MinSamplesSplit, fc.ClassWeight.Balanced, fc.Seed = 200, 10, 100, true, 42
	rf, err := FitForest(context.Background(), train, target, workshopFeatures, fc, 2)
	if err != nil {
		t.Fatal(err)
	}
	p, err := rf.Predict(test, 2)
	if err != nil {
		t.Fatal(err)
	}
	rfAUC := auc(p)
	bc := DefaultBoostConfig()
	bc.Trees, bc.MaxDepth, bc.LearningRate, bc.Seed = 200, 6, 0.1, 42
	gb, err := FitBoosting(context.Background(), train, nil, target, workshopFeatures, bc, 2)
	if err != nil {
		t.Fatal(err)
	}
	if p, err = gb.Predict(test, 2); err != nil {
		t.Fatal(err)
	}
	gbAUC := auc(p)
	t.Logf("test AUC: random_forest %.4f (scikit-learn %.4f), gradient_boosting %.4f (HistGradientBoosting %.4f, xgboost %.4f)",
		rfAUC, ref.RF, gbAUC, ref.HGB, ref.XGB)
	if rfAUC < ref.RF-0.01 {
		t.Errorf("random_forest AUC %.4f, scikit-learn's %.4f", rfAUC, ref.RF)
	}
	if gbAUC < ref.HGB-0.01 || gbAUC < ref.XGB-0.01 {
		t.Errorf("gradient_boosting AUC %.4f, HistGradientBoosting %.4f, xgboost %.4f", gbAUC, ref.HGB, ref.XGB)
	}
}
