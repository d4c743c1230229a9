package lineage

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

// Local is a Backend in a local directory:
//
//	objects/ab/abcdef...   immutable objects, named by the hex of their ID (mode 0444)
//	records/<ns>/<name>.json  mutable records, atomically replaced
//	locks/<name>.lock      flock(2) lock files (LockFileEx on Windows)
//	tmp/                   temporary files of writes in progress
//	.gitignore             "*": git ignores the store in a work tree
//
// Every write goes to a temporary file in tmp/ (same file system), is
// fsynced, renamed into place, and the directory is fsynced, so a crash
// leaves at most stray files in tmp/.
type Local struct {
	dir string
	// readOnly: nothing is written; locks are taken on files that exist
	// (read-only descriptors), others are skipped.
	readOnly bool
	// made caches the object fan-out directories known to exist.
	made sync.Map
}

// NewLocal returns the local backend rooted at dir, creating its layout,
// and a .gitignore there that ignores everything (when dir has none), so
// that a store created in a git work tree never shows as untracked, nor
// is committed, without the user's .gitignore being touched.
func NewLocal(dir string) (*Local, error) {
	for _, sub := range []string{"objects", "records", "locks", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("create store: %w", err)
		}
	}
	ignoreStore(dir)
	return &Local{dir: dir}, nil
}

// gitIgnoreFile is the file NewLocal writes in a store directory, and
// gitIgnore its content.
const (
	gitIgnoreFile = ".gitignore"
	gitIgnore     = "# Written by mlrun: the lineage store is not source code.\n*\n"
)

// ignoreStore creates dir/.gitignore unless it exists (a user may have
// edited it). It is a convenience: failing to write it is not an error.
func ignoreStore(dir string) {
	p := filepath.Join(dir, gitIgnoreFile)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return
	}
	_, err = f.WriteString(gitIgnore)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p)
	}
}

// Dir returns the backend's root directory.
func (l *Local) Dir() string { return l.dir }

func (l *Local) objectPath(id ID) string {
	h := id.String()
	return filepath.Join(l.dir, "objects", h[:2], h)
}

func (l *Local) recordDir(ns string) string { return filepath.Join(l.dir, "records", ns) }

func (l *Local) recordPath(ns, name string) (string, error) {
	if err := ValidateName(ns); err != nil {
		return "", fmt.Errorf("namespace: %w", err)
	}
	if err := ValidateName(name); err != nil {
		return "", err
	}
	return filepath.Join(l.recordDir(ns), name+".json"), nil
}

// tempFile creates a temporary file in tmp/.
func (l *Local) tempFile() (*os.File, error) {
	f, err := os.CreateTemp(filepath.Join(l.dir, "tmp"), "put-*")
	if err != nil {
		return nil, fmt.Errorf("create temp file: %w", err)
	}
	return f, nil
}

// syncDir fsyncs a directory so that a rename into it is durable. Windows
// cannot flush a directory (NTFS journals the rename itself).
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// ensureDir creates dir (one level below an existing parent) and fsyncs the
// parent when it had to create it.
func (l *Local) ensureDir(dir string) error {
	if _, ok := l.made.Load(dir); ok {
		return nil
	}
	err := os.Mkdir(dir, 0o755)
	switch {
	case err == nil:
		if err := syncDir(filepath.Dir(dir)); err != nil {
			return err
		}
	case errors.Is(err, fs.ErrExist):
	default:
		return fmt.Errorf("create %s: %w", dir, err)
	}
	l.made.Store(dir, true)
	return nil
}

// commit fsyncs and closes the temporary file f and renames it to dst,
// fsyncing dst's directory. f is removed on failure.
func (l *Local) commit(f *os.File, dst string, mode os.FileMode) error {
	err := f.Sync()
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = l.ensureDir(filepath.Dir(dst))
	}
	if err == nil {
		err = os.Rename(f.Name(), dst)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return syncDir(filepath.Dir(dst))
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// PutObject implements Backend.
func (l *Local) PutObject(ctx context.Context, id ID, r io.Reader) error {
	if l.readOnly {
		return fmt.Errorf("put object %s: %w", id.Short(), ErrReadOnly)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dst := l.objectPath(id)
	if exists(dst) {
		return nil
	}
	f, err := l.tempFile()
	if err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), r); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("put object %s: %w", id.Short(), err)
	}
	if got := ID(h.Sum(nil)); got != id {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("put object %s: %w (got %s)", id.Short(), ErrInvalidData, got.Short())
	}
	return l.commit(f, dst, 0o444)
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// PutObjectStream implements StreamPutter: the encoding is written to a
// temporary file while it is hashed, then renamed to its ID.
func (l *Local) PutObjectStream(ctx context.Context, write func(w io.Writer) error) (ID, int64, bool, error) {
	if l.readOnly {
		return ID{}, 0, false, fmt.Errorf("put object: %w", ErrReadOnly)
	}
	if err := ctx.Err(); err != nil {
		return ID{}, 0, false, err
	}
	f, err := l.tempFile()
	if err != nil {
		return ID{}, 0, false, err
	}
	h := sha256.New()
	var cw countWriter
	bw := bufio.NewWriterSize(io.MultiWriter(f, h, &cw), 1<<16)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return ID{}, 0, false, fmt.Errorf("put object: %w", err)
	}
	id := ID(h.Sum(nil))
	dst := l.objectPath(id)
	if exists(dst) {
		f.Close()
		os.Remove(f.Name())
		return id, cw.n, false, nil
	}
	if err := l.commit(f, dst, 0o444); err != nil {
		return ID{}, 0, false, err
	}
	return id, cw.n, true, nil
}

// GetObject implements Backend.
func (l *Local) GetObject(ctx context.Context, id ID) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(l.objectPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("object %s: %w", id.Short(), ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", id.Short(), err)
	}
	return f, nil
}

// StatObject implements Backend.
func (l *Local) StatObject(ctx context.Context, id ID) (ObjectInfo, error) {
	fi, err := os.Stat(l.objectPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return ObjectInfo{}, fmt.Errorf("object %s: %w", id.Short(), ErrNotFound)
	}
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("object %s: %w", id.Short(), err)
	}
	return statInfo(fi), nil
}

// ListObjects implements Backend. Files whose names are not IDs are ignored.
func (l *Local) ListObjects(ctx context.Context, fn func(id ID, size int64) error) error {
	root := filepath.Join(l.dir, "objects")
	fans, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("list objects: %w", err)
	}
	for _, fan := range fans {
		if !fan.IsDir() || len(fan.Name()) != 2 {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(root, fan.Name()))
		if err != nil {
			return fmt.Errorf("list objects: %w", err)
		}
		for _, e := range ents {
			id, err := ParseID(e.Name())
			if err != nil || !strings.HasPrefix(e.Name(), fan.Name()) || !e.Type().IsRegular() {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted meanwhile
			}
			if err != nil {
				return fmt.Errorf("list objects: %w", err)
			}
			if err := fn(id, fi.Size()); err != nil {
				return err
			}
		}
	}
	return nil
}

// DeleteObject implements Backend.
func (l *Local) DeleteObject(ctx context.Context, id ID) error {
	if l.readOnly {
		return fmt.Errorf("delete object %s: %w", id.Short(), ErrReadOnly)
	}
	p := l.objectPath(id)
	err := os.Remove(p)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("object %s: %w", id.Short(), ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("delete object %s: %w", id.Short(), err)
	}
	return syncDir(filepath.Dir(p))
}

// PutRecord implements Backend.
func (l *Local) PutRecord(ctx context.Context, ns, name string, data []byte) error {
	dst, err := l.recordPath(ns, name)
	if err != nil {
		return err
	}
	if l.readOnly {
		return fmt.Errorf("write record %s/%s: %w", ns, name, ErrReadOnly)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := l.tempFile()
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("write record %s/%s: %w", ns, name, err)
	}
	return l.commit(f, dst, 0o644)
}

// CreateRecord implements Backend: the record is written to a temporary
// file, fsynced, and hard-linked to its name, which fails when the name
// exists; then the directory is fsynced.
func (l *Local) CreateRecord(ctx context.Context, ns, name string, data []byte) error {
	dst, err := l.recordPath(ns, name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if l.readOnly {
		return fmt.Errorf("write record %s/%s: %w", ns, name, ErrReadOnly)
	}
	f, err := l.tempFile()
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = l.ensureDir(filepath.Dir(dst))
	}
	if err != nil {
		return fmt.Errorf("write record %s/%s: %w", ns, name, err)
	}
	if err := os.Link(f.Name(), dst); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("record %s/%s: %w", ns, name, ErrExists)
		}
		return fmt.Errorf("write record %s/%s: %w", ns, name, err)
	}
	return syncDir(filepath.Dir(dst))
}

// PutHint implements HintPutter: the record is replaced by rename, without
// fsync.
func (l *Local) PutHint(ctx context.Context, ns, name string, data []byte) error {
	dst, err := l.recordPath(ns, name)
	if err != nil {
		return err
	}
	if l.readOnly {
		return ErrReadOnly
	}
	f, err := l.tempFile()
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = l.ensureDir(filepath.Dir(dst))
	}
	if err == nil {
		err = os.Rename(f.Name(), dst)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write record %s/%s: %w", ns, name, err)
	}
	return nil
}

// GetRecord implements Backend.
func (l *Local) GetRecord(ctx context.Context, ns, name string) ([]byte, error) {
	p, err := l.recordPath(ns, name)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("record %s/%s: %w", ns, name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read record %s/%s: %w", ns, name, err)
	}
	return b, nil
}

// ListRecords implements Backend.
func (l *Local) ListRecords(ctx context.Context, ns string) ([]string, error) {
	if err := ValidateName(ns); err != nil {
		return nil, fmt.Errorf("namespace: %w", err)
	}
	ents, err := os.ReadDir(l.recordDir(ns))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list records %s: %w", ns, err)
	}
	var names []string
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if ok && e.Type().IsRegular() && ValidateName(name) == nil {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// DeleteRecord implements Backend.
func (l *Local) DeleteRecord(ctx context.Context, ns, name string) error {
	p, err := l.recordPath(ns, name)
	if err != nil {
		return err
	}
	if l.readOnly {
		return fmt.Errorf("delete record %s/%s: %w", ns, name, ErrReadOnly)
	}
	err = os.Remove(p)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("record %s/%s: %w", ns, name, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("delete record %s/%s: %w", ns, name, err)
	}
	return syncDir(filepath.Dir(p))
}

// Lock implements Backend with flock(2) on locks/<name>.lock (LockFileEx
// on Windows: lock_windows.go). Locks are held per open file, so two Lock
// calls in one process exclude each other like two processes do; the
// kernel drops them when the process dies.
func (l *Local) Lock(ctx context.Context, name string, exclusive bool) (func() error, error) {
	if err := ValidateName(name); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	p := filepath.Join(l.dir, "locks", name+".lock")
	var f *os.File
	var err error
	if !l.readOnly {
		f, err = os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	}
	if l.readOnly || (err != nil && isReadOnlyErr(err)) {
		// A read-only store: flock works on a read-only descriptor, and
		// where there is no lock file no writer has ever taken the lock.
		f, err = os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			return func() error { return nil }, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	wait := 5 * time.Millisecond
	for {
		ok, err := tryLock(f, exclusive)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", name, err)
		}
		if ok {
			break
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", name, ErrLocked)
		case <-time.After(wait):
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
	var once sync.Once
	return func() error {
		var err error
		once.Do(func() {
			err = unlock(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		})
		return err
	}, nil
}

// RemoveLock implements LockRemover.
func (l *Local) RemoveLock(name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	if l.readOnly {
		return nil
	}
	err := os.Remove(filepath.Join(l.dir, "locks", name+".lock"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// CleanTemp implements Backend.
func (l *Local) CleanTemp(ctx context.Context, age time.Duration) (int, error) {
	if l.readOnly {
		return 0, nil
	}
	dir := filepath.Join(l.dir, "tmp")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("clean tmp: %w", err)
	}
	n := 0
	cutoff := time.Now().Add(-age)
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(cutoff) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return n, fmt.Errorf("clean tmp: %w", err)
		}
		n++
	}
	return n, nil
}

// ObjectInfoOf returns the size, mtime, inode and ctime of a file, as the
// local backend's StatObject reports them.
func ObjectInfoOf(fi fs.FileInfo) ObjectInfo { return statInfo(fi) }
