package lineage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestLocalLock checks the lock semantics every platform's tryLock must
// give (flock on Unix, LockFileEx on Windows): shared locks coexist, an
// exclusive lock excludes every other, two Lock calls of one process
// exclude each other, and a released lock can be taken again.
func TestLocalLock(t *testing.T) {
	l, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	busy := func(exclusive bool) bool {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		release, err := l.Lock(ctx, "x", exclusive)
		if errors.Is(err, ErrLocked) {
			return true
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := release(); err != nil {
			t.Fatal(err)
		}
		return false
	}

	sh1, err := l.Lock(ctx, "x", false)
	if err != nil {
		t.Fatal(err)
	}
	if busy(false) {
		t.Error("a second shared lock waits for the first")
	}
	if !busy(true) {
		t.Error("an exclusive lock was taken while a shared one is held")
	}
	if err := sh1(); err != nil {
		t.Fatal(err)
	}
	if err := sh1(); err != nil {
		t.Errorf("a second release: %v", err)
	}

	ex, err := l.Lock(ctx, "x", true)
	if err != nil {
		t.Fatal(err)
	}
	if !busy(false) || !busy(true) {
		t.Error("a lock was taken while an exclusive one is held")
	}
	// Another name is another lock.
	other, err := l.Lock(ctx, "y", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := other(); err != nil {
		t.Fatal(err)
	}
	if err := ex(); err != nil {
		t.Fatal(err)
	}
	if busy(true) {
		t.Error("an exclusive lock is still held after its release")
	}
}

// TestNewLocalGitIgnore: a store's directory ignores itself in git, and an
// existing .gitignore is kept.
func TestNewLocalGitIgnore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".mlrun")
	if _, err := NewLocal(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, ".gitignore"))
	if err != nil || string(b) != gitIgnore {
		t.Fatalf(".gitignore %q, %v; want %q", b, err, gitIgnore)
	}
	if err := os.WriteFile(filepath.Join(dir, ".gitignore"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewLocal(dir); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, ".gitignore")); string(b) != "mine\n" {
		t.Errorf("an existing .gitignore was replaced: %q", b)
	}
}
