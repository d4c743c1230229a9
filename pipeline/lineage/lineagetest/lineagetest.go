// Package lineagetest is the conformance suite that every lineage.Backend
// must pass.
package lineagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// TestBackend runs the conformance suite against fresh backends made by
// newBackend (each subtest gets its own).
func TestBackend(t *testing.T, newBackend func(t *testing.T) lineage.Backend) {
	t.Run("Objects", func(t *testing.T) { testObjects(t, newBackend(t)) })
	t.Run("ObjectWrongID", func(t *testing.T) { testObjectWrongID(t, newBackend(t)) })
	t.Run("ObjectsConcurrent", func(t *testing.T) { testObjectsConcurrent(t, newBackend(t)) })
	t.Run("Records", func(t *testing.T) { testRecords(t, newBackend(t)) })
	t.Run("RecordNames", func(t *testing.T) { testRecordNames(t, newBackend(t)) })
	t.Run("RecordsConcurrent", func(t *testing.T) { testRecordsConcurrent(t, newBackend(t)) })
	t.Run("CreateRecord", func(t *testing.T) { testCreateRecord(t, newBackend(t)) })
	t.Run("Locks", func(t *testing.T) { testLocks(t, newBackend(t)) })
	t.Run("CleanTempKeepsFresh", func(t *testing.T) { testCleanTemp(t, newBackend(t)) })
}

func get(t *testing.T, b lineage.Backend, id lineage.ID) ([]byte, error) {
	t.Helper()
	rc, err := b.GetObject(context.Background(), id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func listObjects(t *testing.T, b lineage.Backend) map[lineage.ID]int64 {
	t.Helper()
	got := map[lineage.ID]int64{}
	var last lineage.ID
	err := b.ListObjects(context.Background(), func(id lineage.ID, size int64) error {
		if _, dup := got[id]; dup {
			t.Errorf("ListObjects: %s listed twice", id)
		}
		if bytes.Compare(id[:], last[:]) < 0 {
			t.Errorf("ListObjects: %s listed after %s", id, last)
		}
		last = id
		got[id] = size
		return nil
	})
	if err != nil {
		t.Fatalf("ListObjects: %v", err)
	}
	return got
}

func testObjects(t *testing.T, b lineage.Backend) {
	ctx := context.Background()
	datas := [][]byte{[]byte("hello"), {}, bytes.Repeat([]byte("0123456789"), 100_000)}
	want := map[lineage.ID]int64{}
	for _, d := range datas {
		id := lineage.Hash(d)
		if _, err := b.StatObject(ctx, id); !errors.Is(err, lineage.ErrNotFound) {
			t.Fatalf("StatObject before put: err = %v, want ErrNotFound", err)
		}
		if _, err := get(t, b, id); !errors.Is(err, lineage.ErrNotFound) {
			t.Fatalf("GetObject before put: err = %v, want ErrNotFound", err)
		}
		if err := b.PutObject(ctx, id, bytes.NewReader(d)); err != nil {
			t.Fatalf("PutObject: %v", err)
		}
		// A second put is a no-op, whatever its reader holds.
		if err := b.PutObject(ctx, id, strings.NewReader("ignored")); err != nil {
			t.Fatalf("PutObject again: %v", err)
		}
		got, err := get(t, b, id)
		if err != nil || !bytes.Equal(got, d) {
			t.Fatalf("GetObject = %d bytes, %v; want %d bytes", len(got), err, len(d))
		}
		info, err := b.StatObject(ctx, id)
		if err != nil || info.Size != int64(len(d)) {
			t.Fatalf("StatObject = %+v, %v; want size %d", info, err, len(d))
		}
		want[id] = int64(len(d))
	}
	got := listObjects(t, b)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ListObjects = %v, want %v", got, want)
	}
	del := lineage.Hash(datas[0])
	if err := b.DeleteObject(ctx, del); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	if err := b.DeleteObject(ctx, del); !errors.Is(err, lineage.ErrNotFound) {
		t.Fatalf("DeleteObject twice: err = %v, want ErrNotFound", err)
	}
	if _, err := get(t, b, del); !errors.Is(err, lineage.ErrNotFound) {
		t.Fatalf("GetObject after delete: err = %v, want ErrNotFound", err)
	}
	if _, ok := listObjects(t, b)[del]; ok {
		t.Fatalf("ListObjects lists a deleted object")
	}
	stop := errors.New("stop")
	n := 0
	if err := b.ListObjects(ctx, func(lineage.ID, int64) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("ListObjects with a failing callback: err = %v after %d calls, want stop after 1", err, n)
	}
}

func testObjectWrongID(t *testing.T, b lineage.Backend) {
	ctx := context.Background()
	id := lineage.Hash([]byte("the real content"))
	err := b.PutObject(ctx, id, strings.NewReader("other content"))
	if !errors.Is(err, lineage.ErrInvalidData) {
		t.Fatalf("PutObject with a wrong id: err = %v, want ErrInvalidData", err)
	}
	if _, err := b.StatObject(ctx, id); !errors.Is(err, lineage.ErrNotFound) {
		t.Fatalf("object stored despite a wrong id: StatObject err = %v", err)
	}
	if got := listObjects(t, b); len(got) != 0 {
		t.Fatalf("ListObjects after a rejected put = %v, want none", got)
	}
}

func testObjectsConcurrent(t *testing.T, b lineage.Backend) {
	ctx := context.Background()
	shared := bytes.Repeat([]byte("shared object "), 50_000)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 8 {
		wg.Go(func() {
			for i := range 5 {
				own := []byte(fmt.Sprintf("goroutine %d object %d", g, i))
				for _, d := range [][]byte{shared, own} {
					if err := b.PutObject(ctx, lineage.Hash(d), bytes.NewReader(d)); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent PutObject: %v", err)
	}
	got := listObjects(t, b)
	if len(got) != 1+8*5 {
		t.Fatalf("ListObjects after concurrent puts: %d objects, want %d", len(got), 1+8*5)
	}
	for id := range got {
		d, err := get(t, b, id)
		if err != nil || lineage.Hash(d) != id {
			t.Fatalf("object %s: %v, content hashes to %s", id, err, lineage.Hash(d))
		}
	}
}

func testRecords(t *testing.T, b lineage.Backend) {
	ctx := context.Background()
	if _, err := b.GetRecord(ctx, "runs", "r1"); !errors.Is(err, lineage.ErrNotFound) {
		t.Fatalf("GetRecord of a missing record: err = %v, want ErrNotFound", err)
	}
	if names, err := b.ListRecords(ctx, "nothing"); err != nil || len(names) != 0 {
		t.Fatalf("ListRecords of an empty namespace = %v, %v; want none", names, err)
	}
	for _, name := range []string{"r2", "r1", "r3"} {
		if err := b.PutRecord(ctx, "runs", name, []byte(`{"n":"`+name+`"}`)); err != nil {
			t.Fatalf("PutRecord: %v", err)
		}
	}
	if err := b.PutRecord(ctx, "cache", "r1", []byte(`other`)); err != nil {
		t.Fatalf("PutRecord: %v", err)
	}
	if err := b.PutRecord(ctx, "runs", "r1", []byte(`replaced`)); err != nil {
		t.Fatalf("PutRecord replace: %v", err)
	}
	if got, err := b.GetRecord(ctx, "runs", "r1"); err != nil || string(got) != "replaced" {
		t.Fatalf("GetRecord after replace = %q, %v", got, err)
	}
	if got, err := b.GetRecord(ctx, "cache", "r1"); err != nil || string(got) != "other" {
		t.Fatalf("GetRecord in another namespace = %q, %v", got, err)
	}
	if names, err := b.ListRecords(ctx, "runs"); err != nil || strings.Join(names, ",") != "r1,r2,r3" {
		t.Fatalf("ListRecords = %v, %v; want [r1 r2 r3]", names, err)
	}
	if err := b.DeleteRecord(ctx, "runs", "r2"); err != nil {
		t.Fatalf("DeleteRecord: %v", err)
	}
	if err := b.DeleteRecord(ctx, "runs", "r2"); !errors.Is(err, lineage.ErrNotFound) {
		t.Fatalf("DeleteRecord twice: err = %v, want ErrNotFound", err)
	}
	if names, err := b.ListRecords(ctx, "runs"); err != nil || strings.Join(names, ",") != "r1,r3" {
		t.Fatalf("ListRecords after delete = %v, %v; want [r1 r3]", names, err)
	}
	if got := listObjects(t, b); len(got) != 0 {
		t.Fatalf("records show up as objects: %v", got)
	}
}

// testCreateRecord checks CreateRecord: it creates a record that is not
// there, refuses (ErrExists, nothing written) one that is, and of many
// concurrent creators of one name exactly one wins.
func testCreateRecord(t *testing.T, b lineage.Backend) {
	ctx := context.Background()
	if err := b.CreateRecord(ctx, "audit", "000000000001", []byte("first")); err != nil {
		t.Fatalf("CreateRecord: %v", err)
	}
	if err := b.CreateRecord(ctx, "audit", "000000000001", []byte("second")); !errors.Is(err, lineage.ErrExists) {
		t.Fatalf("CreateRecord of an existing record: err = %v, want ErrExists", err)
	}
	if got, err := b.GetRecord(ctx, "audit", "000000000001"); err != nil || string(got) != "first" {
		t.Fatalf("GetRecord after a refused create = %q, %v; want first", got, err)
	}
	if err := b.CreateRecord(ctx, "audit", "../x", []byte("x")); !errors.Is(err, lineage.ErrInvalidName) {
		t.Fatalf("CreateRecord with a bad name: err = %v, want ErrInvalidName", err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := []int{}
	for g := range 8 {
		wg.Go(func() {
			err := b.CreateRecord(ctx, "audit", "race", []byte(fmt.Sprintf("writer %d", g)))
			switch {
			case err == nil:
				mu.Lock()
				won = append(won, g)
				mu.Unlock()
			case !errors.Is(err, lineage.ErrExists):
				t.Errorf("CreateRecord in a race: %v", err)
			}
		})
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d creators of one record succeeded (%v), want exactly 1", len(won), won)
	}
	if got, err := b.GetRecord(ctx, "audit", "race"); err != nil || string(got) != fmt.Sprintf("writer %d", won[0]) {
		t.Fatalf("GetRecord after the race = %q, %v; want the winner's", got, err)
	}
	if names, err := b.ListRecords(ctx, "audit"); err != nil || strings.Join(names, ",") != "000000000001,race" {
		t.Fatalf("ListRecords = %v, %v", names, err)
	}
}

func testRecordNames(t *testing.T, b lineage.Backend) {
	ctx := context.Background()
	bad := []string{"", ".", "..", "../x", "a/b", `a\b`, "a\x00b", "x..y", ".hidden", strings.Repeat("n", 201)}
	for _, name := range bad {
		if err := b.PutRecord(ctx, "runs", name, []byte("x")); !errors.Is(err, lineage.ErrInvalidName) {
			t.Errorf("PutRecord(runs, %q): err = %v, want ErrInvalidName", name, err)
		}
		if err := b.PutRecord(ctx, name, "ok", []byte("x")); !errors.Is(err, lineage.ErrInvalidName) {
			t.Errorf("PutRecord(%q, ok): err = %v, want ErrInvalidName", name, err)
		}
		if _, err := b.GetRecord(ctx, "runs", name); !errors.Is(err, lineage.ErrInvalidName) {
			t.Errorf("GetRecord(runs, %q): err = %v, want ErrInvalidName", name, err)
		}
		if err := b.DeleteRecord(ctx, "runs", name); !errors.Is(err, lineage.ErrInvalidName) {
			t.Errorf("DeleteRecord(runs, %q): err = %v, want ErrInvalidName", name, err)
		}
	}
	good := []string{"20261126T165100Z-3f9a2c", "a.b", "x_y-z", strings.Repeat("n", 200)}
	for _, name := range good {
		if err := b.PutRecord(ctx, "ns", name, []byte(name)); err != nil {
			t.Errorf("PutRecord(ns, %q): %v", name, err)
		}
		if got, err := b.GetRecord(ctx, "ns", name); err != nil || string(got) != name {
			t.Errorf("GetRecord(ns, %q) = %q, %v", name, got, err)
		}
	}
}

func testRecordsConcurrent(t *testing.T, b lineage.Backend) {
	ctx := context.Background()
	values := map[string]bool{}
	var wg sync.WaitGroup
	for g := range 8 {
		v := fmt.Sprintf(`{"writer":%d,"pad":%q}`, g, strings.Repeat("p", 10_000*g))
		values[v] = true
		wg.Go(func() {
			for range 10 {
				if err := b.PutRecord(ctx, "runs", "same", []byte(v)); err != nil {
					t.Errorf("PutRecord: %v", err)
				}
			}
		})
	}
	// Readers see one whole value or another, never a mix.
	wg.Go(func() {
		for range 50 {
			got, err := b.GetRecord(ctx, "runs", "same")
			if errors.Is(err, lineage.ErrNotFound) {
				continue
			}
			if err != nil || !values[string(got)] {
				t.Errorf("GetRecord during writes = %.40q..., %v: not one whole written value", got, err)
				return
			}
		}
	})
	wg.Wait()
}

func testLocks(t *testing.T, b lineage.Backend) {
	ctx := context.Background()
	done, cancel := context.WithCancel(ctx)
	cancel()
	short := func() context.Context {
		c, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
		t.Cleanup(cancel)
		return c
	}
	s1, err := b.Lock(ctx, "gc", false)
	if err != nil {
		t.Fatalf("shared lock: %v", err)
	}
	s2, err := b.Lock(done, "gc", false)
	if err != nil {
		t.Fatalf("second shared lock: %v", err)
	}
	if _, err := b.Lock(short(), "gc", true); !errors.Is(err, lineage.ErrLocked) {
		t.Fatalf("exclusive lock while shared held: err = %v, want ErrLocked", err)
	}
	other, err := b.Lock(done, "other", true)
	if err != nil {
		t.Fatalf("exclusive lock of another name: %v", err)
	}
	defer other()
	if err := s1(); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	if _, err := b.Lock(done, "gc", true); !errors.Is(err, lineage.ErrLocked) {
		t.Fatalf("exclusive lock while one shared held: err = %v, want ErrLocked", err)
	}
	// A waiting exclusive lock gets the lock once the holder releases it.
	got := make(chan error, 1)
	go func() {
		unlock, err := b.Lock(ctx, "gc", true)
		if err == nil {
			err = unlock()
		}
		got <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := s2(); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("waiting exclusive lock: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiting exclusive lock not granted after release")
	}
	x, err := b.Lock(done, "gc", true)
	if err != nil {
		t.Fatalf("exclusive lock when free: %v", err)
	}
	if _, err := b.Lock(done, "gc", false); !errors.Is(err, lineage.ErrLocked) {
		t.Fatalf("shared lock while exclusive held: err = %v, want ErrLocked", err)
	}
	if err := x(); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	if err := x(); err != nil {
		t.Fatalf("second unlock: %v", err)
	}
	if _, err := b.Lock(ctx, "a/b", true); !errors.Is(err, lineage.ErrInvalidName) {
		t.Fatalf("lock with a bad name: err = %v, want ErrInvalidName", err)
	}
}

func testCleanTemp(t *testing.T, b lineage.Backend) {
	ctx := context.Background()
	d := []byte("kept")
	if err := b.PutObject(ctx, lineage.Hash(d), bytes.NewReader(d)); err != nil {
		t.Fatal(err)
	}
	if err := b.PutRecord(ctx, "runs", "r", d); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CleanTemp(ctx, 0); err != nil {
		t.Fatalf("CleanTemp: %v", err)
	}
	if got, err := get(t, b, lineage.Hash(d)); err != nil || !bytes.Equal(got, d) {
		t.Fatalf("CleanTemp removed an object: %v", err)
	}
	if got, err := b.GetRecord(ctx, "runs", "r"); err != nil || !bytes.Equal(got, d) {
		t.Fatalf("CleanTemp removed a record: %v", err)
	}
}
