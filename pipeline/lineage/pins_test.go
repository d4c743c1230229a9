package lineage_test

import (
	"context"
	"errors"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// TestGCKeepsPins checks that GC keeps pinned objects that no run
// references and never drops a pinned run, even with --keep-last.
func TestGCKeepsPins(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t)
	var runs []*lineage.RunRecord
	var outs []lineage.ObjectRef
	for i, id := range []string{"20260101T000000Z-000000", "20260102T000000Z-000001", "20260103T000000Z-000002"} {
		out := put(t, s, i)
		outs = append(outs, out)
		r := &lineage.RunRecord{ID: id, Pipeline: "p", Steps: []lineage.StepRecord{{ID: "s", Outputs: map[string]lineage.ObjectRef{"out": out}}}}
		runs = append(runs, r)
		if err := s.PutRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	loose := put(t, s, "decision log")
	garbage := put(t, s, "garbage")
	if err := s.PutPin(ctx, "model-x-1", &lineage.Pin{Objects: []lineage.ID{loose.ID}, Runs: []string{runs[0].ID}, Why: "test"}); err != nil {
		t.Fatal(err)
	}
	rep, err := s.GC(ctx, lineage.GCOptions{KeepLast: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.DroppedRuns) != 1 || rep.DroppedRuns[0] != runs[1].ID {
		t.Errorf("dropped %v, want only %s", rep.DroppedRuns, runs[1].ID)
	}
	for _, keep := range []lineage.ObjectRef{loose, outs[0], outs[2]} {
		if _, err := s.GetObject(ctx, keep.ID); err != nil {
			t.Errorf("object %s: %v", keep.ID.Short(), err)
		}
	}
	for _, gone := range []lineage.ObjectRef{garbage, outs[1]} {
		if _, err := s.GetObject(ctx, gone.ID); !errors.Is(err, lineage.ErrNotFound) {
			t.Errorf("object %s survived: %v", gone.ID.Short(), err)
		}
	}
	if _, err := s.GetRun(ctx, runs[0].ID); err != nil {
		t.Errorf("pinned run dropped: %v", err)
	}
	if err := s.PutPin(ctx, "../x", &lineage.Pin{}); !errors.Is(err, lineage.ErrInvalidName) {
		t.Errorf("PutPin(../x) = %v, want ErrInvalidName", err)
	}
}
