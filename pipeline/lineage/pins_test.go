package lineage_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

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
		if err := putRun(ctx, s, r); err != nil {
			t.Fatal(err)
		}
	}
	loose := put(t, s, "decision log")
	garbage := put(t, s, "garbage")
	if err := putPin(ctx, s, "model-x-1", &lineage.Pin{Objects: []lineage.ID{loose.ID}, Runs: []string{runs[0].ID}, Why: "test"}); err != nil {
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
	if err := putPin(ctx, s, "../x", &lineage.Pin{}); !errors.Is(err, lineage.ErrInvalidName) {
		t.Errorf("PutPin(../x) = %v, want ErrInvalidName", err)
	}
}

// TestGCRetention checks that an expiring pin (a decision log) is kept
// while younger than the retention cutoff and released after it, that a
// pin without Expires is never released, and that a dry run removes
// nothing.
func TestGCRetention(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t)
	day := func(d int) time.Time { return time.Date(2026, 1, d, 12, 0, 0, 0, time.UTC) }
	old, young, model := put(t, s, "old log"), put(t, s, "young log"), put(t, s, "model")
	pins := map[string]*lineage.Pin{
		"batch-old":   {Objects: []lineage.ID{old.ID}, Created: day(1), Expires: true},
		"batch-young": {Objects: []lineage.ID{young.ID}, Created: day(20), Expires: true},
		"model-m-v1":  {Objects: []lineage.ID{model.ID}, Created: day(1)},
	}
	for name, p := range pins {
		if err := putPin(ctx, s, name, p); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		opts    lineage.GCOptions
		expired []string
		gone    []lineage.ObjectRef
	}{
		{"no cutoff keeps every pin", lineage.GCOptions{}, nil, nil},
		{"cutoff before both", lineage.GCOptions{RetainSince: day(1)}, nil, nil},
		{"dry run", lineage.GCOptions{RetainSince: day(10), DryRun: true}, []string{"batch-old"}, nil},
		{"cutoff between", lineage.GCOptions{RetainSince: day(10)}, []string{"batch-old"}, []lineage.ObjectRef{old}},
	}
	for _, tt := range tests {
		rep, err := s.GC(ctx, tt.opts)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !slices.Equal(rep.ExpiredPins, tt.expired) {
			t.Errorf("%s: expired %v, want %v", tt.name, rep.ExpiredPins, tt.expired)
		}
		for _, ref := range []lineage.ObjectRef{old, young, model} {
			_, err := s.GetObject(ctx, ref.ID)
			if slices.Contains(tt.gone, ref) != errors.Is(err, lineage.ErrNotFound) {
				t.Errorf("%s: object %s: %v", tt.name, ref.ID.Short(), err)
			}
		}
	}
	left, err := s.Pins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := left["batch-old"]; ok || len(left) != 2 {
		t.Errorf("pins left %v, want batch-young and model-m-v1", left)
	}
	// The model's pin never expires, however late the cutoff.
	if rep, err := s.GC(ctx, lineage.GCOptions{RetainSince: day(31)}); err != nil || !slices.Equal(rep.ExpiredPins, []string{"batch-young"}) {
		t.Errorf("late cutoff: expired %v, %v", rep.ExpiredPins, err)
	}
	if _, err := s.GetObject(ctx, model.ID); err != nil {
		t.Errorf("model object: %v", err)
	}
}
