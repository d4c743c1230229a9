package tree

import (
	"math"
	"testing"
)

func TestLog1pUnit(t *testing.T) {
	worst := 0.0
	for k := 0; k <= 1_000_000; k++ {
		e := float64(k) / 1_000_000
		got, want := log1pUnit(e), math.Log1p(e)
		worst = max(worst, math.Abs(got-want))
	}
	for _, e := range []float64{0, 1, 1e-300, 5e-324, 0x1p-53, 1.0 / 256, 1.0 / 128, 0.5} {
		worst = max(worst, math.Abs(log1pUnit(e)-math.Log1p(e)))
	}
	if worst > 4e-16 {
		t.Errorf("log1pUnit is %g from math.Log1p at worst", worst)
	}
}

func TestExpNeg(t *testing.T) {
	worst := 0.0
	for k := 0; k <= 2_000_000; k++ {
		x := -float64(k) / 2_000_000 * 50
		got, want := expNeg(x), math.Exp(x)
		worst = max(worst, math.Abs(got-want)/want)
	}
	if worst > 3*0x1p-52 {
		t.Errorf("expNeg is %g (relative) from math.Exp at worst", worst)
	}
	for _, x := range []float64{0, math.Copysign(0, -1), -5e-324, -1e-300, 0x1p-53, -699.9, -700, -700.1, -745, -746, math.Inf(-1)} {
		if got, want := expNeg(x), math.Exp(x); math.Abs(got-want) > 3*0x1p-52*want {
			t.Errorf("expNeg(%v) = %v, want %v", x, got, want)
		}
	}
	if v := expNeg(math.NaN()); !math.IsNaN(v) {
		t.Errorf("expNeg(NaN) = %v", v)
	}
}

func TestLogLoss(t *testing.T) {
	for _, x := range []float64{-40, -3, -0.5, 0, 0.5, 3, 40} {
		for _, y := range []float64{0, 1} {
			l, p := logLoss(x, y)
			wantP := 1 / (1 + math.Exp(-x))
			wantL := -(y*math.Log(wantP) + (1-y)*math.Log(1-wantP))
			if math.Abs(p-wantP) > 1e-15 || (math.Abs(l-wantL) > 1e-12*max(1, wantL) && !math.IsInf(wantL, 0)) {
				t.Errorf("logLoss(%v, %v) = %v, %v; want %v, %v", x, y, l, p, wantL, wantP)
			}
		}
	}
}
