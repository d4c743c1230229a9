package tree

import (
	"context"
	"fmt"
	"testing"

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
			b.ResetTimer()
			for b.Loop() {
				if _, err := FitForest(context.Background(), train, target, workshopFeatures, cfg, 2); err != nil {
					b.Fatal(err)
				}
			}
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
			b.ResetTimer()
			for b.Loop() {
				if _, err := FitBoosting(context.Background(), train, nil, target, workshopFeatures, cfg, 2); err != nil {
					b.Fatal(err)
				}
			}
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
