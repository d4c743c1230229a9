package explain

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// applications returns n synthetic rows with a float feature with nulls,
// an int, a bool, a string with nulls and a 0/1 target.
func applications(n int, seed uint64, extraLevel bool) *table.Dataset {
	rng := rand.New(rand.NewPCG(seed, 7))
	income := make([]float64, n)
	dti := make([]float64, n)
	age := make([]int64, n)
	owner := make([]bool, n)
	home := make([]string, n)
	homeValid := table.NewBitmap(n)
	y := make([]int64, n)
	levels := []string{"own", "rent", "mortgage"}
	if extraLevel {
		levels = append(levels, "boat") // unseen in training
	}
	for i := range n {
		income[i] = 20 + 100*rng.Float64()
		if rng.IntN(20) == 0 {
			income[i] = math.NaN()
		}
		dti[i] = rng.Float64() * 2
		age[i] = int64(18 + rng.IntN(60))
		owner[i] = rng.IntN(2) == 0
		if rng.IntN(15) != 0 {
			home[i] = levels[rng.IntN(len(levels))]
			homeValid.SetValid(i)
		}
		t := -1 + 2*dti[i] - 0.01*income[i]
		if math.IsNaN(t) {
			t = 0
		}
		if rng.Float64() < 1/(1+math.Exp(-t)) {
			y[i] = 1
		}
	}
	ds, err := table.NewDataset(
		table.NewFloatColumn("income", income),
		table.NewFloatColumn("dti", dti),
		table.NewIntColumn("age", age, nil),
		table.NewBoolColumn("owner", owner, nil),
		table.NewStringColumn("home", home, homeValid),
		table.NewIntColumn("default", y, nil),
	)
	if err != nil {
		panic(err)
	}
	return ds
}

// TestContributionsSum checks, for every row of a test set, that the
// contributions sum to the raw output minus the baseline's to 1e-9, and that
// the raw output is the model's own prediction.
func TestContributionsSum(t *testing.T) {
	train, test := applications(3000, 1, false), applications(2000, 2, true)
	for _, standardize := range []bool{true, false} {
		cfg := model.DefaultLogisticConfig()
		cfg.Target = model.Target{Name: "default", Type: table.Int}
		cfg.Features = []string{"income", "dti", "age", "owner", "home"}
		cfg.Standardize = standardize
		cfg.L2 = 0.5
		m, err := model.FitLogistic(train, cfg, 2)
		if err != nil {
			t.Fatal(err)
		}
		e, err := For(m, train)
		if err != nil {
			t.Fatal(err)
		}
		p, err := m.Predict(test, 1)
		if err != nil {
			t.Fatal(err)
		}
		raw, contrib, err := e.Explain(test)
		if err != nil {
			t.Fatal(err)
		}
		for i := range test.Rows {
			sum := 0.0
			for _, c := range contrib[i] {
				sum += c
			}
			if d := math.Abs(sum - (raw[i] - e.Baseline())); d > 1e-9 {
				t.Fatalf("standardize=%v row %d: contributions sum %v, raw - baseline %v (diff %g)", standardize, i, sum, raw[i]-e.Baseline(), d)
			}
			if d := math.Abs(1/(1+math.Exp(-raw[i])) - p[i]); d > 1e-12 {
				t.Fatalf("standardize=%v row %d: sigmoid(raw) %v, Predict %v", standardize, i, 1/(1+math.Exp(-raw[i])), p[i])
			}
		}
		// With the training-mean baseline, contributions average to zero
		// over the training set.
		_, tc, err := e.Explain(train)
		if err != nil {
			t.Fatal(err)
		}
		for k := range e.Features() {
			mean := 0.0
			for i := range tc {
				mean += tc[i][k]
			}
			if mean /= float64(len(tc)); math.Abs(mean) > 1e-9 {
				t.Errorf("standardize=%v feature %s: mean contribution %g over training", standardize, e.Features()[k], mean)
			}
		}
	}
}

func TestReasons(t *testing.T) {
	features := []string{"a", "b", "c", "d", "e", "f"}
	tests := []struct {
		contrib   []float64
		protected []string
		max       int
		want      string
	}{
		{[]float64{0.1, 0.5, -1, 0.3, 0.3, 0.2}, nil, 4, "b d e f"},
		{[]float64{0.1, 0.5, -1, 0.3, 0.3, 0.2}, []string{"b", "e"}, 4, "d f a"},
		{[]float64{-0.1, 0, -1, -0.3, -0.3, -0.2}, nil, 4, ""},
		{[]float64{1, 2, 3, 4, 5, 6}, nil, 2, "f e"},
	}
	for _, tt := range tests {
		var got []string
		for _, r := range Reasons(features, tt.contrib, tt.protected, map[string]string{"b": "B text"}, tt.max) {
			got = append(got, r.Feature)
			if r.Feature == "b" && r.Text != "B text" {
				t.Errorf("text of b = %q", r.Text)
			}
		}
		if g := strings.Join(got, " "); g != tt.want {
			t.Errorf("Reasons(%v, protected %v) = %q, want %q", tt.contrib, tt.protected, g, tt.want)
		}
	}
}

type otherModel struct{ model.Model }

func (otherModel) Algorithm() string { return "random_forest" }

func TestUnsupported(t *testing.T) {
	_, err := For(otherModel{}, nil)
	if err == nil || err.Error() != "reason codes for random_forest not supported yet" {
		t.Fatalf("For(random_forest) = %v", err)
	}
}
