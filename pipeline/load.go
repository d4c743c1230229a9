package pipeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline/diag"
)

// LoadOptions configures Load and Parse.
type LoadOptions struct {
	// Registry holds the step kinds the pipeline may use. Required.
	Registry *Registry
	// Overrides are the -p name=value parameter overrides; each value is
	// parsed as a YAML scalar (or flow list). An unknown name is an error.
	Overrides map[string]string
	// ReadFile reads the pipeline file; nil means os.ReadFile.
	ReadFile func(name string) ([]byte, error)
	// Validator is the compiled schema of Registry's kinds; nil means
	// compile one for this call. Pass one to load many files cheaply.
	Validator *Validator
	// Warnings, when non-nil, receives the warnings (from step kinds'
	// Compile) of a pipeline that loaded without errors. When loading
	// fails the warnings are part of the returned *diag.Errors.
	Warnings *diag.List
	// SchemaMemo, when not nil, is passed to every step kind's Compile
	// (CompileRequest.Memo); nil means every compile reads its files.
	SchemaMemo SchemaMemo
}

// Load reads, checks and compiles the pipeline file at path. On any problem
// it returns a *diag.Errors (exit code 2) holding every problem found in
// the file, sorted by position, each rendered "file:line:col: message".
func Load(path string, opts LoadOptions) (*Pipeline, error) {
	read := opts.ReadFile
	if read == nil {
		read = os.ReadFile
	}
	src, err := read(path)
	if err != nil {
		msg := err.Error()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			msg = pe.Err.Error()
		}
		return nil, &diag.Errors{Diagnostics: []diag.Diagnostic{{
			Pos: diag.Pos{File: path}, Message: "cannot read pipeline file: " + msg,
		}}}
	}
	return Parse(path, src, opts)
}

// Parse checks and compiles a pipeline from its bytes, like Load; name is
// the file name used in positions and in Pipeline.File and Dir.
//
// The steps are: decode the YAML (syntax errors, duplicate keys, aliases
// and merge keys expanded); check the top-level keys, the params and each
// step's id, kind and keys; apply -p overrides and substitute
// ${params.NAME} in each step's settings; validate the substituted
// document against the JSON Schema of the registry's kinds; resolve input
// references; order the steps (reporting cycles); compile each step
// against the types of its inputs. Every stage runs as far as the problems
// found so far allow, so that one run reports them all.
func Parse(name string, src []byte, opts LoadOptions) (*Pipeline, error) {
	if opts.Registry == nil {
		return nil, errors.New("load pipeline: LoadOptions.Registry is nil")
	}
	v := opts.Validator
	if v == nil {
		v = NewValidator(opts.Registry)
	} else if v.reg != opts.Registry {
		return nil, errors.New("load pipeline: LoadOptions.Validator was made for another registry")
	}
	if err := v.compile(); err != nil {
		return nil, err
	}
	l := &loader{name: name, src: src, opts: opts, reg: opts.Registry, v: v,
		byID: map[string]*stepState{}, expanding: map[*yaml.Node]bool{}}
	p := l.load()
	if l.diags.HasErrors() {
		return nil, l.diags.Err()
	}
	if opts.Warnings != nil {
		opts.Warnings.Merge(&l.diags)
	}
	return p, nil
}

// maxExpandedNodes bounds the size of a document once its aliases are
// expanded, against "billion laughs" files. Real pipelines have a few
// hundred nodes.
const maxExpandedNodes = 1 << 17

// loader holds the state of one Parse call.
type loader struct {
	name string
	src  []byte
	opts LoadOptions
	reg  *Registry
	v    *Validator

	diags diag.List
	// reported holds the JSON pointer of every problem reported, to mark
	// steps that must not be compiled and to drop schema errors that
	// repeat a problem already reported.
	reported []string

	params map[string]*param
	steps  []*stepState
	byID   map[string]*stepState

	expanding map[*yaml.Node]bool
	nodes     int
	tooBig    bool
}

// stepState is a step while loading.
type stepState struct {
	spec *StepSpec
	// key and val are the step's nodes in the expanded document; pair is
	// the index of key in the steps mapping.
	key, val *yaml.Node
	pair     int
	ptr      string
	kind     Kind
	// deps are the ids of the existing steps it references.
	deps []string
	// suggested holds the keys suggested for misspelt keys: their
	// absence is not reported again.
	suggested map[string]bool
}

func (l *loader) pos(n *yaml.Node) diag.Pos {
	if n == nil {
		return diag.Pos{File: l.name}
	}
	return diag.Pos{File: l.name, Line: n.Line, Col: n.Column}
}

// errAt reports an error at node n about the value at JSON pointer ptr.
func (l *loader) errAt(ptr string, n *yaml.Node, format string, args ...any) {
	l.errAtPos(ptr, l.pos(n), format, args...)
}

func (l *loader) errAtPos(ptr string, pos diag.Pos, format string, args ...any) {
	l.diags.Add(pos, format, args...)
	l.reported = append(l.reported, ptr)
}

// covered reports whether a problem was already reported at, above or
// below JSON pointer ptr.
func (l *loader) covered(ptr string) bool {
	for _, r := range l.reported {
		if r == ptr || strings.HasPrefix(ptr, r+"/") || strings.HasPrefix(r, ptr+"/") {
			return true
		}
	}
	return false
}

// stepBad reports whether any problem was reported in the step.
func (l *loader) stepBad(st *stepState) bool {
	for _, r := range l.reported {
		if r == st.ptr || strings.HasPrefix(r, st.ptr+"/") {
			return true
		}
	}
	return false
}

func (l *loader) load() *Pipeline {
	doc := l.decode()
	if doc == nil {
		return nil
	}
	l.checkDuplicates(doc, "")
	root := l.expand(doc, "")
	if l.tooBig {
		return nil
	}
	sum := sha256.Sum256(l.src)
	p := &Pipeline{
		File:   l.name,
		Dir:    filepath.Dir(l.name),
		Source: l.src,
		SHA256: hex.EncodeToString(sum[:]),
		Root:   doc,
	}
	if root.Kind != yaml.MappingNode {
		l.errAt("", root, "a pipeline file must be a mapping with `mlrun: %d`, `name` and `steps`", FormatVersion)
		return nil
	}
	top := l.checkTop(root, p)
	l.parseParams(top["params"])
	for _, pr := range l.params {
		p.Params = append(p.Params, pr.Param)
	}
	sort.Slice(p.Params, func(i, j int) bool { return p.Params[i].Name < p.Params[j].Name })
	variants := l.expandMatrix(top["steps"])
	l.checkSteps(top["steps"])
	for _, st := range l.steps {
		st.spec.Variant = variants[st.spec.ID]
	}
	for _, st := range l.steps {
		st.spec.Node = deepCopy(st.val)
		if st.spec.Node.Kind == yaml.MappingNode {
			l.substitute(st.spec.Node, st.ptr, true)
			if d := st.spec.Setting("doc"); d != nil && isString(d) {
				st.spec.Doc = d.Value
			}
		}
	}
	// References first: their hand-written messages say more than the
	// schema's pattern, which is then not repeated.
	l.resolveRefs()
	l.validateSchema(root, top["steps"])

	ids := make([]string, len(l.steps))
	deps := make(map[string][]string, len(l.steps))
	for i, st := range l.steps {
		ids[i] = st.spec.ID
		deps[st.spec.ID] = st.deps
	}
	order, cycles := topoSort(ids, deps)
	for _, c := range cycles {
		st := l.byID[c[0]]
		l.errAt(st.ptr, st.key, "cycle: %s", strings.Join(c, " -> "))
	}
	inOrder := map[string]bool{}
	for _, id := range order {
		inOrder[id] = true
		p.Steps = append(p.Steps, l.byID[id].spec)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if !inOrder[id] {
			p.Steps = append(p.Steps, l.byID[id].spec)
		}
	}
	l.compile(p, order)
	return p
}

// decode parses the YAML and returns its document node, or nil after
// reporting why there is none.
func (l *loader) decode() *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(l.src))
	var doc yaml.Node
	err := dec.Decode(&doc)
	empty := func() *yaml.Node {
		l.diags.Add(diag.Pos{File: l.name, Line: 1, Col: 1},
			"empty pipeline file: expected `mlrun: %d`, `name` and `steps`", FormatVersion)
		return nil
	}
	if err == io.EOF {
		return empty()
	}
	if err != nil {
		l.syntaxError(err)
		return nil
	}
	if len(doc.Content) == 0 || (doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].ShortTag() == "!!null") {
		return empty()
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		at := &extra
		if len(extra.Content) > 0 {
			at = extra.Content[0]
		}
		l.errAt("", at, "a pipeline file holds one YAML document; remove this second one")
	case err != io.EOF:
		l.syntaxError(err)
	}
	return doc.Content[0]
}

// yamlErrRe splits yaml.v3's "yaml: line N: message".
var yamlErrRe = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// yamlParserProblems are yaml.v3's parser (as opposed to scanner)
// messages: it reports their line counted from 0, the others from 1.
var yamlParserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// syntaxError reports a YAML syntax error at its line (yaml.v3 gives no
// column), or at the offending tab.
func (l *loader) syntaxError(err error) {
	msg := err.Error()
	line := 0
	if m := yamlErrRe.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if yamlParserProblems[msg] {
		line++
	}
	line = max(line, 1)
	if strings.Contains(msg, "tab character") || msg == "found character that cannot start any token" {
		if tl, tc, ok := tabIndent(l.src, line); ok {
			l.diags.Add(diag.Pos{File: l.name, Line: tl, Col: tc}, "tabs are not allowed for indentation; use spaces")
			return
		}
	}
	// yaml.v3 reports only a line: point at the first character of that
	// line's content, where the construct it could not parse starts.
	l.diags.Add(diag.Pos{File: l.name, Line: line, Col: firstContentCol(l.src, line)}, "invalid YAML: %s", msg)
}

// firstContentCol returns the 1-based column of the first non-blank
// character of the given line (1-based), or 1.
func firstContentCol(src []byte, line int) int {
	lines := strings.Split(string(src), "\n")
	if line < 1 || line > len(lines) {
		return 1
	}
	for i, r := range []rune(lines[line-1]) {
		if r != ' ' && r != '\t' && r != '\r' {
			return i + 1
		}
	}
	return 1
}

// tabIndent finds a tab in the indentation of the given line (1-based),
// else of the first line that has one.
func tabIndent(src []byte, line int) (int, int, bool) {
	lines := strings.Split(string(src), "\n")
	find := func(i int) (int, bool) {
		for j, r := range lines[i] {
			switch r {
			case '\t':
				return j + 1, true
			case ' ':
			default:
				return 0, false
			}
		}
		return 0, false
	}
	if line-1 < len(lines) {
		if c, ok := find(line - 1); ok {
			return line, c, true
		}
	}
	for i := range lines {
		if c, ok := find(i); ok {
			return i + 1, c, true
		}
	}
	return 0, 0, false
}

// resolveAlias follows alias nodes to their target.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isMergeKey(k *yaml.Node) bool { return k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" }

func isString(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" }

// checkDuplicates reports every key defined twice in a mapping of the
// document as written (merge keys may legitimately repeat merged keys).
func (l *loader) checkDuplicates(n *yaml.Node, ptr string) {
	switch n.Kind {
	case yaml.SequenceNode:
		for i, c := range n.Content {
			l.checkDuplicates(c, ptr+"/"+strconv.Itoa(i))
		}
	case yaml.MappingNode:
		seen := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			kv := resolveAlias(k)
			cp := ptr
			if kv != nil && kv.Kind == yaml.ScalarNode && !isMergeKey(kv) {
				cp = ptr + "/" + pointerEscape(kv.Value)
				if first, dup := seen[kv.Value]; dup {
					l.errAt(cp, k, "duplicate key %q; first defined at line %d", kv.Value, first.Line)
				} else {
					seen[kv.Value] = k
				}
			}
			l.checkDuplicates(n.Content[i+1], cp)
		}
	}
}

// nullAt is a null scalar at n's position.
func nullAt(n *yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
}

// expand returns a copy of n with aliases replaced by copies of their
// anchored nodes and merge keys (<<) replaced by the merged pairs, so that
// the rest of the loader sees a plain tree. Copies keep their positions;
// in a mapping the first of duplicate keys wins (duplicates are reported
// by checkDuplicates) and explicit keys win over merged ones.
func (l *loader) expand(n *yaml.Node, ptr string) *yaml.Node {
	l.nodes++
	if l.nodes > maxExpandedNodes {
		if !l.tooBig {
			l.tooBig = true
			l.errAt(ptr, n, "the document is too large once its aliases are expanded (over %d nodes)", maxExpandedNodes)
		}
		return nullAt(n)
	}
	switch n.Kind {
	case yaml.AliasNode:
		t := n.Alias
		if t == nil {
			return nullAt(n)
		}
		if l.expanding[t] {
			l.errAt(ptr, n, "alias *%s refers to the node that contains it", n.Value)
			return nullAt(n)
		}
		l.expanding[t] = true
		c := l.expand(t, ptr)
		delete(l.expanding, t)
		return c
	case yaml.ScalarNode:
		c := *n
		c.Anchor = ""
		return &c
	case yaml.SequenceNode, yaml.DocumentNode:
		c := *n
		c.Anchor = ""
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, it := range n.Content {
			c.Content[i] = l.expand(it, ptr+"/"+strconv.Itoa(i))
		}
		if n.Kind == yaml.DocumentNode && len(c.Content) > 0 {
			return c.Content[0]
		}
		return &c
	case yaml.MappingNode:
		c := *n
		c.Anchor = ""
		c.Content = nil
		explicit := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := resolveAlias(n.Content[i]); k != nil && k.Kind == yaml.ScalarNode && !isMergeKey(k) {
				explicit[k.Value] = true
			}
		}
		present := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			kr := resolveAlias(k)
			if kr == nil {
				continue
			}
			if isMergeKey(kr) {
				for _, src := range l.mergeSources(k, v, ptr) {
					for j := 0; j+1 < len(src.Content); j += 2 {
						mk := src.Content[j]
						if mk.Kind == yaml.ScalarNode && (explicit[mk.Value] || present[mk.Value]) {
							continue
						}
						if mk.Kind == yaml.ScalarNode {
							present[mk.Value] = true
						}
						c.Content = append(c.Content, mk, src.Content[j+1])
					}
				}
				continue
			}
			if kr.Kind == yaml.ScalarNode {
				if present[kr.Value] {
					continue
				}
				present[kr.Value] = true
			}
			ck := l.expand(k, ptr)
			if k.Kind == yaml.AliasNode {
				ck.Line, ck.Column = k.Line, k.Column
			}
			c.Content = append(c.Content, ck, l.expand(v, ptr+"/"+pointerEscape(kr.Value)))
		}
		return &c
	}
	return nullAt(n)
}

// mergeSources expands the value of a merge key: a mapping or a list of
// mappings.
func (l *loader) mergeSources(k, v *yaml.Node, ptr string) []*yaml.Node {
	ev := l.expand(v, ptr)
	switch ev.Kind {
	case yaml.MappingNode:
		return []*yaml.Node{ev}
	case yaml.SequenceNode:
		ok := true
		for _, it := range ev.Content {
			ok = ok && it.Kind == yaml.MappingNode
		}
		if ok {
			return ev.Content
		}
	}
	l.errAt(ptr, k, "a merge key (<<) needs a mapping or a list of mappings")
	return nil
}

// deepCopy copies a node tree (aliases are shared, not followed).
func deepCopy(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	c := *n
	if n.Content != nil {
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, it := range n.Content {
			c.Content[i] = deepCopy(it)
		}
	}
	return &c
}

// checkTop checks the top-level mapping and fills p's name, description
// and version; it returns the value nodes by key.
func (l *loader) checkTop(root *yaml.Node, p *Pipeline) map[string]*yaml.Node {
	vals := map[string]*yaml.Node{}
	suggested := map[string]bool{}
	known := topLevelKeys()
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			l.errAt("/?", k, "keys must be strings")
			continue
		}
		if contains(known, k.Value) {
			vals[k.Value] = v
			continue
		}
		hint := ""
		if s := suggest(k.Value, known); s != "" {
			hint = `; did you mean "` + s + `"?`
			suggested[s] = true
		}
		l.errAt("/"+pointerEscape(k.Value), k, "unknown key %q%s", k.Value, hint)
	}
	missing := func(key, format string, args ...any) {
		if suggested[key] {
			// Reported as the misspelt key; only mark it.
			l.reported = append(l.reported, "/"+key)
			return
		}
		l.errAt("/"+key, root, format, args...)
	}
	switch v := vals["mlrun"]; {
	case v == nil:
		missing("mlrun", "missing format version `mlrun: %d`", FormatVersion)
	case v.Kind == yaml.ScalarNode && v.ShortTag() == "!!int" && scalarValue(v) == int64(FormatVersion):
		p.Version = FormatVersion
	default:
		l.errAt("/mlrun", v, "unsupported format version %s; this mlrun reads `mlrun: %d`", describeValue(v), FormatVersion)
	}
	switch v := vals["name"]; {
	case v == nil:
		missing("name", "missing required key %q", "name")
	case !isString(v) || v.Value == "":
		l.errAt("/name", v, "name must be a non-empty string")
	default:
		p.Name = v.Value
	}
	if v := vals["description"]; v != nil {
		if isString(v) {
			p.Description = v.Value
		} else {
			l.errAt("/description", v, "description must be a string")
		}
	}
	l.parseModelCard(vals["model_card"], p)
	l.parseProtected(vals["protected"], p)
	l.parseReasons(vals["reasons"], p)
	if vals["steps"] == nil {
		missing("steps", "missing required key %q", "steps")
	}
	return vals
}

// parseProtected reads the top-level `protected:` list of column names.
func (l *loader) parseProtected(v *yaml.Node, p *Pipeline) {
	if v == nil {
		return
	}
	if v.Kind != yaml.SequenceNode {
		l.errAt("/protected", v, "protected must be a list of column names, got %s", describeValue(v))
		return
	}
	for i, n := range v.Content {
		ptr := fmt.Sprintf("/protected/%d", i)
		switch {
		case !isString(n) || n.Value == "":
			l.errAt(ptr, n, "protected column must be a non-empty string, got %s", describeValue(n))
		case slices.Contains(p.Protected, n.Value):
			l.errAt(ptr, n, "protected column %q listed twice", n.Value)
		default:
			p.Protected = append(p.Protected, n.Value)
			p.ProtectedPos = append(p.ProtectedPos, l.pos(n))
		}
	}
}

// parseModelCard reads the top-level `model_card:` mapping: the known text
// fields (contacts may also be a list of strings) and any other key, kept as
// text.
func (l *loader) parseModelCard(v *yaml.Node, p *Pipeline) {
	if v == nil {
		return
	}
	if v.Kind != yaml.MappingNode {
		l.errAt("/model_card", v, "model_card must be a mapping")
		return
	}
	mc := &ModelCard{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, t := v.Content[i], v.Content[i+1]
		ptr := "/model_card/" + pointerEscape(k.Value)
		text := func() (string, bool) {
			if t.Kind != yaml.ScalarNode || t.ShortTag() == "!!null" {
				l.errAt(ptr, t, "model_card %s must be text, got %s", k.Value, describeValue(t))
				return "", false
			}
			return t.Value, true
		}
		switch k.Value {
		case "intended_use":
			mc.IntendedUse, _ = text()
		case "out_of_scope":
			mc.OutOfScope, _ = text()
		case "owner":
			mc.Owner, _ = text()
		case "limitations":
			mc.Limitations, _ = text()
		case "contacts":
			if t.Kind == yaml.SequenceNode {
				for j, c := range t.Content {
					if c.Kind != yaml.ScalarNode || c.Value == "" {
						l.errAt(fmt.Sprintf("%s/%d", ptr, j), c, "model_card contact must be text, got %s", describeValue(c))
						continue
					}
					mc.Contacts = append(mc.Contacts, c.Value)
				}
			} else if s, ok := text(); ok {
				mc.Contacts = []string{s}
			}
		default:
			if mc.Other == nil {
				mc.Other = map[string]string{}
			}
			if t.Kind == yaml.ScalarNode {
				mc.Other[k.Value] = t.Value
			} else {
				mc.Other[k.Value] = nodeSource(t)
			}
		}
	}
	p.ModelCard = mc
}

// nodeSource renders a node back to compact YAML, for free-form text.
func nodeSource(n *yaml.Node) string {
	b, err := yaml.Marshal(n)
	if err != nil {
		return describeValue(n)
	}
	return strings.TrimSpace(string(b))
}

// parseReasons reads the top-level `reasons:` mapping of feature name to
// reason text.
func (l *loader) parseReasons(v *yaml.Node, p *Pipeline) {
	if v == nil {
		return
	}
	if v.Kind != yaml.MappingNode {
		l.errAt("/reasons", v, "reasons must be a mapping of feature name to reason text, got %s", describeValue(v))
		return
	}
	p.Reasons = map[string]string{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, t := v.Content[i], v.Content[i+1]
		if !isString(t) || t.Value == "" {
			l.errAt("/reasons/"+pointerEscape(k.Value), t, "reason text for %q must be a non-empty string, got %s", k.Value, describeValue(t))
			continue
		}
		p.Reasons[k.Value] = t.Value
	}
}

// describeValue renders a value for a message: a string quoted, another
// scalar as written, a collection by its kind.
func describeValue(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "(a mapping)"
	case yaml.SequenceNode:
		return "(a list)"
	}
	if isString(n) {
		return strconv.Quote(n.Value)
	}
	return n.Value
}

// stepIDRe is what a step id must match.
var stepIDRe = regexp.MustCompile(stepIDPattern)

// stepIDProblem says why id cannot be a step id, or returns "".
func stepIDProblem(id string) string {
	const why = "ids name store records, so they must not "
	switch {
	case strings.ContainsRune(id, 0):
		return why + "contain NUL bytes"
	case strings.HasPrefix(id, "/") || strings.HasPrefix(id, `\`) || filepath.IsAbs(id) ||
		(len(id) >= 2 && id[1] == ':' && (id[0]|0x20 >= 'a' && id[0]|0x20 <= 'z')):
		return why + "be absolute paths"
	case strings.Contains(id, ".."):
		return why + `contain ".."`
	case strings.ContainsAny(id, `/\`):
		return why + "contain path separators"
	case !stepIDRe.MatchString(id):
		return "ids must match " + stepIDPattern + " (a lower-case letter, then lower-case letters, digits, _ or -)"
	}
	return ""
}

// checkSteps checks the `steps:` mapping: ids, kinds and keys.
func (l *loader) checkSteps(n *yaml.Node) {
	if n == nil {
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" || n.Kind == yaml.MappingNode && len(n.Content) == 0 {
		l.errAt("/steps", n, "steps must not be empty")
		return
	}
	if n.Kind != yaml.MappingNode {
		l.errAt("/steps", n, "steps must be a mapping of step id to step")
		return
	}
	kindList := strings.Join(l.reg.KindNames(), ", ")
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			l.errAt("/steps/?", k, "step ids must be strings")
			continue
		}
		id := k.Value
		sp := "/steps/" + pointerEscape(id)
		if why := stepIDProblem(id); why != "" {
			l.errAt(sp, k, "invalid step id %q: %s", id, why)
		}
		st := &stepState{spec: &StepSpec{ID: id, Pos: l.pos(k)}, key: k, val: v, pair: i, ptr: sp}
		l.steps = append(l.steps, st)
		l.byID[id] = st
		if v.Kind != yaml.MappingNode {
			l.errAt(sp, v, "step %q must be a mapping with a kind", id)
			continue
		}
		var kindNode *yaml.Node
		for j := 0; j+1 < len(v.Content); j += 2 {
			if v.Content[j].Value == "kind" {
				kindNode = v.Content[j+1]
			}
		}
		switch {
		case kindNode == nil:
			l.errAt(sp+"/kind", k, "step %q has no kind; known kinds: %s", id, kindList)
		case !isString(kindNode):
			l.errAt(sp+"/kind", kindNode, "kind must be a string; known kinds: %s", kindList)
		default:
			kd, ok := l.reg.Kind(kindNode.Value)
			if !ok {
				l.errAt(sp+"/kind", kindNode, "unknown step kind %q (known kinds: %s)%s",
					kindNode.Value, kindList, didYouMean(kindNode.Value, l.reg.KindNames()))
				break
			}
			st.kind = kd
			st.spec.Kind, st.spec.KindImpl = kd.Name(), kd
		}
		var allowed []string
		if st.kind != nil {
			allowed = append(allowed, "kind", "doc")
			for _, p := range st.kind.Inputs() {
				allowed = append(allowed, p.Name)
			}
			for s := range st.kind.Settings() {
				allowed = append(allowed, s)
			}
		}
		has := map[string]bool{}
		suggested := map[string]bool{}
		st.suggested = suggested
		for j := 0; j+1 < len(v.Content); j += 2 {
			key, val := v.Content[j], v.Content[j+1]
			if key.Kind != yaml.ScalarNode {
				l.errAt(sp+"/?", key, "keys must be strings")
				continue
			}
			has[key.Value] = true
			switch {
			case key.Value == "kind":
			case key.Value == "doc":
				if !isString(val) {
					l.errAt(sp+"/doc", val, "doc must be a string")
				}
			case st.kind == nil || contains(allowed, key.Value):
			default:
				hint := ""
				if s := suggest(key.Value, allowed); s != "" {
					hint = `; did you mean "` + s + `"?`
					suggested[s] = true
				}
				l.errAt(sp+"/"+pointerEscape(key.Value), key, "unknown key %q for kind %s%s", key.Value, st.kind.Name(), hint)
			}
		}
		if st.kind != nil {
			req := append([]string(nil), st.kind.Required()...)
			sort.Strings(req)
			for _, r := range req {
				if !has[r] && suggested[r] {
					l.reported = append(l.reported, sp+"/"+pointerEscape(r))
				} else if !has[r] {
					l.errAt(sp+"/"+pointerEscape(r), k, "step %q: missing required setting %q", id, r)
				}
			}
		}
	}
}

// validateSchema checks the document, with each step's params
// substituted, against the registry's JSON Schema, and reports the
// problems not already reported by the hand-written checks.
func (l *loader) validateSchema(root, steps *yaml.Node) {
	doc := *root
	doc.Content = append([]*yaml.Node(nil), root.Content...)
	if steps != nil && steps.Kind == yaml.MappingNode {
		ns := *steps
		ns.Content = append([]*yaml.Node(nil), steps.Content...)
		for _, st := range l.steps {
			ns.Content[st.pair+1] = st.spec.Node
		}
		for i := 0; i+1 < len(doc.Content); i += 2 {
			if doc.Content[i+1] == steps {
				doc.Content[i+1] = &ns
			}
		}
	}
	for _, pr := range l.v.validate(toJSON(&doc)) {
		subject := tokensPointer(pr.subject)
		if l.covered(subject) {
			continue
		}
		key, val := lookup(&doc, pr.at)
		at := val
		if pr.onKey && key != nil {
			at = key
		}
		msg := pr.msg
		if path := settingPath(&doc, pr.loc); path != "" {
			msg = path + ": " + msg
		}
		l.errAtPos(subject, l.pos(at), "%s", msg)
	}
}

// tokensPointer renders instance-location tokens as a JSON pointer.
func tokensPointer(toks []string) string {
	var b strings.Builder
	for _, t := range toks {
		b.WriteByte('/')
		b.WriteString(pointerEscape(t))
	}
	return b.String()
}

// lookup finds the node at the instance location toks, and the key node
// of its last step (nil in a list). It stops at the deepest node found.
func lookup(n *yaml.Node, toks []string) (key, val *yaml.Node) {
	val = n
	for _, tok := range toks {
		switch val.Kind {
		case yaml.MappingNode:
			found := false
			for i := 0; i+1 < len(val.Content); i += 2 {
				if val.Content[i].Value == tok {
					key, val, found = val.Content[i], val.Content[i+1], true
					break
				}
			}
			if !found {
				return key, val
			}
		case yaml.SequenceNode:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(val.Content) {
				return key, val
			}
			key, val = nil, val.Content[i]
		default:
			return key, val
		}
	}
	return key, val
}

// settingPath names the value at toks for a message: `setting "a.b[0]"`
// within a step, `"params.x"` elsewhere, "" for the root.
func settingPath(doc *yaml.Node, toks []string) string {
	if len(toks) == 0 {
		return ""
	}
	inStep := len(toks) >= 3 && toks[0] == "steps"
	rest := toks
	cur := doc
	if inStep {
		_, cur = lookup(doc, toks[:2])
		rest = toks[2:]
	}
	var b strings.Builder
	for i, tok := range rest {
		if cur != nil && cur.Kind == yaml.SequenceNode {
			b.WriteString("[" + tok + "]")
		} else {
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(tok)
		}
		if cur != nil {
			_, next := lookup(cur, []string{tok})
			if next == cur {
				cur = nil
			} else {
				cur = next
			}
		}
	}
	if inStep {
		return fmt.Sprintf("setting %q", b.String())
	}
	return strconv.Quote(b.String())
}

// toJSON converts an expanded node tree to a JSON value for the schema
// validator. Non-finite floats, which JSON lacks, become the largest finite
// floats (infinities) or the string ".nan".
func toJSON(n *yaml.Node) any {
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				continue
			}
			if _, dup := m[k.Value]; !dup {
				m[k.Value] = toJSON(n.Content[i+1])
			}
		}
		return m
	case yaml.SequenceNode:
		a := make([]any, len(n.Content))
		for i, it := range n.Content {
			a[i] = toJSON(it)
		}
		return a
	case yaml.ScalarNode:
		v := scalarValue(n)
		if f, ok := v.(float64); ok {
			switch {
			case math.IsNaN(f):
				return ".nan"
			case math.IsInf(f, 1):
				return math.MaxFloat64
			case math.IsInf(f, -1):
				return -math.MaxFloat64
			}
		}
		return v
	}
	return nil
}

// resolveRefs checks each step's input ports and fills its Inputs.
func (l *loader) resolveRefs() {
	ids := make([]string, 0, len(l.steps))
	for _, st := range l.steps {
		ids = append(ids, st.spec.ID)
	}
	for _, st := range l.steps {
		if st.kind == nil || st.spec.Node.Kind != yaml.MappingNode {
			continue
		}
		id := st.spec.ID
		for _, port := range st.kind.Inputs() {
			pp := st.ptr + "/" + pointerEscape(port.Name)
			n := st.spec.Setting(port.Name)
			if n == nil {
				if port.Required && st.suggested[port.Name] {
					l.reported = append(l.reported, pp)
				} else if port.Required {
					l.errAt(pp, st.key, `step %q: missing required input %q (a reference "step" or "step.output")`, id, port.Name)
				}
				continue
			}
			if !isString(n) {
				l.errAt(pp, n, `input %q must be a reference "step" or "step.output"`, port.Name)
				continue
			}
			target, output, hasOut := strings.Cut(n.Value, ".")
			if target == "" || hasOut && (output == "" || strings.Contains(output, ".")) {
				l.errAt(pp, n, `invalid reference %q: want "step" or "step.output"`, n.Value)
				continue
			}
			if target == id {
				l.errAt(pp, n, "step %q cannot read its own output", id)
				continue
			}
			prod, ok := l.byID[target]
			if !ok {
				l.errAt(pp, n, "unknown step %q%s", target, didYouMean(target, ids))
				continue
			}
			st.deps = append(st.deps, target)
			if prod.kind == nil {
				continue
			}
			outs := prod.kind.Outputs()
			switch {
			case !hasOut && len(outs) == 0:
				l.errAt(pp, n, "step %q (kind %s) has no outputs", target, prod.kind.Name())
				continue
			case !hasOut:
				output = outs[0]
			case !contains(outs, output):
				l.errAt(pp, n, "step %q (kind %s) has no output %q (outputs: %s)%s",
					target, prod.kind.Name(), output, strings.Join(outs, ", "), didYouMean(output, outs))
				continue
			}
			st.spec.Inputs = append(st.spec.Inputs, InputRef{Port: port.Name, Step: target, Output: output, Pos: l.pos(n)})
		}
		sort.Slice(st.spec.Inputs, func(i, j int) bool { return st.spec.Inputs[i].Port < st.spec.Inputs[j].Port })
	}
}

// compile compiles the steps in order. A step with problems of its own is
// not compiled. A step downstream of a step that did not compile is still
// checked, with the types of those inputs unknown (nil: kinds then check
// what does not depend on them, their settings and the expressions' syntax),
// so that every step's own problems are reported in one pass, each once;
// it is not compiled. A step reading a step of no known kind is not checked.
func (l *loader) compile(p *Pipeline, order []string) {
	params := p.ParamMap()
	for _, id := range order {
		st := l.byID[id]
		if st.kind == nil || l.stepBad(st) {
			continue
		}
		ready, known := true, true
		for _, d := range st.deps {
			ready = ready && l.byID[d].spec.Compiled != nil
			known = known && l.byID[d].kind != nil // a producer of no known kind has no outputs to connect
		}
		if !known {
			continue
		}
		inputs := make(map[string]Type, len(st.spec.Inputs))
		for _, in := range st.spec.Inputs {
			if c := l.byID[in.Step].spec.Compiled; c != nil {
				inputs[in.Port] = c.OutputTypes()[in.Output]
			} else {
				inputs[in.Port] = nil // unknown: its producer did not compile
			}
		}
		var dl diag.List
		c := st.kind.Compile(&CompileRequest{Step: st.spec, Pipeline: p, Inputs: inputs, Params: params, Diags: &dl, Memo: l.opts.SchemaMemo})
		l.diags.Merge(&dl)
		switch {
		case dl.HasErrors() || !ready:
		case c == nil:
			l.errAt(st.ptr, st.key, "step %q: kind %s compiled nothing and reported no problem", id, st.kind.Name())
		default:
			st.spec.Compiled = c
		}
	}
}
