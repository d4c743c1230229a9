package tree

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"

	"github.com/mlrun-cli/mlrun/steps/explain"
	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/stats"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// reportAUC reports the test AUC of predictions p.
func reportAUC(b *testing.B, p []float64, test *table.Dataset) {
	y, err := target.Labels(test)
	if err != nil {
		b.Fatal(err)
	}
	auc, err := stats.AUC(p, y, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(auc, "auc")
}

var benchSizes = []int{100_000, 1_000_000}

// procKB reads a "Name:   N kB" line of /proc/self/status (0 when absent).
func procKB(name string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	m := regexp.MustCompile(`(?m)^` + name + `:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// fitRSS measures the process's peak resident set during fit: it collects
// garbage, returns freed memory to the OS, resets the kernel's peak (VmHWM,
// writing 5 to /proc/self/clear_refs), runs fit and reports the peak
// ("peak-MB", training data and test binary included) and its rise over
// the resident set before fit ("fit-MB"), the largest over the iterations.
// bench/trees.py measures scikit-learn and xgboost the same way.
type fitRSS struct{ peak, rise float64 }

func (r *fitRSS) measure(fit func()) {
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		fit()
		return
	}
	before := procKB("VmRSS")
	fit()
	peak := procKB("VmHWM")
	r.peak, r.rise = max(r.peak, peak/1024), max(r.rise, (peak-before)/1024)
}

func (r *fitRSS) report(b *testing.B) {
	if r.peak > 0 {
		b.ReportMetric(r.peak, "peak-MB")
		b.ReportMetric(r.rise, "fit-MB")
	}
}

func rowsName(n int) string {
	if n >= 1_000_000 {
		return fmt.Sprintf("rows=%dM", n/1_000_000)
	}
	return fmt.Sprintf("rows=%dk", n/1000)
}

// BenchmarkFitRandomForest fits the workshop's forest (200 trees, depth
// 10, min_samples_split 100, balanced) on 80% of the rows, 2 workers.
func BenchmarkFitRandomForest(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(rowsName(n), func(b *testing.B) {
			train, _ := synthData(b, n)
			cfg := DefaultForestConfig()
			cfg.Trees, cfg.MaxDepth, cfg.MinSamplesSplit = 200, 10, 100
			cfg.ClassWeight.Balanced = true
			var rss fitRSS
			b.ResetTimer()
			for b.Loop() {
				rss.measure(func() {
					if _, err := FitForest(context.Background(), train, target, workshopFeatures, cfg, 2); err != nil {
						b.Fatal(err)
					}
				})
			}
			rss.report(b)
		})
	}
}

// BenchmarkFitGradientBoosting fits xgboost's benchmark settings (200
// trees, depth 6, learning rate 0.1) on 80% of the rows, 2 workers.
func BenchmarkFitGradientBoosting(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(rowsName(n), func(b *testing.B) {
			train, _ := synthData(b, n)
			cfg := DefaultBoostConfig()
			cfg.Trees, cfg.MaxDepth, cfg.LearningRate = 200, 6, 0.1
			var rss fitRSS
			b.ResetTimer()
			for b.Loop() {
				rss.measure(func() {
					if _, err := FitBoosting(context.Background(), train, nil, target, workshopFeatures, cfg, 2); err != nil {
						b.Fatal(err)
					}
				})
			}
			rss.report(b)
		})
	}
}

// BenchmarkPredictGradientBoosting scores the test rows (20%) with the
// benchmark's boosted model, 2 workers.
func BenchmarkPredictGradientBoosting(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(rowsName(n), func(b *testing.B) {
			train, test := synthData(b, n)
			cfg := DefaultBoostConfig()
			cfg.Trees, cfg.MaxDepth, cfg.LearningRate = 200, 6, 0.1
			m, err := FitBoosting(context.Background(), train, nil, target, workshopFeatures, cfg, 2)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			var p []float64
			for b.Loop() {
				if p, err = m.Predict(test, 2); err != nil {
					b.Fatal(err)
				}
			}
			reportAUC(b, p, test)
		})
	}
}

// BenchmarkPredictRandomForest scores the test rows with the workshop's
// forest, 2 workers.
func BenchmarkPredictRandomForest(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(rowsName(n), func(b *testing.B) {
			train, test := synthData(b, n)
			cfg := DefaultForestConfig()
			cfg.Trees, cfg.MaxDepth, cfg.MinSamplesSplit = 200, 10, 100
			cfg.ClassWeight.Balanced = true
			cfg.Seed = 42
			m, err := FitForest(context.Background(), train, target, workshopFeatures, cfg, 2)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			var p []float64
			for b.Loop() {
				if p, err = m.Predict(test, 2); err != nil {
					b.Fatal(err)
				}
			}
			reportAUC(b, p, test)
		})
	}
}

// BenchmarkPredictAllRandomForest scores every generated row (train and
// test: 100k or 1M) with the benchmark's forest, 2 workers, binning
// included: the "prediction of 1M rows" (bench/trees.py times
// predict_proba on the same rows).
func BenchmarkPredictAllRandomForest(b *testing.B) {
	cfg := DefaultForestConfig()
	cfg.Trees, cfg.MaxDepth, cfg.MinSamplesSplit = 200, 10, 100
	cfg.ClassWeight.Balanced, cfg.Seed = true, 42
	benchPredictAll(b, func(train *table.Dataset) (*model.Ensemble, error) {
		return FitForest(context.Background(), train, target, workshopFeatures, cfg, 2)
	})
}

// BenchmarkPredictAllGradientBoosting is BenchmarkPredictAllRandomForest
// for the benchmark's boosted model.
func BenchmarkPredictAllGradientBoosting(b *testing.B) {
	cfg := DefaultBoostConfig()
	cfg.Trees, cfg.MaxDepth, cfg.LearningRate = 200, 6, 0.1
	benchPredictAll(b, func(train *table.Dataset) (*model.Ensemble, error) {
		return FitBoosting(context.Background(), train, nil, target, workshopFeatures, cfg, 2)
	})
}

func benchPredictAll(b *testing.B, fit func(*table.Dataset) (*model.Ensemble, error)) {
	for _, n := range benchSizes {
		b.Run(rowsName(n), func(b *testing.B) {
			train, _ := synthData(b, n)
			all := synthAll(b, n)
			m, err := fit(train)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			var p []float64
			for b.Loop() {
				if p, err = m.Predict(all, 2); err != nil {
					b.Fatal(err)
				}
			}
			reportAUC(b, p, all)
		})
	}
}

// explainRows is how many test rows the TreeSHAP benchmarks explain.
const explainRows = 10_000

// BenchmarkExplainGradientBoosting times exact TreeSHAP (steps/explain,
// what `mlrun predict` computes for reason codes) of the first 10k test
// rows under the benchmark's boosted model, 2 workers; bench/trees.py
// times xgboost's predict(pred_contribs=True) on the same rows.
func BenchmarkExplainGradientBoosting(b *testing.B) {
	cfg := DefaultBoostConfig()
	cfg.Trees, cfg.MaxDepth, cfg.LearningRate = 200, 6, 0.1
	benchExplain(b, func(train *table.Dataset) (*model.Ensemble, error) {
		return FitBoosting(context.Background(), train, nil, target, workshopFeatures, cfg, 2)
	})
}

// BenchmarkExplainRandomForest is BenchmarkExplainGradientBoosting for
// the workshop's forest (depth 10: more than 64 leaves, the slower path).
func BenchmarkExplainRandomForest(b *testing.B) {
	cfg := DefaultForestConfig()
	cfg.Trees, cfg.MaxDepth, cfg.MinSamplesSplit = 200, 10, 100
	cfg.ClassWeight.Balanced, cfg.Seed = true, 42
	benchExplain(b, func(train *table.Dataset) (*model.Ensemble, error) {
		return FitForest(context.Background(), train, target, workshopFeatures, cfg, 2)
	})
}

func benchExplain(b *testing.B, fit func(*table.Dataset) (*model.Ensemble, error)) {
	for _, n := range benchSizes {
		b.Run(rowsName(n), func(b *testing.B) {
			train, test := synthData(b, n)
			rows := make([]int, min(explainRows, test.Rows))
			for i := range rows {
				rows[i] = i
			}
			sub := test.Take(rows)
			m, err := fit(train)
			if err != nil {
				b.Fatal(err)
			}
			e := explain.NewTree(m, 2)
			b.ResetTimer()
			for b.Loop() {
				if _, _, err := e.Explain(sub); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(sub.Rows), "rows")
		})
	}
}
