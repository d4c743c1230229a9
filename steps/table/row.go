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
	ds := &Dataset{Columns: make([]*Column, len(fields)), Rows: 1}
	info := make([]ColumnInfo, len(fields))
	for j, f := range fields {
		t := p.types[j]
		c := colBuf{mode: modeConvert, typ: t, strict: true, hint: 1}
		c.alloc()
		if _, err := c.add(p, []byte(f), 0); err != nil {
			return rp.parseCSV(fields) // its error, as ParseCSV words it
		}
		col := &Column{Name: p.names[j], Type: t, Floats: c.floats, Ints: c.ints, Bools: c.bools, Codes: c.codes}
		if t == String {
			var remaps [][]uint32
			col.Dict, remaps = mergeDicts([]*strDict{&c.dict}, 1)
			for k, code := range col.Codes {
				if code != nullCode {
					col.Codes[k] = remaps[0][code]
				} else {
					col.Codes[k] = 0
				}
			}
		}
		if len(c.nulls) > 0 {
			col.Valid = NewBitmap(1)
			col.Valid.SetNull(0)
		}
		ds.Columns[j] = col
		info[j] = ColumnInfo{Name: col.Name, Type: t, Declared: true, Nulls: len(c.nulls)}
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
