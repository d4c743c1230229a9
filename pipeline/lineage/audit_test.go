package lineage_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

func openAuditStore(t *testing.T) (*lineage.Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	st, err := lineage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st, dir
}

func appendN(t *testing.T, st *lineage.Store, n int) string {
	t.Helper()
	var head string
	for i := 0; i < n; i++ {
		h, err := st.AppendAudit(context.Background(), lineage.AuditEntry{Type: lineage.AuditRunStarted, Run: "r" + string(rune('a'+i))})
		if err != nil {
			t.Fatal(err)
		}
		head = h
	}
	return head
}

func TestAuditChainIntact(t *testing.T) {
	st, _ := openAuditStore(t)
	ctx := context.Background()
	rep, err := st.VerifyAudit(ctx)
	if err != nil || !rep.OK() || rep.Entries != 0 || rep.Head != lineage.ZeroHash {
		t.Fatalf("empty log: %+v, %v", rep, err)
	}
	head := appendN(t, st, 5)
	rep, err = st.VerifyAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Entries != 5 || rep.Head != head {
		t.Fatalf("report %+v, head %s", rep, head)
	}
	entries, hashes, err := st.AuditLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 5 || entries[0].Prev != lineage.ZeroHash || entries[4].Prev != hashes[3] || entries[4].Seq != 5 {
		t.Fatalf("entries %+v", entries)
	}
	if entries[0].User == "" || entries[0].Time.IsZero() {
		t.Fatalf("user and time not filled: %+v", entries[0])
	}
}

// Each kind of tampering must be reported.
func TestAuditTampering(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(t *testing.T, dir string)
		want   string
	}{
		{"edit an entry", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "records", "audit", "000000000002.json")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b = []byte(strings.Replace(string(b), `"run":"rb"`, `"run":"rz"`, 1))
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "entry 2 (commit 2): content does not match its hash"},
		{"remove a middle entry", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "records", "audit", "000000000003.json")); err != nil {
				t.Fatal(err)
			}
		}, "expected entry 3 here"},
		{"remove the last entry", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "records", "audit", "000000000004.json")); err != nil {
				t.Fatal(err)
			}
		}, "head record names commit 4 but the log ends at 3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, dir := openAuditStore(t)
			appendN(t, st, 4)
			c.tamper(t, dir)
			rep, err := st.VerifyAudit(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() {
				t.Fatal("tampering not detected")
			}
			if !strings.Contains(strings.Join(rep.Problems, "\n"), c.want) {
				t.Fatalf("problems %q, want one containing %q", rep.Problems, c.want)
			}
		})
	}
}

// An append interrupted after writing its entry but before moving the head
// is picked up by the next append and is not reported as tampering.
func TestAuditInterruptedAppend(t *testing.T) {
	st, dir := openAuditStore(t)
	appendN(t, st, 2)
	headFile := filepath.Join(dir, "records", "audithead", "head.json")
	old, err := os.ReadFile(headFile)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, st, 1)
	if err := os.WriteFile(headFile, old, 0o644); err != nil { // head lags by one
		t.Fatal(err)
	}
	if rep, _ := st.VerifyAudit(context.Background()); !rep.OK() {
		t.Fatalf("lagging head reported: %v", rep.Problems)
	}
	appendN(t, st, 1)
	rep, err := st.VerifyAudit(context.Background())
	if err != nil || !rep.OK() || rep.Entries != 4 {
		t.Fatalf("after recovery: %+v %v", rep, err)
	}
}

func TestAuditConcurrentAppends(t *testing.T) {
	st, dir := openAuditStore(t)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Separate Store values act like separate processes.
			s2, err := lineage.Open(dir)
			if err != nil {
				t.Error(err)
				return
			}
			for i := 0; i < 5; i++ {
				if _, err := s2.AppendAudit(context.Background(), lineage.AuditEntry{Type: lineage.AuditGC}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	rep, err := st.VerifyAudit(context.Background())
	if err != nil || !rep.OK() || rep.Entries != 20 {
		t.Fatalf("%+v %v", rep, err)
	}
}
