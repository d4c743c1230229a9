package stats

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"testing"
)

func close(got, want, rel float64) bool {
	if got == want {
		return true
	}
	return math.Abs(got-want) <= rel*math.Max(math.Abs(want), 1e-300)
}

func TestHandChecked(t *testing.T) {
	tests := []struct {
		name      string
		score, y  []float64
		w         []float64
		auc, ks   float64
		threshold float64
		conf      Confusion
	}{
		// Pairs (pos, neg): (0.35,0.1)+ (0.35,0.4)- (0.8,0.1)+ (0.8,0.4)+ -> 3/4.
		{"hand", []float64{0.1, 0.4, 0.35, 0.8}, []float64{0, 0, 1, 1}, nil, 0.75, 0.5, 0.5, Confusion{TP: 1, FN: 1, TN: 2}},
		// Perfect separation.
		{"perfect", []float64{0.9, 0.8, 0.2, 0.1}, []float64{1, 1, 0, 0}, nil, 1, 1, 0.5, Confusion{TP: 2, TN: 2}},
		// Every score tied: each pair counts 1/2.
		{"tied", []float64{0.5, 0.5, 0.5}, []float64{1, 0, 0}, nil, 0.5, 0, 0.5, Confusion{TP: 1, FP: 2}},
		// Partial tie: pos {0.7, 0.5}, neg {0.5, 0.2}: pairs 1 + 1 + 0.5 + 1 = 3.5 / 4.
		{"partial_tie", []float64{0.7, 0.5, 0.5, 0.2}, []float64{1, 1, 0, 0}, nil, 0.875, 0.5, 0.6, Confusion{TP: 1, FN: 1, TN: 2}},
		// Inverted.
		{"inverted", []float64{0.1, 0.9}, []float64{1, 0}, nil, 0, 1, 0.5, Confusion{FP: 1, FN: 1}},
		// A weight of 3 on the misranked positive: pairs weigh 3·1 + 1·1, AUC = 1/4.
		{"weighted", []float64{0.1, 0.5, 0.9}, []float64{1, 0, 1}, []float64{3, 1, 1}, 0.25, 0.75, 0.5, Confusion{TP: 1, FP: 1, FN: 3}},
		// Threshold is inclusive.
		{"inclusive", []float64{0.5, 0.4}, []float64{1, 0}, nil, 1, 1, 0.5, Confusion{TP: 1, TN: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			auc, err := AUC(tt.score, tt.y, tt.w)
			if err != nil || !close(auc, tt.auc, 1e-15) {
				t.Errorf("AUC = %v, %v; want %v", auc, err, tt.auc)
			}
			gini, _ := Gini(tt.score, tt.y, tt.w)
			if !close(gini, 2*tt.auc-1, 1e-15) {
				t.Errorf("Gini = %v, want %v", gini, 2*tt.auc-1)
			}
			ks, err := KS(tt.score, tt.y, tt.w)
			if err != nil || !close(ks, tt.ks, 1e-15) {
				t.Errorf("KS = %v, %v; want %v", ks, err, tt.ks)
			}
			c, err := ConfusionAt(tt.score, tt.y, tt.w, tt.threshold)
			if err != nil || c != tt.conf {
				t.Errorf("ConfusionAt = %+v, %v; want %+v", c, err, tt.conf)
			}
		})
	}
}

func TestConfusionRatios(t *testing.T) {
	c := Confusion{TP: 3, FP: 1, TN: 4, FN: 2}
	for _, tt := range []struct {
		name      string
		got, want float64
	}{
		{"accuracy", c.Accuracy(), 0.7},
		{"precision", c.Precision(), 0.75},
		{"recall", c.Recall(), 0.6},
		{"f1", c.F1(), 6.0 / 9},
		{"precision_zero_division", Confusion{TN: 2, FN: 1}.Precision(), 0},
		{"recall_no_positives", Confusion{TN: 2, FP: 1}.Recall(), 0},
		{"f1_all_zero", Confusion{TN: 2}.F1(), 0},
	} {
		if !close(tt.got, tt.want, 1e-15) {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if a := (Confusion{}).Accuracy(); !math.IsNaN(a) {
		t.Errorf("accuracy of empty matrix = %v, want NaN", a)
	}
}

func TestLogLossBrier(t *testing.T) {
	p := []float64{0.8, 0.3, 1, 0}
	y := []float64{1, 0, 0, 0}
	ll, err := LogLoss(p, y, nil)
	eps := LogLossEps // a float64 variable: constant arithmetic would be exact
	want := -(math.Log(0.8) + math.Log(0.7) + math.Log(1-(1-eps)) + math.Log(1-eps)) / 4
	if err != nil || !close(ll, want, 1e-14) {
		t.Errorf("LogLoss = %v, %v; want %v", ll, err, want)
	}
	b, err := Brier(p, y, []float64{1, 1, 2, 0})
	want = (0.04 + 0.09 + 2) / 4
	if err != nil || !close(b, want, 1e-15) {
		t.Errorf("Brier = %v, %v; want %v", b, err, want)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		fn   func() (float64, error)
		want error
	}{
		{"auc_one_class", func() (float64, error) { return AUC([]float64{0.1, 0.2}, []float64{1, 1}, nil) }, ErrOneClass},
		{"auc_zero_weight_class", func() (float64, error) { return AUC([]float64{0.1, 0.2}, []float64{1, 0}, []float64{1, 0}) }, ErrOneClass},
		{"ks_one_class", func() (float64, error) { return KS([]float64{0.1, 0.2}, []float64{0, 0}, nil) }, ErrOneClass},
		{"gini_one_class", func() (float64, error) { return Gini([]float64{0.1}, []float64{0}, nil) }, ErrOneClass},
		{"label", func() (float64, error) { return AUC([]float64{0.1, 0.2}, []float64{1, 2}, nil) }, ErrLabel},
		{"length", func() (float64, error) { return AUC([]float64{0.1}, []float64{1, 0}, nil) }, ErrLength},
		{"weights_length", func() (float64, error) { return Brier([]float64{0.1, 0.2}, []float64{1, 0}, []float64{1}) }, ErrLength},
		{"empty", func() (float64, error) { return AUC(nil, nil, nil) }, ErrEmpty},
		{"nan_score", func() (float64, error) { return AUC([]float64{math.NaN(), 0.2}, []float64{1, 0}, nil) }, ErrValue},
		{"negative_weight", func() (float64, error) { return AUC([]float64{0.1, 0.2}, []float64{1, 0}, []float64{1, -1}) }, ErrValue},
		{"prob_range", func() (float64, error) { return LogLoss([]float64{1.5, 0.2}, []float64{1, 0}, nil) }, ErrValue},
		{"zero_weights", func() (float64, error) { return LogLoss([]float64{0.5, 0.2}, []float64{1, 0}, []float64{0, 0}) }, ErrEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := tt.fn()
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !math.IsNaN(v) && !errors.Is(err, ErrLength) && !errors.Is(err, ErrLabel) {
				t.Errorf("value = %v, want NaN", v)
			}
		})
	}
}

// TestReference compares every metric with scikit-learn's values in
// testdata/reference.json (written by testdata/make_reference.py).
func TestReference(t *testing.T) {
	b, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Cases []struct {
			Name       string
			Score      []float64
			Y          []float64
			W          []float64
			Threshold  float64
			AUC, KS    float64
			KSScipy    *float64 `json:"ks_scipy"`
			TP, FP     float64
			TN, FN     float64
			Accuracy   float64
			Precision  float64
			Recall, F1 float64
			LogLoss    float64 `json:"log_loss"`
			Brier      float64
		}
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Cases) < 6 {
		t.Fatalf("reference holds %d cases", len(ref.Cases))
	}
	const tol = 1e-12
	for _, c := range ref.Cases {
		t.Run(c.Name, func(t *testing.T) {
			roc, err := NewROC(c.Score, c.Y, c.W)
			if err != nil {
				t.Fatal(err)
			}
			conf, err := ConfusionAt(c.Score, c.Y, c.W, c.Threshold)
			if err != nil {
				t.Fatal(err)
			}
			ll, err := LogLoss(c.Score, c.Y, c.W)
			if err != nil {
				t.Fatal(err)
			}
			br, err := Brier(c.Score, c.Y, c.W)
			if err != nil {
				t.Fatal(err)
			}
			checks := []struct {
				name      string
				got, want float64
			}{
				{"auc", roc.AUC(), c.AUC}, {"ks", roc.KS(), c.KS},
				{"tp", conf.TP, c.TP}, {"fp", conf.FP, c.FP}, {"tn", conf.TN, c.TN}, {"fn", conf.FN, c.FN},
				{"accuracy", conf.Accuracy(), c.Accuracy}, {"precision", conf.Precision(), c.Precision},
				{"recall", conf.Recall(), c.Recall}, {"f1", conf.F1(), c.F1},
				{"log_loss", ll, c.LogLoss}, {"brier", br, c.Brier},
			}
			if c.KSScipy != nil {
				checks = append(checks, struct {
					name      string
					got, want float64
				}{"ks_scipy", roc.KS(), *c.KSScipy})
			}
			for _, ch := range checks {
				if !close(ch.got, ch.want, tol) {
					t.Errorf("%s = %.17g, sklearn %.17g", ch.name, ch.got, ch.want)
				}
			}
		})
	}
}

func BenchmarkAUC(b *testing.B) {
	n := 100000
	s, y := make([]float64, n), make([]float64, n)
	for i := range s {
		s[i] = float64((i*7919)%1000) / 1000
		y[i] = float64(i % 2)
	}
	for b.Loop() {
		if _, err := AUC(s, y, nil); err != nil {
			b.Fatal(err)
		}
	}
}
