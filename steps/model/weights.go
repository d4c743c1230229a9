package model

import "github.com/mlrun-cli/mlrun/steps/table"

// ClassWeights returns each row's class weight (see ClassWeight) for the
// 0/1 labels y of target column tc, of which pos are 1. A value map naming
// a value the target never takes is an error.
func ClassWeights(cw ClassWeight, tc *table.Column, y []float64, pos int) ([]float64, error) {
	return classWeights(cw, tc, y, pos)
}
