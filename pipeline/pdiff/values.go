package pdiff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Change operations.
const (
	OpAdded     = "added"
	OpRemoved   = "removed"
	OpChanged   = "changed"
	OpReordered = "reordered"
)

// Change is one difference between two values, at a path such as
// "params.min_auc", "gates.auc_floor" or "columns[credit_utilization].expr"
// (list elements that are objects with a "name" are matched by name).
type Change struct {
	Path string `json:"path"`
	// Op is OpAdded, OpRemoved, OpChanged or OpReordered.
	Op string `json:"op"`
	// Old and New are JSON-like values (nil when absent); for OpReordered
	// they are the element names in the old and new order.
	Old any `json:"old,omitempty"`
	New any `json:"new,omitempty"`
}

// String renders the change in one line: "path: old -> new",
// "path added: new", "path removed (was old)", "path reordered: [a b] -> [b a]".
func (c Change) String() string {
	p := c.Path
	if p == "" {
		p = "value"
	}
	switch c.Op {
	case OpAdded:
		return fmt.Sprintf("%s added: %s", p, Render(c.New))
	case OpRemoved:
		return fmt.Sprintf("%s removed (was %s)", p, Render(c.Old))
	case OpReordered:
		return fmt.Sprintf("%s reordered: %s -> %s", p, Render(c.Old), Render(c.New))
	}
	return fmt.Sprintf("%s: %s -> %s", p, Render(c.Old), Render(c.New))
}

// Render renders a value compactly as JSON; a value that is not
// JSON-encodable is printed with %v.
func Render(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// JSON compares two JSON documents. A document that does not decode is
// compared as a whole, by its bytes.
func JSON(old, new []byte) []Change {
	a, errA := decode(old)
	b, errB := decode(new)
	if errA != nil || errB != nil {
		if bytes.Equal(bytes.TrimSpace(old), bytes.TrimSpace(new)) {
			return nil
		}
		return []Change{{Op: OpChanged, Old: string(old), New: string(new)}}
	}
	return Values(a, b)
}

func decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// Normalize turns v into the JSON value model (maps, slices, strings,
// json.Number, bools, nil) by a JSON round trip, so that Values compares
// like with like. A value that cannot be encoded is returned as is.
func Normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	n, err := decode(b)
	if err != nil {
		return v
	}
	return n
}

// Values compares two values of the JSON value model (see Normalize) and
// returns the changes sorted by path.
func Values(old, new any) []Change {
	var out []Change
	diff("", Normalize(old), Normalize(new), &out)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func diff(path string, a, b any, out *[]Change) {
	switch {
	case a == nil && b == nil:
		return
	case a == nil:
		*out = append(*out, Change{Path: path, Op: OpAdded, New: b})
		return
	case b == nil:
		*out = append(*out, Change{Path: path, Op: OpRemoved, Old: a})
		return
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			break
		}
		keys := map[string]bool{}
		for k := range x {
			keys[k] = true
		}
		for k := range y {
			keys[k] = true
		}
		for _, k := range sortedKeys(keys) {
			va, inA := x[k]
			vb, inB := y[k]
			switch {
			case !inA:
				*out = append(*out, Change{Path: join(path, k), Op: OpAdded, New: vb})
			case !inB:
				*out = append(*out, Change{Path: join(path, k), Op: OpRemoved, Old: va})
			default:
				diff(join(path, k), va, vb, out)
			}
		}
		return
	case []any:
		y, ok := b.([]any)
		if !ok {
			break
		}
		if na, nb := names(x), names(y); na != nil && nb != nil {
			diffNamed(path, x, y, na, nb, out)
			return
		}
		if len(x) == len(y) {
			for i := range x {
				diff(fmt.Sprintf("%s[%d]", path, i), x[i], y[i], out)
			}
			return
		}
	default:
		if Render(a) == Render(b) {
			return
		}
	}
	if Render(a) != Render(b) {
		*out = append(*out, Change{Path: path, Op: OpChanged, Old: a, New: b})
	}
}

// names returns the "name" of every element when all are objects with a
// unique non-empty string name, else nil.
func names(xs []any) []string {
	if len(xs) == 0 {
		return nil
	}
	seen := map[string]bool{}
	out := make([]string, len(xs))
	for i, x := range xs {
		m, ok := x.(map[string]any)
		if !ok {
			return nil
		}
		n, ok := m["name"].(string)
		if !ok || n == "" || seen[n] {
			return nil
		}
		seen[n] = true
		out[i] = n
	}
	return out
}

func diffNamed(path string, x, y []any, na, nb []string, out *[]Change) {
	ia := map[string]int{}
	for i, n := range na {
		ia[n] = i
	}
	ib := map[string]int{}
	for i, n := range nb {
		ib[n] = i
	}
	var commonA, commonB []string
	for _, n := range na {
		if _, ok := ib[n]; ok {
			commonA = append(commonA, n)
		}
	}
	for _, n := range nb {
		if _, ok := ia[n]; ok {
			commonB = append(commonB, n)
		}
	}
	if strings.Join(commonA, "\x00") != strings.Join(commonB, "\x00") {
		*out = append(*out, Change{Path: path, Op: OpReordered, Old: toAny(commonA), New: toAny(commonB)})
	}
	for _, n := range na {
		p := fmt.Sprintf("%s[%s]", path, n)
		if j, ok := ib[n]; ok {
			diff(p, x[ia[n]], y[j], out)
		} else {
			*out = append(*out, Change{Path: p, Op: OpRemoved, Old: x[ia[n]]})
		}
	}
	for _, n := range nb {
		if _, ok := ia[n]; !ok {
			*out = append(*out, Change{Path: fmt.Sprintf("%s[%s]", path, n), Op: OpAdded, New: y[ib[n]]})
		}
	}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
