package table

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"
)

// RowParser reads single data rows under a fixed header (mlrun serve's
// records) as ParseCSV reads the header followed by the row as
// encoding/csv writes it: the same types, missing tokens, values and
// errors. A row whose fields ParseCSV reads verbatim (no delimiter, quote,
// line break or leading space, not a lone empty field) is converted field
// by field with ParseCSV's own conversions, without writing and splitting
// CSV, chunking or merging; any other row, any row with a value that does
// not convert, and every row when the header or options are not of that
// simple kind, go through ParseCSV itself. A RowParser is safe for
// concurrent use.
type RowParser struct {
	opts   CSVOptions
	header []byte
	// p is the header parsed under opts, nil when rows always go through
	// ParseCSV.
	p *parser
}

// NewRowParser returns the parser of rows under header (one CSV record,
// ending with its newline, as encoding/csv writes it).
func NewRowParser(header []byte, opts CSVOptions) *RowParser {
	rp := &RowParser{opts: opts, header: bytes.Clone(header)}
	if opts.Levels > 0 || opts.SchemaOnly || opts.buffered || opts.OnRead != nil || !bytes.HasSuffix(header, []byte{'\n'}) {
		return rp
	}
	p, err := newParser(rp.header, opts)
	if err != nil {
		return rp
	}
	off, err := p.header()
	if err != nil || off != len(p.buf) {
		return rp
	}
	for _, t := range p.types {
		if t == 0 {
			return rp // an inferred column: ParseCSV decides its type
		}
	}
	rp.p = p
	return rp
}

// Parse reads one row (a field per column of the header) as ParseCSV reads
// the header and the row.
func (rp *RowParser) Parse(fields []string) (*Dataset, []ColumnInfo, error) {
	p := rp.p
	if p == nil || len(fields) != len(p.names) || (len(fields) == 1 && fields[0] == "") {
		return rp.parseCSV(fields)
	}
	for _, f := range fields {
		if !verbatim(f, p.delim) {
			return rp.parseCSV(fields)
		}
	}
	n := len(fields)
	// One allocation each for the columns, their values and the fields'
	// bytes.
	size := 0
	for _, f := range fields {
		size += len(f)
	}
	buf := make([]byte, 0, size)
	cols := make([]Column, n)
	ptrs := make([]*Column, n)
	floats, ints, bools, codes := make([]float64, n), make([]int64, n), make([]bool, n), make([]uint32, n)
	ds := &Dataset{Columns: ptrs, Rows: 1}
	info := make([]ColumnInfo, n)
	for j, s := range fields {
		t := p.types[j]
		col := &cols[j]
		col.Name, col.Type = p.names[j], t
		ptrs[j] = col
		nulls := 0
		off := len(buf)
		buf = append(buf, s...)
		f := buf[off:len(buf):len(buf)]
		if t == String && !p.missing.is(f) {
			// What convert's dictionary and mergeDicts make of one value.
			if !utf8.Valid(f) {
				return rp.parseCSV(fields) // its error, as ParseCSV words it
			}
			col.Codes, col.Dict = codes[j:j+1:j+1], []string{s}
		} else {
			c := colBuf{mode: modeConvert, typ: t, strict: true, preset: true, hint: 1,
				floats: floats[j : j : j+1], ints: ints[j : j : j+1], bools: bools[j : j : j+1], codes: codes[j : j : j+1]}
			if _, err := c.add(p, f, 0); err != nil {
				return rp.parseCSV(fields) // its error, as ParseCSV words it
			}
			switch t {
			case Float:
				col.Floats = c.floats
			case Int, Time:
				col.Ints = c.ints
			case Bool:
				col.Bools = c.bools
			case String:
				col.Codes = c.codes
				col.Codes[0] = 0 // a null
			}
			nulls = len(c.nulls)
		}
		if nulls > 0 {
			col.Valid = NewBitmap(1)
			col.Valid.SetNull(0)
		}
		info[j] = ColumnInfo{Name: col.Name, Type: t, Declared: true, Nulls: nulls}
	}
	return ds, info, nil
}

// verbatim reports whether ParseCSV reads f, written as encoding/csv
// writes a field, as f itself without quotes: it holds no delimiter,
// quote, carriage return or newline, does not start with white space, and
// is not \. (which encoding/csv quotes).
func verbatim(f string, delim byte) bool {
	if f == `\.` {
		return false
	}
	for i := 0; i < len(f); i++ {
		if c := f[i]; c == delim || c == '"' || c == '\r' || c == '\n' {
			return false
		}
	}
	if f != "" {
		if r, _ := utf8.DecodeRuneInString(f); unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// parseCSV is Parse through ParseCSV.
func (rp *RowParser) parseCSV(fields []string) (*Dataset, []ColumnInfo, error) {
	return ParseCSV(rp.CSV(fields), rp.opts)
}

// CSV returns the header and the row as encoding/csv writes them (with
// the options' delimiter), the input Parse reads the row as.
func (rp *RowParser) CSV(fields []string) []byte {
	delim := rp.opts.Delimiter
	if delim == 0 {
		delim = ','
	}
	n := len(rp.header) + 1
	for _, f := range fields {
		n += len(f) + 3
	}
	b := make([]byte, 0, n)
	b = append(b, rp.header...)
	for i, f := range fields {
		if i > 0 {
			b = append(b, delim)
		}
		b = appendCSVField(b, f, delim)
	}
	return append(b, '\n')
}

// appendCSVField appends f as encoding/csv's Writer writes a field: quoted
// (its quotes doubled) when it holds the delimiter, a quote, a line break
// or a leading space, or is \.; an empty field is written as nothing.
func appendCSVField(b []byte, f string, delim byte) []byte {
	if f == "" {
		return b
	}
	if r, _ := utf8.DecodeRuneInString(f); f != `\.` && !strings.ContainsAny(f, string(rune(delim))+"\"\r\n") && !unicode.IsSpace(r) {
		return append(b, f...)
	}
	b = append(b, '"')
	for i := 0; i < len(f); i++ {
		if f[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, f[i])
	}
	return append(b, '"')
}
