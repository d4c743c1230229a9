package table

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math/bits"
	"os"
	"runtime"
	"sync"
	"unicode/utf8"
)

// CSV reading errors; every *ParseError wraps one of them.
var (
	// ErrEmpty means the input has no header line.
	ErrEmpty = errors.New("empty file: no header line")
	// ErrHeader means a duplicate or empty column name.
	ErrHeader = errors.New("invalid header")
	// ErrSyntax means malformed CSV: a ragged row, an unterminated or bare
	// quote, text after a closing quote.
	ErrSyntax = errors.New("malformed CSV")
	// ErrType means a value that does not parse as its column's declared type.
	ErrType = errors.New("invalid value")
	// ErrUTF8 means a field or column name that is not valid UTF-8.
	ErrUTF8 = errors.New("invalid UTF-8")
	// ErrNonFinite means NaN or an infinity in a float column, read with
	// NonFiniteError (the default).
	ErrNonFinite = errors.New("non-finite number")
	// ErrMixed means an inferred column whose values are numbers (or
	// bools, or times) except for a few: see CSVOptions.Types.
	ErrMixed = errors.New("column of one type but for a few values")
)

// NonFinite says how a float column reads the values that parse as NaN or
// an infinity ("NaN", "nan", "inf", "-Inf", "+Infinity", ...: any
// spelling strconv.ParseFloat accepts).
type NonFinite uint8

const (
	// NonFiniteError makes such a value an error (ErrNonFinite), named by
	// row and column like any invalid value. It is the default: NaN and
	// infinities pass range rules and comparisons unnoticed, and no model
	// or report can use them.
	NonFiniteError NonFinite = iota
	// NonFiniteMissing reads such a value as missing (a null).
	NonFiniteMissing
)

// String returns the policy's name as written in pipeline files: error or
// missing.
func (n NonFinite) String() string {
	if n == NonFiniteMissing {
		return "missing"
	}
	return "error"
}

// ParseNonFinite parses a policy name: error or missing.
func ParseNonFinite(s string) (NonFinite, bool) {
	switch s {
	case "error":
		return NonFiniteError, true
	case "missing":
		return NonFiniteMissing, true
	}
	return 0, false
}

// CSVOptions configure ReadCSV. The zero value reads comma-separated data
// with "" and "NA" as missing values and every column type inferred.
//
// The input is RFC 4180 CSV: a header line, then one record per line
// ending in LF or CRLF (the last line may lack it); fields may be quoted,
// with "" for a quote inside, and quoted fields may hold delimiters and
// newlines (kept verbatim). A leading UTF-8 byte order mark is skipped and
// blank lines are skipped. Every record must have as many fields as the
// header, and every field must be valid UTF-8.
//
// Values: ints are what strconv.ParseInt accepts in base 10; floats what
// strconv.ParseFloat accepts (bit-identical results) and is finite: NaN
// and infinities are errors, or nulls (NonFinite), and a number beyond
// float64 is out of range; bools are true and false in any case (a
// declared bool also takes 1 and 0); times are RFC 3339 timestamps or
// 2006-01-02 dates (midnight UTC), stored as Unix nanoseconds.
type CSVOptions struct {
	// Name names the input in error messages (ReadCSVFile defaults it to
	// the path).
	Name string
	// Delimiter separates fields; 0 means ','. It must be an ASCII
	// character other than '"', '\r' and '\n'.
	Delimiter byte
	// Missing lists the field values read as null; nil means "" and "NA".
	// Use an empty non-nil slice for none.
	Missing []string
	// Types declares column types by name. Declared columns are parsed
	// strictly: the first value that does not parse is an error. The other
	// columns are inferred from all their values: int if every non-missing
	// value parses as an int64, else float, else bool (true/false, any
	// case), else time (RFC 3339 or 2006-01-02 dates, or TimeLayouts),
	// else string. A column with no values at all is float.
	//
	// An inferred column that would be string although its values are
	// numbers (or bools, or times) but for a few is an error (ErrMixed)
	// naming the first offending rows and their count: one stray value
	// ("sixty thousand", "n/a", "1,5", "1e400") must not silently turn a
	// numeric column into text. A few means at most 3, or at most a tenth
	// of the column's non-missing values, and fewer than the typed ones;
	// for numbers, values with a decimal comma or beyond float64 count
	// with the typed ones (so a column of decimal commas is refused too).
	// Declaring the column string reads such values as text.
	Types map[string]Type
	// NonFinite says how float columns read NaN and infinities; the zero
	// value makes them errors.
	NonFinite NonFinite
	// Levels, when positive, collects each column's distinct non-missing
	// values, as written, into ColumnInfo.Levels when there are at most
	// Levels of them (at most 32), so that the values of a target column
	// are known when a pipeline is compiled. It costs a lookup per value
	// of the columns with few values.
	Levels int
	// TimeLayouts are extra time.Parse layouts (parsed in UTC) tried after
	// RFC 3339 and dates.
	TimeLayouts []string
	// Jobs is the number of goroutines to parse with; 0 means GOMAXPROCS.
	// The result does not depend on it.
	Jobs int
	// OnRead, when set, is called with the number of bytes of each block
	// read from the input, as reading goes (for a progress display). It
	// runs on the reading goroutine and must be cheap.
	OnRead func(n int)

	// RowsHint is the number of data rows expected (say, from an earlier
	// schema pass over the same file): a streamed parse sizes its columns
	// by it. Any number of rows is still read; 0 means unknown.
	RowsHint int

	// SchemaOnly learns the column types and counts the rows without
	// keeping the values of undeclared columns: the dataset returned has
	// Rows and every column's name and type, but the columns hold no
	// values. The types and errors are those of a full parse (the
	// ColumnInfo null counts hold the missing-value tokens only, not the
	// NaN and infinities NonFiniteMissing reads as nulls); memory is the
	// input's size plus the declared columns.
	SchemaOnly bool

	// chunkSize overrides the size of the parallel parse chunks (tests).
	chunkSize int
	// buffered turns off parsing straight into the final columns (tests
	// compare both ways).
	buffered bool
	// whole turns off the streamed parse of ReadCSV (tests).
	whole bool
}

// ColumnInfo describes how one CSV column was read.
type ColumnInfo struct {
	Name string `json:"name"`
	Type Type   `json:"type"`
	// Declared reports whether the type came from CSVOptions.Types.
	Declared bool `json:"declared"`
	// Nulls counts missing values.
	Nulls int `json:"nulls"`
	// Levels are the column's distinct non-missing values as written, in
	// first-seen order, with CSVOptions.Levels set and when there are at
	// most that many of them; nil otherwise, and for a time column (empty,
	// not nil, when the column holds no value).
	Levels []string `json:"levels,omitempty"`
}

// ReadInfo describes a CSV input as read.
type ReadInfo struct {
	// SHA256 is the hex SHA-256 of the raw input bytes.
	SHA256 string `json:"sha256"`
	// Size is the input's length in bytes.
	Size int64 `json:"size"`
	// Rows is the number of data rows.
	Rows int `json:"rows"`
	// Columns describes each column in order.
	Columns []ColumnInfo `json:"columns"`
}

// ParseError is a CSV error with its place in the input. Its message reads
// like `applications.csv:1203: row 1202: column "annual_income": "12,5" is
// not a float (decimal comma?)`.
type ParseError struct {
	// Name is CSVOptions.Name.
	Name string
	// Line is the 1-based line of the input where the offending field or
	// record starts (0 when not applicable).
	Line int
	// Row is the 1-based data row (0 for the header or none).
	Row int
	// Column is the column's name ("" when not applicable).
	Column string
	// Field is the 1-based field number in the record (0 when not applicable).
	Field int
	// Msg describes the problem.
	Msg string
	// Err is the sentinel: ErrEmpty, ErrHeader, ErrSyntax, ErrType,
	// ErrUTF8, ErrNonFinite or ErrMixed.
	Err error
}

// Error implements error.
func (e *ParseError) Error() string {
	var b bytes.Buffer
	b.WriteString(e.Name)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Row > 0 {
		fmt.Fprintf(&b, "row %d: ", e.Row)
	}
	if e.Column != "" {
		fmt.Fprintf(&b, "column %q: ", e.Column)
	} else if e.Field > 0 {
		fmt.Fprintf(&b, "field %d: ", e.Field)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the sentinel error.
func (e *ParseError) Unwrap() error { return e.Err }

// ExitCode reports exit code 2 (invalid input), as pipeline.ExitCoder.
func (e *ParseError) ExitCode() int { return 2 }

// ReadCSVFile reads and parses a CSV file, hashing its bytes as it reads
// them (one pass over the file). On a parse error the ReadInfo still holds
// SHA256 and Size; parse errors are *ParseError, or, when inferred
// columns have problems (ErrNonFinite, ErrMixed), one *ParseError per
// column joined by errors.Join, in the order of their lines.
func ReadCSVFile(path string, opts CSVOptions) (*Dataset, ReadInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, ReadInfo{}, err
	}
	defer f.Close()
	var hint int64
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		hint = st.Size()
	}
	if opts.Name == "" {
		opts.Name = path
	}
	return readCSV(f, hint, opts)
}

// ReadCSV reads r to its end, hashing as it reads, and parses it as CSV.
func ReadCSV(r io.Reader, opts CSVOptions) (*Dataset, ReadInfo, error) {
	if opts.Name == "" {
		opts.Name = "csv"
	}
	return readCSV(r, 0, opts)
}

func readCSV(r io.Reader, hint int64, opts CSVOptions) (*Dataset, ReadInfo, error) {
	if opts.OnRead != nil {
		r = &notifyReader{r: r, fn: opts.OnRead}
	}
	if len(opts.Types) > 0 && !opts.SchemaOnly && !opts.buffered && !opts.whole {
		return readStream(r, hint, opts)
	}
	data, hashed, err := readAllHashed(r, hint)
	if err != nil {
		return nil, ReadInfo{}, fmt.Errorf("read %s: %w", opts.Name, err)
	}
	// The hash of the last blocks finishes while parsing starts.
	ds, cols, err := ParseCSV(data, opts)
	sum := hashed()
	info := ReadInfo{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}
	if err != nil {
		return nil, info, err
	}
	info.Rows = ds.Rows
	info.Columns = cols
	return ds, info, nil
}

// notifyReader calls fn with the size of every read.
type notifyReader struct {
	r  io.Reader
	fn func(n int)
}

func (n *notifyReader) Read(p []byte) (int, error) {
	k, err := n.r.Read(p)
	if k > 0 {
		n.fn(k)
	}
	return k, err
}

// readAllHashed reads r into one buffer in large blocks. A second
// goroutine hashes each block as soon as it has been read, so reading and
// hashing overlap and the input is read once; it goes on hashing while the
// caller parses the buffer (reading from the page cache is faster than
// SHA-256), and hashed waits for it and returns the sum. On a read error
// hashed is nil and the hashing goroutine has stopped.
func readAllHashed(r io.Reader, hint int64) (buf []byte, hashed func() [32]byte, err error) {
	const block = 4 << 20
	// Room for every block of a file whose size is known, so the reader
	// never waits for the hasher.
	blocks := make(chan []byte, max(8, int(hint/block)+2))
	done := make(chan [32]byte, 1)
	go func() {
		h := sha256.New()
		for b := range blocks {
			h.Write(b)
		}
		var sum [32]byte
		h.Sum(sum[:0])
		done <- sum
	}()
	buf = make([]byte, 0, max(hint+1, 512))
	for {
		if len(buf) == cap(buf) {
			// Growing copies buf; blocks already sent keep pointing at the
			// old array, whose bytes are never written again.
			buf = append(buf, 0)[:len(buf)]
		}
		end := min(cap(buf), len(buf)+block)
		var n int
		n, err = r.Read(buf[len(buf):end])
		if n > 0 {
			blocks <- buf[len(buf) : len(buf)+n : len(buf)+n]
			buf = buf[:len(buf)+n]
		}
		if err != nil {
			break
		}
	}
	close(blocks)
	if err != io.EOF {
		<-done
		return nil, nil, err
	}
	return buf, sync.OnceValue(func() [32]byte { return <-done }), nil
}

// ParseCSV parses CSV data held in memory. It returns the dataset and how
// each column was read.
func ParseCSV(data []byte, opts CSVOptions) (*Dataset, []ColumnInfo, error) {
	p, err := newParser(data, opts)
	if err != nil {
		return nil, nil, err
	}
	return p.run()
}

// parser holds one CSV parse.
type parser struct {
	opts    CSVOptions
	name    string
	buf     []byte // the input, BOM removed
	delim   byte
	missing missingSet
	jobs    int
	names   []string
	types   []Type // declared type, or 0 for inferred
	class   [256]bool
	seed    maphash.Seed // hashes string values (any seed gives the same result)
	delims  uint64       // the delimiter in every byte (see zeroBytes)
	line0   int          // lines of the input before buf (a streamed chunk)
}

// Bytes repeated over a word, for field's eight-byte scan.
const (
	ones   = 0x0101010101010101
	highs  = 0x8080808080808080
	lfs    = '\n' * ones
	quotes = '"' * ones
)

// zeroBytes returns a word whose lowest set bit is the high bit of the
// first (lowest-addressed) zero byte of w, or 0 when w has none. Bits above
// it may be spurious (borrows), which is why only the lowest one is used.
func zeroBytes(w uint64) uint64 { return (w - ones) &^ w & highs }

// missingSet matches missing-value tokens.
type missingSet struct {
	tokens []string
	empty  bool // "" is a token
	na     bool // tokens are exactly "" and "NA"
}

func newMissingSet(tokens []string) missingSet {
	if tokens == nil {
		tokens = []string{"", "NA"}
	}
	m := missingSet{tokens: tokens}
	for _, t := range tokens {
		if t == "" {
			m.empty = true
		}
	}
	m.na = len(tokens) == 2 && ((tokens[0] == "" && tokens[1] == "NA") || (tokens[0] == "NA" && tokens[1] == ""))
	return m
}

func (m *missingSet) is(f []byte) bool {
	if len(f) == 0 {
		return m.empty
	}
	if m.na {
		return len(f) == 2 && f[0] == 'N' && f[1] == 'A'
	}
	for _, t := range m.tokens {
		if string(f) == t {
			return true
		}
	}
	return false
}

func newParser(data []byte, opts CSVOptions) (*parser, error) {
	p := &parser{opts: opts, name: opts.Name, delim: opts.Delimiter}
	if p.name == "" {
		p.name = "csv"
	}
	if p.delim == 0 {
		p.delim = ','
	}
	if p.delim == '"' || p.delim == '\r' || p.delim == '\n' || p.delim >= utf8.RuneSelf {
		return nil, fmt.Errorf("%s: invalid delimiter %q", p.name, p.delim)
	}
	p.missing = newMissingSet(opts.Missing)
	p.jobs = opts.Jobs
	if p.jobs <= 0 {
		p.jobs = runtime.GOMAXPROCS(0)
	}
	p.buf = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
	p.seed = maphash.MakeSeed()
	p.delims = uint64(p.delim) * ones
	p.class[p.delim] = true
	p.class['\n'] = true
	p.class['"'] = true
	return p, nil
}

// errAt builds a ParseError for the byte offset off of p.buf.
func (p *parser) errAt(off, row, field int, msg string, sentinel error) *ParseError {
	e := &ParseError{Name: p.name, Line: 1 + p.line0 + bytes.Count(p.buf[:off], []byte{'\n'}), Row: row, Field: field, Msg: msg, Err: sentinel}
	if field > 0 && field <= len(p.names) {
		e.Column = p.names[field-1]
	}
	return e
}

// quoteValue renders a field for an error message, shortened if long.
func quoteValue(f []byte) string {
	const maxLen = 40
	if len(f) > maxLen {
		return fmt.Sprintf("%q...", f[:maxLen])
	}
	return fmt.Sprintf("%q", f)
}

// badUTF8 returns the message for an invalid UTF-8 field.
func badUTF8(f []byte) string {
	i := 0
	for i < len(f) {
		r, n := utf8.DecodeRune(f[i:])
		if r == utf8.RuneError && n <= 1 {
			break
		}
		i += n
	}
	return fmt.Sprintf("invalid UTF-8 at byte %d of value %s", i+1, quoteValue(f))
}

// header parses the header record and returns the offset after it.
func (p *parser) header() (int, error) {
	if len(p.buf) == 0 {
		return 0, &ParseError{Name: p.name, Msg: ErrEmpty.Error(), Err: ErrEmpty}
	}
	var names []string
	var scratch []byte
	pos := 0
	for {
		start := pos
		f, next, err := p.field(p.buf, pos, &scratch, 0, len(names)+1, 0)
		if err != nil {
			return 0, err
		}
		if !utf8.Valid(f) {
			return 0, p.errAt(start, 0, len(names)+1, "column name: "+badUTF8(f), ErrUTF8)
		}
		names = append(names, string(f))
		pos = next
		if pos < len(p.buf) && p.buf[pos] == p.delim {
			pos++
			continue
		}
		pos = skipEOL(p.buf, pos)
		break
	}
	seen := make(map[string]int, len(names))
	for i, n := range names {
		if n == "" {
			return 0, p.errAt(0, 0, i+1, "empty column name", ErrHeader)
		}
		if j, dup := seen[n]; dup {
			return 0, p.errAt(0, 0, 0, fmt.Sprintf("duplicate column name %q (fields %d and %d)", n, j+1, i+1), ErrHeader)
		}
		seen[n] = i
	}
	p.names = names
	p.types = make([]Type, len(names))
	for n, t := range p.opts.Types {
		i, ok := seen[n]
		if !ok {
			return 0, &ParseError{Name: p.name, Line: 1, Msg: fmt.Sprintf("declared column %q is not in the header", n), Err: ErrHeader}
		}
		if t < Float || t > Time {
			return 0, &ParseError{Name: p.name, Line: 1, Column: n, Msg: fmt.Sprintf("invalid declared type %d", t), Err: ErrHeader}
		}
		p.types[i] = t
	}
	return pos, nil
}

// skipEOL skips "\n" or "\r\n" at pos (the caller knows one is there or
// pos is the end).
func skipEOL(b []byte, pos int) int {
	if pos < len(b) && b[pos] == '\r' {
		pos++
	}
	if pos < len(b) && b[pos] == '\n' {
		pos++
	}
	return pos
}

// field parses the field starting at b[pos] (b ends at a record boundary)
// and returns its value and the offset of the byte that ends it (the
// delimiter, '\r' of "\r\n", '\n', or len(b)). Unescaped quoted values are
// built in *scratch. base is b's offset in p.buf, for errors.
func (p *parser) field(b []byte, pos int, scratch *[]byte, base, fieldNo, row int) ([]byte, int, error) {
	if pos < len(b) && b[pos] == '"' {
		q := pos + 1
		esc := false
		for {
			i := bytes.IndexByte(b[q:], '"')
			if i < 0 {
				return nil, 0, p.errAt(base+pos, row, fieldNo, "unterminated quoted field", ErrSyntax)
			}
			q += i
			if q+1 < len(b) && b[q+1] == '"' {
				esc = true
				q += 2
				continue
			}
			break
		}
		f := b[pos+1 : q]
		if esc {
			s := (*scratch)[:0]
			for i := 0; i < len(f); i++ {
				s = append(s, f[i])
				if f[i] == '"' {
					i++
				}
			}
			*scratch = s
			f = s
		}
		q++
		if q < len(b) {
			switch c := b[q]; {
			case c == p.delim || c == '\n':
			case c == '\r' && q+1 < len(b) && b[q+1] == '\n':
			default:
				return nil, 0, p.errAt(base+q, row, fieldNo, fmt.Sprintf("unexpected %q after closing quote", c), ErrSyntax)
			}
		}
		return f, q, nil
	}
	q := pos
	// Eight bytes at a time while they hold no delimiter, newline or quote.
	for q+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[q:])
		if m := zeroBytes(w^p.delims) | zeroBytes(w^lfs) | zeroBytes(w^quotes); m != 0 {
			q += bits.TrailingZeros64(m) >> 3
			goto found
		}
		q += 8
	}
	for q < len(b) && !p.class[b[q]] {
		q++
	}
found:
	if q < len(b) && b[q] == '"' {
		return nil, 0, p.errAt(base+q, row, fieldNo, "bare quote in unquoted field", ErrSyntax)
	}
	end := q
	if end > pos && b[end-1] == '\r' && (end == len(b) || b[end] == '\n') {
		end--
		q--
	}
	return b[pos:end], q, nil
}
