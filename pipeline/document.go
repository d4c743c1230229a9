package pipeline

import (
	"encoding/json"
	"fmt"
	"io"
)

// Document is a JSON object stored in the lineage store: metrics, a
// validation report, an evaluation. Its encoding is canonical JSON
// (encoding/json sorts map keys; struct fields keep their order), so equal
// values give equal object ids.
type Document struct {
	// Type is the object type name ("metrics", "validation", ...).
	Type string
	// Value is any JSON-encodable value; after decoding it is the result of
	// json.Unmarshal into `any` unless the value was a json.RawMessage.
	Value any
}

// TypeName implements Object.
func (d *Document) TypeName() string { return d.Type }

// Encode implements Object.
func (d *Document) Encode(w io.Writer) error {
	b, err := json.Marshal(d.Value)
	if err != nil {
		return fmt.Errorf("encode %s: %w", d.Type, err)
	}
	_, err = w.Write(b)
	return err
}

// Into decodes the document's value into v (a pointer), whatever form the
// value currently has.
func (d *Document) Into(v any) error {
	var b []byte
	switch x := d.Value.(type) {
	case json.RawMessage:
		b = x
	default:
		var err error
		if b, err = json.Marshal(x); err != nil {
			return err
		}
	}
	return json.Unmarshal(b, v)
}

// DocumentDecoder returns the DecodeFunc for documents of the given type.
// The decoded Value is a json.RawMessage; use Into to read it.
func DocumentDecoder(typeName string) DecodeFunc {
	return func(data []byte) (Object, error) {
		if !json.Valid(data) {
			return nil, fmt.Errorf("decode %s: invalid JSON", typeName)
		}
		return &Document{Type: typeName, Value: json.RawMessage(append([]byte(nil), data...))}, nil
	}
}
