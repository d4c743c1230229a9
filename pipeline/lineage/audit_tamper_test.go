package lineage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

func auditFile(dir string, seq int) string {
	return filepath.Join(dir, "records", "audit", fmt.Sprintf("%012d.json", seq))
}

// rewriteTail replaces entries from seq on with a consistent chain of n new
// entries, as someone with write access to the store could.
func rewriteTail(t *testing.T, dir string, from, n int) {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "records", "audit", "*.json"))
	for _, p := range names {
		var seq int
		fmt.Sscanf(filepath.Base(p), "%d", &seq)
		if seq >= from {
			os.Remove(p)
		}
	}
	head := lineage.ZeroHash
	if from > 1 {
		b, err := os.ReadFile(auditFile(dir, from-1))
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			Entries []lineage.AuditRecord `json:"entries"`
		}
		if err := json.Unmarshal(b, &rec); err != nil || len(rec.Entries) == 0 {
			t.Fatal(err)
		}
		head = rec.Entries[len(rec.Entries)-1].Hash
	}
	hb, _ := json.Marshal(map[string]any{"commit": from - 1, "seq": from - 1, "hash": head})
	if err := os.WriteFile(filepath.Join(dir, "records", "audithead", "head.json"), hb, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := lineage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if _, err := st.AppendAudit(context.Background(), lineage.AuditEntry{Type: lineage.AuditGC, Detail: map[string]string{"forged": "yes"}}); err != nil {
			t.Fatal(err)
		}
	}
}

// Every tamper case of issue 5 is caught: by VerifyAudit alone where the
// chain itself shows it, and by AuditContains against a head recorded
// before the tampering where the forger rewrote the chain consistently.
func TestAuditTamperCases(t *testing.T) {
	cases := []struct {
		name     string
		tamper   func(t *testing.T, dir string)
		want     string // in VerifyAudit's problems; "" = chain looks intact
		headLost bool   // the recorded head is no longer in the log
	}{
		{"flip a byte", func(t *testing.T, dir string) {
			p := auditFile(dir, 2)
			b, _ := os.ReadFile(p)
			i := bytes.Index(b, []byte(`"run":"`)) + len(`"run":"`)
			b[i] ^= 0x01
			os.WriteFile(p, b, 0o644)
		}, "entry 2 (commit 2): content does not match its hash", false},
		{"delete an entry", func(t *testing.T, dir string) {
			os.Remove(auditFile(dir, 2))
		}, "expected entry 2 here", false},
		{"swap two entries", func(t *testing.T, dir string) {
			a, _ := os.ReadFile(auditFile(dir, 2))
			b, _ := os.ReadFile(auditFile(dir, 3))
			os.WriteFile(auditFile(dir, 2), b, 0o644)
			os.WriteFile(auditFile(dir, 3), a, 0o644)
		}, "commit 000000000002 holds commit 3", false},
		{"truncate without fixing the head", func(t *testing.T, dir string) {
			os.Remove(auditFile(dir, 4))
		}, "head record names commit 4 but the log ends at 3", true},
		{"torn last entry", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(auditFile(dir, 4))
			os.WriteFile(auditFile(dir, 4), b[:len(b)/2], 0o644)
		}, "commit 000000000004: unreadable", true},
		{"truncate and fix the head", func(t *testing.T, dir string) {
			rewriteTail(t, dir, 4, 0)
		}, "", true},
		{"replace the whole tail", func(t *testing.T, dir string) {
			rewriteTail(t, dir, 2, 3)
		}, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, dir := openAuditStore(t)
			head := appendN(t, st, 4)
			c.tamper(t, dir)
			rep, err := st.VerifyAudit(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(rep.Problems, "\n")
			switch {
			case c.want == "" && !rep.OK():
				t.Fatalf("consistent forgery reported as broken chain: %s", got)
			case c.want != "" && !strings.Contains(got, c.want):
				t.Fatalf("problems %q, want one containing %q", got, c.want)
			}
			ok, err := st.AuditContains(context.Background(), head)
			if err != nil && !c.headLost {
				t.Fatal(err)
			}
			if c.headLost && ok {
				t.Fatalf("recorded head %s still found after %s", head[:12], c.name)
			}
		})
	}
}

// TestHelperAuditAppender appends entries when run as a helper process.
func TestHelperAuditAppender(t *testing.T) {
	dir := os.Getenv("AUDIT_HELPER_STORE")
	if dir == "" {
		t.Skip("helper process only")
	}
	st, err := lineage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if _, err := st.AppendAudit(context.Background(), lineage.AuditEntry{Type: lineage.AuditGC,
			Detail: map[string]string{"writer": os.Getenv("AUDIT_HELPER_ID"), "i": fmt.Sprint(i)}}); err != nil {
			t.Fatal(err)
		}
	}
}

// Eight processes appending at once leave one valid chain holding every
// entry.
func TestAuditConcurrentProcesses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	if _, err := lineage.Open(dir); err != nil {
		t.Fatal(err)
	}
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for i := range 8 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAuditAppender$", "-test.count=1")
		cmd.Env = append(os.Environ(), "AUDIT_HELPER_STORE="+dir, fmt.Sprintf("AUDIT_HELPER_ID=%d", i))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, &out)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("appender %d: %v\n%s", i, err, outs[i])
		}
	}
	st, _ := lineage.Open(dir)
	rep, err := st.VerifyAudit(context.Background())
	if err != nil || !rep.OK() || rep.Entries != 80 {
		t.Fatalf("after 8 concurrent appenders: %+v, %v", rep, err)
	}
	entries, _, err := st.AuditLog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.Detail["writer"]+"/"+e.Detail["i"]] = true
	}
	if len(seen) != 80 {
		t.Fatalf("%d distinct entries, want 80", len(seen))
	}
}
