package table

import (
	"hash/maphash"
	"unsafe"
)

// strDict is a chunk's string dictionary: values in first-seen order, the
// hash of each, and an open-addressing index over them. One hash per
// lookup, none to insert, and the stored hashes are reused by mergeDicts.
// Small dictionaries are searched linearly and have no index.
type strDict struct {
	list   []string
	hashes []uint64
	slots  []uint32 // code+1, 0 = empty; length a power of two (nil: linear)
	// block is the arena block that intern copies values into.
	block []byte
	// appendOnly: the values look like ids (all distinct so far), so each
	// value gets a new code without a lookup, duplicates included; the
	// deduplication mergeDicts does anyway (it hashes every entry) then
	// gives each distinct value one code, in first-seen order as ever.
	appendOnly bool
}

// idsAfter is the number of values, all distinct, after which a chunk's
// dictionary switches to appendOnly.
const idsAfter = 256

// add appends f as a new entry (appendOnly) and returns its code.
func (d *strDict) add(seed maphash.Seed, f []byte) uint32 {
	code := uint32(len(d.list))
	d.list = append(d.list, d.intern(f))
	d.hashes = append(d.hashes, maphash.Bytes(seed, f))
	return code
}

// maxBlock is the size of the largest arena block; values longer than a
// quarter of a block get their own allocation.
const maxBlock = 1 << 20

// intern returns a string holding a copy of f. The bytes are carved from
// arena blocks that grow from 256 bytes to maxBlock, so a column of a
// million distinct ids costs a few dozen allocations instead of a million
// (and the garbage collector has a few dozen objects to track). The bytes
// of a block are never written again once handed out as a string, which is
// what makes unsafe.String sound here (as in strings.Builder).
func (d *strDict) intern(f []byte) string {
	if len(f) == 0 {
		return ""
	}
	if cap(d.block)-len(d.block) < len(f) {
		n := min(max(2*cap(d.block), 256), maxBlock)
		if len(f) > n/4 {
			return string(f)
		}
		d.block = make([]byte, 0, n)
	}
	off := len(d.block)
	d.block = append(d.block, f...)
	return unsafe.String(&d.block[off], len(f))
}

// linearDict is the dictionary size up to which lookups scan the list.
const linearDict = 8

// find looks f up. On a miss it returns the slot and hash for insert.
func (d *strDict) find(seed maphash.Seed, f []byte) (code uint32, slot int, h uint64, ok bool) {
	if d.slots == nil {
		for k, s := range d.list {
			if s == string(f) {
				return uint32(k), 0, 0, true
			}
		}
		return 0, -1, 0, false
	}
	h = maphash.Bytes(seed, f)
	mask := len(d.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		s := d.slots[i]
		if s == 0 {
			return 0, i, h, false
		}
		if d.hashes[s-1] == h && d.list[s-1] == string(f) {
			return s - 1, 0, 0, true
		}
	}
}

// findString is find for a string.
func (d *strDict) findString(seed maphash.Seed, v string) (code uint32, slot int, h uint64, ok bool) {
	if d.slots == nil {
		for k, s := range d.list {
			if s == v {
				return uint32(k), 0, 0, true
			}
		}
		return 0, -1, 0, false
	}
	h = maphash.String(seed, v)
	mask := len(d.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		s := d.slots[i]
		if s == 0 {
			return 0, i, h, false
		}
		if d.hashes[s-1] == h && d.list[s-1] == v {
			return s - 1, 0, 0, true
		}
	}
}

// insert adds v, which find just missed with the given slot and hash;
// rows is the number of values looked up so far including v, hint the
// expected number of rows.
func (d *strDict) insert(seed maphash.Seed, v string, slot int, h uint64, rows, hint int) uint32 {
	code := uint32(len(d.list))
	if slot < 0 {
		h = maphash.String(seed, v)
	}
	d.list = append(d.list, v)
	d.hashes = append(d.hashes, h)
	switch {
	case d.slots == nil && len(d.list) > linearDict:
		// Values all distinct so far look like ids: size the index for
		// the whole chunk at once instead of doubling it repeatedly.
		n := 64
		if rows == len(d.list) {
			for n < 2*hint {
				n *= 2
			}
		}
		d.rebuild(n)
	case d.slots != nil && 2*len(d.list) > len(d.slots):
		d.rebuild(2 * len(d.slots))
	case d.slots != nil:
		d.slots[slot] = code + 1
	}
	return code
}

// rebuild makes an index of n slots (a power of two) over the list.
func (d *strDict) rebuild(n int) {
	d.slots = make([]uint32, n)
	mask := n - 1
	for k, h := range d.hashes {
		i := int(h) & mask
		for d.slots[i] != 0 {
			i = (i + 1) & mask
		}
		d.slots[i] = uint32(k) + 1
	}
}

// mergeDicts merges per-chunk dictionaries (each in first-seen order) into
// one in global first-seen order, returning it and, for each chunk, the
// global code of each local code. Values are spread over shards by hash so
// the index work runs in parallel; codes are then assigned in one ordered
// pass, so the result does not depend on jobs or on the hash seed.
func mergeDicts(dicts []*strDict, jobs int) ([]string, [][]uint32) {
	remaps := make([][]uint32, len(dicts))
	if len(dicts) == 1 && !dicts[0].appendOnly {
		remaps[0] = make([]uint32, len(dicts[0].list))
		for k := range remaps[0] {
			remaps[0][k] = uint32(k)
		}
		return dicts[0].list, remaps
	}
	// Number every entry in chunk order.
	offsets := make([]int, len(dicts)+1)
	for i, d := range dicts {
		offsets[i+1] = offsets[i] + len(d.list)
	}
	total := offsets[len(dicts)]
	vals := make([]string, 0, total)
	hashes := make([]uint64, 0, total)
	for _, d := range dicts {
		vals = append(vals, d.list...)
		hashes = append(hashes, d.hashes...)
	}
	// first[e] is the entry of the first occurrence of vals[e].
	first := make([]uint32, total)
	shards := 1
	if total >= 4096 {
		shards = 4 * jobs
	}
	// Each shard gets its entries, in order.
	entries := make([][]uint32, shards)
	if shards == 1 {
		entries[0] = make([]uint32, total)
		for e := range entries[0] {
			entries[0][e] = uint32(e)
		}
	} else {
		for e, h := range hashes {
			sh := (h >> 32) % uint64(shards)
			entries[sh] = append(entries[sh], uint32(e))
		}
	}
	parallel(jobs, shards, func(sh int) bool {
		// At most half full, so probing always ends.
		n := 64
		for n < 2*len(entries[sh]) {
			n *= 2
		}
		slots := make([]uint32, n)
		mask := n - 1
		for _, e := range entries[sh] {
			h := hashes[e]
			i := int(h) & mask
			for {
				s := slots[i]
				if s == 0 {
					slots[i] = e + 1
					first[e] = e
					break
				}
				if hashes[s-1] == h && vals[s-1] == vals[e] {
					first[e] = s - 1
					break
				}
				i = (i + 1) & mask
			}
		}
		return true
	})
	codes := make([]uint32, total)
	dict := make([]string, 0, total)
	for e, f := range first {
		if int(f) == e {
			codes[e] = uint32(len(dict))
			dict = append(dict, vals[e])
		} else {
			codes[e] = codes[f]
		}
	}
	for i := range dicts {
		remaps[i] = codes[offsets[i]:offsets[i+1]]
	}
	return dict, remaps
}
