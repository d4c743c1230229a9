package lineage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// ID names an object in the store: the SHA-256 of its canonical encoding.
type ID [32]byte

// Hash returns the ID of data.
func Hash(data []byte) ID { return ID(sha256.Sum256(data)) }

// ParseID parses the 64-character lower- or upper-case hex form of an ID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*len(id) {
		return id, fmt.Errorf("invalid object id %q: want %d hex digits, got %d", s, 2*len(id), len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return ID{}, fmt.Errorf("invalid object id %q: %w", s, err)
	}
	return id, nil
}

// String returns the ID in lower-case hex.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 12 hex digits, for messages.
func (id ID) Short() string { return id.String()[:12] }

// IsNull reports whether id is the zero ID (no object).
func (id ID) IsNull() bool { return id == ID{} }

// MarshalText implements encoding.TextMarshaler: IDs appear as hex in JSON.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
