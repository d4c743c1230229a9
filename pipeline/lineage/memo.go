package lineage

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Memos are this machine's cache of facts that are costly to recompute and
// cheap to check the premises of: the SHA-256 of an input file at a given
// stat (fingerprints), the column types a load step inferred from a file
// (schemas), the stat of an object file last found intact (verified). They
// live outside the store, in the user's cache directory, because they
// describe this machine's files, and they are authenticated: each memo
// carries an HMAC-SHA256 under a key that only this user can read
// (<dir>/memo.key, mode 0600). A memo that was edited, forged or copied from
// elsewhere fails its MAC and is ignored, so a memo can only cost time,
// never change a result; whoever can read the key can already run mlrun as
// this user. A nil *Memos memoises nothing.
type Memos struct {
	dir string
	key []byte
}

// Memo kinds.
const (
	memoFingerprint = "fingerprint"
	memoSchema      = "schema"
	memoVerified    = "verified"
)

// OpenMemos returns the memos kept in dir, creating the directory and the
// key when needed.
func OpenMemos(dir string) (*Memos, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("memos: %w", err)
	}
	keyFile := filepath.Join(dir, "memo.key")
	key, err := os.ReadFile(keyFile)
	if errors.Is(err, fs.ErrNotExist) {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("memos: %w", err)
		}
		tmp, err := os.CreateTemp(dir, ".memo-key-*")
		if err != nil {
			return nil, fmt.Errorf("memos: %w", err)
		}
		_, err = tmp.Write(key)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			// link fails when another process made the key first: use its.
			err = os.Link(tmp.Name(), keyFile)
		}
		os.Remove(tmp.Name())
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("memos: %w", err)
		}
		if key, err = os.ReadFile(keyFile); err != nil {
			return nil, fmt.Errorf("memos: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("memos: %w", err)
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("memos: %s is not a key (%d bytes)", keyFile, len(key))
	}
	return &Memos{dir: dir, key: key}, nil
}

// Dir returns the directory of the memos ("" for nil).
func (m *Memos) Dir() string {
	if m == nil {
		return ""
	}
	return m.dir
}

type memoFile struct {
	Key  string `json:"key"`
	Data []byte `json:"data"`
	MAC  string `json:"mac"`
}

func (m *Memos) mac(kind, key string, data []byte) string {
	h := hmac.New(sha256.New, m.key)
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

func (m *Memos) path(kind, key string) string {
	sum := sha256.Sum256([]byte(key))
	h := hex.EncodeToString(sum[:])
	return filepath.Join(m.dir, kind, h[:2], h+".json")
}

// Get returns the data memoised under kind and key, when present and
// authentic.
func (m *Memos) Get(kind, key string) ([]byte, bool) {
	if m == nil {
		return nil, false
	}
	b, err := os.ReadFile(m.path(kind, key))
	if err != nil {
		return nil, false
	}
	var f memoFile
	if json.Unmarshal(b, &f) != nil || f.Key != key || !hmac.Equal([]byte(f.MAC), []byte(m.mac(kind, key, f.Data))) {
		return nil, false
	}
	return f.Data, true
}

// Put memoises data under kind and key. A memo that cannot be written only
// costs a recomputation later, so errors are ignored; memos are not
// fsynced (a torn one fails its MAC).
func (m *Memos) Put(kind, key string, data []byte) {
	if m == nil {
		return
	}
	b, err := json.Marshal(memoFile{Key: key, Data: data, MAC: m.mac(kind, key, data)})
	if err != nil {
		return
	}
	p := m.path(kind, key)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".memo-*")
	if err != nil {
		return
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
}

// GetSchema returns the schema memo under key (pipeline.SchemaMemo).
func (m *Memos) GetSchema(key string) ([]byte, bool) { return m.Get(memoSchema, key) }

// PutSchema memoises a schema under key.
func (m *Memos) PutSchema(key string, data []byte) { m.Put(memoSchema, key, data) }

// Delete forgets the memo under kind and key.
func (m *Memos) Delete(kind, key string) {
	if m != nil {
		os.Remove(m.path(kind, key))
	}
}
