package lineage_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// startRun commits a run as a run does at its start: the record, running,
// marked active.
func startRun(t *testing.T, s *lineage.Store, id string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
		rid, err := tx.PutRun(ctx, &lineage.RunRecord{ID: id, Pipeline: "p", Status: lineage.RunRunning, Start: time.Now()})
		tx.SetActive(ctx, id, rid)
		tx.Audit(lineage.AuditEntry{Type: lineage.AuditRunStarted, Run: id})
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// A run whose process holds its lock is in progress; once the lock is
// free (the process died), readers see the run interrupted, `latest` skips
// it, and RecoverInterrupted records it with a run.interrupted entry.
func TestRecoverInterrupted(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t)
	if err := putRun(ctx, s, &lineage.RunRecord{ID: "20260101T000000Z-000000", Pipeline: "p", Status: lineage.RunOK, Start: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	release, err := s.LockRun(ctx, "20260101T000001Z-000001")
	if err != nil {
		t.Fatal(err)
	}
	startRun(t, s, "20260101T000001Z-000001")
	startRun(t, s, "20260101T000002Z-000002") // its process is gone: no lock held

	if ids, err := s.RecoverInterrupted(ctx); err != nil || strings.Join(ids, ",") != "20260101T000002Z-000002" {
		t.Fatalf("RecoverInterrupted = %v, %v; want only the run without its lock", ids, err)
	}
	r, err := s.GetRun(ctx, "20260101T000001Z-000001")
	if err != nil || r.Status != lineage.RunRunning {
		t.Fatalf("live run: %+v, %v", r, err)
	}
	r, err = s.GetRun(ctx, "20260101T000002Z-000002")
	if err != nil || r.Status != lineage.RunInterrupted || r.ExitCode != 3 {
		t.Fatalf("dead run: %+v, %v", r, err)
	}
	latest, err := s.GetRun(ctx, "latest")
	if err != nil || latest.ID != "20260101T000000Z-000000" {
		t.Fatalf("latest = %v, %v; want the finished run", latest, err)
	}
	// The live run dies: readers see it interrupted before it is recorded.
	release()
	if r, _ := s.GetRun(ctx, "20260101T000001Z-000001"); r.Status != lineage.RunInterrupted {
		t.Fatalf("run whose lock is free reads as %s", r.Status)
	}
	if ids, err := s.RecoverInterrupted(ctx); err != nil || len(ids) != 1 {
		t.Fatalf("second RecoverInterrupted = %v, %v", ids, err)
	}
	if ids, err := s.RecoverInterrupted(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("RecoverInterrupted with nothing to do = %v, %v", ids, err)
	}
	entries, _, err := s.AuditLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Type == lineage.AuditRunInterrupted {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d run.interrupted entries, want 2", n)
	}
	if rep, err := s.Verify(ctx, lineage.VerifyOptions{}); err != nil || !rep.OK() {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

// A read-only store: every read and Verify work, nothing is written, every
// commit fails with ErrReadOnly.
func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	s, dir := openStore(t)
	if err := putRun(ctx, s, &lineage.RunRecord{ID: "20260101T000000Z-000000", Pipeline: "p", Status: lineage.RunOK}); err != nil {
		t.Fatal(err)
	}
	before := treeListing(t, dir)
	ro, err := lineage.Open(dir, lineage.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	if r, err := ro.GetRun(ctx, "latest"); err != nil || r.ID != "20260101T000000Z-000000" {
		t.Fatalf("GetRun on a read-only store: %v, %v", r, err)
	}
	if rep, err := ro.Verify(ctx, lineage.VerifyOptions{}); err != nil || !rep.OK() {
		t.Fatalf("Verify on a read-only store: %+v, %v", rep, err)
	}
	if arep, err := ro.VerifyAudit(ctx); err != nil || !arep.OK() {
		t.Fatalf("VerifyAudit on a read-only store: %+v, %v", arep, err)
	}
	if _, err := ro.AppendAudit(ctx, lineage.AuditEntry{Type: "x"}); !errors.Is(err, lineage.ErrReadOnly) {
		t.Fatalf("commit on a read-only store: %v, want ErrReadOnly", err)
	}
	if ids, err := ro.RecoverInterrupted(ctx); err != nil || ids != nil {
		t.Fatalf("RecoverInterrupted on a read-only store: %v, %v", ids, err)
	}
	if after := treeListing(t, dir); after != before {
		t.Fatalf("a read-only store was written:\nbefore %s\nafter  %s", before, after)
	}
	if _, err := lineage.Open(filepath.Join(dir, "absent"), lineage.ReadOnly()); !errors.Is(err, lineage.ErrNotFound) {
		t.Fatalf("Open read-only of no store: %v", err)
	}
}

// treeListing lists every file under dir with its size and mtime.
func treeListing(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			fmt.Fprintf(&b, "%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
		}
		return nil
	})
	return b.String()
}

// faultyBackend fails every write after the first n bytes written, as a
// full disk does, until reset.
type faultyBackend struct {
	lineage.Backend
	left atomic.Int64
}

var errDiskFull = errors.New("no space left on device")

func (f *faultyBackend) take(n int) error {
	if f.left.Add(-int64(n)) < 0 {
		return errDiskFull
	}
	return nil
}

func (f *faultyBackend) PutObject(ctx context.Context, id lineage.ID, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := f.take(len(b)); err != nil {
		return err
	}
	return f.Backend.PutObject(ctx, id, strings.NewReader(string(b)))
}

func (f *faultyBackend) PutRecord(ctx context.Context, ns, name string, data []byte) error {
	if err := f.take(len(data)); err != nil {
		return err
	}
	return f.Backend.PutRecord(ctx, ns, name, data)
}

func (f *faultyBackend) CreateRecord(ctx context.Context, ns, name string, data []byte) error {
	if err := f.take(len(data)); err != nil {
		return err
	}
	return f.Backend.CreateRecord(ctx, ns, name, data)
}

// A full disk at any byte of a commit leaves the store as it was before
// the commit (nothing half-written is visible, verify is clean) and the
// next commit succeeds once there is room.
func TestDiskFullCommit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := lineage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	fb := &faultyBackend{Backend: l}
	fb.left.Store(1 << 40)
	s := lineage.New(fb)
	if err := putRun(ctx, s, &lineage.RunRecord{ID: "20260101T000000Z-000000", Pipeline: "p", Status: lineage.RunOK}); err != nil {
		t.Fatal(err)
	}
	headBefore, _, _ := s.AuditHead(ctx)
	failures := 0
	for budget := int64(0); budget < 8000; budget += 97 {
		fb.left.Store(budget)
		err := putRun(ctx, s, &lineage.RunRecord{ID: fmt.Sprintf("20260102T000000Z-%06d", budget), Pipeline: "p", Status: lineage.RunOK,
			Steps: []lineage.StepRecord{{ID: "s", Notes: []string{strings.Repeat("n", 500)}}}})
		fb.left.Store(1 << 40)
		if err == nil {
			break // enough room: the commit went through whole
		}
		if !errors.Is(err, errDiskFull) {
			t.Fatalf("budget %d: %v", budget, err)
		}
		failures++
		if h, _, _ := s.AuditHead(ctx); h != headBefore {
			t.Fatalf("budget %d: a failed commit moved the head", budget)
		}
		runs, err := s.ListRuns(ctx)
		if err != nil || len(runs) != 1 {
			t.Fatalf("budget %d: runs after a failed commit: %d, %v", budget, len(runs), err)
		}
		if rep, err := s.Verify(ctx, lineage.VerifyOptions{}); err != nil || !rep.OK() {
			t.Fatalf("budget %d: Verify after a failed commit: %+v, %v", budget, rep, err)
		}
	}
	if failures < 5 {
		t.Fatalf("only %d commits failed: the test does not reach into the commit", failures)
	}
	if runs, err := s.ListRuns(ctx); err != nil || len(runs) != 2 {
		t.Fatalf("runs after the disk had room again: %d, %v", len(runs), err)
	}
}

// A layout 1 store (records as files, one audit entry per record) is
// upgraded when opened: its records are imported by one store.upgraded
// commit, the version file says 2, the old record files are gone, and
// verify is clean.
func TestUpgradeLayout1(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := lineage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	obj := []byte(`{"dataset":1}`)
	id := lineage.Hash(obj)
	if err := l.PutObject(ctx, id, strings.NewReader(string(obj))); err != nil {
		t.Fatal(err)
	}
	run := fmt.Sprintf(`{"id":"20260101T000000Z-000000","pipeline":"p","status":"ok","steps":[{"id":"load","status":"ok","outputs":{"data":{"id":%q,"type":"dataset"}}}]}`, id)
	for _, r := range [][3]string{
		{"runs", "20260101T000000Z-000000", run},
		{"cache", "k1", fmt.Sprintf(`{"key":"k1","outputs":{"data":{"id":%q,"type":"dataset"}},"run_id":"20260101T000000Z-000000"}`, id)},
		{"models", "pd", `{"name":"pd","versions":[]}`},
		{"verified", id.String(), `{}`},
	} {
		if err := l.PutRecord(ctx, r[0], r[1], []byte(r[2])); err != nil {
			t.Fatal(err)
		}
	}
	// A layout 1 audit entry and head.
	entry := `{"seq":1,"time":"2026-01-01T00:00:00Z","type":"run.finished","run":"20260101T000000Z-000000","prev":"` + lineage.ZeroHash + `"}`
	h := lineage.Hash([]byte(entry)).String()
	if err := l.PutRecord(ctx, "audit", "000000000001", []byte(`{"hash":"`+h+`","entry":`+entry+`}`)); err != nil {
		t.Fatal(err)
	}
	l.PutRecord(ctx, "audithead", "head", []byte(`{"seq":1,"hash":"`+h+`"}`))
	os.WriteFile(filepath.Join(dir, lineage.VersionFile), []byte(`{"format":"mlrun-store","version":1}`), 0o644)

	// Read-only: the upgrade cannot happen, reads say so.
	ro, err := lineage.Open(dir, lineage.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ro.ListRuns(ctx); !errors.Is(err, lineage.ErrNeedsUpgrade) {
		t.Fatalf("reading a layout 1 store read-only: %v, want ErrNeedsUpgrade", err)
	}
	s, err := lineage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, lineage.VersionFile)); !strings.Contains(string(b), `"version": 2`) {
		t.Fatalf("version file after the upgrade: %s", b)
	}
	r, err := s.GetRun(ctx, "latest")
	if err != nil || r.ID != "20260101T000000Z-000000" {
		t.Fatalf("the imported run: %v, %v", r, err)
	}
	if e, err := s.GetCache(ctx, "k1"); err != nil || e.Outputs["data"].ID != id {
		t.Fatalf("the imported cache entry: %v, %v", e, err)
	}
	for _, ns := range []string{"runs", "cache", "models", "verified"} {
		if _, err := os.Stat(filepath.Join(dir, "records", ns)); !os.IsNotExist(err) {
			t.Errorf("records/%s left after the upgrade: %v", ns, err)
		}
	}
	entries, _, err := s.AuditLog(ctx)
	if err != nil || len(entries) != 2 || entries[1].Type != lineage.AuditStoreUpgraded || entries[1].Detail["records.runs"] != "1" {
		t.Fatalf("audit after the upgrade: %+v, %v", entries, err)
	}
	if rep, err := s.Verify(ctx, lineage.VerifyOptions{}); err != nil || !rep.OK() {
		t.Fatalf("Verify after the upgrade: %+v, %v", rep, err)
	}
	if arep, err := s.VerifyAudit(ctx); err != nil || !arep.OK() {
		t.Fatalf("VerifyAudit after the upgrade: %+v, %v", arep, err)
	}
}
