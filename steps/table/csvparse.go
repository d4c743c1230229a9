package table

import (
	"bytes"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// How the parallel parse works
//
// The input is held in memory. The header is parsed first. The data after
// it is cut into chunks of about chunkSize bytes at record boundaries: the
// quotes in each nominal chunk are counted in parallel, and a newline is a
// record boundary exactly when the number of quotes before it is even
// (in well-formed CSV quotes only open, close or double inside quoted
// fields). Where the input is malformed, every boundary before the first
// error is still exact, so the first error reported is the same for every
// chunking.
//
// Each chunk is parsed into per-chunk typed buffers. Declared columns are
// converted strictly. Inferred columns are converted speculatively as the
// type of the chunk's first value; an int column meeting a float widens in
// place, and any other mismatch switches the column to classification
// (only tracking which types all its values admit). The global type of an
// inferred column is decided from all chunks; chunk columns whose
// speculation was wrong are parsed again as that type. Buffers are then
// concatenated in chunk order; string dictionaries are merged in chunk
// order, so the dictionary is in first-seen order whatever the chunking
// and the number of jobs.
//
// When every column is declared (the load step's run: types fixed at
// compile time) and the data holds no quote, there is no speculation and a
// chunk has at most one record per newline: runDirect then gives each
// chunk a window of the final columns and parses straight into it, with
// no per-chunk buffers to allocate and copy. String values are copied into
// per-chunk arena blocks (strDict.intern), not one allocation each.
//
// Once the types are decided, inferred columns are checked (infer.go): a
// float column must hold no NaN or infinity (each chunk remembers its
// first), and a string column must not be numbers (bools, times) but for
// a few values (the classes of its values: counted while classifying in a
// schema-only parse, from each chunk's dictionary otherwise).

type colMode uint8

const (
	modeSkip     colMode = iota // not converted (second pass)
	modeUnknown                 // inferred, no value seen yet
	modeConvert                 // converted as typ
	modeClassify                // inferred, speculation failed: mask only
)

// nullCode marks a null in a chunk's string codes.
const nullCode = math.MaxUint32

// colBuf is one column of one chunk.
type colBuf struct {
	mode    colMode
	typ     Type
	strict  bool // declared (or re-parsed): a value that fails is an error
	preset  bool // the value slice is a window of the final column (direct)
	negZero bool // an int column saw "-0" (not exactly widenable to float)
	any     bool // modeClassify: a non-null value was seen
	mask    uint8
	// lenient: strict, but a NaN or infinity is remembered in nfRow
	// instead of failing (the second pass of an inferred column).
	lenient bool
	// track collects levels (CSVOptions.Levels) in more (then not nil)
	// until there are too many.
	track bool
	// wantStats (a schema-only parse, modeClassify) counts the classes of
	// the values in more.stats once they are not all of one class (until
	// then, the mask says it).
	wantStats bool
	// textOnly: more.stats is full, and a value that fails the quick
	// checks of classOf (no TimeLayouts) needs no classifying.
	textOnly bool
	// nfRow is 1 + the local row of the first NaN or infinity of a float
	// (or classified) column read with NonFiniteError, 0 for none.
	nfRow int32
	hint  int // capacity to allocate for the chunk's values

	floats []float64
	ints   []int64
	bools  []bool
	codes  []uint32
	dict   strDict
	nulls  []int32 // local rows that are null
	// more holds what track and wantStats collect (nil until then), out
	// of the way of the fields every value uses.
	more *colMore
}

// colMore is the state of a column buffer's inference checks.
type colMore struct {
	levels levelSet
	stats  *mixStats
	// text holds the last values that passed classOf's quick checks but
	// are text, once stats is full: a column of a few such values ("26-40")
	// is then not classified value by value.
	text     [4]string
	textNext int
}

// extra returns c.more, allocated on first use.
func (c *colBuf) extra() *colMore {
	if c.more == nil {
		c.more = &colMore{}
	}
	return c.more
}

// chunk is a byte range of the input holding whole records.
type chunk struct {
	start, end int
	rows       int
	cols       []colBuf
	err        *ParseError
	reparse    bool
}

// add converts the value f of local row r. It returns a message and a
// sentinel error when the value is invalid.
func (c *colBuf) add(p *parser, f []byte, r int) (string, error) {
	if c.mode == modeSkip {
		return "", nil
	}
	if p.missing.is(f) {
		c.nulls = append(c.nulls, int32(r))
		if c.mode == modeConvert {
			c.appendNull()
		}
		return "", nil
	}
	lv := -1 // f's new level, in a classified column
	if c.track {
		if lv = c.trackLevel(p, f, r); lv == levelDone {
			return "", nil
		}
	}
	switch c.mode {
	case modeConvert:
		if c.convert(p, f) {
			return "", nil
		}
		if c.strict || c.typ == String {
			return c.failure(f)
		}
		return c.widen(p, f, r)
	case modeUnknown:
		m := valueMask(f, maskAll, p.opts.TimeLayouts)
		c.mode = modeConvert
		c.typ = typeOfMask(m)
		c.alloc()
		for range r {
			c.appendNull()
		}
		return c.add(p, f, r)
	case modeClassify:
		c.any = true
		within := c.mask
		var vm uint8
		if lv >= 0 {
			vm = maskWithin(c.more.levels.mask(lv, f), within)
		} else {
			vm = valueMask(f, within, p.opts.TimeLayouts)
		}
		c.mask &= vm
		if vm&maskNonFinite != 0 && c.nfRow == 0 {
			c.nfRow = int32(r) + 1
		}
		// While the values all have one class (mask is not 0), the mask
		// and the null count say how many; text that classOf's quick
		// checks call text counts nothing once enough is kept.
		if c.mask == 0 && c.wantStats && (lv >= 0 || !(c.textOnly && (len(f) == 0 || !typedStart[f[0]] || !typedEnd[f[len(f)-1]]))) {
			c.classify(p, f, r, within, lv)
		}
		if vm == 0 && !utf8.Valid(f) {
			return badUTF8(f), ErrUTF8
		}
	}
	return "", nil
}

// classify counts the class of the value f at local row r of a column in
// modeClassify whose values are not all of one class (c.mask is 0):
// within is the column's mask before f, lv its new level or -1.
func (c *colBuf) classify(p *parser, f []byte, r int, within uint8, lv int) {
	m := c.extra()
	if m.stats == nil {
		// f is the first value of another class: the r-len(nulls) values
		// before it had the class of within.
		m.stats = oneClassStats(within, r-len(c.nulls))
	}
	if lv >= 0 {
		c.count(p, f, r, m.levels.class(lv, f))
		return
	}
	if m.stats.full {
		for _, v := range m.text {
			if v == string(f) && v != "" {
				return // text seen lately
			}
		}
	}
	cls := classOf(f, p.opts.TimeLayouts)
	if cls == 0 && m.stats.full {
		// Text: counts nothing, and enough offending values are kept.
		m.text[m.textNext] = string(f)
		m.textNext = (m.textNext + 1) % len(m.text)
		return
	}
	c.count(p, f, r, cls)
}

// count adds a value of class set cls to the stats (not nil).
func (c *colBuf) count(p *parser, f []byte, r int, cls uint8) {
	s := c.more.stats
	if cls == 0 && s.full {
		return // text: counts nothing, and enough offending values are kept
	}
	s.add(cls, r, f, "")
	c.textOnly = s.full && len(p.opts.TimeLayouts) == 0
}

// levelDone is what trackLevel returns for a value it classified.
const levelDone = -2

// trackLevel adds f, at local row r, to the column's levels. In a
// classified column (without TimeLayouts) it returns f's index when f is
// new, so that add records its type mask and class, and when f was seen
// before it classifies it from them and returns levelDone; otherwise -1.
func (c *colBuf) trackLevel(p *parser, f []byte, r int) int {
	idx, found, over := c.more.levels.lookup(f, levelKey(f), p.opts.Levels)
	switch {
	case over:
		c.track = false // too many
	case c.mode != modeClassify || len(p.opts.TimeLayouts) > 0:
	case found:
		c.classifyLevel(p, f, r, idx)
		return levelDone
	default:
		return idx
	}
	return -1
}

// stopLevels stops collecting the levels of a column declared time: a
// time column has none (see ColumnInfo.Levels), so its values need not be
// looked up. (An inferred column is looked up all the same: a chunk
// holding only dates does not make the column a time column, and the
// levels must not depend on the chunking.)
func (c *colBuf) stopLevels() {
	if c.track {
		c.track = false
		c.more.levels = levelSet{over: true}
	}
}

// classifyLevel is the classify mode of add for a value found among the
// column's levels (no TimeLayouts): its type mask and class were computed
// when first seen, and its bytes checked then.
func (c *colBuf) classifyLevel(p *parser, f []byte, r, idx int) {
	c.any = true
	l := &c.more.levels
	within := c.mask
	vm := maskWithin(l.mask(idx, f), within)
	c.mask &= vm
	if vm&maskNonFinite != 0 && c.nfRow == 0 {
		c.nfRow = int32(r) + 1
	}
	if c.mask == 0 && c.wantStats {
		if c.more.stats == nil {
			c.more.stats = oneClassStats(within, r-len(c.nulls))
		}
		c.count(p, f, r, l.class(idx, f))
	}
}

// classStats returns the stats of a classified column of rows rows.
func (c *colBuf) classStats(rows int) *mixStats {
	if c.more != nil && c.more.stats != nil {
		return c.more.stats
	}
	return oneClassStats(c.mask, rows-len(c.nulls))
}

// alloc gives the buffer for c.typ its full capacity up front.
func (c *colBuf) alloc() {
	switch c.typ {
	case Float:
		c.floats = make([]float64, 0, c.hint)
	case Int, Time:
		c.ints = make([]int64, 0, c.hint)
	case Bool:
		c.bools = make([]bool, 0, c.hint)
	case String:
		c.codes = make([]uint32, 0, c.hint)
	}
}

func (c *colBuf) appendNull() {
	switch c.typ {
	case Float:
		c.floats = append(c.floats, nan)
	case Int, Time:
		c.ints = append(c.ints, 0)
	case Bool:
		c.bools = append(c.bools, false)
	case String:
		c.codes = append(c.codes, nullCode)
	}
}

// convert appends f converted as c.typ, reporting false when it does not
// parse (or, for strings, is not valid UTF-8).
func (c *colBuf) convert(p *parser, f []byte) bool {
	switch c.typ {
	case Float:
		v, ok := parseFloat(f)
		if !ok {
			return false
		}
		if v-v != 0 {
			// NaN or an infinity.
			if !c.nonFinite(p) {
				return false
			}
			v = nan
		}
		c.floats = append(c.floats, v)
	case Int:
		v, ok := parseInt(f)
		if !ok {
			return false
		}
		if v == 0 && f[0] == '-' {
			c.negZero = true
		}
		c.ints = append(c.ints, v)
	case Time:
		v, ok := parseTime(f, p.opts.TimeLayouts)
		if !ok {
			return false
		}
		c.ints = append(c.ints, v)
	case Bool:
		var v, ok bool
		if c.strict {
			v, ok = parseBoolDeclared(f)
		} else {
			v, ok = parseBool(f)
		}
		if !ok {
			return false
		}
		c.bools = append(c.bools, v)
	case String:
		if c.dict.appendOnly {
			if !utf8.Valid(f) {
				return false
			}
			c.codes = append(c.codes, c.dict.add(p.seed, f))
			return true
		}
		code, slot, h, ok := c.dict.find(p.seed, f)
		if !ok {
			if !utf8.Valid(f) {
				return false
			}
			code = c.dict.insert(p.seed, c.dict.intern(f), slot, h, len(c.codes)+1, c.hint)
		}
		c.codes = append(c.codes, code)
		if len(c.dict.list) == idsAfter && len(c.codes)-len(c.nulls) == idsAfter {
			// Every value distinct so far: an id column.
			c.dict.appendOnly, c.dict.slots = true, nil
		}
	}
	return true
}

// nonFinite handles a NaN or infinity about to be appended to a float
// column: a null with NonFiniteMissing (NaN is how a float column holds
// one), else an error, reported now (false) when the column is declared,
// once the type is decided when it is inferred (nfRow). Kept out of
// convert, whose float path is the hottest of a parse.
//
//go:noinline
func (c *colBuf) nonFinite(p *parser) bool {
	if p.opts.NonFinite != NonFiniteMissing {
		if c.strict && !c.lenient {
			return false
		}
		if c.nfRow == 0 {
			c.nfRow = int32(len(c.floats)) + 1
		}
	}
	c.nulls = append(c.nulls, int32(len(c.floats)))
	return true
}

// failure describes a value that does not convert as c.typ.
func (c *colBuf) failure(f []byte) (string, error) {
	if !utf8.Valid(f) {
		return badUTF8(f), ErrUTF8
	}
	hint := ""
	if looksDecimalComma(f) {
		hint = " (decimal comma?)"
	}
	switch c.typ {
	case Float:
		if v, ok := parseFloat(f); ok && v-v != 0 {
			return nonFiniteMsg(f), ErrNonFinite
		}
		if outOfRange(f) {
			return fmt.Sprintf("%s is out of range for a float", quoteValue(f)), ErrType
		}
		return fmt.Sprintf("%s is not a float%s", quoteValue(f), hint), ErrType
	case Int:
		if v, ok := parseFloat(f); ok && v-v == 0 {
			return fmt.Sprintf("%s is not an int (declare the column float?)", quoteValue(f)), ErrType
		}
		return fmt.Sprintf("%s is not an int%s", quoteValue(f), hint), ErrType
	case Bool:
		return fmt.Sprintf("%s is not a bool (want true, false, 1 or 0)", quoteValue(f)), ErrType
	case Time:
		return fmt.Sprintf("%s is not a time (want RFC 3339 or 2006-01-02)", quoteValue(f)), ErrType
	}
	return fmt.Sprintf("%s is not a %s", quoteValue(f), c.typ), ErrType
}

// looksDecimalComma reports whether f reads as a number with a decimal
// comma: [sign] digits (dots allowed as thousands separators) ',' digits.
func looksDecimalComma(f []byte) bool {
	i := 0
	if len(f) > 0 && (f[0] == '-' || f[0] == '+') {
		i = 1
	}
	comma := bytes.IndexByte(f, ',')
	if comma <= i || comma == len(f)-1 || f[comma-1] < '0' || f[comma-1] > '9' {
		return false
	}
	for j := i; j < len(f); j++ {
		c := f[j]
		if (c < '0' || c > '9') && !(c == '.' && j < comma) && j != comma {
			return false
		}
	}
	return true
}

// widen handles an inferred column whose value f at local row r does not
// convert as its speculated type.
func (c *colBuf) widen(p *parser, f []byte, r int) (string, error) {
	vm := valueMask(f, maskAll, p.opts.TimeLayouts)
	if c.typ == Int && vm&maskFloat != 0 && !c.negZero {
		// float64(int64) and ParseFloat of the same digits both round
		// correctly, so converting in place is exact.
		c.floats = make([]float64, len(c.ints), max(cap(c.ints), c.hint))
		for i, v := range c.ints {
			c.floats[i] = float64(v)
		}
		for _, n := range c.nulls {
			c.floats[n] = nan
		}
		c.ints = nil
		c.typ = Float
		return c.add(p, f, r)
	}
	c.mask = maskOf(c.typ) & vm
	c.mode = modeClassify
	c.any = true
	c.floats, c.ints, c.bools, c.codes, c.dict = nil, nil, nil, nil, strDict{}
	if vm == 0 && !utf8.Valid(f) {
		return badUTF8(f), ErrUTF8
	}
	return "", nil
}

// parseChunk parses the records of ch into cols.
func (p *parser) parseChunk(ch *chunk, cols []colBuf) {
	b := p.buf[ch.start:ch.end]
	base := ch.start
	n := len(cols)
	var scratch []byte
	hint := bytes.Count(b, []byte{'\n'}) + 1
	for j := range cols {
		cols[j].hint = hint
		if cols[j].mode == modeConvert && !cols[j].preset {
			cols[j].alloc()
		}
	}
	pos, row := 0, 0
	for pos < len(b) {
		if b[pos] == '\n' {
			pos++
			continue
		}
		if b[pos] == '\r' && pos+1 < len(b) && b[pos+1] == '\n' {
			pos += 2
			continue
		}
		recStart := pos
		fieldNo := 0
		for {
			fieldNo++
			fStart := pos
			f, next, err := p.field(b, pos, &scratch, base, fieldNo, row+1)
			if err != nil {
				ch.err = err.(*ParseError)
				return
			}
			if fieldNo <= n {
				if msg, s := cols[fieldNo-1].add(p, f, row); s != nil {
					ch.err = p.errAt(base+fStart, row+1, fieldNo, msg, s)
					return
				}
			}
			pos = next
			if pos < len(b) && b[pos] == p.delim {
				pos++
				continue
			}
			pos = skipEOL(b, pos)
			break
		}
		if fieldNo != n {
			ch.err = p.errAt(base+recStart, row+1, 0, fmt.Sprintf("row has %d fields, want %d", fieldNo, n), ErrSyntax)
			return
		}
		row++
	}
	ch.rows = row
	ch.cols = cols
}

// parallel runs fn(i) for i in [0, n) on up to jobs goroutines, in
// increasing order of start. When fn returns false, indices above i are
// not started.
func parallel(jobs, n int, fn func(i int) bool) {
	if jobs > n {
		jobs = n
	}
	if jobs <= 1 {
		for i := range n {
			if !fn(i) {
				return
			}
		}
		return
	}
	var next atomic.Int64
	var stop atomic.Int64
	stop.Store(int64(n))
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || int64(i) > stop.Load() {
					return
				}
				if !fn(i) {
					for {
						s := stop.Load()
						if int64(i) >= s || stop.CompareAndSwap(s, int64(i)) {
							break
						}
					}
				}
			}
		}()
	}
	wg.Wait()
}

// split cuts p.buf[off:] into chunks at record boundaries.
func (p *parser) split(off int) []chunk {
	size := p.opts.chunkSize
	total := len(p.buf) - off
	if size <= 0 {
		size = min(max(total/(p.jobs*8), 1<<20), 16<<20)
	}
	if total <= size {
		return []chunk{{start: off, end: len(p.buf)}}
	}
	k := (total + size - 1) / size
	bound := func(j int) int { return min(off+j*size, len(p.buf)) }
	quotes := make([]int, k)
	parallel(p.jobs, k, func(j int) bool {
		quotes[j] = bytes.Count(p.buf[bound(j):bound(j+1)], []byte{'"'})
		return true
	})
	// starts[j] is the first record boundary at or after bound(j).
	starts := make([]int, k+1)
	starts[k] = len(p.buf)
	parity := make([]int, k)
	for j := 1; j < k; j++ {
		parity[j] = (parity[j-1] + quotes[j-1]) & 1
	}
	for j := k - 1; j >= 1; j-- {
		lo, hi := bound(j), bound(j+1)
		starts[j] = starts[j+1]
		par := parity[j]
		if p.buf[lo-1] == '\n' && par == 0 {
			starts[j] = lo
			continue
		}
		for i := lo; i < hi; i++ {
			switch p.buf[i] {
			case '"':
				par ^= 1
			case '\n':
				if par == 0 {
					starts[j] = i + 1
					i = hi
				}
			}
		}
	}
	starts[0] = off
	chunks := make([]chunk, 0, k)
	for j := range k {
		if starts[j] < starts[j+1] {
			chunks = append(chunks, chunk{start: starts[j], end: starts[j+1]})
		}
	}
	if len(chunks) == 0 {
		chunks = append(chunks, chunk{start: off, end: off})
	}
	return chunks
}

// run parses the data and assembles the dataset.
func (p *parser) run() (*Dataset, []ColumnInfo, error) {
	off, err := p.header()
	if err != nil {
		return nil, nil, err
	}
	n := len(p.names)
	chunks := p.split(off)
	if !p.opts.SchemaOnly {
		if ds, info, ok, err := p.runDirect(chunks); ok || err != nil {
			return ds, info, err
		}
	}

	// First pass.
	parallel(p.jobs, len(chunks), func(i int) bool {
		cols := make([]colBuf, n)
		for j, t := range p.types {
			switch {
			case t != 0:
				cols[j] = colBuf{mode: modeConvert, typ: t, strict: true}
			case p.opts.SchemaOnly:
				// Only track which types all the values admit.
				cols[j] = colBuf{mode: modeClassify, mask: maskAll, wantStats: true}
			default:
				cols[j] = colBuf{mode: modeUnknown}
			}
		}
		p.initLevels(cols)
		p.parseChunk(&chunks[i], cols)
		return chunks[i].err == nil
	})
	rowBase := 0
	for i := range chunks {
		if e := chunks[i].err; e != nil {
			if e.Row > 0 {
				e.Row += rowBase
			}
			return nil, nil, e
		}
		rowBase += chunks[i].rows
	}
	total := rowBase

	// Decide inferred types; fix up or mark chunks for a second pass.
	final := make([]Type, n)
	for j := range n {
		if p.types[j] != 0 {
			final[j] = p.types[j]
			continue
		}
		seen, mask := false, maskAll
		for i := range chunks {
			c := &chunks[i].cols[j]
			switch c.mode {
			case modeConvert:
				seen = true
				mask &= maskOf(c.typ)
			case modeClassify:
				if c.any {
					seen = true
					mask &= c.mask
				}
			}
		}
		final[j] = Float
		if seen {
			final[j] = typeOfMask(mask)
		}
		if p.opts.SchemaOnly {
			continue
		}
		for i := range chunks {
			ch := &chunks[i]
			c := &ch.cols[j]
			switch {
			case c.mode == modeUnknown:
				c.mode, c.typ = modeConvert, final[j]
				for range ch.rows {
					c.appendNull()
				}
			case c.mode == modeConvert && c.typ == final[j]:
			case c.mode == modeConvert && c.typ == Int && final[j] == Float && !c.negZero:
				c.floats = make([]float64, len(c.ints))
				for r, v := range c.ints {
					c.floats[r] = float64(v)
				}
				for _, r := range c.nulls {
					c.floats[r] = nan
				}
				c.ints, c.typ = nil, Float
			default:
				ch.reparse = true
				c.mode = modeSkip
			}
		}
	}

	if p.opts.SchemaOnly {
		if err := p.checkInferred(chunks, final); err != nil {
			return nil, nil, err
		}
		ds := &Dataset{Rows: total, Columns: make([]*Column, n)}
		info := make([]ColumnInfo, n)
		for j := range n {
			nulls := 0
			for i := range chunks {
				nulls += len(chunks[i].cols[j].nulls)
			}
			ds.Columns[j] = &Column{Name: p.names[j], Type: final[j]}
			info[j] = ColumnInfo{Name: p.names[j], Type: final[j], Declared: p.types[j] != 0, Nulls: nulls, Levels: p.levels(chunks, j, final[j])}
			for i := range chunks {
				chunks[i].cols[j] = colBuf{}
			}
		}
		return ds, info, nil
	}

	// Second pass: chunk columns whose speculation failed.
	var reErr error
	var reMu sync.Mutex
	parallel(p.jobs, len(chunks), func(i int) bool {
		ch := &chunks[i]
		if !ch.reparse {
			return true
		}
		old := ch.cols
		cols := make([]colBuf, n)
		for j := range cols {
			if old[j].mode == modeSkip {
				cols[j] = colBuf{mode: modeConvert, typ: final[j], strict: true, lenient: true}
			}
		}
		again := chunk{start: ch.start, end: ch.end}
		p.parseChunk(&again, cols)
		if again.err != nil || again.rows != ch.rows {
			reMu.Lock()
			reErr = fmt.Errorf("%s: internal error: second pass disagrees: %v", p.name, again.err)
			reMu.Unlock()
			return false
		}
		for j := range cols {
			if old[j].mode == modeSkip {
				// Levels were collected by the first pass.
				cols[j].more = old[j].more
				old[j] = cols[j]
			}
		}
		return true
	})
	if reErr != nil {
		return nil, nil, reErr
	}
	if err := p.checkInferred(chunks, final); err != nil {
		return nil, nil, err
	}

	return p.assemble(chunks, final, total)
}

// assemble concatenates the chunks' buffers into the dataset.
func (p *parser) assemble(chunks []chunk, final []Type, total int) (*Dataset, []ColumnInfo, error) {
	n := len(p.names)
	ds := &Dataset{Rows: total, Columns: make([]*Column, n)}
	info := make([]ColumnInfo, n)
	rowStart := make([]int, len(chunks)+1)
	for i := range chunks {
		rowStart[i+1] = rowStart[i] + chunks[i].rows
	}
	remaps := make([][][]uint32, n)
	for j := range n {
		c := &Column{Name: p.names[j], Type: final[j]}
		ds.Columns[j] = c
		switch final[j] {
		case Float:
			c.Floats = make([]float64, total)
		case Int, Time:
			c.Ints = make([]int64, total)
		case Bool:
			c.Bools = make([]bool, total)
		case String:
			c.Codes = make([]uint32, total)
			dicts := make([]*strDict, len(chunks))
			for i := range chunks {
				dicts[i] = &chunks[i].cols[j].dict
			}
			c.Dict, remaps[j] = mergeDicts(dicts, p.jobs)
		}
		nulls := 0
		for i := range chunks {
			nulls += len(chunks[i].cols[j].nulls)
		}
		if nulls > 0 {
			c.Valid = NewBitmap(total)
			for i := range chunks {
				for _, r := range chunks[i].cols[j].nulls {
					c.Valid.SetNull(rowStart[i] + int(r))
				}
			}
		}
		info[j] = ColumnInfo{Name: c.Name, Type: c.Type, Declared: p.types[j] != 0, Nulls: nulls, Levels: p.levels(chunks, j, c.Type)}
	}
	parallel(p.jobs, len(chunks), func(i int) bool {
		at := rowStart[i]
		for j, c := range ds.Columns {
			b := &chunks[i].cols[j]
			switch c.Type {
			case Float:
				copy(c.Floats[at:], b.floats)
			case Int, Time:
				copy(c.Ints[at:], b.ints)
			case Bool:
				copy(c.Bools[at:], b.bools)
			case String:
				rm := remaps[j][i]
				dst := c.Codes[at : at+len(b.codes)]
				for k, code := range b.codes {
					if code != nullCode {
						dst[k] = rm[code]
					}
				}
			}
			chunks[i].cols[j] = colBuf{}
		}
		return true
	})
	return ds, info, nil
}

// runDirect parses straight into the final columns when every column's
// type is declared and no chunk holds a quote: then a chunk has at most one
// record per newline (one more when it does not end with one), so each
// chunk gets a window of that many rows of every final column, and no
// per-chunk buffer is allocated or copied. Blank lines, which the parser
// skips, leave a chunk's window short; the windows are then moved down in
// chunk order. ok is false when the conditions do not hold (chunks are
// untouched): the caller parses through per-chunk buffers.
func (p *parser) runDirect(chunks []chunk) (ds *Dataset, info []ColumnInfo, ok bool, err error) {
	if p.opts.buffered {
		return nil, nil, false, nil
	}
	for _, t := range p.types {
		if t == 0 {
			return nil, nil, false, nil
		}
	}
	counts := make([]int, len(chunks)+1) // counts[i+1]: room of chunk i
	var quoted atomic.Bool
	parallel(p.jobs, len(chunks), func(i int) bool {
		b := p.buf[chunks[i].start:chunks[i].end]
		if bytes.IndexByte(b, '"') >= 0 {
			quoted.Store(true)
			return false
		}
		k := bytes.Count(b, []byte{'\n'})
		if len(b) > 0 && b[len(b)-1] != '\n' {
			k++
		}
		counts[i+1] = k
		return true
	})
	if quoted.Load() {
		return nil, nil, false, nil
	}
	at := make([]int, len(chunks)+1) // window start of chunk i
	for i := range chunks {
		at[i+1] = at[i] + counts[i+1]
	}
	room := at[len(chunks)]
	n := len(p.names)
	ds = &Dataset{Columns: make([]*Column, n)}
	for j, t := range p.types {
		c := &Column{Name: p.names[j], Type: t}
		switch t {
		case Float:
			c.Floats = make([]float64, room)
		case Int, Time:
			c.Ints = make([]int64, room)
		case Bool:
			c.Bools = make([]bool, room)
		case String:
			c.Codes = make([]uint32, room)
		}
		ds.Columns[j] = c
	}
	parallel(p.jobs, len(chunks), func(i int) bool {
		lo, hi := at[i], at[i+1]
		cols := windowBufs(ds, lo, hi)
		p.initLevels(cols)
		p.parseChunk(&chunks[i], cols)
		return chunks[i].err == nil
	})
	rowBase := 0
	for i := range chunks {
		if e := chunks[i].err; e != nil {
			if e.Row > 0 {
				e.Row += rowBase
			}
			return nil, nil, true, e
		}
		if chunks[i].rows > counts[i+1] {
			// Cannot happen: a record ends at a newline or the chunk's end.
			return nil, nil, true, fmt.Errorf("%s: internal error: chunk %d has %d rows, room for %d", p.name, i, chunks[i].rows, counts[i+1])
		}
		rowBase += chunks[i].rows
	}
	total := rowBase
	ds.Rows = total
	info = p.finishDirect(ds, chunks, at, room)
	return ds, info, true, nil
}

// finishDirect completes a parse straight into the final columns of ds:
// chunk i parsed its rows into the window starting at at[i] of columns
// with room rows, and ds.Rows is the total. Windows left short by blank
// lines are moved down, string codes remapped to the merged dictionary and
// null bitmaps built. The chunks' buffers are released.
func (p *parser) finishDirect(ds *Dataset, chunks []chunk, at []int, room int) []ColumnInfo {
	n, total := len(ds.Columns), ds.Rows
	rowStart := make([]int, len(chunks)+1)
	for i := range chunks {
		rowStart[i+1] = rowStart[i] + chunks[i].rows
	}
	info := make([]ColumnInfo, n)
	parallel(p.jobs, n, func(j int) bool {
		c := ds.Columns[j]
		if total < room {
			// Blank lines: move each chunk's rows down to their place.
			for i := range chunks {
				from, to, k := at[i], rowStart[i], chunks[i].rows
				switch c.Type {
				case Float:
					copy(c.Floats[to:to+k], c.Floats[from:from+k])
				case Int, Time:
					copy(c.Ints[to:to+k], c.Ints[from:from+k])
				case Bool:
					copy(c.Bools[to:to+k], c.Bools[from:from+k])
				case String:
					copy(c.Codes[to:to+k], c.Codes[from:from+k])
				}
			}
			c.clip(total)
		}
		if c.Type == String {
			dicts := make([]*strDict, len(chunks))
			for i := range chunks {
				dicts[i] = &chunks[i].cols[j].dict
			}
			var remaps [][]uint32
			c.Dict, remaps = mergeDicts(dicts, p.jobs)
			for i := range chunks {
				rm := remaps[i]
				dst := c.Codes[rowStart[i] : rowStart[i]+chunks[i].rows]
				for k, code := range dst {
					if code != nullCode {
						dst[k] = rm[code]
					} else {
						dst[k] = 0
					}
				}
			}
		}
		nulls := 0
		for i := range chunks {
			nulls += len(chunks[i].cols[j].nulls)
		}
		if nulls > 0 {
			c.Valid = NewBitmap(total)
			for i := range chunks {
				for _, r := range chunks[i].cols[j].nulls {
					c.Valid.SetNull(rowStart[i] + int(r))
				}
			}
		}
		info[j] = ColumnInfo{Name: c.Name, Type: c.Type, Declared: true, Nulls: nulls, Levels: p.levels(chunks, j, c.Type)}
		for i := range chunks {
			chunks[i].cols[j] = colBuf{}
		}
		return true
	})
	return info
}

// windowBufs returns column buffers that convert straight into rows
// [lo, hi) of the final, preset columns of ds.
func windowBufs(ds *Dataset, lo, hi int) []colBuf {
	cols := make([]colBuf, len(ds.Columns))
	for j, c := range ds.Columns {
		cols[j] = colBuf{mode: modeConvert, typ: c.Type, strict: true, preset: true}
		switch c.Type {
		case Float:
			cols[j].floats = c.Floats[lo:lo:hi]
		case Int, Time:
			cols[j].ints = c.Ints[lo:lo:hi]
		case Bool:
			cols[j].bools = c.Bools[lo:lo:hi]
		case String:
			cols[j].codes = c.Codes[lo:lo:hi]
		}
	}
	return cols
}

// clip cuts the values of a column of preset capacity to its first n rows
// (capacity n too).
func (c *Column) clip(n int) {
	switch c.Type {
	case Float:
		c.Floats = c.Floats[:n:n]
	case Int, Time:
		c.Ints = c.Ints[:n:n]
	case Bool:
		c.Bools = c.Bools[:n:n]
	case String:
		c.Codes = c.Codes[:n:n]
	}
}
