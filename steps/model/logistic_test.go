package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/mlrun-cli/mlrun/steps/stats"
	"github.com/mlrun-cli/mlrun/steps/table"
)

type lrReference struct {
	Columns []string
	Data    struct {
		X1  []float64
		X2  []*int64
		X3  []bool
		Cat []*string
		Y   []int64
	}
	Cases []struct {
		L2          float64
		ClassWeight json.RawMessage `json:"class_weight"`
		Standardize bool
		Intercept   float64
		Coef        []float64
		Proba       []float64
	}
}

func loadLRReference(t *testing.T) (*lrReference, *table.Dataset) {
	t.Helper()
	b, err := os.ReadFile("testdata/lr_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref lrReference
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	d := ref.Data
	n := len(d.Y)
	x2, x2null := make([]int64, n), make([]bool, n)
	cat, catnull := make([]string, n), make([]bool, n)
	for i := range n {
		if d.X2[i] == nil {
			x2null[i] = true
		} else {
			x2[i] = *d.X2[i]
		}
		if d.Cat[i] == nil {
			catnull[i] = true
		} else {
			cat[i] = *d.Cat[i]
		}
	}
	ds := dataset(floatCol("x1", d.X1), intCol("x2", x2, x2null), boolCol("x3", d.X3),
		strCol("cat", cat, catnull), intCol("y", d.Y, nil))
	return &ref, ds
}

// TestLogisticMatchesSklearn fits the fixture of testdata/make_reference.py
// and compares with scikit-learn's coefficients for the same objective.
func TestLogisticMatchesSklearn(t *testing.T) {
	ref, ds := loadLRReference(t)
	for _, c := range ref.Cases {
		cfg := DefaultLogisticConfig()
		cfg.Target = Target{Name: "y"}
		cfg.Features = []string{"x1", "x2", "x3", "cat"}
		cfg.L2, cfg.Standardize, cfg.Tol = c.L2, c.Standardize, 1e-10
		var cw any
		if err := json.Unmarshal(c.ClassWeight, &cw); err != nil {
			t.Fatal(err)
		}
		switch v := cw.(type) {
		case string:
			cfg.ClassWeight.Balanced = v == "balanced"
		case map[string]any:
			cfg.ClassWeight.Values = map[string]float64{}
			for k, w := range v {
				cfg.ClassWeight.Values[k] = w.(float64)
			}
		}
		m, err := FitLogistic(ds, cfg, 2)
		if err != nil {
			t.Fatalf("l2=%v: %v", c.L2, err)
		}
		cols := m.Columns()
		if len(cols) != len(ref.Columns) {
			t.Fatalf("design columns %d, want %d", len(cols), len(ref.Columns))
		}
		const tol = 1e-7 // sklearn newton-cg at tol 1e-11 against our gradient threshold 1e-10
		b, _ := m.Intercept()
		if math.Abs(b-c.Intercept) > tol {
			t.Errorf("l2=%v cw=%s: intercept %v, sklearn %v", c.L2, c.ClassWeight, b, c.Intercept)
		}
		for j, col := range cols {
			if col.Name() != ref.Columns[j] {
				t.Errorf("column %d = %q, want %q", j, col.Name(), ref.Columns[j])
			}
			if math.Abs(col.Coef-c.Coef[j]) > tol {
				t.Errorf("l2=%v cw=%s: coef %s = %v, sklearn %v", c.L2, c.ClassWeight, col.Name(), col.Coef, c.Coef[j])
			}
		}
		p, err := m.Predict(ds, 1)
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range c.Proba {
			if math.Abs(p[i]-want) > 1e-8 {
				t.Errorf("l2=%v: p[%d] = %v, sklearn %v", c.L2, i, p[i], want)
			}
		}
		t.Logf("l2=%v: %+v", c.L2, m.Training())
		if !m.Training().Converged {
			t.Errorf("l2=%v: not converged: %+v", c.L2, m.Training())
		}
	}
}

// synthetic returns n rows where the positive class depends strongly on
// two numeric features and a string feature.
func synthetic(n int, seed uint64) *table.Dataset {
	r := rand.New(rand.NewPCG(seed, 1))
	a, b := make([]float64, n), make([]float64, n)
	home, y := make([]string, n), make([]int64, n)
	homeNull := make([]bool, n)
	levels := []string{"rent", "own", "other"}
	for i := range n {
		a[i] = r.NormFloat64()
		b[i] = 100 + 20*r.NormFloat64()
		if i%37 == 0 {
			b[i] = math.NaN()
		}
		home[i] = levels[r.IntN(3)]
		homeNull[i] = i%53 == 0
		t := 2.5*a[i] - 0.05*(b[i]-100) - 1
		if math.IsNaN(b[i]) {
			t = 2.5*a[i] - 1
		}
		if home[i] == "own" && !homeNull[i] {
			t -= 1.5
		}
		if r.Float64() < 1/(1+math.Exp(-t)) {
			y[i] = 1
		}
	}
	return dataset(floatCol("a", a), floatCol("b", b), strCol("home", home, homeNull), intCol("default", y, nil))
}

func fitSynthetic(t testing.TB, ds *table.Dataset, jobs int) *Logistic {
	cfg := DefaultLogisticConfig()
	cfg.Target = Target{Name: "default"}
	cfg.Features = []string{"a", "b", "home"}
	cfg.ClassWeight.Balanced = true
	m, err := FitLogistic(ds, cfg, jobs)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLogisticSeparable(t *testing.T) {
	train, test := synthetic(3000, 1), synthetic(2000, 2)
	m := fitSynthetic(t, train, 2)
	p, err := m.Predict(test, 2)
	if err != nil {
		t.Fatal(err)
	}
	y, err := m.Target().Labels(test)
	if err != nil {
		t.Fatal(err)
	}
	auc, err := stats.AUC(p, y, nil)
	if err != nil || auc < 0.9 {
		t.Errorf("test AUC = %v, %v; want > 0.9", auc, err)
	}
	// The fitted signs follow the generator.
	coef := map[string]float64{}
	for _, c := range m.Columns() {
		coef[c.Name()] = c.CoefOriginal
	}
	if coef["a"] < 1.5 || coef["b"] > 0 || coef["home=own"] > coef["home=rent"] {
		t.Errorf("coefficients %v do not follow the generator", coef)
	}
}

// TestDeterminism fits with 1, 2 and 4 workers over several chunks and
// wants bit-identical encodings.
func TestDeterminism(t *testing.T) {
	ds := synthetic(3*fitChunk+123, 3)
	var first []byte
	for _, jobs := range []int{1, 2, 4} {
		var buf bytes.Buffer
		if err := fitSynthetic(t, ds, jobs).Encode(&buf); err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = buf.Bytes()
		} else if !bytes.Equal(first, buf.Bytes()) {
			t.Fatalf("jobs=%d encodes differently from jobs=1", jobs)
		}
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	ds := synthetic(1500, 4)
	m := fitSynthetic(t, ds, 2)
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte(`{"format":"mlrun-model","version":1,"algorithm":"logistic_regression",`)) {
		t.Errorf("encoding starts %.80s", buf.Bytes())
	}
	got, err := Decode(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := got.Encode(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("re-encoding differs")
	}
	test := synthetic(700, 5)
	p1, _ := m.Predict(test, 1)
	p2, err := got.Predict(test, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p1 {
		if math.Float64bits(p1[i]) != math.Float64bits(p2[i]) {
			t.Fatalf("prediction %d: %v before encoding, %v after", i, p1[i], p2[i])
		}
	}
	if got.Algorithm() != LogisticRegression || strings.Join(got.Features(), ",") != "a,b,home" || got.Target().Name != "default" {
		t.Errorf("decoded %s %v %v", got.Algorithm(), got.Features(), got.Target())
	}
	if ty := got.Type(); ty.TypeName() != "model" || len(ty.Features) != 3 || ty.Features[2].Type != table.String {
		t.Errorf("Type() = %+v", ty)
	}
}

// TestPredictImputation checks the documented behaviour for nulls and
// unseen levels: a null number is the training median, a null or unseen
// level sets every indicator to 0.
func TestPredictImputation(t *testing.T) {
	m := fitSynthetic(t, synthetic(1000, 6), 1)
	med := *m.FeatureInfo()[1].Median
	nan := math.NaN()
	rows := dataset(floatCol("a", []float64{0.5, 0.5, 0.5, 0.5}), floatCol("b", []float64{nan, med, 90, 90}),
		strCol("home", []string{"rent", "rent", "", "castle"}, []bool{false, false, true, false}))
	p, err := m.Predict(rows, 1)
	if err != nil {
		t.Fatal(err)
	}
	if p[0] != p[1] {
		t.Errorf("null b gives %v, the median %v gives %v", p[0], med, p[1])
	}
	if p[2] != p[3] {
		t.Errorf("null level gives %v, unseen level %v", p[2], p[3])
	}
	// By hand: original units with every indicator 0.
	b0, _ := m.Intercept()
	_ = b0
	_, ic := m.Intercept()
	want := ic
	for _, c := range m.Columns() {
		switch c.Name() {
		case "a":
			want += c.CoefOriginal * 0.5
		case "b":
			want += c.CoefOriginal * 90
		}
	}
	if got := sigmoid(want); math.Abs(got-p[3]) > 1e-12 {
		t.Errorf("unseen level: p = %v, by hand %v", p[3], got)
	}
}

func TestFitErrors(t *testing.T) {
	ds := synthetic(200, 7)
	nullTarget := synthetic(200, 7)
	nullTarget.Columns[3].Valid = table.NewBitmap(200)
	nullTarget.Columns[3].Valid.SetNull(3)
	nullTarget.Columns[3].Valid.SetNull(9)
	twos := synthetic(200, 7)
	twos.Columns[3].Ints[5] = 2
	oneClass := dataset(floatCol("a", []float64{1, 2, 3}), intCol("default", []int64{1, 1, 1}, nil))
	tests := []struct {
		name string
		ds   *table.Dataset
		mod  func(*LogisticConfig)
		want string
	}{
		{"null_target", nullTarget, nil, `target "default" has 2 null values of 200 rows`},
		{"not_binary", twos, nil, `target "default" has 1 values that are neither 0 nor 1 (first: row 6 = 2)`},
		{"one_class", oneClass, func(c *LogisticConfig) { c.Features = []string{"a"} }, "3 of 3 rows are positive"},
		{"missing_feature", ds, func(c *LogisticConfig) { c.Features = []string{"a", "zzz"} }, `feature column "zzz" is missing`},
		{"target_feature", ds, func(c *LogisticConfig) { c.Features = []string{"a", "default"} }, `feature "default" is the target`},
		{"string_target_no_positive", ds, func(c *LogisticConfig) { c.Target.Name = "home"; c.Features = []string{"a"} }, "set positive"},
		{"unknown_class_weight", ds, func(c *LogisticConfig) { c.ClassWeight.Values = map[string]float64{"7": 2} }, `never takes the value "7"`},
		{"negative_l2", ds, func(c *LogisticConfig) { c.L2 = -1 }, "l2 must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultLogisticConfig()
			cfg.Target = Target{Name: "default"}
			cfg.Features = []string{"a", "b", "home"}
			if tt.mod != nil {
				tt.mod(&cfg)
			}
			_, err := FitLogistic(tt.ds, cfg, 1)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	m := fitSynthetic(t, synthetic(300, 8), 1)
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.String()
	tests := []struct{ name, data string }{
		{"empty", ""},
		{"not_json", "model"},
		{"format", `{"format":"onnx","version":1,"algorithm":"logistic_regression"}`},
		{"version", strings.Replace(good, `"version":1`, `"version":2`, 1)},
		{"algorithm", strings.Replace(good, `"logistic_regression"`, `"svm"`, 1)},
		{"trailing", good + "{}"},
		{"unknown_field", strings.Replace(good, `"intercept":`, `"bias":1,"intercept":`, 1)},
		{"coef_original", strings.Replace(good, `"coef_original":`, `"coef_original":1e300,"x":`, 1)},
		{"levels_unsorted", strings.Replace(good, `"levels":["other","own","rent"]`, `"levels":["own","other","rent"]`, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.data == good {
				t.Fatal("test case does not change the encoding")
			}
			if _, err := Decode([]byte(tt.data)); !errors.Is(err, ErrFormat) {
				t.Errorf("err = %v, want ErrFormat", err)
			}
		})
	}
}

// FuzzDecode checks that Decode never panics and that whatever it accepts
// re-encodes canonically and predicts.
func FuzzDecode(f *testing.F) {
	m := fitSynthetic(f, synthetic(300, 9), 1)
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"format":"mlrun-model","version":1,"algorithm":"logistic_regression"}`))
	f.Add([]byte(`{"format":"mlrun-model","version":1,"algorithm":"logistic_regression","target":{"name":"y","type":"int"},"features":[{"name":"a","type":"float","median":0}],"intercept":0,"intercept_original":0,"columns":[{"feature":"a","mean":0,"scale":1,"coef":1,"coef_original":1}],"training":{}}`))
	test := synthetic(50, 10)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return
		}
		var b1, b2 bytes.Buffer
		if err := m.Encode(&b1); err != nil {
			t.Fatal(err)
		}
		m2, err := Decode(b1.Bytes())
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if err := m2.Encode(&b2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
			t.Fatal("encoding is not canonical")
		}
		_, _ = m.Predict(test, 1)
	})
}
