package lineage

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline"
)

// StoreVersion is the layout version written to mlrun-store.json. Version 2
// keeps every record in the state tree that the audit chain names; version
// 1 stores (records as mutable files) are upgraded when opened for writing.
const StoreVersion = 2

// VersionFile is the name of the store's version file.
const VersionFile = "mlrun-store.json"

// LockGC is the lock that runs and commits hold shared and GC holds exclusive.
const LockGC = "gc"

// Store is the lineage store: content-addressed objects and the records
// that name them (run records, cache entries, registry models, pins, ...),
// kept in a state tree that each audit commit names, on top of a Backend.
// It is safe for concurrent use by several goroutines and several
// processes.
type Store struct {
	b   Backend
	dir string
	// location names the store in memo keys (its absolute directory).
	location string
	memos    *Memos
	readOnly bool
	// upgrading lets Update commit on a layout 1 chain (the upgrade).
	upgrading bool
	// racyWindow: a file modified less than this before it was hashed is
	// not memoised (see Fingerprint).
	racyWindow time.Duration
	// now is the clock, replaceable in tests.
	now func() time.Time

	nodes    nodeCache
	commitMu sync.Mutex
	whoOnce  sync.Once
	user     string
	host     string
	actor    string
	via      string
	// signer signs the audit head after each commit (nil: none).
	signer HeadSigner
}

type versionFile struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
}

// Option configures Open and New.
type Option func(*Store)

// WithMemos makes the store memoise fingerprints, inferred schemas and
// verified objects in m (nil: none; see Memos).
func WithMemos(m *Memos) Option { return func(s *Store) { s.memos = m } }

// WithActor names the principal recorded in every audit entry the store
// commits (Actor) and where the claim came from (Via): see
// internal/identity. Without it the actor is user@host, via "os".
func WithActor(actor, via string) Option {
	return func(s *Store) { s.actor, s.via = actor, via }
}

// WithHeadSigner makes the store sign the audit head after each commit
// (see HeadSigner and SignedHead).
func WithHeadSigner(h HeadSigner) Option { return func(s *Store) { s.signer = h } }

// ReadOnly opens the store without writing anything to it: no directory or
// version file is created, no lock file made, and every commit fails with
// ErrReadOnly.
func ReadOnly() Option { return func(s *Store) { s.readOnly = true } }

// Open opens the local store in dir, creating it (and its version file)
// when needed. A store written by a newer layout version is refused; one of
// layout version 1 is upgraded (its records imported into the state tree
// by one commit) unless the store is opened read-only. A directory that
// cannot be written is opened read-only when it holds a store.
func Open(dir string, opts ...Option) (*Store, error) {
	s := New(nil, opts...)
	vf := filepath.Join(dir, VersionFile)
	if !s.readOnly {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			if _, serr := os.Stat(vf); serr != nil || !isReadOnlyErr(err) {
				return nil, fmt.Errorf("open store %s: %w", dir, err)
			}
			s.readOnly = true
		}
	}
	b, err := os.ReadFile(vf)
	version := StoreVersion
	switch {
	case errors.Is(err, fs.ErrNotExist) && s.readOnly:
		return nil, fmt.Errorf("open store %s: no mlrun store there (%s missing): %w", dir, VersionFile, ErrNotFound)
	case errors.Is(err, fs.ErrNotExist):
		if err := writeVersionFile(dir, StoreVersion); err != nil {
			if !isReadOnlyErr(err) {
				return nil, fmt.Errorf("open store %s: %w", dir, err)
			}
			return nil, fmt.Errorf("open store %s: no mlrun store there and it cannot be created: %w", dir, err)
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
		version = v.Version
	}
	if !s.readOnly {
		l, err := NewLocal(dir)
		if err != nil {
			if !isReadOnlyErr(err) {
				return nil, fmt.Errorf("open store %s: %w", dir, err)
			}
			s.readOnly = true
		} else {
			s.b = l
		}
	}
	if s.b == nil {
		s.b = &Local{dir: dir, readOnly: true}
	}
	s.dir = dir
	if abs, err := filepath.Abs(dir); err == nil {
		s.location = abs
	} else {
		s.location = dir
	}
	if version < StoreVersion && !s.readOnly {
		if err := s.upgrade(context.Background()); err != nil {
			return nil, fmt.Errorf("open store %s: upgrade from layout version %d: %w", dir, version, err)
		}
		if err := writeVersionFile(dir, StoreVersion); err != nil {
			return nil, fmt.Errorf("open store %s: upgrade: %w", dir, err)
		}
		s.removeLegacy(context.Background())
	}
	return s, nil
}

// OpenBackend opens the store on any Backend (an S3 bucket, say), named
// location in messages and memo keys: like Open, it creates the version
// file of a new store (through the backend's MetaKeeper, when it has one),
// refuses a newer layout and upgrades a layout 1 store. A backend without
// MetaKeeper keeps no version file.
func OpenBackend(ctx context.Context, b Backend, location string, opts ...Option) (*Store, error) {
	s := New(b, opts...)
	s.location, s.dir = location, location
	mk, ok := b.(MetaKeeper)
	if !ok {
		return s, nil
	}
	data, err := mk.GetMeta(ctx, VersionFile)
	version := StoreVersion
	switch {
	case errors.Is(err, ErrNotFound) && s.readOnly:
		return nil, fmt.Errorf("open store %s: no mlrun store there: %w", location, ErrNotFound)
	case errors.Is(err, ErrNotFound):
		v, _ := json.MarshalIndent(versionFile{Format: "mlrun-store", Version: StoreVersion}, "", "  ")
		if err := mk.PutMeta(ctx, VersionFile, append(v, '\n')); err != nil {
			return nil, fmt.Errorf("open store %s: %w", location, err)
		}
	case err != nil:
		return nil, fmt.Errorf("open store %s: %w", location, err)
	default:
		var v versionFile
		if err := json.Unmarshal(data, &v); err != nil || v.Format != "mlrun-store" {
			return nil, fmt.Errorf("open store %s: %s is not an mlrun store version file", location, VersionFile)
		}
		if v.Version > StoreVersion {
			return nil, fmt.Errorf("open store %s: layout version %d is newer than this mlrun supports (%d)", location, v.Version, StoreVersion)
		}
		version = v.Version
	}
	if version < StoreVersion && !s.readOnly {
		if err := s.upgrade(ctx); err != nil {
			return nil, fmt.Errorf("open store %s: upgrade from layout version %d: %w", location, version, err)
		}
		v, _ := json.MarshalIndent(versionFile{Format: "mlrun-store", Version: StoreVersion}, "", "  ")
		if err := mk.PutMeta(ctx, VersionFile, append(v, '\n')); err != nil {
			return nil, fmt.Errorf("open store %s: upgrade: %w", location, err)
		}
		s.removeLegacy(ctx)
	}
	return s, nil
}

// writeVersionFile writes mlrun-store.json atomically.
func writeVersionFile(dir string, version int) error {
	data, _ := json.MarshalIndent(versionFile{Format: "mlrun-store", Version: version}, "", "  ")
	tmp, err := os.CreateTemp(dir, ".mlrun-store-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(append(data, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, VersionFile))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return syncDir(dir)
}

// isReadOnlyErr reports whether err says a file system or file refuses writes.
func isReadOnlyErr(err error) bool {
	return errors.Is(err, syscall.EROFS) || errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
}

// New returns a Store on any Backend.
func New(b Backend, opts ...Option) *Store {
	s := &Store{b: b, racyWindow: 2 * time.Second, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// SetLocation names the store in memo keys (New leaves it empty: no
// verified memo).
func (s *Store) SetLocation(loc string) { s.location = loc }

// Backend returns the store's backend.
func (s *Store) Backend() Backend { return s.b }

// Dir returns the directory of a store opened with Open ("" otherwise).
func (s *Store) Dir() string { return s.dir }

// ReadOnly reports whether the store was opened read-only.
func (s *Store) ReadOnly() bool { return s.readOnly }

// Memos returns the store's memos (nil: none).
func (s *Store) Memos() *Memos { return s.memos }

// whoami returns the user and host recorded in audit entries.
func (s *Store) whoami() (string, string) {
	s.whoOnce.Do(func() { s.user, s.host = Who() })
	return s.user, s.host
}

// Actor returns the principal recorded in audit entries and where the
// claim came from (WithActor; user@host via "os" by default).
func (s *Store) Actor() (actor, via string) {
	if s.actor != "" {
		return s.actor, s.via
	}
	u, h := s.whoami()
	return u + "@" + h, "os"
}

// RunLock takes the "gc" lock shared, waiting while a GC holds it. A run
// holds it for its whole duration so that GC never deletes objects a run is
// about to reference.
func (s *Store) RunLock(ctx context.Context) (unlock func() error, err error) {
	return s.b.Lock(ctx, LockGC, false)
}

// putBytes stores data as an object and returns its id.
func (s *Store) putBytes(ctx context.Context, data []byte) (ID, error) {
	if s.readOnly {
		return ID{}, ErrReadOnly
	}
	id := Hash(data)
	if err := s.b.PutObject(ctx, id, bytes.NewReader(data)); err != nil {
		return ID{}, err
	}
	return id, nil
}

// PutBytes stores data as an object (e.g. a pipeline file's source, whose
// id is then the file's SHA-256) and returns its id.
func (s *Store) PutBytes(ctx context.Context, data []byte) (ID, error) {
	id, err := s.putBytes(ctx, data)
	if err != nil {
		return ID{}, fmt.Errorf("put object: %w", err)
	}
	return id, nil
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
	if s.readOnly {
		return ID{}, 0, fmt.Errorf("put %s object: %w", o.TypeName(), ErrReadOnly)
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

// verifiedKey is the memo key of an object of this store.
func (s *Store) verifiedKey(id ID) string { return s.location + "\x00" + id.String() }

func (s *Store) putVerified(ctx context.Context, id ID, info ObjectInfo) {
	if s.location == "" {
		return
	}
	b, _ := json.Marshal(verifiedMemo{ID: id, Stat: info})
	s.memos.Put(memoVerified, s.verifiedKey(id), b)
}

func (s *Store) forgetVerified(id ID) { s.memos.Delete(memoVerified, s.verifiedKey(id)) }

// VerifyObjectCached checks that an object is present and intact. An
// object already verified with the same stat (size, mtime, inode, ctime)
// is trusted without reading it; otherwise it is re-hashed and, when
// intact, remembered. See the package doc for the trade-off.
func (s *Store) VerifyObjectCached(ctx context.Context, id ID) error {
	info, err := s.b.StatObject(ctx, id)
	if err != nil {
		return err
	}
	if s.location != "" {
		if b, ok := s.memos.Get(memoVerified, s.verifiedKey(id)); ok {
			var m verifiedMemo
			if json.Unmarshal(b, &m) == nil && m.ID == id && m.Stat == info {
				return nil
			}
		}
	}
	if _, err := s.GetObject(ctx, id); err != nil {
		s.forgetVerified(id)
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
	s.forgetVerified(id)
	if s.readOnly {
		return false, nil
	}
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
// is memoised by (absolute path, size, mtime, inode, ctime) in the store's
// memos; rehash ignores the memo. A file modified within two seconds before
// it is hashed is not memoised (it might change again within the same
// timestamp granularity). The returned FileInfo.Path is path as given.
func (s *Store) Fingerprint(ctx context.Context, path string, rehash bool) (pipeline.FileInfo, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return pipeline.FileInfo{}, fmt.Errorf("fingerprint %s: %w", path, err)
	}
	if fi, err := os.Stat(abs); err == nil && !fi.Mode().IsRegular() {
		// Checked before opening: opening a FIFO would block.
		return pipeline.FileInfo{}, fmt.Errorf("fingerprint %s: not a regular file", path)
	}
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
		if b, ok := s.memos.Get(memoFingerprint, abs); ok {
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
		s.memos.Put(memoFingerprint, abs, b)
	}
	return pipeline.FileInfo{Path: path, SHA256: sum, Size: n}, nil
}

// GetMemo returns the data of the compile-time memo entry key (see
// pipeline.SchemaMemo): false when absent, unreadable or not authentic.
// The caller puts everything the data depends on, the stat of the files
// it came from included, in key.
func (s *Store) GetMemo(ctx context.Context, key string) ([]byte, bool) {
	return s.memos.Get(memoSchema, key)
}

// PutMemo stores a compile-time memo entry, replacing any under key. A
// lost memo only costs a recomputation, so errors are ignored.
func (s *Store) PutMemo(ctx context.Context, key string, data []byte) {
	s.memos.Put(memoSchema, key, data)
}
