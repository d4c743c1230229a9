package lineage

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline"
)

// StoreVersion is the layout version written to mlrun-store.json.
const StoreVersion = 1

// VersionFile is the name of the store's version file.
const VersionFile = "mlrun-store.json"

// Record namespaces used by the Store.
const (
	nsRuns         = "runs"
	nsCache        = "cache"
	nsLastKey      = "lastkey"
	nsVerified     = "verified"
	nsFingerprints = "fingerprints"
	nsMemos        = "memos"
)

// LockGC is the lock that runs hold shared and GC holds exclusive.
const LockGC = "gc"

// Store is the lineage store: content-addressed objects, run records, cache
// entries and memos, on top of a Backend. It is safe for concurrent use by
// several goroutines and several processes.
type Store struct {
	b   Backend
	dir string
	// racyWindow: a file modified less than this before it was hashed is
	// not memoised (see Fingerprint).
	racyWindow time.Duration
	// now is the clock, replaceable in tests.
	now func() time.Time
}

type versionFile struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
}

// Open opens the local store in dir, creating it (and its version file)
// when needed. A store written by a newer layout version is refused.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	vf := filepath.Join(dir, VersionFile)
	b, err := os.ReadFile(vf)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		data, _ := json.MarshalIndent(versionFile{Format: "mlrun-store", Version: StoreVersion}, "", "  ")
		tmp, err := os.CreateTemp(dir, ".mlrun-store-*")
		if err != nil {
			return nil, fmt.Errorf("open store %s: %w", dir, err)
		}
		_, err = tmp.Write(append(data, '\n'))
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), vf)
		}
		if err != nil {
			os.Remove(tmp.Name())
			return nil, fmt.Errorf("open store %s: %w", dir, err)
		}
		if err := syncDir(dir); err != nil {
			return nil, fmt.Errorf("open store %s: %w", dir, err)
		}
	case err != nil:
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	default:
		var v versionFile
		if err := json.Unmarshal(b, &v); err != nil || v.Format != "mlrun-store" {
			return nil, fmt.Errorf("open store %s: %s is not an mlrun store version file", dir, VersionFile)
		}
		if v.Version > StoreVersion {
			return nil, fmt.Errorf("open store %s: layout version %d is newer than this mlrun supports (%d)", dir, v.Version, StoreVersion)
		}
	}
	l, err := NewLocal(dir)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	s := New(l)
	s.dir = dir
	return s, nil
}

// New returns a Store on any Backend.
func New(b Backend) *Store {
	return &Store{b: b, racyWindow: 2 * time.Second, now: time.Now}
}

// Backend returns the store's backend.
func (s *Store) Backend() Backend { return s.b }

// Dir returns the directory of a store opened with Open ("" otherwise).
func (s *Store) Dir() string { return s.dir }

// RunLock takes the "gc" lock shared, waiting while a GC holds it. A run
// holds it for its whole duration so that GC never deletes objects a run is
// about to reference.
func (s *Store) RunLock(ctx context.Context) (unlock func() error, err error) {
	return s.b.Lock(ctx, LockGC, false)
}

// PutObject stores o's canonical encoding under its SHA-256 and returns
// the ID and size. The encoding is streamed through the hash into a
// temporary file and renamed to its ID; storing an existing object is a
// no-op. typeName, when not empty, must equal o.TypeName().
func (s *Store) PutObject(ctx context.Context, typeName string, o pipeline.Object) (ID, int64, error) {
	if o == nil {
		return ID{}, 0, errors.New("put object: nil object")
	}
	if typeName != "" && o.TypeName() != typeName {
		return ID{}, 0, fmt.Errorf("put object: type %q, want %q", o.TypeName(), typeName)
	}
	if sp, ok := s.b.(StreamPutter); ok {
		id, size, created, err := sp.PutObjectStream(ctx, o.Encode)
		if err != nil {
			return ID{}, 0, fmt.Errorf("put %s object: %w", o.TypeName(), err)
		}
		if created {
			// We hashed these very bytes: remember the file as verified.
			if info, err := s.b.StatObject(ctx, id); err == nil {
				s.putVerified(ctx, id, info)
			}
		}
		return id, size, nil
	}
	f, err := os.CreateTemp("", "mlrun-object-*")
	if err != nil {
		return ID{}, 0, fmt.Errorf("put %s object: %w", o.TypeName(), err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	h := sha256.New()
	var cw countWriter
	bw := bufio.NewWriterSize(io.MultiWriter(f, h, &cw), 1<<16)
	if err := o.Encode(bw); err != nil {
		return ID{}, 0, fmt.Errorf("put %s object: %w", o.TypeName(), err)
	}
	if err := bw.Flush(); err != nil {
		return ID{}, 0, fmt.Errorf("put %s object: %w", o.TypeName(), err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return ID{}, 0, fmt.Errorf("put %s object: %w", o.TypeName(), err)
	}
	id := ID(h.Sum(nil))
	if err := s.b.PutObject(ctx, id, f); err != nil {
		return ID{}, 0, fmt.Errorf("put %s object: %w", o.TypeName(), err)
	}
	return id, cw.n, nil
}

// GetObject reads an object and re-hashes it: bytes that do not hash to id
// give an error wrapping ErrInvalidData; a missing object wraps ErrNotFound.
func (s *Store) GetObject(ctx context.Context, id ID) ([]byte, error) {
	rc, err := s.b.GetObject(ctx, id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read object %s: %w", id.Short(), err)
	}
	if got := Hash(data); got != id {
		return nil, fmt.Errorf("object %s: %w (its content hashes to %s)", id.Short(), ErrInvalidData, got.Short())
	}
	return data, nil
}

type verifiedMemo struct {
	ID   ID         `json:"id"`
	Stat ObjectInfo `json:"stat"`
}

func (s *Store) putVerified(ctx context.Context, id ID, info ObjectInfo) {
	b, _ := json.Marshal(verifiedMemo{ID: id, Stat: info})
	// A lost memo only costs a re-hash later: ignore write errors.
	_ = s.b.PutRecord(ctx, nsVerified, id.String(), b)
}

// VerifyObjectCached checks that an object is present and intact. An
// object already verified with the same stat (size, mtime, inode, ctime)
// is trusted without reading it; otherwise it is re-hashed and, when
// intact, remembered. See the package doc for the trade-off.
func (s *Store) VerifyObjectCached(ctx context.Context, id ID) error {
	info, err := s.b.StatObject(ctx, id)
	if err != nil {
		return err
	}
	if b, err := s.b.GetRecord(ctx, nsVerified, id.String()); err == nil {
		var m verifiedMemo
		if json.Unmarshal(b, &m) == nil && m.ID == id && m.Stat == info {
			return nil
		}
	}
	if _, err := s.GetObject(ctx, id); err != nil {
		_ = s.b.DeleteRecord(ctx, nsVerified, id.String())
		return err
	}
	after, err := s.b.StatObject(ctx, id)
	if err == nil && after == info {
		s.putVerified(ctx, id, info)
	}
	return nil
}

// DeleteCorrupt removes object id if, re-hashed, it is corrupt, so that a
// recomputation can store it again (PutObject of a present ID is a no-op).
// It reports whether it removed the object.
func (s *Store) DeleteCorrupt(ctx context.Context, id ID) (bool, error) {
	_, err := s.GetObject(ctx, id)
	if !errors.Is(err, ErrInvalidData) {
		return false, nil
	}
	_ = s.b.DeleteRecord(ctx, nsVerified, id.String())
	if err := s.b.DeleteObject(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
		return false, fmt.Errorf("delete corrupt object %s: %w", id.Short(), err)
	}
	return true, nil
}

type fingerprintMemo struct {
	Path   string     `json:"path"`
	Stat   ObjectInfo `json:"stat"`
	SHA256 string     `json:"sha256"`
}

// Fingerprint returns the SHA-256 and size of the file at path. The result
// is memoised by (absolute path, size, mtime, inode, ctime) in the store;
// rehash ignores the memo. A file modified within two seconds before it is
// hashed is not memoised (it might change again within the same timestamp
// granularity). The returned FileInfo.Path is path as given.
func (s *Store) Fingerprint(ctx context.Context, path string, rehash bool) (pipeline.FileInfo, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return pipeline.FileInfo{}, fmt.Errorf("fingerprint %s: %w", path, err)
	}
	name := Hash([]byte(abs)).String()
	f, err := os.Open(abs)
	if err != nil {
		return pipeline.FileInfo{}, fmt.Errorf("fingerprint: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return pipeline.FileInfo{}, fmt.Errorf("fingerprint: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return pipeline.FileInfo{}, fmt.Errorf("fingerprint %s: not a regular file", path)
	}
	before := statInfo(fi)
	if !rehash {
		if b, err := s.b.GetRecord(ctx, nsFingerprints, name); err == nil {
			var m fingerprintMemo
			if json.Unmarshal(b, &m) == nil && m.Path == abs && m.Stat == before && len(m.SHA256) == 64 {
				return pipeline.FileInfo{Path: path, SHA256: m.SHA256, Size: before.Size}, nil
			}
		}
	}
	start := s.now()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return pipeline.FileInfo{}, fmt.Errorf("fingerprint %s: %w", path, err)
	}
	sum := fmt.Sprintf("%x", h.Sum(nil))
	if fi2, err := f.Stat(); err == nil && statInfo(fi2) == before && n == before.Size &&
		before.ModTime < start.Add(-s.racyWindow).UnixNano() {
		b, _ := json.Marshal(fingerprintMemo{Path: abs, Stat: before, SHA256: sum})
		_ = s.b.PutRecord(ctx, nsFingerprints, name, b)
	}
	return pipeline.FileInfo{Path: path, SHA256: sum, Size: n}, nil
}

type memoRecord struct {
	Key  string `json:"key"`
	Data []byte `json:"data"`
}

// GetMemo returns the data of the compile-time memo entry key (see
// pipeline.SchemaMemo): false when absent or unreadable. The caller puts
// everything the data depends on, the stat of the files it came from
// included, in key.
func (s *Store) GetMemo(ctx context.Context, key string) ([]byte, bool) {
	b, err := s.b.GetRecord(ctx, nsMemos, Hash([]byte(key)).String())
	if err != nil {
		return nil, false
	}
	var m memoRecord
	if json.Unmarshal(b, &m) != nil || m.Key != key {
		return nil, false
	}
	return m.Data, true
}

// PutMemo stores a compile-time memo entry, replacing any under key. A
// lost memo only costs a recomputation, so errors are ignored.
func (s *Store) PutMemo(ctx context.Context, key string, data []byte) {
	b, err := json.Marshal(memoRecord{Key: key, Data: data})
	if err == nil {
		_ = s.b.PutRecord(ctx, nsMemos, Hash([]byte(key)).String(), b)
	}
}
