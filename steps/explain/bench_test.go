package explain

import (
	"context"
	"testing"

	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/tree"
)

// BenchmarkTreeExplain times exact TreeSHAP over 10k rows for 200 boosted
// trees of depth 6 (xgboost's benchmark settings), 2 workers: what `mlrun
// predict` pays for reason codes.
func BenchmarkTreeExplain(b *testing.B) {
	train, test := applications(5000, 1, false), applications(10_000, 2, true)
	bc := tree.DefaultBoostConfig()
	bc.Trees, bc.MaxDepth, bc.LearningRate, bc.Seed = 200, 6, 0.1, 3
	m, err := tree.FitBoosting(context.Background(), train, nil, treeTarget, treeFeatures, bc, 2)
	if err != nil {
		b.Fatal(err)
	}
	for _, variant := range []string{"masks", "recursion"} {
		b.Run(variant, func(b *testing.B) {
			e := NewTree(m, 2)
			if variant == "recursion" {
				e.masks, e.tables = nil, nil
			}
			for b.Loop() {
				if _, _, err := e.Explain(test); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(test.Rows), "ns/row")
		})
	}
	_ = model.GradientBoosting
}
