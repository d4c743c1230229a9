package table

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"slices"
)

// The canonical encoding (version 1), all integers little-endian:
//
//	magic    "MLRT" 0x01
//	rows     uvarint
//	columns  uvarint
//	per column:
//	  name      uvarint length, UTF-8 bytes
//	  type      byte (Type)
//	  nulls     byte: 0 = no nulls, 1 = a validity bitmap follows:
//	            ceil(rows/64) uint64 words, bit i set = row i valid,
//	            bits past the last row zero
//	  values    Float: rows float64 bit patterns, nulls as canonicalNaN
//	            Int, Time: rows int64, nulls 0
//	            Bool: ceil(rows/8) bytes, bit i = row i, nulls and
//	            padding 0
//	            String: dictionary (uvarint count, then per entry a
//	            uvarint length and the bytes), then rows codes of 1, 2
//	            or 4 bytes (count <= 256, <= 65536, larger), nulls 0
//
// The encoding depends only on the dataset's logical content: a float
// NaN is a null, null slots are written as fixed values, a dictionary is
// written with only the values used by valid rows, in order of first use.
// Decode accepts exactly the canonical encodings, so decoding then
// encoding gives back the same bytes.

// ErrCorrupt means an encoded dataset is malformed or not canonical.
var ErrCorrupt = errors.New("corrupt dataset encoding")

const (
	encMagic   = "MLRT"
	encVersion = 1
	// canonicalNaN is the one NaN written for float nulls.
	canonicalNaN = 0x7FF8000000000001
	// maxDecodeRows bounds the row count Decode accepts.
	maxDecodeRows = 1 << 40
)

// Validate checks the dataset's internal consistency: unique non-empty
// column names, known types, every column Rows long, bitmaps of the right
// size, string codes within their dictionary.
func (d *Dataset) Validate() error {
	if d.Rows < 0 {
		return fmt.Errorf("dataset: negative row count %d", d.Rows)
	}
	seen := make(map[string]bool, len(d.Columns))
	for i, c := range d.Columns {
		if c == nil {
			return fmt.Errorf("dataset: column %d is nil", i+1)
		}
		if c.Name == "" {
			return fmt.Errorf("dataset: column %d has no name", i+1)
		}
		if seen[c.Name] {
			return fmt.Errorf("dataset: duplicate column %q", c.Name)
		}
		seen[c.Name] = true
		if err := c.validate(d.Rows); err != nil {
			return fmt.Errorf("dataset: column %q: %w", c.Name, err)
		}
	}
	return nil
}

func (c *Column) validate(rows int) error {
	if c.Type < Float || c.Type > Time {
		return fmt.Errorf("invalid type %d", c.Type)
	}
	if n := c.Len(); n != rows {
		return fmt.Errorf("%d values, want %d", n, rows)
	}
	if c.Valid != nil && len(c.Valid) != (rows+63)/64 {
		return fmt.Errorf("validity bitmap of %d words, want %d", len(c.Valid), (rows+63)/64)
	}
	if c.Type == String {
		for i, code := range c.Codes {
			if int(code) >= len(c.Dict) && c.Valid.Valid(i) {
				return fmt.Errorf("row %d: code %d outside a dictionary of %d", i+1, code, len(c.Dict))
			}
		}
	}
	return nil
}

// encoder writes through a buffer, remembering the first write error.
type encoder struct {
	w   *bufio.Writer
	buf []byte
}

func (e *encoder) flush() error {
	if len(e.buf) > 0 {
		_, err := e.w.Write(e.buf)
		e.buf = e.buf[:0]
		return err
	}
	return nil
}

// encBlock is the number of values encoded between flushes.
const encBlock = 4096

// grow extends the buffer by n bytes and returns them.
func (e *encoder) grow(n int) []byte {
	e.buf = slices.Grow(e.buf, n)
	e.buf = e.buf[:len(e.buf)+n]
	return e.buf[len(e.buf)-n:]
}

// room flushes when the buffer is nearly full.
func (e *encoder) room() error {
	if len(e.buf) >= 64<<10 {
		return e.flush()
	}
	return nil
}

// Encode writes the dataset's canonical encoding (see the format above).
// It implements pipeline.Object.
func (d *Dataset) Encode(w io.Writer) error {
	if err := d.Validate(); err != nil {
		return err
	}
	e := &encoder{w: bufio.NewWriterSize(w, 256<<10), buf: make([]byte, 0, 80<<10)}
	e.buf = append(e.buf, encMagic...)
	e.buf = append(e.buf, encVersion)
	e.buf = binary.AppendUvarint(e.buf, uint64(d.Rows))
	e.buf = binary.AppendUvarint(e.buf, uint64(len(d.Columns)))
	for _, c := range d.Columns {
		if err := e.column(c, d.Rows); err != nil {
			return err
		}
	}
	if err := e.flush(); err != nil {
		return err
	}
	return e.w.Flush()
}

// validity returns the column's canonical validity bitmap (float NaNs
// count as nulls) and whether it has any null.
func (c *Column) validity(rows int) (Bitmap, bool) {
	words := (rows + 63) / 64
	v := make(Bitmap, words)
	any := false
	for w := range words {
		word := ^uint64(0)
		if c.Valid != nil {
			word = c.Valid[w]
		}
		if w == words-1 && rows%64 != 0 {
			word &= 1<<(uint(rows)%64) - 1
		}
		if c.Type == Float {
			lo := w * 64
			for i, f := range c.Floats[lo:min(lo+64, rows)] {
				if f != f {
					word &^= 1 << uint(i)
				}
			}
		}
		v[w] = word
		full := ^uint64(0)
		if w == words-1 && rows%64 != 0 {
			full = 1<<(uint(rows)%64) - 1
		}
		if word != full {
			any = true
		}
	}
	return v, any
}

func (e *encoder) column(c *Column, rows int) error {
	e.buf = binary.AppendUvarint(e.buf, uint64(len(c.Name)))
	e.buf = append(e.buf, c.Name...)
	e.buf = append(e.buf, byte(c.Type))
	valid, hasNull := c.validity(rows)
	if !hasNull {
		valid = nil
		e.buf = append(e.buf, 0)
	} else {
		e.buf = append(e.buf, 1)
		for _, w := range valid {
			e.buf = binary.LittleEndian.AppendUint64(e.buf, w)
			if err := e.room(); err != nil {
				return err
			}
		}
	}
	switch c.Type {
	case Float:
		for lo := 0; lo < rows; lo += encBlock {
			vals := c.Floats[lo:min(lo+encBlock, rows)]
			out := e.grow(8 * len(vals))
			for i, f := range vals {
				u := math.Float64bits(f)
				if valid != nil && !valid.Valid(lo+i) {
					u = canonicalNaN
				}
				binary.LittleEndian.PutUint64(out[8*i:], u)
			}
			if err := e.room(); err != nil {
				return err
			}
		}
	case Int, Time:
		for lo := 0; lo < rows; lo += encBlock {
			vals := c.Ints[lo:min(lo+encBlock, rows)]
			out := e.grow(8 * len(vals))
			for i, v := range vals {
				if valid != nil && !valid.Valid(lo+i) {
					v = 0
				}
				binary.LittleEndian.PutUint64(out[8*i:], uint64(v))
			}
			if err := e.room(); err != nil {
				return err
			}
		}
	case Bool:
		for lo := 0; lo < rows; lo += 8 {
			var by byte
			for i := lo; i < min(lo+8, rows); i++ {
				if c.Bools[i] && valid.Valid(i) {
					by |= 1 << uint(i-lo)
				}
			}
			e.buf = append(e.buf, by)
			if lo&8191 == 0 {
				if err := e.room(); err != nil {
					return err
				}
			}
		}
	case String:
		// Canonical dictionary: values used by valid rows, first use first.
		remap := make([]uint32, len(c.Dict))
		for i := range remap {
			remap[i] = math.MaxUint32
		}
		// The index merges equal strings held under different codes.
		var index strDict
		seed := maphash.MakeSeed()
		for i, code := range c.Codes {
			if !valid.Valid(i) || remap[code] != math.MaxUint32 {
				continue
			}
			s := c.Dict[code]
			g, slot, h, ok := index.findString(seed, s)
			if !ok {
				n := len(index.list)
				g = index.insert(seed, s, slot, h, n+1, len(c.Dict))
			}
			remap[code] = g
		}
		dict := index.list
		e.buf = binary.AppendUvarint(e.buf, uint64(len(dict)))
		for _, s := range dict {
			e.buf = binary.AppendUvarint(e.buf, uint64(len(s)))
			e.buf = append(e.buf, s...)
			if err := e.room(); err != nil {
				return err
			}
		}
		width := codeWidth(len(dict))
		for i, code := range c.Codes {
			var g uint32
			if valid.Valid(i) {
				g = remap[code]
			}
			switch width {
			case 1:
				e.buf = append(e.buf, byte(g))
			case 2:
				e.buf = binary.LittleEndian.AppendUint16(e.buf, uint16(g))
			default:
				e.buf = binary.LittleEndian.AppendUint32(e.buf, g)
			}
			if i&1023 == 1023 {
				if err := e.room(); err != nil {
					return err
				}
			}
		}
	}
	return e.room()
}

// codeWidth is the byte width of string codes for a dictionary of n values.
func codeWidth(n int) int {
	switch {
	case n <= 1<<8:
		return 1
	case n <= 1<<16:
		return 2
	}
	return 4
}

// Fingerprint returns the hex SHA-256 of the dataset's canonical encoding.
func Fingerprint(d *Dataset) (string, error) {
	h := sha256.New()
	if err := d.Encode(h); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// decoder reads an encoding, failing on any malformed input.
type decoder struct {
	data []byte
	pos  int
}

func (r *decoder) fail(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrCorrupt, r.pos, fmt.Sprintf(format, args...))
}

func (r *decoder) uvarint(what string) (uint64, error) {
	v, n := binary.Uvarint(r.data[r.pos:])
	if n <= 0 {
		return 0, r.fail("bad %s", what)
	}
	// Canonical varints only: no redundant trailing zero bytes.
	if n > 1 && r.data[r.pos+n-1] == 0 {
		return 0, r.fail("non-canonical %s", what)
	}
	r.pos += n
	return v, nil
}

func (r *decoder) take(n uint64, what string) ([]byte, error) {
	if n > uint64(len(r.data)-r.pos) {
		return nil, r.fail("%s: need %d bytes, have %d", what, n, len(r.data)-r.pos)
	}
	b := r.data[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return b, nil
}

// Decode decodes a canonical encoding written by Encode. It validates
// everything and rejects non-canonical input with an error wrapping
// ErrCorrupt.
func Decode(data []byte) (*Dataset, error) {
	r := &decoder{data: data}
	head, err := r.take(uint64(len(encMagic)+1), "header")
	if err != nil {
		return nil, err
	}
	if string(head[:4]) != encMagic {
		return nil, fmt.Errorf("%w: bad magic %q", ErrCorrupt, head[:4])
	}
	if head[4] != encVersion {
		return nil, fmt.Errorf("%w: unsupported version %d", ErrCorrupt, head[4])
	}
	rows64, err := r.uvarint("row count")
	if err != nil {
		return nil, err
	}
	if rows64 > maxDecodeRows {
		return nil, r.fail("row count %d too large", rows64)
	}
	ncols, err := r.uvarint("column count")
	if err != nil {
		return nil, err
	}
	if ncols > uint64(len(data)-r.pos)/3 {
		return nil, r.fail("column count %d exceeds the data", ncols)
	}
	rows := int(rows64)
	d := &Dataset{Rows: rows, Columns: make([]*Column, 0, ncols)}
	seen := map[string]bool{}
	for range ncols {
		c, err := r.column(rows)
		if err != nil {
			return nil, err
		}
		if seen[c.Name] {
			return nil, r.fail("duplicate column %q", c.Name)
		}
		seen[c.Name] = true
		d.Columns = append(d.Columns, c)
	}
	if r.pos != len(data) {
		return nil, r.fail("%d trailing bytes", len(data)-r.pos)
	}
	return d, nil
}

func (r *decoder) column(rows int) (*Column, error) {
	nameLen, err := r.uvarint("column name length")
	if err != nil {
		return nil, err
	}
	name, err := r.take(nameLen, "column name")
	if err != nil {
		return nil, err
	}
	if len(name) == 0 {
		return nil, r.fail("empty column name")
	}
	hdr, err := r.take(2, "column header")
	if err != nil {
		return nil, err
	}
	c := &Column{Name: string(name), Type: Type(hdr[0])}
	if c.Type < Float || c.Type > Time {
		return nil, r.fail("column %q: invalid type %d", c.Name, hdr[0])
	}
	words := (rows + 63) / 64
	switch hdr[1] {
	case 0:
	case 1:
		b, err := r.take(uint64(words)*8, "validity bitmap")
		if err != nil {
			return nil, err
		}
		c.Valid = make(Bitmap, words)
		hasNull := false
		for w := range c.Valid {
			c.Valid[w] = binary.LittleEndian.Uint64(b[8*w:])
			full := ^uint64(0)
			if w == words-1 && rows%64 != 0 {
				full = 1<<(uint(rows)%64) - 1
			}
			if c.Valid[w]&^full != 0 {
				return nil, r.fail("column %q: validity bits past the last row", c.Name)
			}
			if c.Valid[w] != full {
				hasNull = true
			}
		}
		if !hasNull {
			return nil, r.fail("column %q: validity bitmap without nulls", c.Name)
		}
	default:
		return nil, r.fail("column %q: invalid null flag %d", c.Name, hdr[1])
	}
	switch c.Type {
	case Float:
		b, err := r.take(uint64(rows)*8, "float values")
		if err != nil {
			return nil, err
		}
		c.Floats = make([]float64, rows)
		for i := range c.Floats {
			u := binary.LittleEndian.Uint64(b[8*i:])
			f := math.Float64frombits(u)
			if c.Valid.Valid(i) {
				if f != f {
					return nil, r.fail("column %q: row %d: NaN in a valid row", c.Name, i+1)
				}
			} else if u != canonicalNaN {
				return nil, r.fail("column %q: row %d: null is not the canonical NaN", c.Name, i+1)
			}
			c.Floats[i] = f
		}
	case Int, Time:
		b, err := r.take(uint64(rows)*8, "int values")
		if err != nil {
			return nil, err
		}
		c.Ints = make([]int64, rows)
		for i := range c.Ints {
			c.Ints[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
			if c.Ints[i] != 0 && !c.Valid.Valid(i) {
				return nil, r.fail("column %q: row %d: null holds a value", c.Name, i+1)
			}
		}
	case Bool:
		b, err := r.take(uint64(rows+7)/8, "bool values")
		if err != nil {
			return nil, err
		}
		if rows%8 != 0 && b[len(b)-1]>>(uint(rows)%8) != 0 {
			return nil, r.fail("column %q: bool bits past the last row", c.Name)
		}
		c.Bools = make([]bool, rows)
		for i := range c.Bools {
			c.Bools[i] = b[i/8]>>(uint(i)%8)&1 != 0
			if c.Bools[i] && !c.Valid.Valid(i) {
				return nil, r.fail("column %q: row %d: null holds a value", c.Name, i+1)
			}
		}
	case String:
		if err := r.strings(c, rows); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (r *decoder) strings(c *Column, rows int) error {
	n, err := r.uvarint("dictionary size")
	if err != nil {
		return err
	}
	if n > uint64(len(r.data)-r.pos) || n > uint64(rows) {
		return r.fail("column %q: dictionary size %d exceeds the data", c.Name, n)
	}
	c.Dict = make([]string, n)
	index := make(map[string]bool, n)
	for k := range c.Dict {
		l, err := r.uvarint("dictionary entry length")
		if err != nil {
			return err
		}
		s, err := r.take(l, "dictionary entry")
		if err != nil {
			return err
		}
		c.Dict[k] = string(s)
		if index[c.Dict[k]] {
			return r.fail("column %q: duplicate dictionary value %q", c.Name, s)
		}
		index[c.Dict[k]] = true
	}
	width := codeWidth(len(c.Dict))
	b, err := r.take(uint64(rows)*uint64(width), "string codes")
	if err != nil {
		return err
	}
	c.Codes = make([]uint32, rows)
	next := uint32(0)
	for i := range c.Codes {
		var code uint32
		switch width {
		case 1:
			code = uint32(b[i])
		case 2:
			code = uint32(binary.LittleEndian.Uint16(b[2*i:]))
		default:
			code = binary.LittleEndian.Uint32(b[4*i:])
		}
		if !c.Valid.Valid(i) {
			if code != 0 {
				return r.fail("column %q: row %d: null holds a value", c.Name, i+1)
			}
			continue
		}
		switch {
		case code == next:
			next++
		case code > next:
			return r.fail("column %q: row %d: code %d out of first-use order", c.Name, i+1, code)
		}
		c.Codes[i] = code
	}
	if int(next) != len(c.Dict) {
		return r.fail("column %q: %d of %d dictionary values unused", c.Name, len(c.Dict)-int(next), len(c.Dict))
	}
	return nil
}
