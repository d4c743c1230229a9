package lineage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tamperFixture is a store with a finished run, its cache entry and a pin.
type tamperFixture struct {
	s    *Store
	dir  string
	run  *RunRecord
	data ObjectRef
	head string
}

func newTamperFixture(t *testing.T) *tamperFixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.PutBytes(ctx, []byte(`{"dataset":1}`))
	if err != nil {
		t.Fatal(err)
	}
	data := ObjectRef{ID: id, Type: "dataset", Size: 13}
	run := &RunRecord{ID: "20260101T000000Z-000001", Pipeline: "p", Status: RunOK,
		Steps: []StepRecord{{ID: "load", Status: StepOK, CacheKey: "k1", Outputs: map[string]ObjectRef{"data": data}, Metrics: Metrics{"auc": 0.81}}}}
	c, err := s.Update(ctx, func(ctx context.Context, tx *Tx) error {
		if _, err := tx.PutRun(ctx, run); err != nil {
			return err
		}
		if _, err := tx.PutCache(ctx, &CacheEntry{Key: "k1", Step: "load", Outputs: run.Steps[0].Outputs, Metrics: Metrics{"auc": 0.81}, RunID: run.ID}); err != nil {
			return err
		}
		if err := tx.PutPin(ctx, "batch-1", &Pin{Objects: []ID{id}, Why: "scored batch 1"}); err != nil {
			return err
		}
		tx.Audit(AuditEntry{Type: AuditRunFinished, Run: run.ID, Pipeline: "p"})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := s.Verify(ctx, VerifyOptions{}); err != nil || !rep.OK() {
		t.Fatalf("fixture: %+v, %v", rep, err)
	}
	return &tamperFixture{s: s, dir: dir, run: run, data: data, head: c.Head}
}

func (f *tamperFixture) objectFile(id ID) string {
	return filepath.Join(f.dir, "objects", id.String()[:2], id.String())
}

func (f *tamperFixture) recordID(t *testing.T, ns, name string) ID {
	t.Helper()
	v, err := f.s.View(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.RecordID(context.Background(), ns, name)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (f *tamperFixture) rewrite(t *testing.T, id ID, edit func([]byte) []byte) {
	t.Helper()
	p := f.objectFile(id)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, edit(b), 0o444); err != nil {
		t.Fatal(err)
	}
}

// forgeCommit appends a commit whose state holds state (as someone with
// write access to the store and this code could), declaring writes or not.
func (f *tamperFixture) forgeCommit(t *testing.T, state map[string]ID, declare bool) {
	t.Helper()
	ctx := context.Background()
	tp, err := f.s.readTip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	root, nodes := buildState(state)
	for id, enc := range nodes {
		if err := f.s.b.PutObject(ctx, id, bytes.NewReader(enc)); err != nil {
			t.Fatal(err)
		}
	}
	e := AuditEntry{Seq: tp.seq + 1, Type: AuditRecordsUpdated, Prev: tp.hash, State: root.String()}
	if declare {
		old, _ := f.s.stateOf(ctx, tp.state)
		e.Writes = map[string]string{}
		for k, v := range state {
			if old[k] != v {
				e.Writes[k] = v.String()
			}
		}
		for k := range old {
			if _, ok := state[k]; !ok {
				e.Writes[k] = ""
			}
		}
	}
	raw, _ := json.Marshal(e)
	rec, _ := json.Marshal(commitRecord{Commit: tp.commit + 1, Entries: []AuditRecord{{Hash: Hash(raw).String(), Entry: raw}}})
	if err := f.s.b.CreateRecord(ctx, nsAudit, auditName(tp.commit+1), rec); err != nil {
		t.Fatal(err)
	}
}

func (f *tamperFixture) state(t *testing.T) map[string]ID {
	t.Helper()
	tp, err := f.s.readTip(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.s.stateOf(context.Background(), tp.state)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Every way of changing a record behind mlrun's back is named by Verify,
// and readers refuse the record instead of using it.
func TestTamperedRecords(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		tamper func(t *testing.T, f *tamperFixture)
		want   string // in Verify's problems
		read   error  // what GetRun of the run returns (nil: not checked)
	}{
		{"edit a run record's metric", func(t *testing.T, f *tamperFixture) {
			f.rewrite(t, f.recordID(t, "runs", f.run.ID), func(b []byte) []byte { return bytes.Replace(b, []byte("0.81"), []byte("0.91"), 1) })
		}, "record runs/20260101T000000Z-000001 (object", ErrInvalidData},
		{"edit a run record's status", func(t *testing.T, f *tamperFixture) {
			f.rewrite(t, f.recordID(t, "runs", f.run.ID), func(b []byte) []byte { return bytes.Replace(b, []byte(`"ok"`), []byte(`"failed"`), 1) })
		}, "its object was altered", ErrInvalidData},
		{"delete a run record", func(t *testing.T, f *tamperFixture) {
			os.Remove(f.objectFile(f.recordID(t, "runs", f.run.ID)))
		}, "its object is missing (deleted)", ErrMissing},
		{"edit a cache entry's output id", func(t *testing.T, f *tamperFixture) {
			f.rewrite(t, f.recordID(t, "cache", "k1"), func(b []byte) []byte {
				return bytes.Replace(b, []byte(f.data.ID.String()), []byte(strings.Repeat("0", 64)), 1)
			})
		}, "record cache/k1", nil},
		{"repoint a record in the tree", func(t *testing.T, f *tamperFixture) {
			// A forged run record stored as a valid object, and the leaf
			// node edited to name it: the node no longer hashes to its id.
			forged, _ := f.s.PutBytes(ctx, []byte(`{"id":"20260101T000000Z-000001","status":"ok"}`))
			old := f.recordID(t, "runs", f.run.ID)
			v, _ := f.s.View(ctx)
			root, _ := f.s.node(ctx, v.Root)
			f.rewrite(t, root.Namespaces["runs"], func(b []byte) []byte { return bytes.Replace(b, []byte(old.String()), []byte(forged.String()), 1) })
			f.s.nodes = nodeCache{}
		}, "state tree node", ErrInvalidData},
		{"delete a pin from the tree", func(t *testing.T, f *tamperFixture) {
			v, _ := f.s.View(ctx)
			root, _ := f.s.node(ctx, v.Root)
			os.Remove(f.objectFile(root.Namespaces["pins"]))
			f.s.nodes = nodeCache{}
		}, "state tree node", nil},
		{"a pinned object missing", func(t *testing.T, f *tamperFixture) {
			os.Remove(f.objectFile(f.data.ID))
		}, "named by pins/batch-1", nil},
		{"a forged commit that does not declare its writes", func(t *testing.T, f *tamperFixture) {
			st := f.state(t)
			forged, _ := f.s.PutBytes(ctx, []byte(`{"id":"20260101T000000Z-000001","pipeline":"p","status":"ok","steps":[]}`))
			st["runs/"+f.run.ID] = forged
			delete(st, "pins/batch-1")
			f.forgeCommit(t, st, false)
		}, "its state", nil},
		{"a finished run without its audit entry", func(t *testing.T, f *tamperFixture) {
			st := f.state(t)
			r := *f.run
			r.ID = "20260102T000000Z-000002"
			b, _ := json.Marshal(&r)
			id, _ := f.s.PutBytes(ctx, b)
			st["runs/"+r.ID] = id
			f.forgeCommit(t, st, true)
		}, "run 20260102T000000Z-000002 is ok but the audit log has no run.finished entry", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newTamperFixture(t)
			c.tamper(t, f)
			rep, err := f.s.Verify(ctx, VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var all []string
			for _, p := range rep.RecordProblems {
				all = append(all, p.String())
			}
			for _, p := range rep.Problems {
				all = append(all, p.String())
			}
			all = append(append(all, rep.StateProblems...), rep.BadRecords...)
			got := strings.Join(all, "\n")
			if rep.OK() || !strings.Contains(got, c.want) {
				t.Fatalf("Verify problems:\n%s\nwant one containing %q", got, c.want)
			}
			if c.read != nil {
				if _, err := f.s.GetRun(ctx, f.run.ID); !errors.Is(err, c.read) {
					t.Fatalf("GetRun after tampering: err = %v, want %v", err, c.read)
				}
			}
		})
	}
}

// A commit that rewrites the state and declares it consistently looks like
// any commit: it replaces the tail of the chain, and a head recorded
// before it (mlrun verify --head) is no longer in the chain.
func TestForgedTailNeedsHead(t *testing.T) {
	ctx := context.Background()
	f := newTamperFixture(t)
	// Remove the last commit (the fixture's) and forge another in its place.
	tp, _ := f.s.readTip(ctx)
	os.Remove(filepath.Join(f.dir, "records", "audit", auditName(tp.commit)+".json"))
	os.WriteFile(filepath.Join(f.dir, "records", "audithead", "head.json"), []byte(`{"commit":0,"seq":0,"hash":"`+ZeroHash+`"}`), 0o644)
	f.forgeCommit(t, map[string]ID{}, true)
	rep, err := f.s.Verify(ctx, VerifyOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("a consistent forgery: %+v, %v (it needs a head recorded elsewhere to be seen)", rep, err)
	}
	if ok, err := f.s.AuditContains(ctx, f.head); err != nil || ok {
		t.Fatalf("AuditContains(head before the forgery) = %v, %v; want false", ok, err)
	}
}

// A damaged state node is rebuilt from the chain by Verify with Repair:
// same id, records readable again.
func TestRepairStateNode(t *testing.T) {
	ctx := context.Background()
	f := newTamperFixture(t)
	v, _ := f.s.View(ctx)
	root, _ := f.s.node(ctx, v.Root)
	runs := root.Namespaces["runs"]
	f.rewrite(t, runs, func(b []byte) []byte { return append(b, ' ') })
	f.s.nodes = nodeCache{}
	if _, err := f.s.GetRun(ctx, f.run.ID); !errors.Is(err, ErrInvalidData) {
		t.Fatalf("GetRun through a damaged node: %v", err)
	}
	rep, err := f.s.Verify(ctx, VerifyOptions{Repair: true})
	if err != nil || len(rep.Repaired) != 1 || rep.Repaired[0] != runs {
		t.Fatalf("Verify --repair = %+v, %v", rep, err)
	}
	f.s.nodes = nodeCache{}
	if r, err := f.s.GetRun(ctx, f.run.ID); err != nil || r.Steps[0].Metrics["auc"] != 0.81 {
		t.Fatalf("GetRun after repair: %v, %v", r, err)
	}
	if rep, err := f.s.Verify(ctx, VerifyOptions{}); err != nil || !rep.OK() {
		t.Fatalf("Verify after repair: %+v, %v", rep, err)
	}
}
