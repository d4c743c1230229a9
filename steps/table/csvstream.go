package table

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
)

// How the streamed parse works
//
// ReadCSV and ReadCSVFile with every column's type declared (the load
// step's run: types fixed at compile time) parse the input as they read it
// instead of holding all of it: peak memory is the final columns plus a
// few blocks, not the input's size on top. The input is read in blocks of
// streamBlock bytes; each block is hashed on a goroutine of its own, and
// the records it completes (up to its last record boundary: a newline
// after an even number of quotes, counted from the previous boundary, the
// rule split applies to a whole input) are parsed by a pool of workers
// straight into windows of the final columns, as runDirect does; the
// partial record at its end is carried into the next block. The columns
// are sized by CSVOptions.RowsHint (or an estimate) and grown, between
// chunks, when the input holds more lines. The result is the same dataset,
// errors and ReadInfo as a parse of the whole input.

// streamBlock is the size of the blocks a streamed parse reads at a time.
const streamBlock = 4 << 20

// hasher computes the SHA-256 of the blocks sent to it on a goroutine.
type hasher struct {
	blocks chan []byte
	done   chan [32]byte
}

func newHasher() *hasher {
	h := &hasher{blocks: make(chan []byte, 4), done: make(chan [32]byte, 1)}
	go func() {
		s := sha256.New()
		for b := range h.blocks {
			s.Write(b)
		}
		var sum [32]byte
		s.Sum(sum[:0])
		h.done <- sum
	}()
	return h
}

// sum waits for the blocks sent so far and returns their hash; nothing may
// be sent after it.
func (h *hasher) sum() [32]byte {
	close(h.blocks)
	return <-h.done
}

// streamReader reads an input in blocks, hashing every byte once.
type streamReader struct {
	r     io.Reader
	h     *hasher
	block int
	size  int64
	eof   bool
}

// more returns b followed by up to one block more of the input, in a new
// array (b's array may still be being parsed or hashed). At the end of the
// input it sets s.eof.
func (s *streamReader) more(b []byte) ([]byte, error) {
	buf := make([]byte, len(b), len(b)+s.block)
	copy(buf, b)
	for len(buf) < cap(buf) && !s.eof {
		n, err := s.r.Read(buf[len(buf):cap(buf)])
		if n > 0 {
			s.h.blocks <- buf[len(buf) : len(buf)+n : len(buf)+n]
			s.size += int64(n)
			buf = buf[:len(buf)+n]
		}
		if err == io.EOF {
			s.eof = true
		} else if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// rest returns b followed by the rest of the input.
func (s *streamReader) rest(b []byte) ([]byte, error) {
	for !s.eof {
		if len(b) == cap(b) {
			// Growing copies b; blocks already sent keep pointing at the
			// old array, whose bytes are never written again.
			b = slices.Grow(b, max(len(b), s.block))
		}
		n, err := s.r.Read(b[len(b):cap(b)])
		if n > 0 {
			s.h.blocks <- b[len(b) : len(b)+n : len(b)+n]
			s.size += int64(n)
			b = b[:len(b)+n]
		}
		if err == io.EOF {
			s.eof = true
		} else if err != nil {
			return nil, err
		}
	}
	return b, nil
}

// lastBoundary returns the offset after the last newline of b preceded by
// an even number of quotes in b (b starts at a record boundary), or 0.
func lastBoundary(b []byte) int {
	if bytes.IndexByte(b, '"') < 0 {
		return bytes.LastIndexByte(b, '\n') + 1
	}
	last, odd := 0, false
	for i, c := range b {
		switch {
		case c == '"':
			odd = !odd
		case c == '\n' && !odd:
			last = i + 1
		}
	}
	return last
}

// readStream reads and parses r as it reads it (see above); when the
// header does not parse or declares not every column's type, it reads the
// rest and parses the whole input as readCSV does.
func readStream(r io.Reader, hint int64, opts CSVOptions) (*Dataset, ReadInfo, error) {
	sr := &streamReader{r: r, h: newHasher(), block: streamBlock}
	if opts.chunkSize > 0 {
		sr.block = opts.chunkSize
	}
	readErr := func(err error) (*Dataset, ReadInfo, error) {
		sr.h.sum()
		return nil, ReadInfo{}, fmt.Errorf("read %s: %w", opts.Name, err)
	}
	// Read until the header is whole.
	buf, err := sr.more(nil)
	for err == nil && !sr.eof && lastBoundary(buf) == 0 {
		buf, err = sr.more(buf)
	}
	if err != nil {
		return readErr(err)
	}
	p, err := newParser(buf, opts)
	var off int
	if err == nil {
		off, err = p.header()
	}
	if err != nil || slices.Contains(p.types, 0) {
		data, err := sr.rest(buf)
		if err != nil {
			return readErr(err)
		}
		ds, cols, err := ParseCSV(data, opts)
		sum := sr.h.sum()
		info := ReadInfo{SHA256: hex.EncodeToString(sum[:]), Size: sr.size}
		if err != nil {
			return nil, info, err
		}
		info.Rows, info.Columns = ds.Rows, cols
		return ds, info, nil
	}

	n := len(p.names)
	cur := p.buf[off:]
	lines := bytes.Count(p.buf[:off], []byte{'\n'})
	capRows := opts.RowsHint
	if capRows <= 0 {
		// Estimate from the lines of the first block.
		perLine := float64(len(cur)+1) / float64(bytes.Count(cur, []byte{'\n'})+1)
		capRows = 2*bytes.Count(cur, []byte{'\n'}) + 16
		if hint > 0 {
			capRows = max(capRows, int(float64(hint)/perLine*1.05)+16)
		}
	}
	ds := &Dataset{Columns: make([]*Column, n)}
	for j, t := range p.types {
		ds.Columns[j] = &Column{Name: p.names[j], Type: t}
	}
	// resize gives every column length size, keeping the first keep rows.
	resize := func(size, keep int) {
		for _, c := range ds.Columns {
			switch c.Type {
			case Float:
				c.Floats = append(make([]float64, 0, size), c.Floats[:keep]...)[:size]
			case Int, Time:
				c.Ints = append(make([]int64, 0, size), c.Ints[:keep]...)[:size]
			case Bool:
				c.Bools = append(make([]bool, 0, size), c.Bools[:keep]...)[:size]
			case String:
				c.Codes = append(make([]uint32, 0, size), c.Codes[:keep]...)[:size]
			}
		}
	}
	resize(capRows, 0)

	var (
		chunks []*chunk
		at     = []int{0} // window start of chunk i; at[len(chunks)] is the room used
		wg     sync.WaitGroup
		failed atomic.Bool
		tasks  = make(chan func(), p.jobs)
	)
	for range p.jobs {
		go func() {
			for task := range tasks {
				task()
				wg.Done()
			}
		}()
	}
	defer close(tasks)
	dispatch := func(b []byte) {
		k := bytes.Count(b, []byte{'\n'})
		room := k
		if len(b) > 0 && b[len(b)-1] != '\n' {
			room++
		}
		lo := at[len(at)-1]
		hi := lo + room
		if hi > capRows {
			// More lines than expected: wait for the chunks being parsed
			// into the columns, then grow them.
			wg.Wait()
			capRows = max(hi, capRows+capRows/4)
			resize(capRows, lo)
		}
		at = append(at, hi)
		ch := &chunk{end: len(b)}
		chunks = append(chunks, ch)
		cp := *p
		cp.buf, cp.line0 = b, lines
		lines += k
		cols := windowBufs(ds, lo, hi)
		p.initLevels(cols)
		wg.Add(1)
		tasks <- func() {
			cp.parseChunk(ch, cols)
			if ch.err != nil {
				failed.Store(true)
			}
		}
	}
	for {
		if failed.Load() {
			// The error is known; hash the rest of the input.
			for err == nil && !sr.eof {
				_, err = sr.more(nil)
			}
			break
		}
		cut := len(cur)
		if !sr.eof {
			cut = lastBoundary(cur)
		}
		if cut > 0 || (sr.eof && len(chunks) == 0) {
			dispatch(cur[:cut])
			cur = cur[cut:]
		}
		if sr.eof {
			break
		}
		cur, err = sr.more(cur)
		if err != nil {
			break
		}
	}
	wg.Wait()
	if err != nil {
		return readErr(err)
	}
	sum := sr.h.sum()
	info := ReadInfo{SHA256: hex.EncodeToString(sum[:]), Size: sr.size}

	rowBase := 0
	for i, ch := range chunks {
		if e := ch.err; e != nil {
			if e.Row > 0 {
				e.Row += rowBase
			}
			return nil, info, e
		}
		if ch.rows > at[i+1]-at[i] {
			// Cannot happen: a record ends at a newline or the chunk's end.
			return nil, info, fmt.Errorf("%s: internal error: chunk %d has %d rows, room for %d", p.name, i, ch.rows, at[i+1]-at[i])
		}
		rowBase += ch.rows
	}
	room := at[len(chunks)]
	for _, c := range ds.Columns {
		c.clip(room)
	}
	ds.Rows = rowBase
	done := make([]chunk, len(chunks))
	for i, ch := range chunks {
		done[i] = *ch
	}
	info.Rows, info.Columns = ds.Rows, p.finishDirect(ds, done, at, room)
	return ds, info, nil
}
