package exprenv

import (
	"fmt"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/expr-lang/expr/vm"

	"github.com/mlrun-cli/mlrun/steps/table"
)

// chunkRows is the number of rows a worker evaluates at a time. It is a
// multiple of 64 so that chunks write disjoint words of a validity bitmap.
const chunkRows = 4096

var nan = math.NaN()

// vec is a node's value over one chunk. Float values carry nulls as NaN
// (null is nil); the other types carry a null mask (nil: no nulls).
type vec struct {
	f     []float64
	i     []int64
	b     []bool
	codes []uint32
	dict  []string
	null  []bool
}

// scratch holds one node's buffers in one worker, reused across chunks.
type scratch struct {
	f       []float64
	i       []int64
	b       []bool
	codes   []uint32
	null    []bool
	tbl     []bool
	filled  bool
	dictIdx map[string]uint32
}

func grow[T any](p *[]T, n int) []T {
	if cap(*p) < n {
		*p = make([]T, n) // a chunk holds at most chunkRows: the first is the largest
	}
	return (*p)[:n]
}

// plan is an evaluation tree with its nodes numbered for scratch buffers.
type plan struct {
	root  *node
	nodes int
}

func newPlan(root *node) *plan {
	p := &plan{root: root}
	var number func(n *node)
	number = func(n *node) {
		n.id = p.nodes
		p.nodes++
		if n.op == opVM {
			return
		}
		for _, a := range n.args {
			number(a)
		}
	}
	number(root)
	return p
}

// evalState is what every worker of one evaluation shares (read-only).
type evalState struct {
	cols []*table.Column
	// tables holds, by node id, a string predicate evaluated once over the
	// dictionary of the leaf column it reads.
	tables [][]bool
}

// worker evaluates chunks; it owns its scratch buffers and VM.
type worker struct {
	// chunk is the most rows of a chunk: chunkRows, or fewer for a small
	// dataset (one row scored online), so that scratch stays small.
	chunk int
	e     *evalState
	s     []scratch
	m     vm.VM
	row   []any
	env   map[string]any
}

func isStrPred(o op) bool { return o >= opStrEq && o <= opHas }

// run evaluates pl over all rows of cols (n rows) with jobs goroutines and
// returns the result column.
func run(pl *plan, cols []*table.Column, n, jobs int) (*table.Column, error) {
	e := &evalState{cols: cols, tables: make([][]bool, pl.nodes)}
	var prep func(nd *node)
	prep = func(nd *node) {
		if isStrPred(nd.op) && nd.args[0].op == opCol {
			dict := cols[nd.args[0].col].Dict
			t := make([]bool, len(dict))
			for j, d := range dict {
				t[j] = nd.pred(d)
			}
			e.tables[nd.id] = t
		}
		if nd.op != opVM {
			for _, a := range nd.args {
				prep(a)
			}
		}
	}
	prep(pl.root)

	typ := pl.root.typ
	out := &table.Column{Type: typ}
	switch typ {
	case table.Float:
		out.Floats = make([]float64, n)
	case table.Int, table.Time:
		out.Ints = make([]int64, n)
	case table.Bool:
		out.Bools = make([]bool, n)
	case table.String:
		out.Codes = make([]uint32, n)
	}
	valid := table.NewBitmap(n)
	nchunks := (n + chunkRows - 1) / chunkRows
	hasNull := make([]bool, nchunks)
	dicts := make([][]string, nchunks) // String results: each chunk's dictionary
	errs := make([]error, nchunks)
	jobs = max(1, min(jobs, nchunks))

	direct := typ == table.Float && pl.root.op != opConst && pl.root.op != opCol && pl.root.op != opVM
	var next atomic.Int64
	work := func() {
		w := &worker{chunk: min(n, chunkRows), e: e, s: make([]scratch, pl.nodes)}
		for {
			c := int(next.Add(1) - 1)
			if c >= nchunks {
				return
			}
			lo, hi := c*chunkRows, min((c+1)*chunkRows, n)
			if direct {
				// The root kernel writes its result straight into the output.
				w.s[pl.root.id].f = out.Floats[lo:hi]
			}
			v, err := w.eval(pl.root, lo, hi)
			if err != nil {
				errs[c] = err
				continue
			}
			hasNull[c] = store(out, valid, v, lo, hi)
			if typ == table.String {
				if pl.root.op == opCol {
					dicts[c] = v.dict
				} else {
					dicts[c] = append([]string(nil), v.dict...)
				}
			}
		}
	}
	if jobs == 1 {
		work()
	} else {
		var wg sync.WaitGroup
		for range jobs {
			wg.Go(work)
		}
		wg.Wait()
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	anyNull := false
	for _, h := range hasNull {
		anyNull = anyNull || h
	}
	if anyNull {
		out.Valid = valid
	}
	if typ == table.String {
		mergeDicts(out, dicts)
	}
	return out, nil
}

// store copies a chunk result into the output column, clearing validity
// bits of null rows (whose values are NaN, 0 or false). It reports whether
// the chunk had a null.
func store(out *table.Column, valid table.Bitmap, v vec, lo, hi int) bool {
	hasNull := false
	switch out.Type {
	case table.Float:
		dst := out.Floats[lo:hi]
		if len(dst) > 0 && &dst[0] != &v.f[0] {
			copy(dst, v.f)
		}
		// Build the validity words directly (lo is a multiple of 64).
		for k := 0; k < len(dst); k += 64 {
			blk := dst[k:min(k+64, len(dst))]
			var word uint64
			for j, x := range blk {
				// Branch-free "x is not NaN": |x| bits above the
				// infinity pattern are NaNs.
				abs := math.Float64bits(x) &^ (1 << 63)
				nan := (0x7ff0000000000000 - abs) >> 63
				word |= (nan ^ 1) << uint(j)
			}
			full := ^uint64(0)
			if len(blk) < 64 {
				full = (uint64(1) << uint(len(blk))) - 1
			}
			valid[(lo+k)>>6] = word
			if word != full {
				hasNull = true
			}
		}
		return hasNull
	case table.Int, table.Time:
		copy(out.Ints[lo:hi], v.i)
	case table.Bool:
		copy(out.Bools[lo:hi], v.b)
	case table.String:
		copy(out.Codes[lo:hi], v.codes)
	}
	if v.null != nil {
		for j, isNull := range v.null {
			if isNull {
				valid.SetNull(lo + j)
				hasNull = true
				switch out.Type {
				case table.Int, table.Time:
					out.Ints[lo+j] = 0
				case table.Bool:
					out.Bools[lo+j] = false
				case table.String:
					out.Codes[lo+j] = 0
				}
			}
		}
	}
	return hasNull
}

// mergeDicts rewrites chunk-local string codes into one dictionary in
// first-seen row order (independent of the number of jobs).
func mergeDicts(out *table.Column, dicts [][]string) {
	idx := map[string]uint32{}
	for c, dict := range dicts {
		lo, hi := c*chunkRows, min((c+1)*chunkRows, len(out.Codes))
		remap := make(map[uint32]uint32)
		for j := lo; j < hi; j++ {
			if !out.Valid.Valid(j) {
				continue
			}
			code := out.Codes[j]
			g, ok := remap[code]
			if !ok {
				s := dict[code]
				if g, ok = idx[s]; !ok {
					g = uint32(len(out.Dict))
					idx[s] = g
					out.Dict = append(out.Dict, s)
				}
				remap[code] = g
			}
			out.Codes[j] = g
		}
	}
	if out.Dict == nil {
		out.Dict = []string{}
	}
}

func isNull(m []bool, i int) bool { return m != nil && m[i] }

// nulls2 returns the union of two masks (nil when both are nil).
func nulls2(dst *[]bool, a, b []bool, n int) []bool {
	switch {
	case a == nil && b == nil:
		return nil
	case b == nil:
		return a
	case a == nil:
		return b
	}
	out := grow(dst, n)
	for i := range out {
		out[i] = a[i] || b[i]
	}
	return out
}

// eval evaluates n over rows [lo, hi).
func (w *worker) eval(n *node, lo, hi int) (vec, error) {
	cnt := hi - lo
	s := &w.s[n.id]
	if n.op == opConst {
		return w.konst(n, cnt), nil
	}
	if n.op == opCol {
		return w.column(n, lo, hi), nil
	}
	if n.op == opVM {
		var v vec
		err := w.runVM(n, lo, hi, &v)
		return v, err
	}
	// Up to three arguments on the stack (most nodes; a one-row
	// evaluation allocates nothing else per node).
	var argBuf [3]vec
	args := argBuf[:0]
	for _, a := range n.args {
		v, err := w.eval(a, lo, hi)
		if err != nil {
			return vec{}, err
		}
		args = append(args, v)
	}
	var v vec
	switch n.op {
	case opToFloat:
		out := grow(&s.f, cnt)
		a := args[0]
		for i := range out {
			switch {
			case isNull(a.null, i):
				out[i] = nan
			case a.i != nil:
				out[i] = float64(a.i[i])
			case a.b[i]:
				out[i] = 1
			default:
				out[i] = 0
			}
		}
		v.f = out
	case opToInt:
		out, null := grow(&s.i, cnt), grow(&s.null, cnt)
		a := args[0]
		for i := range out {
			ok := true
			switch {
			case a.f != nil:
				out[i], ok = truncInt(a.f[i])
			case isNull(a.null, i):
				ok = false
			default:
				out[i] = b2i(a.b[i])
			}
			null[i] = !ok
		}
		v.i, v.null = out, null
	case opNeg:
		if n.typ == table.Float {
			out := grow(&s.f, cnt)
			for i, x := range args[0].f {
				out[i] = fix(-x)
			}
			v.f = out
		} else {
			v.i, v.null = w.intUnary(s, args[0], cnt, func(x int64) (int64, bool) { return subInt(0, x) })
		}
	case opAbs:
		if n.typ == table.Float {
			v.f = floatUnary(s, n.op, args[0].f, 0)
		} else {
			v.i, v.null = w.intUnary(s, args[0], cnt, absInt)
		}
	case opSqrt, opLog, opLog10, opExp, opFloor, opCeil, opRound:
		d, _ := n.val.(int64)
		v.f = floatUnary(s, n.op, args[0].f, d)
	case opNot:
		out := grow(&s.b, cnt)
		for i, x := range args[0].b {
			out[i] = !x
		}
		v.b, v.null = out, args[0].null
	case opAdd, opSub, opMul, opDiv, opMod, opPow:
		if n.typ == table.Float {
			out := grow(&s.f, cnt)
			floatBin(n.op, out, args[0].f, args[1].f)
			v.f = out
		} else {
			v.i, v.null = intBin(s, n.op, args[0], args[1], cnt)
		}
	case opEq, opNe, opLt, opLe, opGt, opGe:
		v = compareVecs(s, n.op, n.args[0].typ, args[0], args[1], cnt)
	case opAnd, opOr:
		v = logic(s, n.op == opAnd, args[0], args[1], cnt)
	case opIn:
		out, null := grow(&s.b, cnt), grow(&s.null, cnt)
		for i, x := range args[0].f {
			_, ok := n.set[x]
			out[i], null[i] = ok, x != x
		}
		v.b, v.null = out, null
	case opStrEq, opStrNe, opStrIn, opMatch, opPrefix, opSuffix, opHas:
		a := args[0]
		tbl := w.e.tables[n.id]
		if tbl == nil {
			tbl = grow(&s.tbl, len(a.dict))
			for j, d := range a.dict {
				tbl[j] = n.pred(d)
			}
		}
		out := grow(&s.b, cnt)
		for i, c := range a.codes {
			out[i] = !isNull(a.null, i) && tbl[c]
		}
		v.b, v.null = out, a.null
	case opCond:
		v = cond(s, n.typ, args, cnt)
	case opCoalesce:
		v = coalesce(s, n.typ, args, cnt)
	case opIsNull, opNotNull:
		out := grow(&s.b, cnt)
		a := args[0]
		want := n.op == opIsNull
		for i := range out {
			if a.f != nil {
				out[i] = (a.f[i] != a.f[i]) == want
			} else {
				out[i] = isNull(a.null, i) == want
			}
		}
		v.b = out
	case opMin, opMax, opClip:
		v = minMax(s, n.op, n.typ, args, cnt)
	case opYear, opMonth, opDay, opHour:
		out := grow(&s.i, cnt)
		a := args[0]
		for i, x := range a.i {
			if isNull(a.null, i) {
				out[i] = 0
				continue
			}
			out[i] = part(n.op, x)
		}
		v.i, v.null = out, a.null
	default:
		return vec{}, fmt.Errorf("exprenv: no kernel for op %d", n.op)
	}
	return v, nil
}

// fix turns a non-finite float into NaN (null).
func fix(v float64) float64 {
	if v-v != 0 {
		return nan
	}
	return v
}

func (w *worker) konst(n *node, cnt int) vec {
	s := &w.s[n.id]
	if !s.filled {
		s.filled = true
		switch n.typ {
		case table.Float:
			f := grow(&s.f, w.chunk)
			x := nan
			if n.val != nil {
				x = n.val.(float64)
			}
			for i := range f {
				f[i] = x
			}
		case table.Int, table.Time:
			grow(&s.i, w.chunk)
			if n.val != nil {
				for i := range s.i {
					s.i[i] = n.val.(int64)
				}
			}
		case table.Bool:
			grow(&s.b, w.chunk)
			if n.val != nil {
				for i := range s.b {
					s.b[i] = n.val.(bool)
				}
			}
		case table.String:
			grow(&s.codes, w.chunk)
		}
		if n.val == nil && n.typ != table.Float {
			grow(&s.null, w.chunk)
			for i := range s.null {
				s.null[i] = true
			}
		}
	}
	var v vec
	switch n.typ {
	case table.Float:
		v.f = s.f[:cnt]
	case table.Int, table.Time:
		v.i = s.i[:cnt]
	case table.Bool:
		v.b = s.b[:cnt]
	case table.String:
		v.codes = s.codes[:cnt]
		if n.val != nil {
			v.dict = []string{n.val.(string)}
		}
	}
	if s.null != nil {
		v.null = s.null[:cnt]
	}
	return v
}

func (w *worker) column(n *node, lo, hi int) vec {
	c := w.e.cols[n.col]
	s := &w.s[n.id]
	cnt := hi - lo
	var v vec
	if c.Valid != nil {
		// lo is a multiple of 64: chunk row j is bit j&63 of word (lo+j)>>6.
		words := c.Valid[lo>>6 : (hi+63)>>6]
		if c.Type == table.Float {
			src := c.Floats[lo:hi]
			if nullsAreNaN(words, src) {
				v.f = src
				return v
			}
			out := grow(&s.f, cnt)
			for j := range out {
				if words[j>>6]&(1<<(uint(j)&63)) != 0 {
					out[j] = src[j]
				} else {
					out[j] = nan
				}
			}
			v.f = out
			return v
		}
		null := grow(&s.null, cnt)
		for j := range null {
			null[j] = words[j>>6]&(1<<(uint(j)&63)) == 0
		}
		v.null = null
	}
	switch c.Type {
	case table.Float:
		v.f = c.Floats[lo:hi]
	case table.Int, table.Time:
		v.i = c.Ints[lo:hi]
	case table.Bool:
		v.b = c.Bools[lo:hi]
	case table.String:
		v.codes, v.dict = c.Codes[lo:hi], c.Dict
	}
	return v
}

// nullsAreNaN reports whether every null row of src (per the validity words)
// holds NaN, as the table contract says; then src can be read in place.
func nullsAreNaN(words []uint64, src []float64) bool {
	for k, w := range words {
		nulls := ^w
		if rem := len(src) - k*64; rem < 64 {
			nulls &= (uint64(1) << uint(rem)) - 1
		}
		for nulls != 0 {
			j := bits.TrailingZeros64(nulls)
			if x := src[k*64+j]; x == x {
				return false
			}
			nulls &= nulls - 1
		}
	}
	return true
}

func floatUnary(s *scratch, o op, x []float64, d int64) []float64 {
	out := grow(&s.f, len(x))
	switch o {
	case opAbs:
		for i, v := range x {
			out[i] = fix(math.Abs(v))
		}
	case opSqrt:
		for i, v := range x {
			out[i] = fix(math.Sqrt(v))
		}
	case opLog:
		for i, v := range x {
			out[i] = fix(math.Log(v))
		}
	case opLog10:
		for i, v := range x {
			out[i] = fix(math.Log10(v))
		}
	case opExp:
		for i, v := range x {
			out[i] = fix(math.Exp(v))
		}
	case opFloor:
		for i, v := range x {
			out[i] = fix(math.Floor(v))
		}
	case opCeil:
		for i, v := range x {
			out[i] = fix(math.Ceil(v))
		}
	case opRound:
		for i, v := range x {
			out[i] = fix(roundF(v, d))
		}
	}
	return out
}

func floatBin(o op, out, x, y []float64) {
	x, y = x[:len(out)], y[:len(out)]
	switch o {
	case opAdd:
		for i := range out {
			out[i] = fix(x[i] + y[i])
		}
	case opSub:
		for i := range out {
			out[i] = fix(x[i] - y[i])
		}
	case opMul:
		for i := range out {
			out[i] = fix(x[i] * y[i])
		}
	case opDiv:
		for i := range out {
			out[i] = fix(x[i] / y[i])
		}
	case opMod:
		for i := range out {
			out[i] = fix(math.Mod(x[i], y[i]))
		}
	case opPow:
		for i := range out {
			a, b := x[i], y[i]
			if a != a || b != b {
				out[i] = nan
				continue
			}
			out[i] = fix(math.Pow(a, b))
		}
	}
}

func (w *worker) intUnary(s *scratch, a vec, cnt int, f func(int64) (int64, bool)) ([]int64, []bool) {
	out, null := grow(&s.i, cnt), grow(&s.null, cnt)
	for i, x := range a.i {
		if isNull(a.null, i) {
			out[i], null[i] = 0, true
			continue
		}
		r, ok := f(x)
		out[i], null[i] = r, !ok
	}
	return out, null
}

func intBin(s *scratch, o op, a, b vec, cnt int) ([]int64, []bool) {
	f := map[op]func(x, y int64) (int64, bool){opAdd: addInt, opSub: subInt, opMul: mulInt, opMod: modInt}[o]
	out, null := grow(&s.i, cnt), grow(&s.null, cnt)
	x, y := a.i[:cnt], b.i[:cnt]
	for i := range out {
		if isNull(a.null, i) || isNull(b.null, i) {
			out[i], null[i] = 0, true
			continue
		}
		r, ok := f(x[i], y[i])
		out[i], null[i] = r, !ok
	}
	return out, null
}

func cmpLoop[T int64 | float64](o op, out []bool, x, y []T) {
	x, y = x[:len(out)], y[:len(out)]
	switch o {
	case opEq:
		for i := range out {
			out[i] = x[i] == y[i]
		}
	case opNe:
		for i := range out {
			out[i] = x[i] != y[i]
		}
	case opLt:
		for i := range out {
			out[i] = x[i] < y[i]
		}
	case opLe:
		for i := range out {
			out[i] = x[i] <= y[i]
		}
	case opGt:
		for i := range out {
			out[i] = x[i] > y[i]
		}
	case opGe:
		for i := range out {
			out[i] = x[i] >= y[i]
		}
	}
}

func compareVecs(s *scratch, o op, t table.Type, a, b vec, cnt int) vec {
	out := grow(&s.b, cnt)
	var v vec
	v.b = out
	switch t {
	case table.Float:
		cmpLoop(o, out, a.f, b.f)
		null := grow(&s.null, cnt)
		for i := range null {
			null[i] = a.f[i] != a.f[i] || b.f[i] != b.f[i]
		}
		v.null = null
	case table.Int, table.Time:
		cmpLoop(o, out, a.i, b.i)
		v.null = nulls2(&s.null, a.null, b.null, cnt)
	case table.Bool:
		for i := range out {
			out[i] = (a.b[i] == b.b[i]) == (o == opEq)
		}
		v.null = nulls2(&s.null, a.null, b.null, cnt)
	}
	if v.null != nil {
		for i, isNull := range v.null {
			if isNull {
				out[i] = false
			}
		}
	}
	return v
}

// logic is SQL three-valued AND (and true) or OR (and false).
func logic(s *scratch, and bool, a, b vec, cnt int) vec {
	out, null := grow(&s.b, cnt), grow(&s.null, cnt)
	// dom is the dominant value: false for AND, true for OR.
	dom := !and
	for i := range out {
		an, bn := isNull(a.null, i), isNull(b.null, i)
		switch {
		case (!an && a.b[i] == dom) || (!bn && b.b[i] == dom):
			out[i], null[i] = dom, false
		case an || bn:
			out[i], null[i] = false, true
		default:
			out[i], null[i] = !dom, false
		}
	}
	return vec{b: out, null: null}
}

func cond(s *scratch, t table.Type, args []vec, cnt int) vec {
	c, a, b := args[0], args[1], args[2]
	var v vec
	if t == table.Float {
		out := grow(&s.f, cnt)
		for i := range out {
			switch {
			case isNull(c.null, i):
				out[i] = nan
			case c.b[i]:
				out[i] = a.f[i]
			default:
				out[i] = b.f[i]
			}
		}
		v.f = out
		return v
	}
	null := grow(&s.null, cnt)
	pick := func(i int) (vec, int, bool) {
		if isNull(c.null, i) {
			return vec{}, 0, false
		}
		src := b
		if c.b[i] {
			src = a
		}
		return src, i, !isNull(src.null, i)
	}
	switch t {
	case table.Int, table.Time:
		out := grow(&s.i, cnt)
		for i := range out {
			src, j, ok := pick(i)
			out[i], null[i] = 0, !ok
			if ok {
				out[i] = src.i[j]
			}
		}
		v.i = out
	case table.Bool:
		out := grow(&s.b, cnt)
		for i := range out {
			src, j, ok := pick(i)
			out[i], null[i] = false, !ok
			if ok {
				out[i] = src.b[j]
			}
		}
		v.b = out
	}
	v.null = null
	return v
}

func coalesce(s *scratch, t table.Type, args []vec, cnt int) vec {
	var v vec
	if t == table.Float {
		out := grow(&s.f, cnt)
		for i := range out {
			out[i] = nan
			for _, a := range args {
				if x := a.f[i]; x == x {
					out[i] = x
					break
				}
			}
		}
		v.f = out
		return v
	}
	null := grow(&s.null, cnt)
	switch t {
	case table.Int, table.Time:
		v.i = grow(&s.i, cnt)
	case table.Bool:
		v.b = grow(&s.b, cnt)
	}
	for i := range null {
		null[i] = true
		if v.i != nil {
			v.i[i] = 0
		} else {
			v.b[i] = false
		}
		for _, a := range args {
			if !isNull(a.null, i) {
				null[i] = false
				if v.i != nil {
					v.i[i] = a.i[i]
				} else {
					v.b[i] = a.b[i]
				}
				break
			}
		}
	}
	v.null = null
	return v
}

// minMax evaluates min, max (fold over the arguments) and clip(x, lo, hi)
// = min(max(x, lo), hi).
func minMax(s *scratch, o op, t table.Type, args []vec, cnt int) vec {
	var v vec
	if t == table.Float {
		out := grow(&s.f, cnt)
		copy(out, args[0].f)
		for k, a := range args[1:] {
			f := minF
			if o == opMax || (o == opClip && k == 0) {
				f = maxF
			}
			for i, y := range a.f[:cnt] {
				x := out[i]
				if x != x || y != y {
					out[i] = nan
				} else {
					out[i] = f(x, y)
				}
			}
		}
		v.f = out
		return v
	}
	out, null := grow(&s.i, cnt), grow(&s.null, cnt)
	copy(out, args[0].i)
	for i := range null {
		null[i] = isNull(args[0].null, i)
	}
	for k, a := range args[1:] {
		useMax := o == opMax || (o == opClip && k == 0)
		for i, y := range a.i[:cnt] {
			if isNull(a.null, i) {
				null[i] = true
			}
			if useMax {
				out[i] = max(out[i], y)
			} else {
				out[i] = min(out[i], y)
			}
		}
	}
	for i, isNull := range null {
		if isNull {
			out[i] = 0
		}
	}
	v.i, v.null = out, null
	return v
}
