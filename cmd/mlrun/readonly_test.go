package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadOnlyStore runs every read command on a store that cannot be
// written: a copy of a store with a run, a registered and promoted model,
// a scored and a monitored batch, on a tmpfs remounted read-only (as root;
// else the same tree made read-only with chmod, as a user). Each command
// must succeed and the store must be exactly as it was.
func TestReadOnlyStore(t *testing.T) {
	bin := scriptBinary(t)
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cache := t.TempDir()
	run := func(store string, wantCode int, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--store", store}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "MLRUN_STORE=", "MLRUN_CACHE_DIR="+cache)
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != wantCode {
			t.Fatalf("mlrun %s: exit %d, want %d\n%s", strings.Join(args, " "), code, wantCode, out)
		}
		return string(out)
	}
	for _, f := range []string{"applications.csv", "applications_drift.csv"} {
		b, err := os.ReadFile(filepath.Join(repo, "examples", "data", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src, err := os.ReadFile(filepath.Join(repo, "examples", "pipelines", "credit-risk.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	pipe := strings.ReplaceAll(string(src), "../data/", "")
	if err := os.WriteFile(filepath.Join(dir, "p.yaml"), []byte(pipe), 0o644); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work-store")
	run(work, 0, "run", "-q", "p.yaml")
	run(work, 0, "models", "register", "--run", "latest", "--step", "model", "--name", "pd")
	run(work, 0, "models", "promote", "pd", "1", "--alias", "production", "--reason", "test")
	run(work, 0, "predict", "--model", "pd@production", "--data", "applications_drift.csv", "--out", "scores.csv")
	run(work, 1, "monitor", "--model", "pd@production", "--data", "applications_drift.csv")

	// The read-only copy.
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o755); err != nil {
		t.Fatal(err)
	}
	mounted := false
	if os.Geteuid() == 0 {
		if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", ro).Run(); err == nil {
			mounted = true
			t.Cleanup(func() { exec.Command("umount", ro).Run() })
		}
	}
	store := filepath.Join(ro, "store")
	if out, err := exec.Command("cp", "-a", work, store).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	if mounted {
		if out, err := exec.Command("mount", "-o", "remount,ro", ro).CombinedOutput(); err != nil {
			t.Fatalf("remount read-only: %v\n%s", err, out)
		}
	} else {
		if os.Geteuid() == 0 {
			t.Skip("as root without mount(2), a read-only store cannot be made")
		}
		filepath.WalkDir(store, func(p string, d fs.DirEntry, err error) error {
			if err == nil {
				if d.IsDir() {
					os.Chmod(p, 0o555)
				} else {
					os.Chmod(p, 0o444)
				}
			}
			return nil
		})
		t.Cleanup(func() {
			filepath.WalkDir(store, func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					os.Chmod(p, 0o755)
				}
				return nil
			})
		})
	}
	how := "chmod"
	if mounted {
		how = "a tmpfs remounted read-only"
	}
	t.Logf("read-only store: %s", how)
	before := listTree(t, store)
	for _, args := range [][]string{
		{"verify"},
		{"audit", "verify"},
		{"audit", "log", "--type", "run"},
		{"runs", "list"},
		{"runs", "show", "latest"},
		{"runs", "diff", "latest", "latest"},
		{"lineage", "latest", "evaluation"},
		{"models", "list"},
		{"models", "show", "pd@production"},
		{"models", "history", "pd"},
		{"audit", "explain", "--batch", "latest", "--row", "1"},
		{"monitor", "history", "--model", "pd"},
		{"report", "latest", "--out", filepath.Join(dir, "r.html")},
		{"report", "--model", "pd@production", "--format", "md", "--out", filepath.Join(dir, "card.md")},
		{"store", "ls"},
		{"store", "cat", "models/pd"},
		{"alerts"},
		{"plan", "p.yaml"},
		{"why", "model", "p.yaml"},
	} {
		out := run(store, 0, args...)
		if strings.Contains(out, "read-only") || strings.Contains(out, "cannot record") {
			t.Errorf("mlrun %s on a read-only store complained:\n%s", strings.Join(args, " "), out)
		}
	}
	if out := run(store, 0, "verify"); !strings.Contains(out, "store intact") {
		t.Fatalf("verify of the read-only store:\n%s", out)
	}
	// A command that writes fails clearly (exit 3), and nothing changed.
	out := run(store, 3, "run", "--force", "p.yaml")
	if !strings.Contains(out, "read-only") {
		t.Errorf("run on a read-only store: want a message saying so:\n%s", out)
	}
	if after := listTree(t, store); after != before {
		t.Fatalf("the read-only store changed:\n%s", diffLines(before, after))
	}
}

// listTree lists the files under dir with size and mtime.
func listTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&b, "%s %d %d\n", rel, fi.Size(), fi.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func diffLines(a, b string) string {
	in := map[string]bool{}
	for _, l := range strings.Split(a, "\n") {
		in[l] = true
	}
	var out []string
	for _, l := range strings.Split(b, "\n") {
		if !in[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
