package pipeline

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxMatrixVariants bounds the number of variants one `matrix:` expands
// into.
const MaxMatrixVariants = 64

// Sweepable is implemented by step kinds that accept a `matrix:` of
// settings (train): the loader expands such a step into one variant per
// combination of the listed values.
type Sweepable interface {
	Sweepable() bool
}

// Variant describes a step that a `matrix:` expansion produced: a variant
// of the sweep step itself, or of a step downstream of it (an evaluate
// reading the swept model), expanded with it.
//
// A step `model` with
//
//	matrix: {max_depth: [6, 8], algorithm: [random_forest, gradient_boosting]}
//
// becomes the steps model--max_depth-6--algorithm-random_forest,
// model--max_depth-6--algorithm-gradient_boosting, ... (settings in matrix
// order, the first varying slowest); a value becomes lower-case letters,
// digits and _ (other runs of characters become _), a non-scalar value its
// 1-based index in the list. A step reading any variant's steps gets the
// same suffix: evaluation--max_depth-6--algorithm-random_forest reads
// model--max_depth-6--algorithm-random_forest.
type Variant struct {
	// Group is the step's id as written in the file; Sweep the id of the
	// step that holds the matrix.
	Group, Sweep string
	// Settings are the variant's matrix values, in matrix order.
	Settings []VariantSetting
}

// VariantSetting is one matrix setting of a variant; Value is its YAML
// source text.
type VariantSetting struct {
	Name, Value string
}

// String renders the settings as "max_depth=6, algorithm=random_forest".
func (v *Variant) String() string {
	parts := make([]string, len(v.Settings))
	for i, s := range v.Settings {
		parts[i] = s.Name + "=" + s.Value
	}
	return strings.Join(parts, ", ")
}

// matrixDim is one setting of a matrix: its key node and values.
type matrixDim struct {
	key    *yaml.Node
	values []*yaml.Node
	parts  []string // id parts, one per value
}

// expandMatrix rewrites the expanded `steps:` mapping in place, replacing
// each step with a valid `matrix:` by its variants and each step reading
// a swept step (directly or through other expanded steps) by one copy per
// variant. Copies keep the positions of the nodes they copy; a matrix
// value keeps its own. A matrix with problems is reported and dropped, the
// step then loading as written. It returns the variants by step id.
func (l *loader) expandMatrix(steps *yaml.Node) map[string]*Variant {
	if steps == nil || steps.Kind != yaml.MappingNode {
		return nil
	}
	type entry struct {
		k, v *yaml.Node
		kind Kind
		// sweep: the variants' suffixes and settings (a matrix step)
		suffixes []string
		settings [][]VariantSetting
		// refs are the input reference nodes naming expanded steps; fam
		// the sweep they expand with ("" none).
		refs []*yaml.Node
		fam  string
	}
	var entries []*entry
	byID := map[string]*entry{}
	for i := 0; i+1 < len(steps.Content); i += 2 {
		e := &entry{k: steps.Content[i], v: steps.Content[i+1]}
		entries = append(entries, e)
		if e.k.Kind == yaml.ScalarNode {
			byID[e.k.Value] = e
		}
		if e.k.Kind != yaml.ScalarNode || e.v.Kind != yaml.MappingNode {
			continue
		}
		e.kind = l.stepKind(e.v)
		id, sp := e.k.Value, "/steps/"+pointerEscape(e.k.Value)
		mi := -1
		for j := 0; j+1 < len(e.v.Content); j += 2 {
			if e.v.Content[j].Value == "matrix" {
				mi = j
			}
		}
		if mi < 0 {
			continue
		}
		dims := l.matrixDims(id, sp, e.kind, e.v, mi)
		e.v = withoutPair(e.v, mi)
		if dims == nil {
			continue
		}
		combos := [][]int{{}}
		for _, d := range dims {
			var next [][]int
			for _, c := range combos {
				for x := range d.values {
					next = append(next, append(append([]int(nil), c...), x))
				}
			}
			combos = next
		}
		for _, c := range combos {
			var suffix strings.Builder
			var set []VariantSetting
			nv := deepCopy(e.v)
			for di, x := range c {
				d := dims[di]
				suffix.WriteString("--" + d.key.Value + "-" + d.parts[x])
				set = append(set, VariantSetting{Name: d.key.Value, Value: nodeSource(d.values[x])})
				nv.Content = append(nv.Content, deepCopy(d.key), deepCopy(d.values[x]))
			}
			e.suffixes = append(e.suffixes, suffix.String())
			e.settings = append(e.settings, set)
			e.refs = append(e.refs, nv) // the variants' mappings, for now
		}
		e.fam = id
	}
	// Steps reading expanded steps expand with their sweep, to a fixpoint
	// (the file order need not be the data flow's).
	for changed := true; changed; {
		changed = false
		for _, e := range entries {
			if e.fam != "" || e.kind == nil || e.v == nil || e.v.Kind != yaml.MappingNode {
				continue
			}
			id, sp := e.k.Value, "/steps/"+pointerEscape(e.k.Value)
			var refs []*yaml.Node
			fam := ""
			for _, port := range e.kind.Inputs() {
				for j := 0; j+1 < len(e.v.Content); j += 2 {
					ref := e.v.Content[j+1]
					if e.v.Content[j].Value != port.Name || !isString(ref) {
						continue
					}
					target, _, _ := strings.Cut(ref.Value, ".")
					t := byID[target]
					if t == nil || t.fam == "" || t.fam == "!" || t == e {
						continue
					}
					if fam != "" && t.fam != fam {
						l.errAt(sp+"/"+pointerEscape(port.Name), ref, "step %q reads from two matrix sweeps, %q and %q", id, fam, t.fam)
						e.fam = "!"
						// Point every swept reference at a variant, so
						// that none is reported again as unknown.
						for j := 1; j < len(e.v.Content); j += 2 {
							r := e.v.Content[j]
							target, output, hasOut := strings.Cut(r.Value, ".")
							if t := byID[target]; isString(r) && t != nil && len(t.suffixes) > 0 && t != e {
								c := *r
								c.Value = target + t.suffixes[0]
								if hasOut {
									c.Value += "." + output
								}
								e.v.Content[j] = &c
							}
						}
						break
					}
					fam = t.fam
					refs = append(refs, ref)
				}
			}
			if e.fam == "!" || fam == "" {
				continue
			}
			e.fam, e.refs, changed = fam, refs, true
			e.suffixes, e.settings = byID[fam].suffixes, byID[fam].settings
		}
	}
	variants := map[string]*Variant{}
	written := map[string]bool{}
	for _, e := range entries {
		written[e.k.Value] = true
	}
	var out []*yaml.Node
	for _, e := range entries {
		if e.fam == "" || e.fam == "!" {
			out = append(out, e.k, e.v)
			continue
		}
		id, sp := e.k.Value, "/steps/"+pointerEscape(e.k.Value)
		var expanded []*yaml.Node
		var vids []string
		ok := true
		for x, suffix := range e.suffixes {
			vid := id + suffix
			if why := stepIDProblem(vid); why != "" {
				l.errAt(sp, e.k, "step %q: variant id %q is not a valid step id: %s", id, vid, why)
				ok = false
				break
			}
			if written[vid] || variants[vid] != nil {
				l.errAt(sp, e.k, "step %q: variant id %q is already a step id", id, vid)
				ok = false
				break
			}
			var nv *yaml.Node
			if e.fam == id {
				nv = e.refs[x]
			} else {
				nv = deepCopy(e.v)
				for j := 1; j < len(nv.Content); j += 2 {
					for _, ref := range e.refs {
						if e.v.Content[j] == ref {
							target, output, hasOut := strings.Cut(ref.Value, ".")
							nv.Content[j].Value = target + suffix
							if hasOut {
								nv.Content[j].Value += "." + output
							}
						}
					}
				}
			}
			nk := *e.k
			nk.Value = vid
			expanded = append(expanded, &nk, nv)
			vids = append(vids, vid)
			variants[vid] = &Variant{Group: id, Sweep: e.fam, Settings: e.settings[x]}
		}
		if !ok {
			for _, vid := range vids {
				delete(variants, vid)
			}
			out = append(out, e.k, e.v)
			continue
		}
		out = append(out, expanded...)
	}
	steps.Content = out
	return variants
}

// stepKind returns the registered kind a step mapping names, or nil.
func (l *loader) stepKind(v *yaml.Node) Kind {
	for j := 0; j+1 < len(v.Content); j += 2 {
		if v.Content[j].Value == "kind" && isString(v.Content[j+1]) {
			if kd, ok := l.reg.Kind(v.Content[j+1].Value); ok {
				return kd
			}
		}
	}
	return nil
}

// withoutPair returns a shallow copy of mapping v without its pair at i.
func withoutPair(v *yaml.Node, i int) *yaml.Node {
	c := *v
	c.Content = append(append([]*yaml.Node(nil), v.Content[:i]...), v.Content[i+2:]...)
	return &c
}

// matrixDims checks the matrix of step id (the pair at mi of mapping v)
// and returns its settings, or nil after reporting every problem.
func (l *loader) matrixDims(id, sp string, kd Kind, v *yaml.Node, mi int) []matrixDim {
	mk, m := v.Content[mi], v.Content[mi+1]
	mp := sp + "/matrix"
	if kd == nil {
		l.reported = append(l.reported, mp)
		return nil // the kind's own problem is reported by checkSteps
	}
	if s, ok := kd.(Sweepable); !ok || !s.Sweepable() {
		l.errAt(mp, mk, "step %q: kind %s takes no matrix (only train steps do)", id, kd.Name())
		return nil
	}
	if m.Kind != yaml.MappingNode || len(m.Content) == 0 {
		l.errAt(mp, m, "matrix must be a mapping of setting name to a list of values")
		return nil
	}
	var settings []string
	for s := range kd.Settings() {
		if s != "matrix" {
			settings = append(settings, s)
		}
	}
	inStep := map[string]bool{}
	for j := 0; j+1 < len(v.Content); j += 2 {
		inStep[v.Content[j].Value] = true
	}
	var dims []matrixDim
	bad := false
	n := 1
	for j := 0; j+1 < len(m.Content); j += 2 {
		key, list := m.Content[j], m.Content[j+1]
		name := key.Value
		kp := mp + "/" + pointerEscape(name)
		switch {
		case key.Kind != yaml.ScalarNode:
			l.errAt(mp+"/?", key, "keys must be strings")
			bad = true
			continue
		case !contains(settings, name):
			l.errAt(kp, key, "matrix: unknown setting %q for kind %s%s", name, kd.Name(), didYouMean(name, settings))
			bad = true
			continue
		case inStep[name]:
			l.errAt(kp, key, "matrix: setting %q is also set on step %q; set it in one place", name, id)
			bad = true
			continue
		case list.Kind != yaml.SequenceNode || len(list.Content) == 0:
			l.errAt(kp, list, "matrix: setting %q needs a non-empty list of values", name)
			bad = true
			continue
		}
		d := matrixDim{key: key, values: list.Content}
		seen := map[string]int{}
		for x, val := range list.Content {
			part := strconv.Itoa(x + 1)
			if val.Kind == yaml.ScalarNode {
				part = idPart(val.Value)
			}
			if prev, dup := seen[part]; dup {
				l.errAt(kp+"/"+strconv.Itoa(x), val, "matrix: values %s and %s of %q give the same variant id part %q", nodeSource(list.Content[prev]), nodeSource(val), name, part)
				bad = true
			}
			seen[part] = x
			d.parts = append(d.parts, part)
		}
		n *= len(list.Content)
		dims = append(dims, d)
	}
	if !bad && n > MaxMatrixVariants {
		l.errAt(mp, mk, "matrix: %d combinations, at most %d", n, MaxMatrixVariants)
		bad = true
	}
	if bad {
		return nil
	}
	return dims
}

// idPart turns a matrix value into a step id part: lower-case letters,
// digits and _, other runs of characters becoming one _.
func idPart(s string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
			under = false
		} else if !under {
			b.WriteByte('_')
			under = true
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// matrixSchema is the editor schema of a `matrix:` over the settings props
// (before the ports are added): each named setting takes a non-empty list
// of its values.
func matrixSchema(props map[string]any) map[string]any {
	mp := map[string]any{}
	for name, s := range props {
		if name == "kind" || name == "doc" {
			continue
		}
		mp[name] = map[string]any{"type": "array", "minItems": 1, "items": s}
	}
	return map[string]any{
		"description":          fmt.Sprintf("A sweep: one variant of the step per combination of the listed values (at most %d), each cached and recorded on its own; steps reading it expand with it.", MaxMatrixVariants),
		"type":                 "object",
		"minProperties":        1,
		"properties":           mp,
		"additionalProperties": false,
	}
}

// matrixRequired relaxes a sweepable kind's editor schema: a required
// setting may be given in the matrix instead of on the step.
func matrixRequired(out map[string]any, settings []string) {
	req, _ := out["required"].([]any)
	var keep, moved []any
	for _, r := range req {
		if contains(settings, r.(string)) {
			moved = append(moved, r)
		} else {
			keep = append(keep, r)
		}
	}
	if len(moved) == 0 {
		return
	}
	if len(keep) > 0 {
		out["required"] = keep
	} else {
		delete(out, "required")
	}
	out["if"] = map[string]any{"not": map[string]any{"required": []any{"matrix"}}}
	out["then"] = map[string]any{"required": moved}
}
