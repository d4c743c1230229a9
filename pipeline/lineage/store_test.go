package lineage_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/lineage/lineagetest"
)

func TestLocalConformance(t *testing.T) {
	lineagetest.TestBackend(t, func(t *testing.T) lineage.Backend {
		b, err := lineage.NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

func TestStoreOnPlainBackendConformance(t *testing.T) {
	// A backend without PutObjectStream goes through Store's temp-file path.
	b, err := lineage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := lineage.New(plainBackend{b})
	doc := &pipeline.Document{Type: "metrics", Value: map[string]any{"auc": 0.75}}
	id, size, err := s.PutObject(context.Background(), "metrics", doc)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte(`{"auc":0.75}`)
	if id != lineage.Hash(want) || size != int64(len(want)) {
		t.Fatalf("PutObject = %s, %d; want %s, %d", id, size, lineage.Hash(want), len(want))
	}
	got, err := s.GetObject(context.Background(), id)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("GetObject = %q, %v", got, err)
	}
}

// plainBackend hides Local's StreamPutter.
type plainBackend struct{ lineage.Backend }

func TestID(t *testing.T) {
	id := lineage.Hash([]byte("abc"))
	const hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if id.String() != hex || id.Short() != hex[:12] {
		t.Fatalf("Hash(abc) = %s", id)
	}
	back, err := lineage.ParseID(strings.ToUpper(hex))
	if err != nil || back != id {
		t.Fatalf("ParseID = %s, %v", back, err)
	}
	for _, bad := range []string{"", "ab", hex[:63], hex + "0", "zz" + hex[2:]} {
		if _, err := lineage.ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) succeeded", bad)
		}
	}
	if !(lineage.ID{}).IsNull() || id.IsNull() {
		t.Fatal("IsNull")
	}
}

func TestOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	if _, err := lineage.Open(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, lineage.VersionFile))
	if err != nil || !strings.Contains(string(b), `"version": 2`) {
		t.Fatalf("version file = %q, %v", b, err)
	}
	for _, sub := range []string{"objects", "records", "locks", "tmp"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
			t.Fatalf("%s: %v", sub, err)
		}
	}
	if _, err := lineage.Open(dir); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	os.WriteFile(filepath.Join(dir, lineage.VersionFile), []byte(`{"format":"mlrun-store","version":99}`), 0o644)
	if _, err := lineage.Open(dir); err == nil || !strings.Contains(err.Error(), "layout version 99 is newer") {
		t.Fatalf("Open of a newer store: %v", err)
	}
	os.WriteFile(filepath.Join(dir, lineage.VersionFile), []byte(`garbage`), 0o644)
	if _, err := lineage.Open(dir); err == nil || !strings.Contains(err.Error(), "not an mlrun store") {
		t.Fatalf("Open with a bad version file: %v", err)
	}
}

func openStore(t *testing.T) (*lineage.Store, string) {
	t.Helper()
	dir := t.TempDir()
	memos, err := lineage.OpenMemos(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := lineage.Open(dir, lineage.WithMemos(memos))
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func put(t *testing.T, s *lineage.Store, v any) lineage.ObjectRef {
	t.Helper()
	id, size, err := s.PutObject(context.Background(), "metrics", &pipeline.Document{Type: "metrics", Value: v})
	if err != nil {
		t.Fatal(err)
	}
	return lineage.ObjectRef{ID: id, Type: "metrics", Size: size}
}

func objectPath(dir string, id lineage.ID) string {
	return filepath.Join(dir, "objects", id.String()[:2], id.String())
}

// flipByte corrupts the first byte of an object file in place.
func flipByte(t *testing.T, dir string, id lineage.ID) {
	t.Helper()
	p := objectPath(dir, id)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x20
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, b, 0o444); err != nil {
		t.Fatal(err)
	}
}

func TestObjectsRehashedOnRead(t *testing.T) {
	ctx := context.Background()
	s, dir := openStore(t)
	ref := put(t, s, map[string]any{"b": 2, "a": 1})
	if want := lineage.Hash([]byte(`{"a":1,"b":2}`)); ref.ID != want || ref.Size != 13 {
		t.Fatalf("PutObject = %+v, want id %s size 13", ref, want)
	}
	if fi, err := os.Stat(objectPath(dir, ref.ID)); err != nil || fi.Mode().Perm() != 0o444 {
		t.Fatalf("object file mode: %v, %v", fi.Mode(), err)
	}
	// Same value again: same id, no-op.
	if again := put(t, s, map[string]any{"a": 1, "b": 2}); again != ref {
		t.Fatalf("second PutObject = %+v, want %+v", again, ref)
	}
	if _, _, err := s.PutObject(ctx, "model", &pipeline.Document{Type: "metrics"}); err == nil {
		t.Fatal("PutObject with a mismatched type name succeeded")
	}
	if err := s.VerifyObjectCached(ctx, ref.ID); err != nil {
		t.Fatalf("VerifyObjectCached: %v", err)
	}
	flipByte(t, dir, ref.ID)
	if _, err := s.GetObject(ctx, ref.ID); !errors.Is(err, lineage.ErrInvalidData) {
		t.Fatalf("GetObject of a flipped byte: err = %v, want ErrInvalidData", err)
	}
	if err := s.VerifyObjectCached(ctx, ref.ID); !errors.Is(err, lineage.ErrInvalidData) {
		t.Fatalf("VerifyObjectCached after a write: err = %v, want ErrInvalidData", err)
	}
	missing := lineage.Hash([]byte("never stored"))
	if err := s.VerifyObjectCached(ctx, missing); !errors.Is(err, lineage.ErrNotFound) {
		t.Fatalf("VerifyObjectCached of a missing object: err = %v, want ErrNotFound", err)
	}
	// DeleteCorrupt removes it so that it can be stored again.
	if removed, err := s.DeleteCorrupt(ctx, ref.ID); err != nil || !removed {
		t.Fatalf("DeleteCorrupt = %v, %v", removed, err)
	}
	put(t, s, map[string]any{"a": 1, "b": 2})
	if _, err := s.GetObject(ctx, ref.ID); err != nil {
		t.Fatalf("GetObject after re-put: %v", err)
	}
	if removed, err := s.DeleteCorrupt(ctx, ref.ID); err != nil || removed {
		t.Fatalf("DeleteCorrupt of an intact object = %v, %v", removed, err)
	}
}

func TestVerifyMemoTrustsUnchangedStat(t *testing.T) {
	// The documented trade-off: corruption that preserves every stat field
	// is not seen by VerifyObjectCached, but is by GetObject and Verify.
	ctx := context.Background()
	s, dir := openStore(t)
	ref := put(t, s, []int{1, 2, 3})
	p := objectPath(dir, ref.ID)
	flipByte(t, dir, ref.ID)
	// A memo for the corrupt file's current stat, authentic (made with the
	// memo key, as a bit flip below the file system that kept every stat
	// field would leave it).
	fi, _ := os.Stat(p)
	info := lineage.ObjectInfoOf(fi)
	rec := fmt.Sprintf(`{"id":%q,"stat":{"size":%d,"mtime_ns":%d,"inode":%d,"ctime_ns":%d}}`,
		ref.ID, info.Size, info.ModTime, info.Inode, info.CTime)
	abs, _ := filepath.Abs(dir)
	s.Memos().Put("verified", abs+"\x00"+ref.ID.String(), []byte(rec))
	if err := s.VerifyObjectCached(ctx, ref.ID); err != nil {
		t.Fatalf("VerifyObjectCached with a matching memo re-hashed: %v", err)
	}
	rep, err := s.Verify(ctx, lineage.VerifyOptions{})
	if err != nil || rep.OK() {
		t.Fatalf("Verify = %+v, %v; want a corrupt object", rep, err)
	}
	// Verify dropped the memo: the cached check now re-hashes.
	if err := s.VerifyObjectCached(ctx, ref.ID); !errors.Is(err, lineage.ErrInvalidData) {
		t.Fatalf("VerifyObjectCached after Verify: err = %v, want ErrInvalidData", err)
	}
}

func TestKilledWritesLeaveOnlyTemp(t *testing.T) {
	ctx := context.Background()
	s, dir := openStore(t)
	ref := put(t, s, "intact")
	// A process killed mid-write leaves temp files: one half-written
	// object, one complete but never renamed.
	half := filepath.Join(dir, "tmp", "put-111")
	whole := filepath.Join(dir, "tmp", "put-222")
	os.WriteFile(half, []byte(`{"a":`), 0o600)
	os.WriteFile(whole, []byte(`"orphan"`), 0o600)
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(half, old, old)
	// A stray non-object file in the objects tree is ignored too.
	os.WriteFile(filepath.Join(dir, "objects", "zz-not-an-object"), []byte("x"), 0o644)

	rep, err := s.Verify(ctx, lineage.VerifyOptions{})
	if err != nil || !rep.OK() || rep.Objects != 1 {
		t.Fatalf("Verify = %+v, %v; want 1 intact object", rep, err)
	}
	gc, err := s.GC(ctx, lineage.GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Only the old temp file goes; the fresh one may belong to a live writer.
	if gc.TempFiles != 1 || exists(half) || !exists(whole) {
		t.Fatalf("GC removed %d temp files (half %v, whole %v); want the old one only", gc.TempFiles, exists(half), exists(whole))
	}
	if _, err := s.GetObject(ctx, ref.ID); err == nil {
		// ref is referenced by nothing, so GC removed it.
		t.Fatal("GC kept an unreferenced object")
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestHelperWriter is not a test: it is the body of the writer processes
// started by TestConcurrentProcesses.
func TestHelperWriter(t *testing.T) {
	dir := os.Getenv("LINEAGE_HELPER_STORE")
	if dir == "" {
		t.Skip("helper process only")
	}
	ctx := context.Background()
	s, err := lineage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := s.RunLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	me := os.Getenv("LINEAGE_HELPER_ID")
	run := &lineage.RunRecord{ID: "20260101T000000Z-00000" + me, Pipeline: "p", Status: lineage.RunOK}
	for i := range 20 {
		shared := put(t, s, map[string]any{"shared": i, "pad": strings.Repeat("x", 20_000)})
		own := put(t, s, map[string]any{"writer": me, "i": i})
		run.Steps = append(run.Steps, lineage.StepRecord{ID: fmt.Sprintf("s%d", i), Status: lineage.StepOK,
			Outputs: map[string]lineage.ObjectRef{"shared": shared, "own": own}})
		if err := putRun(ctx, s, run); err != nil {
			t.Fatal(err)
		}
		if err := putCache(ctx, s, &lineage.CacheEntry{Key: fmt.Sprintf("k%d", i), RunID: run.ID,
			Outputs: map[string]lineage.ObjectRef{"data": shared}}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConcurrentProcesses(t *testing.T) {
	dir := t.TempDir()
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for i := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$", "-test.count=1")
		cmd.Env = append(os.Environ(), "LINEAGE_HELPER_STORE="+dir, fmt.Sprintf("LINEAGE_HELPER_ID=%d", i))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, &out)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("writer %d: %v\n%s", i, err, outs[i])
		}
	}
	s, err := lineage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.Verify(context.Background(), lineage.VerifyOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("Verify after concurrent writers = %+v, %v", rep, err)
	}
	if rep.Runs != 4 || rep.CacheEntries != 20 || rep.Commits != 4*2*20 {
		t.Fatalf("Verify counted %d runs, %d cache entries, %d commits; want 4, 20, 160", rep.Runs, rep.CacheEntries, rep.Commits)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
		t.Fatalf("temp files left by completed writers: %d", len(ents))
	}
}

func TestVerifyNamesRuns(t *testing.T) {
	ctx := context.Background()
	s, dir := openStore(t)
	a, b, c := put(t, s, "a"), put(t, s, "b"), put(t, s, "c")
	r1 := &lineage.RunRecord{ID: "20260101T000000Z-000001", Pipeline: "p", Steps: []lineage.StepRecord{
		{ID: "load", Outputs: map[string]lineage.ObjectRef{"data": a}},
		{ID: "train", Inputs: map[string]lineage.ObjectRef{"input": a}, Outputs: map[string]lineage.ObjectRef{"model": b}},
	}}
	r2 := &lineage.RunRecord{ID: "20260102T000000Z-000002", Pipeline: "p", Steps: []lineage.StepRecord{
		{ID: "train", Inputs: map[string]lineage.ObjectRef{"input": a}, Outputs: map[string]lineage.ObjectRef{"model": c}},
	}}
	for _, r := range []*lineage.RunRecord{r1, r2} {
		if err := putRun(ctx, s, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := putCache(ctx, s, &lineage.CacheEntry{Key: "k1", RunID: r1.ID, Outputs: map[string]lineage.ObjectRef{"model": b}}); err != nil {
		t.Fatal(err)
	}
	if rep, err := s.Verify(ctx, lineage.VerifyOptions{}); err != nil || !rep.OK() || rep.Records != 3 || rep.Runs != 2 || rep.CacheEntries != 1 {
		t.Fatalf("Verify of a clean store = %+v, %v", rep, err)
	}
	flipByte(t, dir, a.ID)
	os.Remove(objectPath(dir, b.ID))
	// A record that does not decode, committed as if by a buggy writer.
	if _, err := s.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
		_, err := tx.Put(ctx, "runs", "broken", []byte("{"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Verify(ctx, lineage.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, p := range rep.Problems {
		got += fmt.Sprintf("%s %s runs=%v cache=%v\n", p.ID.Short(), p.Problem, p.Runs, p.CacheKeys)
	}
	want := map[lineage.ID]string{
		a.ID: fmt.Sprintf("%s corrupt runs=[%s %s] cache=[]\n", a.ID.Short(), r1.ID, r2.ID),
		b.ID: fmt.Sprintf("%s missing runs=[%s] cache=[k1]\n", b.ID.Short(), r1.ID),
	}
	wantStr := ""
	if bytes.Compare(a.ID[:], b.ID[:]) < 0 {
		wantStr = want[a.ID] + want[b.ID]
	} else {
		wantStr = want[b.ID] + want[a.ID]
	}
	if got != wantStr {
		t.Fatalf("Verify problems:\n%s\nwant:\n%s", got, wantStr)
	}
	if len(rep.BadRecords) != 1 || !strings.HasPrefix(rep.BadRecords[0], "runs/broken: ") {
		t.Fatalf("BadRecords = %q", rep.BadRecords)
	}
	if rep.OK() {
		t.Fatal("OK() on a damaged store")
	}
}

func TestGC(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t)
	shared := put(t, s, "shared input")
	var runs []*lineage.RunRecord
	var outs []lineage.ObjectRef
	for i := range 3 {
		out := put(t, s, fmt.Sprintf("output %d", i))
		outs = append(outs, out)
		r := &lineage.RunRecord{ID: fmt.Sprintf("2026010%dT000000Z-00000%d", i+1, i), Pipeline: "p", Steps: []lineage.StepRecord{
			{ID: "s", CacheKey: fmt.Sprintf("key%d", i), Inputs: map[string]lineage.ObjectRef{"in": shared}, Outputs: map[string]lineage.ObjectRef{"out": out}},
		}}
		runs = append(runs, r)
		if err := putRun(ctx, s, r); err != nil {
			t.Fatal(err)
		}
		if err := putCache(ctx, s, &lineage.CacheEntry{Key: r.Steps[0].CacheKey, RunID: r.ID, Outputs: r.Steps[0].Outputs}); err != nil {
			t.Fatal(err)
		}
	}
	other := &lineage.RunRecord{ID: "20250101T000000Z-aaaaaa", Pipeline: "other", Steps: []lineage.StepRecord{
		{ID: "s", Outputs: map[string]lineage.ObjectRef{"out": put(t, s, "other pipeline")}}}}
	if err := putRun(ctx, s, other); err != nil {
		t.Fatal(err)
	}
	cacheOnly := put(t, s, "cache only")
	if err := putCache(ctx, s, &lineage.CacheEntry{Key: "orphan", RunID: "unknown-run", Outputs: map[string]lineage.ObjectRef{"o": cacheOnly}}); err != nil {
		t.Fatal(err)
	}
	garbage := put(t, s, "garbage")

	// Keep all: only the unreferenced object goes.
	// (The earlier commits' state nodes are garbage too.)
	rep, err := s.GC(ctx, lineage.GCOptions{DryRun: true})
	if err != nil || rep.DeletedObjects < 1 || len(rep.DroppedRuns) != 0 {
		t.Fatalf("GC dry run = %+v, %v", rep, err)
	}
	if _, err := s.GetObject(ctx, garbage.ID); err != nil {
		t.Fatalf("dry run deleted: %v", err)
	}
	dry := rep.DeletedObjects
	rep, err = s.GC(ctx, lineage.GCOptions{})
	if err != nil || rep.DeletedObjects != dry {
		t.Fatalf("GC = %+v, %v; want the %d objects of the dry run", rep, err, dry)
	}
	if _, err := s.GetObject(ctx, garbage.ID); !errors.Is(err, lineage.ErrNotFound) {
		t.Fatalf("garbage survived: %v", err)
	}
	if rep, err := s.GC(ctx, lineage.GCOptions{DryRun: true}); err != nil || rep.DeletedObjects != 0 {
		t.Fatalf("GC after GC = %+v, %v; want nothing more to remove", rep, err)
	}

	// Keep the last run of each pipeline: runs 0 and 1 of p go with their
	// outputs and cache entries; "other" and the orphan entry stay.
	rep, err = s.GC(ctx, lineage.GCOptions{KeepLast: 1, DryRun: true})
	if err != nil || strings.Join(rep.DroppedRuns, ",") != runs[0].ID+","+runs[1].ID ||
		strings.Join(rep.PrunedCache, ",") != "key0,key1" {
		t.Fatalf("GC keep-last dry run = %+v, %v", rep, err)
	}
	dry = rep.DeletedObjects
	if rep, err := s.GC(ctx, lineage.GCOptions{KeepLast: 1}); err != nil || rep.DeletedObjects != dry {
		t.Fatalf("GC keep-last = %+v, %v; want the %d objects of its dry run", rep, err, dry)
	}
	left, err := s.ListRuns(ctx)
	if err != nil || len(left) != 2 || left[0].ID != other.ID || left[1].ID != runs[2].ID {
		t.Fatalf("runs after GC: %v, %v", left, err)
	}
	for _, ref := range []lineage.ObjectRef{shared, outs[2], cacheOnly} {
		if _, err := s.GetObject(ctx, ref.ID); err != nil {
			t.Fatalf("kept object %s: %v", ref.ID.Short(), err)
		}
	}
	for _, ref := range outs[:2] {
		if _, err := s.GetObject(ctx, ref.ID); !errors.Is(err, lineage.ErrNotFound) {
			t.Fatalf("dropped output %s: %v", ref.ID.Short(), err)
		}
	}
	if keys, _ := s.ListCache(ctx); strings.Join(keys, ",") != "key2,orphan" {
		t.Fatalf("cache after GC: %v", keys)
	}
	if rep, err := s.Verify(ctx, lineage.VerifyOptions{}); err != nil || !rep.OK() {
		t.Fatalf("Verify after GC = %+v, %v", rep, err)
	}

	// A running `mlrun run` holds the lock: GC fails at once.
	unlock, err := s.RunLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := s.GC(ctx, lineage.GCOptions{}); !errors.Is(err, lineage.ErrStoreBusy) || time.Since(start) > time.Second {
		t.Fatalf("GC during a run: err = %v after %v, want ErrStoreBusy at once", err, time.Since(start))
	}
	unlock()
	if _, err := s.GC(ctx, lineage.GCOptions{KeepLast: -1}); err == nil {
		t.Fatal("GC with KeepLast -1 succeeded")
	}
}

func TestFingerprint(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t)
	p := filepath.Join(t.TempDir(), "data.csv")
	write := func(content string, age time.Duration) {
		t.Helper()
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		mt := time.Now().Add(-age)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	sum := func(s string) string { return lineage.Hash([]byte(s)).String() }
	fp := func(rehash bool) pipeline.FileInfo {
		t.Helper()
		fi, err := s.Fingerprint(ctx, p, rehash)
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	write("a,b\n1,2\n", time.Hour)
	if fi := fp(false); fi.SHA256 != sum("a,b\n1,2\n") || fi.Size != 8 || fi.Path != p {
		t.Fatalf("Fingerprint = %+v", fi)
	}
	// The memo lives in the memos directory, authenticated.
	abs, _ := filepath.Abs(p)
	key := sha256.Sum256([]byte(abs))
	memoFile := filepath.Join(s.Memos().Dir(), "fingerprint", hex.EncodeToString(key[:])[:2], hex.EncodeToString(key[:])+".json")
	raw, err := os.ReadFile(memoFile)
	if err != nil {
		t.Fatalf("no memo written: %v", err)
	}
	// Edited without the key (a forged memo: it would record changed data
	// with the old SHA-256): its MAC fails and the file is hashed.
	var m map[string]any
	json.Unmarshal(raw, &m)
	data, _ := base64.StdEncoding.DecodeString(m["data"].(string))
	m["data"] = base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(data), sum("a,b\n1,2\n"), sum("forged"), 1)))
	forged, _ := json.Marshal(m)
	if !strings.Contains(string(data), sum("a,b\n1,2\n")) {
		t.Fatal("test did not forge the memo")
	}
	os.WriteFile(memoFile, forged, 0o644)
	if fi := fp(false); fi.SHA256 != sum("a,b\n1,2\n") {
		t.Fatalf("a forged memo was used: %+v", fi)
	}
	// An authentic memo is used while the stat is unchanged (plant one
	// with a false sum to see it).
	planted := strings.Replace(string(data), sum("a,b\n1,2\n"), sum("planted"), 1)
	s.Memos().Put("fingerprint", abs, []byte(planted))
	if fi := fp(false); fi.SHA256 != sum("planted") {
		t.Fatalf("memo not used: %+v", fi)
	}
	if fi := fp(true); fi.SHA256 != sum("a,b\n1,2\n") {
		t.Fatalf("rehash used the memo: %+v", fi)
	}
	// rehash rewrote the memo with the truth.
	if fi := fp(false); fi.SHA256 != sum("a,b\n1,2\n") {
		t.Fatalf("memo after rehash: %+v", fi)
	}
	// Touching the file (same bytes, new mtime and ctime) forces a re-hash.
	s.Memos().Put("fingerprint", abs, []byte(planted))
	now := time.Now().Add(-30 * time.Minute)
	os.Chtimes(p, now, now)
	if fi := fp(false); fi.SHA256 != sum("a,b\n1,2\n") {
		t.Fatalf("touch did not force a re-hash: %+v", fi)
	}
	// A same-size edit is seen (mtime/ctime change).
	write("a,b\n1,3\n", time.Hour)
	if fi := fp(false); fi.SHA256 != sum("a,b\n1,3\n") {
		t.Fatalf("edit not seen: %+v", fi)
	}
	// A file modified just now is not memoised (racy window).
	write("fresh", 0)
	fp(false)
	if b, ok := s.Memos().Get("fingerprint", abs); ok && strings.Contains(string(b), sum("fresh")) {
		t.Fatal("a file modified just now was memoised")
	}
	if _, err := s.Fingerprint(ctx, filepath.Join(t.TempDir(), "absent"), false); err == nil {
		t.Fatal("Fingerprint of a missing file succeeded")
	}
	if _, err := s.Fingerprint(ctx, t.TempDir(), false); err == nil {
		t.Fatal("Fingerprint of a directory succeeded")
	}
}

func TestRuns(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t)
	id := lineage.NewRunID(time.Date(2026, 11, 26, 17, 51, 0, 0, time.FixedZone("CET", 3600)))
	if !regexp.MustCompile(`^20261126T165100Z-[0-9a-f]{6}$`).MatchString(id) {
		t.Fatalf("NewRunID = %q", id)
	}
	r := &lineage.RunRecord{ID: "20260101T000000Z-abc123", Pipeline: "p", Status: lineage.RunCheckFailed, ExitCode: 1,
		Steps: []lineage.StepRecord{{ID: "eval", Metrics: lineage.Metrics{"auc": 0.7, "ks": math.NaN(), "x": math.Inf(1)},
			Checks: []pipeline.Check{{Name: "g", Passed: false, Severity: "error", Values: map[string]float64{"auc": 0.7, "bad": math.NaN()}}}}}}
	if err := putRun(ctx, s, r); err != nil {
		t.Fatal(err)
	}
	if r.Steps[0].Checks[0].Values["bad"] == 0 {
		t.Fatal("PutRun modified the caller's record")
	}
	if err := putRun(ctx, s, &lineage.RunRecord{ID: "20260101T000000Z-abd456", Pipeline: "p"}); err != nil {
		t.Fatal(err)
	}
	if err := putRun(ctx, s, &lineage.RunRecord{ID: "20250101T000000Z-000000", Pipeline: "q"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRun(ctx, "20260101T000000Z-abc")
	if err != nil || got.ID != r.ID {
		t.Fatalf("GetRun by prefix = %v, %v", got, err)
	}
	m := got.Steps[0].Metrics
	if m["auc"] != 0.7 || !math.IsNaN(m["ks"]) || !math.IsInf(m["x"], 1) || got.Steps[0].Checks[0].Values["auc"] != 0.7 {
		t.Fatalf("metrics round trip = %v, %v", m, got.Steps[0].Checks)
	}
	if _, err := s.GetRun(ctx, "20260101T000000Z-ab"); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Fatalf("ambiguous prefix: %v", err)
	}
	if _, err := s.GetRun(ctx, "1999"); !errors.Is(err, lineage.ErrNotFound) {
		t.Fatalf("no match: %v", err)
	}
	if _, err := s.GetRun(ctx, "../x"); !errors.Is(err, lineage.ErrNotFound) {
		t.Fatalf("bad name: %v", err)
	}
	runs, err := s.ListRuns(ctx)
	if err != nil || len(runs) != 3 || runs[0].Pipeline != "q" || runs[2].ID != "20260101T000000Z-abd456" {
		t.Fatalf("ListRuns = %v, %v", runs, err)
	}
	if _, err := s.GetCache(ctx, "nokey"); !errors.Is(err, lineage.ErrNotFound) {
		t.Fatalf("GetCache missing: %v", err)
	}
	if _, err := s.GetLastKey(ctx, "p", "s"); !errors.Is(err, lineage.ErrNotFound) {
		t.Fatalf("GetLastKey missing: %v", err)
	}
	if _, err := s.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
		return tx.PutLastKey(ctx, &lineage.KeyRecord{Pipeline: "p/with/slash", Step: "s", Key: "k", Config: []byte(`{}`)})
	}); err != nil {
		t.Fatal(err)
	}
	if k, err := s.GetLastKey(ctx, "p/with/slash", "s"); err != nil || k.Key != "k" {
		t.Fatalf("GetLastKey = %v, %v", k, err)
	}
}

func TestGitState(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	if g := lineage.GitState(context.Background(), dir); g != nil {
		t.Fatalf("GitState outside a repo = %+v", g)
	}
	gitc := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	gitc("init", "-q")
	os.WriteFile(filepath.Join(dir, "p.yaml"), []byte("a"), 0o644)
	gitc("add", "p.yaml")
	gitc("commit", "-q", "-m", "x")
	g := lineage.GitState(context.Background(), dir)
	if g == nil || len(g.Commit) != 40 || g.Dirty {
		t.Fatalf("GitState clean = %+v", g)
	}
	os.WriteFile(filepath.Join(dir, "p.yaml"), []byte("b"), 0o644)
	if g := lineage.GitState(context.Background(), dir); g == nil || !g.Dirty {
		t.Fatalf("GitState dirty = %+v", g)
	}
}

func TestMemo(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t)
	if _, ok := s.GetMemo(ctx, "k"); ok {
		t.Fatal("GetMemo of an absent key hit")
	}
	s.PutMemo(ctx, "k", []byte(`{"a":1}`))
	s.PutMemo(ctx, "other", []byte("x"))
	if b, ok := s.GetMemo(ctx, "k"); !ok || string(b) != `{"a":1}` {
		t.Fatalf("GetMemo = %q, %v", b, ok)
	}
	s.PutMemo(ctx, "k", []byte("y"))
	if b, ok := s.GetMemo(ctx, "k"); !ok || string(b) != "y" {
		t.Fatalf("GetMemo after replace = %q, %v", b, ok)
	}
	// Another user's (or a forger's) key: the memo is not authentic.
	other, err := lineage.OpenMemos(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := other.Get("schema", "k"); ok {
		t.Fatal("a memo made with another key was read")
	}
	// A store without memos memoises nothing.
	plain, err := lineage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	plain.PutMemo(ctx, "k", []byte("z"))
	if _, ok := plain.GetMemo(ctx, "k"); ok {
		t.Fatal("a store without memos memoised")
	}
}
