package runquery

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// rec makes a run record started at minute i with one evaluate step.
func rec(i int, pipe string, seed float64, auc float64) *lineage.RunRecord {
	t := time.Date(2026, 1, 1, 0, i, 0, 0, time.UTC)
	r := &lineage.RunRecord{ID: fmt.Sprintf("%s-%06x", t.Format("20060102T150405Z"), i), Pipeline: pipe, Start: t, End: t.Add(time.Second),
		Status: lineage.RunOK, Params: map[string]any{"seed": seed}}
	r.Steps = []lineage.StepRecord{
		{ID: "model", Kind: "train", Status: "ok", Metrics: lineage.Metrics{"rows.train": 100}},
		{ID: "evaluation", Kind: "evaluate", Status: "ok", CacheHit: i%2 == 1, Metrics: lineage.Metrics{"auc": auc, "ks": auc / 2}},
	}
	return r
}

func summaries(recs ...*lineage.RunRecord) []*Summary {
	var out []*Summary
	for i := len(recs) - 1; i >= 0; i-- { // newest first, as Query gives Filter
		out = append(out, Summarize(recs[i], lineage.ID{}))
	}
	return out
}

func ids(runs []*Summary) []string {
	var out []string
	for _, r := range runs {
		out = append(out, r.ID[len(r.ID)-2:])
	}
	return out
}

func TestFilter(t *testing.T) {
	runs := summaries(rec(1, "a", 42, 0.70), rec(2, "a", 7, 0.80), rec(3, "b", 42, 0.90), rec(4, "b", 7, math.NaN()))
	noAUC := rec(5, "c", 1, 0)
	noAUC.Steps = noAUC.Steps[:1]
	runs = append(summaries(noAUC), runs...)
	for _, tc := range []struct {
		where string
		want  []string
		err   string
	}{
		{"auc >= 0.8", []string{"03", "02"}, ""},
		{"auc >= 0.8 && params.seed == 42", []string{"03"}, ""},
		{"evaluation_auc < 0.75", []string{"01"}, ""},
		{"rows_train == 100", []string{"05", "04", "03", "02", "01"}, ""},
		{"auc > 0 || rows_train == 100", []string{"04", "03", "02", "01"}, ""}, // 05 lacks auc: does not compile for it
		{"ks * 2 == auc", []string{"03", "02", "01"}, ""},                      // NaN is null: 04 does not match
		{"params.seed != 42", []string{"05", "04", "02"}, ""},
		{"auc >=", nil, "where: "},
		{"no_such_metric > 1", nil, "where: "},
		{"auc + 1", nil, "where: "},
	} {
		got, err := Filter(runs, tc.where)
		if tc.err != "" {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "where" {
				t.Errorf("%q: err %v, want a where FieldError", tc.where, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.where, err)
			continue
		}
		if !slices.Equal(ids(got), tc.want) {
			t.Errorf("%q: got %v, want %v", tc.where, ids(got), tc.want)
		}
	}
}

func TestSort(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want []string
		err  bool
	}{
		{"", []string{"04", "03", "02", "01"}, false},
		{"-time", []string{"04", "03", "02", "01"}, false},
		{"+time", []string{"01", "02", "03", "04"}, false},
		{"auc", []string{"01", "03", "02", "04"}, false},  // NaN last
		{"-auc", []string{"02", "03", "01", "04"}, false}, // ties keep their order
		{"+ks", []string{"01", "03", "02", "04"}, false},
		{"-nope", nil, true},
	} {
		runs := summaries(rec(1, "a", 1, 0.7), rec(2, "a", 1, 0.9), rec(3, "a", 1, 0.8), rec(4, "a", 1, math.NaN()))
		runs[1].Metrics["auc"] = 0.8 // 03
		runs[2].Metrics["auc"] = 0.9 // 02
		err := Sort(runs, tc.key)
		if tc.err {
			if !errors.Is(err, ErrNoSuchMetric) {
				t.Errorf("%q: err %v, want ErrNoSuchMetric", tc.key, err)
			}
			continue
		}
		if err != nil || !slices.Equal(ids(runs), tc.want) {
			t.Errorf("%q: %v %v, want %v", tc.key, ids(runs), err, tc.want)
		}
	}
}

// TestIndex: a snapshot lists every run; a refresh at an unchanged state
// decodes nothing, one after a new run only that record; queries page.
func TestIndex(t *testing.T) {
	ctx := context.Background()
	st, err := lineage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	put := func(recs ...*lineage.RunRecord) {
		t.Helper()
		if _, err := st.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
			for _, r := range recs {
				if _, err := tx.PutRun(ctx, r); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	var recs []*lineage.RunRecord
	for i := range 30 {
		recs = append(recs, rec(i, []string{"a", "b"}[i%2], float64(i%3), 0.6+float64(i)/100))
	}
	put(recs...)
	x := NewIndex(st, 2)
	snap, err := x.Snapshot(ctx)
	if err != nil || snap.Len() != 30 || x.Decoded() != 30 {
		t.Fatalf("%v: %d runs, %d decoded", err, snap.Len(), x.Decoded())
	}
	if _, err := x.Snapshot(ctx); err != nil || x.Decoded() != 30 {
		t.Fatalf("unchanged store: %d decoded, want 30 (%v)", x.Decoded(), err)
	}
	put(rec(40, "a", 0, 0.99))
	snap, err = x.Snapshot(ctx)
	if err != nil || snap.Len() != 31 || x.Decoded() != 31 {
		t.Fatalf("after a run: %v: %d runs, %d decoded", err, snap.Len(), x.Decoded())
	}
	if got := snap.Get(recs[3].ID); got == nil || got.Cached != 1 || got.Ran != 1 || got.Pipeline != "b" {
		t.Errorf("summary %+v", got)
	}
	res, err := snap.Query(Query{Pipeline: "a", Sort: "-auc", Offset: 1, Limit: 5, Where: "params.seed == 0"})
	if err != nil {
		t.Fatal(err)
	}
	// Pipeline a: even minutes; seed 0: minutes divisible by 6, and 40.
	if res.Total != 6 || len(res.Runs) != 5 || res.Runs[0].ID != recs[24].ID {
		t.Errorf("query: total %d, %d runs, first %s", res.Total, len(res.Runs), res.Runs[0].ID)
	}
	// The second page of the same selection comes from the snapshot's
	// cache, consistent with the first; appending to a page does not
	// change it.
	all, err := snap.Query(Query{Pipeline: "a", Sort: "-auc", Where: "params.seed == 0"})
	if err != nil || all.Total != 6 || all.Runs[1] != res.Runs[0] {
		t.Fatalf("cached selection: %v, %+v", err, all)
	}
	_ = append(res.Runs, nil)
	if again, _ := snap.Query(Query{Pipeline: "a", Sort: "-auc", Where: "params.seed == 0"}); again.Runs[len(again.Runs)-1] == nil || len(again.Runs) != 6 {
		t.Fatalf("a caller's append changed the cache")
	}
	r, err := Record(ctx, st, snap.Get(recs[5].ID))
	if err != nil || r.ID != recs[5].ID || len(r.Steps) != 2 {
		t.Errorf("record: %v %+v", err, r)
	}
	if names := snap.MetricNames(); !slices.Contains(names, "evaluation_auc") || !slices.Contains(names, "rows_train") {
		t.Errorf("metric names %v", names)
	}
}
