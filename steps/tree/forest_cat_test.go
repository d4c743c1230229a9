package tree

import (
	"context"
	"fmt"
	"testing"

	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// TestForestRareCategoriesPooled: a string feature whose levels each hold
// one row makes a perfect split of the rows by their labels when every
// level is placed by its own share (a share of 0 or 1); pooled (fewer than
// minCatRows rows each), the rare levels stay together. One tree, no
// bootstrap, depth 1.
func TestForestRareCategoriesPooled(t *testing.T) {
	// Rows 0..39: levels r00..r39, one row each, labels alternating. With
	// big, rows 40..99 are levels A (30 rows, 25 positive) and B (30 rows,
	// 5 positive).
	build := func(big bool) *table.Dataset {
		var s []string
		var y []int64
		for i := range 40 {
			s = append(s, fmt.Sprintf("r%02d", i))
			y = append(y, int64(i%2))
		}
		if big {
			for i := range 60 {
				lv, pos := "A", i < 25
				if i >= 30 {
					lv, pos = "B", i < 35
				}
				s = append(s, lv)
				y = append(y, map[bool]int64{false: 0, true: 1}[pos])
			}
		}
		return mustDataset(t, table.NewStringColumn("s", s, nil), table.NewIntColumn("y", y, nil))
	}
	cfg := DefaultForestConfig()
	cfg.Trees, cfg.MaxDepth, cfg.Bootstrap, cfg.MaxFeatures = 1, 1, false, MaxFeatures{Rule: "all"}
	for _, tc := range []struct {
		name      string
		big       bool
		wantNodes int
	}{
		{"only rare levels: no split", false, 1},
		{"rare levels beside two common ones: split, rare levels on one side", true, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := build(tc.big)
			m, err := FitForest(context.Background(), ds, yTarget, []string{"s"}, cfg, 1)
			if err != nil {
				t.Fatal(err)
			}
			nodes, _ := m.Nodes()
			if len(nodes) != tc.wantNodes {
				t.Fatalf("%d nodes, want %d: %+v", len(nodes), tc.wantNodes, nodes)
			}
			if tc.wantNodes > 1 && nodes[0].Flags != model.NodeCategorical {
				t.Fatalf("root %+v, want a categorical split", nodes[0])
			}
			p, err := m.Predict(ds, 1)
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i < 40; i++ {
				if p[i] != p[0] {
					t.Fatalf("rare level r%02d predicts %v, r00 %v: rare levels split apart", i, p[i], p[0])
				}
			}
			if tc.big && (p[40] == p[70] || (p[0] != p[40] && p[0] != p[70])) {
				t.Errorf("A %v, B %v, rare %v: want A and B apart, the rare levels with one of them", p[40], p[70], p[0])
			}
		})
	}
}
