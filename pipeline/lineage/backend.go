package lineage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Sentinel errors of the package. Test with errors.Is.
var (
	// ErrNotFound reports a missing object or record.
	ErrNotFound = errors.New("not found")
	// ErrInvalidData reports an object whose bytes do not hash to its ID.
	ErrInvalidData = errors.New("invalid data: content does not match its id")
	// ErrLocked reports a lock that could not be taken before the context ended.
	ErrLocked = errors.New("locked")
	// ErrInvalidName reports a record namespace or name that is not allowed.
	ErrInvalidName = errors.New("invalid record name")
	// ErrExists reports a record that CreateRecord found already there.
	ErrExists = errors.New("already exists")
	// ErrMissing reports an object that the store's state names (a
	// record's, a state tree node) but the store does not hold: damage,
	// unlike ErrNotFound (a record that was never written).
	ErrMissing = errors.New("the store is damaged: an object it names is missing (see mlrun verify)")
)

// ObjectInfo is what StatObject reports about a stored object. Backends fill
// what they can; ModTime, Inode and CTime are compared for equality only (the
// verify memo), so a backend without them leaves them zero.
type ObjectInfo struct {
	// Size is the object's length in bytes.
	Size int64 `json:"size"`
	// ModTime is the modification time in Unix nanoseconds.
	ModTime int64 `json:"mtime_ns"`
	// Inode is the file's inode number (0 if the backend has none).
	Inode uint64 `json:"inode,omitempty"`
	// CTime is the inode change time in Unix nanoseconds (0 if none).
	CTime int64 `json:"ctime_ns,omitempty"`
}

// Backend is the storage under a Store: immutable objects named by ID,
// small records in namespaces (the audit chain's commits, the head hint),
// and named locks. Every backend must pass lineagetest.TestBackend.
//
// Writes are atomic: a reader sees either the old or the new content of a
// record and either nothing or the whole of an object, whatever happens to
// the writing process.
type Backend interface {
	// PutObject stores the bytes of r under id. It is a no-op when the
	// object is already present. The bytes must hash to id; otherwise
	// nothing is stored and the error wraps ErrInvalidData.
	PutObject(ctx context.Context, id ID, r io.Reader) error
	// GetObject opens a stored object. A missing object is ErrNotFound.
	// Callers must re-hash what they read (Store.GetObject does).
	GetObject(ctx context.Context, id ID) (io.ReadCloser, error)
	// StatObject describes a stored object, or returns ErrNotFound.
	StatObject(ctx context.Context, id ID) (ObjectInfo, error)
	// ListObjects calls fn for every stored object, in ID order; an error
	// from fn stops the walk and is returned.
	ListObjects(ctx context.Context, fn func(id ID, size int64) error) error
	// DeleteObject removes an object, or returns ErrNotFound.
	DeleteObject(ctx context.Context, id ID) error

	// PutRecord atomically creates or replaces the record ns/name.
	PutRecord(ctx context.Context, ns, name string, data []byte) error
	// CreateRecord atomically creates the record ns/name when there is
	// none; when there is, nothing is written and the error wraps
	// ErrExists. Of several writers creating the same record at once,
	// exactly one succeeds. This is the audit chain's commit point.
	CreateRecord(ctx context.Context, ns, name string, data []byte) error
	// GetRecord returns the record's bytes, or ErrNotFound.
	GetRecord(ctx context.Context, ns, name string) ([]byte, error)
	// ListRecords returns the names of the records in ns, sorted; an
	// unknown namespace is empty.
	ListRecords(ctx context.Context, ns string) ([]string, error)
	// DeleteRecord removes a record, or returns ErrNotFound.
	DeleteRecord(ctx context.Context, ns, name string) error

	// Lock takes the named lock, shared or exclusive, retrying until ctx
	// is done; then the error wraps ErrLocked. It always tries at least
	// once, so a context that is already done means "do not wait".
	Lock(ctx context.Context, name string, exclusive bool) (unlock func() error, err error)

	// CleanTemp removes the temporary files of interrupted writes that are
	// older than age and returns how many it removed.
	CleanTemp(ctx context.Context, age time.Duration) (int, error)
}

// Flusher is implemented by backends that make objects durable after
// PutObject returns (an S3 backend uploads in the background): Flush waits
// until every object put so far is durable and returns the failures. Every
// commit calls it before it creates its commit record, so a commit never
// names an object that is not durable.
type Flusher interface {
	Flush(ctx context.Context) error
}

// MetaKeeper is implemented by backends that keep the store's version file
// themselves (an S3 backend: mlrun-store.json under its prefix); OpenBackend
// reads and writes it through them.
type MetaKeeper interface {
	GetMeta(ctx context.Context, name string) ([]byte, error)
	PutMeta(ctx context.Context, name string, data []byte) error
}

// DirectReader is implemented by backends with a local cache of objects:
// Direct returns a view of the backend that reads objects from where they
// are kept, not from the cache, for Verify and copies.
type DirectReader interface {
	Direct() Backend
}

// StreamPutter is implemented by backends that can store an object whose ID
// is only known once it has been written: write is called with a writer
// whose bytes are hashed as they are stored. created is false when the
// object was already present (the new copy is discarded).
type StreamPutter interface {
	PutObjectStream(ctx context.Context, write func(w io.Writer) error) (id ID, size int64, created bool, err error)
}

// ValidateName checks a record namespace or name: non-empty, at most 200
// bytes, no path separator, no "..", no NUL, not starting with a dot.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case len(name) > 200:
		return fmt.Errorf("%w: %q is longer than 200 bytes", ErrInvalidName, name[:20]+"...")
	case strings.ContainsAny(name, "/\\\x00"):
		return fmt.Errorf("%w: %q contains a path separator or NUL", ErrInvalidName, name)
	case strings.Contains(name, ".."):
		return fmt.Errorf("%w: %q contains \"..\"", ErrInvalidName, name)
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("%w: %q starts with a dot", ErrInvalidName, name)
	}
	return nil
}
