package pfmt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
)

// SettingOrderer is implemented by step kinds that want their settings in
// an order of their own: names listed come first, in that order, after the
// kind's input ports; the others follow sorted by name.
type SettingOrderer interface {
	SettingOrder() []string
}

// SettingTrailer is implemented by step kinds with settings that go last,
// after all others, in their original order (train's per-algorithm
// blocks).
type SettingTrailer interface {
	TrailingSettings() []string
}

// TopLevelOrder is the canonical order of the top-level keys.
var TopLevelOrder = []string{"mlrun", "name", "description", "params", "protected", "reasons", "model_card", "steps"}

// ErrNotYAML reports a file that is not a single YAML document.
var ErrNotYAML = errors.New("not a YAML pipeline file")

// Format returns the canonical form of the pipeline file src. reg supplies
// the step kinds (their ports and settings) and may be nil, in which case
// the keys of a step after kind and doc keep their order. Format needs
// valid YAML, not a valid pipeline: it can format a file that does not
// load yet. The error wraps ErrNotYAML.
func Format(src []byte, reg *pipeline.Registry) ([]byte, error) {
	out, err := format(src, reg)
	if err != nil {
		return nil, err
	}
	// yaml.v3 may attach a comment to another node on the second read (a
	// foot comment becomes a head comment); formatting the output again
	// settles it, so that Format is idempotent.
	for range 3 {
		again, err := format(out, reg)
		if err != nil {
			return nil, fmt.Errorf("%w: formatted output does not parse again: %v", ErrNotYAML, err)
		}
		if bytes.Equal(again, out) {
			return out, nil
		}
		out = again
	}
	return out, nil
}

func format(src []byte, reg *pipeline.Registry) ([]byte, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("%w: the file is empty", ErrNotYAML)
		}
		return nil, fmt.Errorf("%w: %v", ErrNotYAML, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotYAML, err)
		}
		return nil, fmt.Errorf("%w: the file holds more than one YAML document", ErrNotYAML)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, fmt.Errorf("%w: no document", ErrNotYAML)
	}
	root := doc.Content[0]
	var steps *yaml.Node
	if root.Kind == yaml.MappingNode && len(root.Content) > 0 {
		// The comment above the first key heads the file: it stays on top
		// when that key moves down.
		first := root.Content[0]
		sortPairs(root, rankOf(TopLevelOrder))
		if nf := root.Content[0]; nf != first && first.HeadComment != "" {
			nf.HeadComment = strings.TrimSuffix(first.HeadComment+"\n"+nf.HeadComment, "\n")
			first.HeadComment = ""
		}
		if v := value(root, "steps"); v != nil && v.Kind == yaml.MappingNode {
			steps = v
			for i := 1; i < len(v.Content); i += 2 {
				if s := v.Content[i]; s.Kind == yaml.MappingNode {
					sortPairs(s, stepRanks(s, reg))
				}
			}
		}
	}
	normalize(&doc, false, map[*yaml.Node]bool{})
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotYAML, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotYAML, err)
	}
	head := 0
	if doc.HeadComment != "" {
		head = strings.Count(doc.HeadComment, "\n") + 1
	}
	return layout(buf.Bytes(), root, steps, head), nil
}

// value returns the value node of key in mapping m, or nil.
func value(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// rankOf ranks the listed keys by position.
func rankOf(keys []string) map[string]int {
	r := make(map[string]int, len(keys))
	for i, k := range keys {
		r[k] = i
	}
	return r
}

// stepRanks is the key order of one step mapping.
func stepRanks(s *yaml.Node, reg *pipeline.Registry) map[string]int {
	order := []string{"kind", "doc"}
	k := value(s, "kind")
	if reg == nil || k == nil || k.Kind != yaml.ScalarNode {
		return rankOf(order)
	}
	kind, ok := reg.Kind(k.Value)
	if !ok {
		return rankOf(order)
	}
	for _, p := range kind.Inputs() {
		order = append(order, p.Name)
	}
	if so, ok := kind.(SettingOrderer); ok {
		order = append(order, so.SettingOrder()...)
	} else {
		order = append(order, kind.Required()...)
	}
	var trailing []string
	if st, ok := kind.(SettingTrailer); ok {
		trailing = st.TrailingSettings()
	}
	listed := map[string]bool{}
	for _, o := range append(order, trailing...) {
		listed[o] = true
	}
	var rest []string
	for name := range kind.Settings() {
		if !listed[name] {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	r := rankOf(append(order, rest...))
	for _, t := range trailing {
		r[t] = len(order) + len(rest) // one rank: they keep their order
	}
	return r
}

// sortPairs orders the pairs of mapping m by rank: merge keys first, then
// ranked keys, then the others in their original order.
func sortPairs(m *yaml.Node, rank map[string]int) {
	type pair struct {
		k, v *yaml.Node
		r    int
	}
	n := len(m.Content) / 2
	pairs := make([]pair, n)
	for i := range n {
		k := m.Content[2*i]
		r := len(rank) + i
		if k.Kind == yaml.ScalarNode {
			if k.Tag == "!!merge" || k.Value == "<<" && k.Style == 0 {
				r = -1
			} else if x, ok := rank[k.Value]; ok {
				r = x
			}
		}
		pairs[i] = pair{k, m.Content[2*i+1], r}
	}
	sort.SliceStable(pairs, func(i, j int) bool { return pairs[i].r < pairs[j].r })
	for i, p := range pairs {
		m.Content[2*i], m.Content[2*i+1] = p.k, p.v
	}
}

// normalize sets the canonical quoting of every string scalar: plain when
// the emitter can write it plain and it reads back as the same string,
// otherwise double-quoted. Literal and folded blocks and explicitly tagged
// scalars keep their style.
func normalize(n *yaml.Node, flow bool, seen map[*yaml.Node]bool) {
	if n == nil || seen[n] {
		return
	}
	seen[n] = true
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle|yaml.TaggedStyle) != 0 || n.ShortTag() != "!!str" {
			return
		}
		n.Style = 0
		if !plainOK(n, flow) {
			n.Style = yaml.DoubleQuotedStyle
		}
	case yaml.AliasNode:
		return
	default:
		flow = flow || n.Style&yaml.FlowStyle != 0
		for _, c := range n.Content {
			normalize(c, flow, seen)
		}
	}
}

// yaml11 are the plain scalars that YAML 1.1 tools (editors, other
// parsers) read as booleans or null, though yaml.v3 reads them as strings:
// they stay quoted.
var yaml11 = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "n": true, "N": true, "no": true, "No": true, "NO": true,
	"on": true, "On": true, "ON": true, "off": true, "Off": true, "OFF": true, "~": true, "null": true, "Null": true, "NULL": true,
}

// plainOK reports whether the emitter writes the string scalar n plain,
// in a flow collection when flow is set.
func plainOK(n *yaml.Node, flow bool) bool {
	if n.Value == "" || strings.ContainsAny(n.Value, "\n\r\t") || yaml11[n.Value] {
		return false
	}
	c := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: n.Value}
	if flow {
		c = &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: []*yaml.Node{c}}
	}
	out, err := yaml.Marshal(c)
	if flow && len(out) > 0 {
		out = out[1:]
	}
	if err != nil || len(out) == 0 {
		return false
	}
	return out[0] != '\'' && out[0] != '"'
}

// layout removes the blank lines the encoder wrote outside block scalars
// and adds the canonical ones: before a top-level key whose value, or
// whose predecessor's value, is a block collection, and between steps. A
// key's comment lines stay with it.
//
// The first head lines are the document's comment, followed by one blank
// line to keep it apart from the first key's.
func layout(text []byte, root, steps *yaml.Node, head int) []byte {
	lines := strings.Split(strings.TrimRight(string(text), "\n"), "\n")
	var blockTop []bool // per top-level key: is its value a block collection
	if root.Kind == yaml.MappingNode {
		for i := 1; i < len(root.Content); i += 2 {
			blockTop = append(blockTop, isBlock(root.Content[i]))
		}
	}
	stepsIndex := -1
	if steps != nil {
		for i := 1; i < len(root.Content); i += 2 {
			if root.Content[i] == steps {
				stepsIndex = i / 2
			}
		}
	}
	var out []string
	top := -1      // index of the current top-level key
	stepCount := 0 // step keys seen in the steps section
	blockInd := -1 // indentation of the line that opened a block scalar, or -1
	for i, line := range lines {
		if i < head {
			out = append(out, line)
			if i == head-1 {
				out = append(out, "")
			}
			continue
		}
		trimmed := strings.TrimLeft(line, " ")
		ind := len(line) - len(trimmed)
		if blockInd >= 0 {
			if trimmed == "" || ind > blockInd {
				out = append(out, line)
				continue
			}
			blockInd = -1
		}
		if trimmed == "" {
			continue // the encoder's blank lines; canonical ones are added below
		}
		comment := strings.HasPrefix(trimmed, "#")
		blank := false
		switch {
		case comment || root.Kind != yaml.MappingNode:
		case ind == 0 && !strings.HasPrefix(line, "---") && !strings.HasPrefix(line, "..."):
			top++
			if top > 0 && top < len(blockTop) && (blockTop[top] || blockTop[top-1]) {
				blank = true
			}
		case ind == 2 && top == stepsIndex && top >= 0:
			if stepCount > 0 {
				blank = true
			}
			stepCount++
		}
		if blank {
			// Before the key's own comment lines.
			at := len(out)
			for at > 0 && isCommentAt(out[at-1], ind) {
				at--
			}
			if at > 0 && out[at-1] != "" {
				out = append(out[:at], append([]string{""}, out[at:]...)...)
			}
		}
		out = append(out, line)
		if !comment && opensBlockScalar(trimmed) {
			blockInd = ind
		}
	}
	return []byte(strings.Join(out, "\n") + "\n")
}

func isCommentAt(line string, ind int) bool {
	trimmed := strings.TrimLeft(line, " ")
	return strings.HasPrefix(trimmed, "#") && len(line)-len(trimmed) == ind
}

// isBlock reports whether n is written as a non-empty block collection.
func isBlock(n *yaml.Node) bool {
	return (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) && n.Style&yaml.FlowStyle == 0 && len(n.Content) > 0
}

// opensBlockScalar reports whether an emitted line ends with a literal or
// folded block scalar header ("key: |-", "- >", "|2+"), so that the lines
// after it, more indented, are the scalar's content.
func opensBlockScalar(trimmed string) bool {
	f := strings.Fields(trimmed)
	for i, x := range f {
		if i > 0 && strings.HasPrefix(x, "#") {
			f = f[:i] // a line comment after the header
			break
		}
	}
	if len(f) == 0 {
		return false
	}
	last := f[len(f)-1]
	if last[0] != '|' && last[0] != '>' {
		return false
	}
	for _, r := range last[1:] {
		if r != '-' && r != '+' && (r < '1' || r > '9') {
			return false
		}
	}
	return len(f) == 1 || strings.HasSuffix(f[len(f)-2], ":") || f[len(f)-2] == "-" || strings.HasPrefix(f[len(f)-2], "!")
}
