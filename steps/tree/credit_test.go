package tree

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mlrun-cli/mlrun/steps/model"
	splitstep "github.com/mlrun-cli/mlrun/steps/split"
	"github.com/mlrun-cli/mlrun/steps/stats"
	"github.com/mlrun-cli/mlrun/steps/table"
)

var updateCreditSplit = flag.Bool("update-credit-split", false, "rewrite testdata/credit_split.txt from split.Assign")

// creditCSV is the shared real credit-scoring dataset (see
// ../shared/data/README.md); users of the project do not have it.
const creditCSV = "../../../shared/data/credit_data.csv"

// creditFeatures are every column of credit_data.csv but the target; Home,
// Marital, Records and Job are strings (native category splits), Income,
// Assets and Debt have missing values (learned direction).
var creditFeatures = []string{"Seniority", "Home", "Time", "Age", "Marital", "Records", "Job",
	"Expenses", "Income", "Assets", "Debt", "Amount", "Price"}

var creditTarget = model.Target{Name: "Status", Type: table.String, Positive: "bad"}

// creditData reads credit_data.csv and splits it as the example pipeline's
// split step would (stratified on Status, test 0.2, seed 42), checking
// the test rows against testdata/credit_split.txt, which
// testdata/credit_reference.py reads to fit scikit-learn and xgboost on
// exactly the same rows (go test -run TestCreditData -update-credit-split
// rewrites it).
func creditData(t *testing.T) (train, test *table.Dataset) {
	t.Helper()
	if _, err := os.Stat(creditCSV); err != nil {
		t.Skipf("%s is absent (it is shared data, not part of the project): %v", creditCSV, err)
	}
	ds, _, err := table.ReadCSVFile(creditCSV, table.CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := splitstep.Assign(ds, splitstep.Config{Method: splitstep.MethodStratified, Stratify: "Status", Test: 0.2, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	fixture := filepath.Join("testdata", "credit_split.txt")
	var b strings.Builder
	b.WriteString("# Test rows (0-based data rows of credit_data.csv) of split.Assign(stratified on Status, test 0.2, seed 42).\n")
	for _, i := range a.Test {
		b.WriteString(strconv.Itoa(i))
		b.WriteByte('\n')
	}
	if *updateCreditSplit {
		if err := os.WriteFile(fixture, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != b.String() {
		t.Fatalf("%s differs from the split step's test rows: rerun with -update-credit-split and testdata/credit_reference.py", fixture)
	}
	return ds.Take(a.Train), ds.Take(a.Test)
}

// TestCreditDataAUC fits the workshop's random forest (200 trees, depth
// 10, min_samples_split 100, balanced, seed 42) and boosted trees (200
// trees, depth 6, learning rate 0.1) on the real credit data, categoricals
// and missing values native, and checks the test AUC against
// scikit-learn's and xgboost's on the same rows (categoricals one-hot,
// numeric missing values median-imputed for the forest):
//
//	go test ./steps/tree -run TestCreditData -update-credit-split  # only if the split changed
//	/usr/bin/python3 steps/tree/testdata/credit_reference.py
//
// printed (scikit-learn 1.2.1, xgboost 1.7.4; 3,563 train and 891 test
// rows, 251 bad): RandomForestClassifier 0.8073, HistGradientBoosting
// 0.8113, XGBClassifier hist 0.8148. mlrun got 0.8251 and 0.8123 when this
// was written. The forest must do at least as well as scikit-learn's;
// boosting within 0.003 of the better of the two (the target).
func TestCreditDataAUC(t *testing.T) {
	const (
		sklearnRF   = 0.8073
		sklearnHGB  = 0.8113
		xgboostHist = 0.8148
	)
	if testing.Short() {
		t.Skip("fits 200-tree models")
	}
	train, test := creditData(t)
	tt := creditTarget
	tt.Type = test.Column(tt.Name).Type
	y, err := tt.Labels(test)
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
	rf, err := FitForest(context.Background(), train, creditTarget, creditFeatures, fc, 2)
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
	gb, err := FitBoosting(context.Background(), train, nil, creditTarget, creditFeatures, bc, 2)
	if err != nil {
		t.Fatal(err)
	}
	if p, err = gb.Predict(test, 2); err != nil {
		t.Fatal(err)
	}
	gbAUC := auc(p)
	t.Logf("credit_data test AUC: random_forest %.4f (scikit-learn %.4f), gradient_boosting %.4f (HistGradientBoosting %.4f, xgboost %.4f)",
		rfAUC, sklearnRF, gbAUC, sklearnHGB, xgboostHist)
	if rfAUC < sklearnRF {
		t.Errorf("random_forest AUC %.4f, below scikit-learn's %.4f", rfAUC, sklearnRF)
	}
	if best := max(sklearnHGB, xgboostHist); gbAUC < best-0.003 {
		t.Errorf("gradient_boosting AUC %.4f, more than 0.003 below %.4f", gbAUC, best)
	}
}
