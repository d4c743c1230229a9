package table

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unsafe"
)

// Inference checks beyond the type of each column (see CSVOptions.Types):
// non-finite floats, columns of one type but for a few values, and the
// distinct values of low-cardinality columns. They work on the chunks of
// a parse (csvparse.go), so they give the same result for any chunking:
// each chunk keeps what it saw, in row order, and the chunks are combined
// in input order.

// Value classes of the mixed-column rule, and their bits in a class set.
const (
	classNumber = iota
	classBool
	classTime
	nClasses

	clsNumber uint8 = 1 << classNumber
	clsBool   uint8 = 1 << classBool
	clsTime   uint8 = 1 << classTime
	// clsNumLike marks a value that is not a number but reads like one:
	// a decimal comma, or a number beyond float64.
	clsNumLike uint8 = 1 << nClasses
)

// maxBad is the number of offending values a mixed-column error names.
const maxBad = 5

// typedStart and typedEnd mark the bytes a value that parses as an int,
// float, bool, time (without extra layouts), decimal comma or overflowing
// number may start and end with: most text fails one of them at once.
var typedStart, typedEnd = func() (start, end [256]bool) {
	for c := '0'; c <= '9'; c++ {
		start[c], end[c] = true, true
	}
	for _, c := range "+-.iInNtTfF" {
		start[c] = true
	}
	// inf, infinity, nan, true, false, RFC 3339's Z; "5." is a float.
	for _, c := range ".fFyYnNeEzZ" {
		end[c] = true
	}
	return start, end
}()

// classOf returns the class set of a non-missing value: the class of the
// type valueMask gives it (number before bool before time), or clsNumLike,
// or none (text).
func classOf(f []byte, layouts []string) uint8 {
	if len(f) == 0 || (len(layouts) == 0 && (!typedStart[f[0]] || !typedEnd[f[len(f)-1]])) {
		return 0
	}
	return classFromMask(valueMask(f, maskAll, layouts), f)
}

// classFromMask is classOf for a value whose valueMask is vm.
func classFromMask(vm uint8, f []byte) uint8 {
	switch {
	case vm&(maskInt|maskFloat) != 0:
		return clsNumber
	case vm&maskBool != 0:
		return clsBool
	case vm&maskTime != 0:
		return clsTime
	case looksDecimalComma(f) || outOfRange(f):
		return clsNumLike
	}
	return 0
}

// classOfMask returns the class of a column chunk whose values all admit
// the types of mask m (not maskAll: a value was seen).
func classOfMask(m uint8) uint8 {
	switch {
	case m&(maskInt|maskFloat) != 0:
		return clsNumber
	case m&maskBool != 0:
		return clsBool
	case m&maskTime != 0:
		return clsTime
	}
	return 0
}

// badValue is a value that is not of a class, at a local row of a chunk.
type badValue struct {
	row int32
	val string
}

// mixStats counts the classes of a column chunk's non-missing values.
type mixStats struct {
	count   [nClasses]int
	numLike int
	// The first pre values (of a schema-only parse) all have the classes
	// preCls; they are not kept: decideMixed reads those it names again.
	pre    int
	preCls uint8
	// bad holds, for each class, the first maxBad values after the pre
	// ones that are not of it.
	bad [nClasses][]badValue
	// full: every list of bad is full.
	full bool
}

// add counts a value of class set cls at local row r: its bytes f, or its
// text v when f is nil.
func (s *mixStats) add(cls uint8, r int, f []byte, v string) {
	if cls&clsNumLike != 0 {
		s.numLike++
	}
	for k := range s.count {
		if cls&(1<<k) != 0 {
			s.count[k]++
			continue
		}
		if len(s.bad[k]) < maxBad {
			if f != nil {
				v, f = string(f), nil
			}
			s.bad[k] = append(s.bad[k], badValue{int32(r), v})
		}
	}
	s.full = len(s.bad[0]) == maxBad && len(s.bad[1]) == maxBad && len(s.bad[2]) == maxBad
}

// oneClassStats returns the stats of a chunk column in classify mode
// whose first n values all admit the types of mask (maskAll: none seen).
func oneClassStats(mask uint8, n int) *mixStats {
	s := &mixStats{pre: n}
	if n > 0 {
		s.preCls = classOfMask(mask)
	}
	for k := range s.count {
		if s.preCls&(1<<k) != 0 {
			s.count[k] = n
		}
	}
	return s
}

// dictStats computes the stats of a chunk column parsed as strings, from
// its dictionary and codes: each distinct value is classified once. Text
// columns, whose values are all of no class, stop at the first maxBad
// values.
func dictStats(c *colBuf, layouts []string) *mixStats {
	s := &mixStats{}
	cls := make([]uint8, len(c.dict.list))
	typed := false
	for k, v := range c.dict.list {
		cls[k] = classOf(unsafe.Slice(unsafe.StringData(v), len(v)), layouts)
		typed = typed || cls[k] != 0
	}
	for r, code := range c.codes {
		if code == nullCode {
			continue
		}
		if !typed && s.full {
			break
		}
		s.add(cls[code], r, nil, c.dict.list[code])
	}
	return s
}

// mixed is a column's mixed-class problem, as decided by decideMixed.
type mixed struct {
	class int
	count int // values not of the class
	n     int // non-missing values
	bad   []badAt
}

// badAt is a badValue at a global row of a chunk.
type badAt struct {
	chunk int
	badValue
	global int
}

// decideMixed combines the stats of a column's chunks (rowStart[i] is the
// first global row of chunk i, nulls the chunk's null counts) and returns
// the problem, if the column is of one class but for a few values. firsts
// returns the first n values of the column in chunk i (the pre values).
func decideMixed(stats []*mixStats, rows, nulls, rowStart []int, firsts func(i, n int) []badValue) (mixed, bool) {
	n, numLike := 0, 0
	var count [nClasses]int
	for i, s := range stats {
		n += rows[i] - nulls[i]
		numLike += s.numLike
		for k := range count {
			count[k] += s.count[k]
		}
	}
	for k := range count {
		like := count[k]
		if k == classNumber {
			like += numLike
		}
		other := n - like
		if count[k] == n || like <= other || (other > 3 && 10*other > n) {
			continue
		}
		m := mixed{class: k, count: n - count[k], n: n}
		for i, s := range stats {
			bad := s.bad[k]
			if s.pre > 0 && s.preCls&(1<<k) == 0 && len(m.bad) < maxBad {
				bad = append(firsts(i, min(s.pre, maxBad-len(m.bad))), bad...)
			}
			for _, b := range bad {
				if len(m.bad) < maxBad {
					m.bad = append(m.bad, badAt{chunk: i, badValue: b, global: rowStart[i] + int(b.row)})
				}
			}
		}
		return m, true
	}
	return mixed{}, false
}

// message describes the problem of column name.
func (m mixed) message(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d values of this ", m.count, m.n)
	one := m.count == 1
	switch m.class {
	case classNumber:
		b.WriteString(pick(one, "numeric column is not a valid number", "numeric column are not valid numbers"))
	case classBool:
		b.WriteString(pick(one, "bool column is not a bool", "bool column are not bools") + " (true or false)")
	case classTime:
		b.WriteString(pick(one, "time column is not a time", "time column are not times") + " (RFC 3339 or 2006-01-02)")
	}
	b.WriteString(": ")
	for i, v := range m.bad {
		if i > 0 {
			b.WriteString(", ")
		}
		f := []byte(v.val)
		fmt.Fprintf(&b, "row %d %s", v.global+1, quoteValue(f))
		if m.class == classNumber {
			switch {
			case looksDecimalComma(f):
				b.WriteString(" (decimal comma?)")
			case outOfRange(f):
				b.WriteString(" (out of range for a float)")
			}
		}
	}
	if more := m.count - len(m.bad); more > 0 {
		fmt.Fprintf(&b, " and %d more", more)
	}
	them := pick(one, "it", "them")
	fmt.Fprintf(&b, "; fix %s, list %s under missing:, or declare the column under columns: (%s: string) to read it as text", them, them, name)
	return b.String()
}

func pick(one bool, a, b string) string {
	if one {
		return a
	}
	return b
}

// nonFiniteMsg describes a NaN or infinity read with NonFiniteError.
func nonFiniteMsg(f []byte) string {
	return fmt.Sprintf("%s is not a finite number (non_finite: missing reads such values as missing)", quoteValue(f))
}

// levelSet collects the distinct values of a column chunk, up to a limit
// (at most levelSlots/2). It is looked up for every value of a column with
// few of them: each value is hashed by its first eight bytes, taken as one
// word, into a small open-addressing table whose slots hold that word and
// the length, so that a short value is found with one load. In a
// classified column each level keeps its type mask and class, so that a
// value seen before is not parsed again.
type levelSet struct {
	slots [levelSlots]levelSlot
	vals  []string
	vm    []uint8 // valueMask(v, maskAll) | vmKnown, or 0 (not computed)
	cls   []uint8 // classOf(v), or clsUnknown
	// over means more than the limit: the set is abandoned.
	over bool
}

// clsUnknown marks a level whose class is not computed yet; vmKnown a
// level whose type mask is (a bit no mask uses).
const (
	clsUnknown       = 0xff
	vmKnown    uint8 = 1 << 6
)

// levelSlot is a slot of a levelSet: a value's levelKey, its length + 1
// (0: empty) and its index in vals.
type levelSlot struct {
	key uint64
	n   uint32
	idx uint32
}

// levelSlots is the size of a levelSet's table: a power of two, at least
// twice the most levels collected.
const levelSlots = 64

// levelKey returns the first eight bytes of f as a little-endian word,
// zero past len(f).
func levelKey(f []byte) uint64 {
	if cap(f) >= 8 {
		// f is a window of a larger buffer: one load, masked.
		w := binary.LittleEndian.Uint64(f[:8])
		if len(f) < 8 {
			w &= 1<<(8*uint(len(f))) - 1
		}
		return w
	}
	var w uint64
	for i := len(f) - 1; i >= 0; i-- {
		w = w<<8 | uint64(f[i])
	}
	return w
}

// levelHash returns the first slot of a value of levelKey k and length n.
func levelHash(k uint64, n int) uint64 {
	return (k ^ uint64(n)) * 0x9E3779B97F4A7C15 >> 58 // 6 bits: levelSlots
}

// lookup finds f, of levelKey k, among the levels, or adds it: it returns
// f's index and whether it was there before. Past max values the set is
// over (and lookup reports over).
func (l *levelSet) lookup(f []byte, k uint64, max int) (idx int, found, over bool) {
	n := uint32(len(f)) + 1
	h := levelHash(k, len(f))
	for {
		s := &l.slots[h]
		if s.n == 0 {
			break
		}
		if s.key == k && s.n == n && (n <= 9 || l.vals[s.idx][8:] == string(f[8:])) {
			return int(s.idx), true, false
		}
		h = (h + 1) & (levelSlots - 1)
	}
	if len(l.vals) == max || len(l.vals) == levelSlots/2 {
		l.over, l.vals, l.vm, l.cls = true, nil, nil, nil
		return 0, false, true
	}
	idx = len(l.vals)
	l.slots[h] = levelSlot{key: k, n: n, idx: uint32(idx)}
	l.vals = append(l.vals, string(f))
	l.vm = append(l.vm, 0)
	l.cls = append(l.cls, clsUnknown)
	return idx, false, false
}

// mask returns valueMask(f, maskAll) of level idx, whose bytes are f (no
// TimeLayouts).
func (l *levelSet) mask(idx int, f []byte) uint8 {
	if l.vm[idx] == 0 {
		l.vm[idx] = valueMask(f, maskAll, nil) | vmKnown
	}
	return l.vm[idx] &^ vmKnown
}

// class returns classOf of level idx, whose bytes are f (no TimeLayouts).
func (l *levelSet) class(idx int, f []byte) uint8 {
	if l.cls[idx] == clsUnknown {
		l.cls[idx] = classOf(f, nil)
	}
	return l.cls[idx]
}

// maskWithin is valueMask(v, within) for a value whose valueMask(v,
// maskAll) is all (without TimeLayouts).
func maskWithin(all, within uint8) uint8 {
	vm := all & within
	if vm&maskFloat != 0 {
		vm |= all & maskNonFinite
	}
	return vm
}

// mergeLevels merges the level sets of a column's chunks, in order, into
// at most max values in first-seen order; nil when there are more.
func mergeLevels(sets []*levelSet, max int) []string {
	out := []string{}
	for _, l := range sets {
		if l == nil {
			continue
		}
		if l.over {
			return nil
		}
		for _, v := range l.vals {
			if !containsString(out, v) {
				if len(out) == max {
					return nil
				}
				out = append(out, v)
			}
		}
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// initLevels makes the column buffers of a chunk collect levels when
// CSVOptions.Levels asks for them.
func (p *parser) initLevels(cols []colBuf) {
	if p.opts.Levels > 0 {
		for j := range cols {
			cols[j].track = true
			cols[j].extra()
			if cols[j].mode == modeConvert && cols[j].typ == Time {
				cols[j].stopLevels()
			}
		}
	}
}

// levels returns the levels of column j, of type t, merged from the
// chunks, or nil.
func (p *parser) levels(chunks []chunk, j int, t Type) []string {
	if p.opts.Levels <= 0 || t == Time {
		return nil
	}
	sets := make([]*levelSet, len(chunks))
	for i := range chunks {
		if m := chunks[i].cols[j].more; m != nil {
			sets[i] = &m.levels
		}
	}
	return mergeLevels(sets, min(p.opts.Levels, levelSlots/2))
}

// checkInferred checks the inferred columns once their types are decided
// (final) and the chunks hold their values (a full parse) or their
// classification (schema only): a float column's NaN or infinity read
// with NonFiniteError, a string column of one class but for a few values.
// It returns a *ParseError per column with a problem, at the first
// offending value, joined in the order of their lines.
func (p *parser) checkInferred(chunks []chunk, final []Type) error {
	rowStart := make([]int, len(chunks)+1)
	rows := make([]int, len(chunks))
	for i := range chunks {
		rows[i] = chunks[i].rows
		rowStart[i+1] = rowStart[i] + rows[i]
	}
	var errs []*ParseError
	var texts []int // inferred string columns
	for j := range p.names {
		if p.types[j] != 0 {
			continue
		}
		switch final[j] {
		case Float:
			if p.opts.NonFinite == NonFiniteMissing {
				continue
			}
			for i := range chunks {
				if r := chunks[i].cols[j].nfRow; r > 0 {
					off, f := p.fieldAt(&chunks[i], int(r-1), j+1)
					errs = append(errs, p.errAt(off, rowStart[i]+int(r), j+1, nonFiniteMsg(f), ErrNonFinite))
					break
				}
			}
		case String:
			texts = append(texts, j)
		}
	}
	if len(texts) > 0 {
		// stats[k][i]: column texts[k] in chunk i.
		stats := make([][]*mixStats, len(texts))
		for k := range texts {
			stats[k] = make([]*mixStats, len(chunks))
		}
		parallel(p.jobs, len(chunks), func(i int) bool {
			for k, j := range texts {
				c := &chunks[i].cols[j]
				if c.mode == modeClassify {
					stats[k][i] = c.classStats(chunks[i].rows)
				} else {
					stats[k][i] = dictStats(c, p.opts.TimeLayouts)
				}
			}
			return true
		})
		nulls := make([]int, len(chunks))
		for k, j := range texts {
			for i := range chunks {
				nulls[i] = len(chunks[i].cols[j].nulls)
			}
			firsts := func(i, n int) []badValue { return p.firstValues(&chunks[i], j+1, n) }
			m, bad := decideMixed(stats[k], rows, nulls, rowStart, firsts)
			if !bad {
				continue
			}
			first := m.bad[0]
			off, _ := p.fieldAt(&chunks[first.chunk], int(first.row), j+1)
			errs = append(errs, p.errAt(off, first.global+1, j+1, m.message(p.names[j]), ErrMixed))
		}
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	slices.SortStableFunc(errs, func(a, b *ParseError) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Field, b.Field))
	})
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}

// fieldAt finds field fieldNo (1-based) of local row row (0-based) of a
// chunk already parsed without error, and returns its offset in p.buf and
// its value (copied).
func (p *parser) fieldAt(ch *chunk, row, fieldNo int) (int, []byte) {
	off, val := -1, []byte(nil)
	p.scanField(ch, fieldNo, func(r, at int, f []byte) bool {
		if r < row {
			return true
		}
		off, val = at, bytes.Clone(f)
		return false
	})
	if off < 0 {
		return ch.start, nil
	}
	return off, val
}

// firstValues returns the first n non-missing values of field fieldNo of
// a chunk already parsed without error.
func (p *parser) firstValues(ch *chunk, fieldNo, n int) []badValue {
	var out []badValue
	p.scanField(ch, fieldNo, func(r, _ int, f []byte) bool {
		if !p.missing.is(f) {
			out = append(out, badValue{int32(r), string(f)})
		}
		return len(out) < n
	})
	return out
}

// scanField calls fn with the local row, offset in p.buf and value of
// field fieldNo of each record of a chunk already parsed without error,
// until fn returns false.
func (p *parser) scanField(ch *chunk, fieldNo int, fn func(row, off int, f []byte) bool) {
	b := p.buf[ch.start:ch.end]
	var scratch []byte
	pos, r := 0, 0
	for pos < len(b) {
		if b[pos] == '\n' {
			pos++
			continue
		}
		if b[pos] == '\r' && pos+1 < len(b) && b[pos+1] == '\n' {
			pos += 2
			continue
		}
		for n := 1; ; n++ {
			start := pos
			f, next, err := p.field(b, pos, &scratch, ch.start, n, r+1)
			if err != nil {
				return
			}
			if n == fieldNo && !fn(r, ch.start+start, f) {
				return
			}
			pos = next
			if pos < len(b) && b[pos] == p.delim {
				pos++
				continue
			}
			pos = skipEOL(b, pos)
			break
		}
		r++
	}
}
