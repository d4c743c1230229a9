package pdiff

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
)

// Step change operations, besides OpAdded, OpRemoved and OpChanged.
const OpRenamed = "renamed"

// Report is the semantic difference between two pipelines.
type Report struct {
	// Old and New label the two versions (file names, "REV:file").
	Old string `json:"old"`
	New string `json:"new"`
	// Pipeline lists changes of the top-level keys other than params and
	// steps (name, description, protected, reasons, model_card).
	Pipeline []Change `json:"pipeline,omitempty"`
	// Params lists the params added, removed or changed, by name.
	Params []ParamChange `json:"params,omitempty"`
	// Steps lists the steps added, removed, renamed or changed: those of
	// the new pipeline in its order, then the removed ones.
	Steps []StepChange `json:"steps,omitempty"`
	// Rerun lists, in the new pipeline's order, the steps whose cache key
	// changes, so that a run would execute them.
	Rerun []Rerun `json:"rerun,omitempty"`
	// StepCount is the number of steps of the new pipeline.
	StepCount int `json:"step_count"`
}

// Empty reports whether the two pipelines mean the same.
func (r *Report) Empty() bool {
	return len(r.Pipeline) == 0 && len(r.Params) == 0 && len(r.Steps) == 0 && len(r.Rerun) == 0
}

// ParamChange is a param added, removed or changed.
type ParamChange struct {
	Name string `json:"name"`
	Op   string `json:"op"`
	Old  any    `json:"old,omitempty"`
	New  any    `json:"new,omitempty"`
	// UsedBy lists the steps (of the new pipeline, or the old one for a
	// removed param) whose settings or expressions read the param.
	UsedBy []string `json:"used_by,omitempty"`
}

// StepChange is a step added, removed, renamed or changed.
type StepChange struct {
	ID string `json:"id"`
	// OldID is the step's id in the old pipeline, for a rename.
	OldID string `json:"old_id,omitempty"`
	Kind  string `json:"kind"`
	// Op is OpAdded, OpRemoved, OpRenamed or OpChanged.
	Op string `json:"op"`
	// After lists, for an added step, the steps it reads from.
	After []string `json:"after,omitempty"`
	// Settings are the changes of the step's settings as written (params
	// not substituted), field by field, expressions excepted.
	Settings []Change `json:"settings,omitempty"`
	// Expressions are the expressions changed, with their old and new text.
	Expressions []Change `json:"expressions,omitempty"`
}

// Rerun is a step whose cache key changes.
type Rerun struct {
	ID string `json:"id"`
	// Direct is true when the step's own definition changes (a new step,
	// its kind, its resolved settings or its wiring); otherwise it re-runs
	// only because an upstream step does.
	Direct bool `json:"direct"`
	// Reasons say why, e.g. "new step", "gates.auc_floor: ... -> ...",
	// "upstream step \"features\" re-runs".
	Reasons []string `json:"reasons"`
	// Config holds the changes of the resolved configuration (the step's
	// Compiled.CacheConfig), field by field.
	Config []Change `json:"config,omitempty"`
}

// ExprPaths are the setting paths that hold expressions, by kind: a "*"
// matches any one key. A kind not listed can declare its own by
// implementing ExprPather.
var ExprPaths = map[string][]string{
	"derive":   {"columns.*"},
	"validate": {"rules.*.expr"},
	"evaluate": {"gates.*"},
	"monitor":  {"checks.*", "checks.*.expr", "drift"},
}

// ExprPather is implemented by step kinds that declare which of their
// setting paths hold expressions (see ExprPaths).
type ExprPather interface {
	ExprPaths() []string
}

// Compare returns the semantic difference from old to new. Both must be
// loaded (every step compiled).
func Compare(old, new *pipeline.Pipeline) *Report {
	r := &Report{Old: old.File, New: new.File, StepCount: len(new.Steps)}
	r.Pipeline = topChanges(old, new)

	oldKeys, newKeys := defKeys(old), defKeys(new)
	renamed := map[string]string{} // new id -> old id
	oldOf := map[string]*pipeline.StepSpec{}
	for _, s := range new.Steps {
		if o := old.Step(s.ID); o != nil {
			oldOf[s.ID] = o
		}
	}
	// Renames: a removed and an added step with the same definition.
	var removed []*pipeline.StepSpec
	for _, o := range old.Steps {
		if new.Step(o.ID) == nil {
			removed = append(removed, o)
		}
	}
	taken := map[string]bool{}
	for _, s := range new.Steps {
		if oldOf[s.ID] != nil {
			continue
		}
		for _, o := range removed {
			if !taken[o.ID] && oldKeys[o.ID] == newKeys[s.ID] {
				taken[o.ID] = true
				renamed[s.ID] = o.ID
				oldOf[s.ID] = o
				break
			}
		}
	}
	// Old ids as the new pipeline names them, to compare references.
	newName := map[string]string{}
	for n, o := range renamed {
		newName[o] = n
	}

	for _, s := range new.Steps {
		o := oldOf[s.ID]
		if o == nil {
			r.Steps = append(r.Steps, StepChange{ID: s.ID, Kind: s.Kind, Op: OpAdded, After: s.Deps()})
			continue
		}
		sc := StepChange{ID: s.ID, Kind: s.Kind, Op: OpChanged}
		if id, ok := renamed[s.ID]; ok {
			sc.Op, sc.OldID = OpRenamed, id
		}
		changes := Values(written(old, o, newName), written(new, s, nil))
		for _, c := range changes {
			if isExpr(s, c.Path) {
				sc.Expressions = append(sc.Expressions, c)
			} else {
				sc.Settings = append(sc.Settings, c)
			}
		}
		if sc.Op == OpRenamed || len(changes) > 0 {
			r.Steps = append(r.Steps, sc)
		}
	}
	for _, o := range removed {
		if !taken[o.ID] {
			r.Steps = append(r.Steps, StepChange{ID: o.ID, Kind: o.Kind, Op: OpRemoved})
		}
	}

	r.Params = paramChanges(old, new)

	rerun := map[string]bool{}
	for _, s := range new.Steps {
		o := oldOf[s.ID]
		if o == nil {
			rerun[s.ID] = true
			r.Rerun = append(r.Rerun, Rerun{ID: s.ID, Direct: true, Reasons: []string{"new step"}})
			continue
		}
		if oldKeys[o.ID] == newKeys[s.ID] {
			continue
		}
		rerun[s.ID] = true
		rr := Rerun{ID: s.ID}
		if o.Kind != s.Kind {
			rr.Reasons = append(rr.Reasons, fmt.Sprintf("kind %s -> %s", o.Kind, s.Kind))
		} else if kindVersion(o) != kindVersion(s) {
			rr.Reasons = append(rr.Reasons, fmt.Sprintf("kind version %d -> %d", kindVersion(o), kindVersion(s)))
		}
		rr.Config = Values(o.Compiled.CacheConfig(), s.Compiled.CacheConfig())
		for _, c := range rr.Config {
			rr.Reasons = append(rr.Reasons, c.String())
		}
		rr.Reasons = append(rr.Reasons, wiringChanges(o, s, newName)...)
		rr.Direct = len(rr.Reasons) > 0
		for _, in := range s.Inputs {
			if rerun[in.Step] {
				why := fmt.Sprintf("upstream step %q re-runs", in.Step)
				if !contains(rr.Reasons, why) {
					rr.Reasons = append(rr.Reasons, why)
				}
			}
		}
		if len(rr.Reasons) == 0 {
			rr.Reasons = []string{"definition changed"}
		}
		r.Rerun = append(r.Rerun, rr)
	}
	return r
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func kindVersion(s *pipeline.StepSpec) int {
	if s.KindImpl == nil {
		return 0
	}
	return s.KindImpl.Version()
}

// wiringChanges explains how the inputs of s differ from those of o (old
// step ids mapped through renames).
func wiringChanges(o, s *pipeline.StepSpec, newName map[string]string) []string {
	ref := func(in pipeline.InputRef, rename map[string]string) string {
		id := in.Step
		if n, ok := rename[id]; ok {
			id = n
		}
		return id + "." + in.Output
	}
	old := map[string]string{}
	for _, in := range o.Inputs {
		old[in.Port] = ref(in, newName)
	}
	cur := map[string]string{}
	for _, in := range s.Inputs {
		cur[in.Port] = ref(in, nil)
	}
	ports := map[string]bool{}
	for p := range old {
		ports[p] = true
	}
	for p := range cur {
		ports[p] = true
	}
	var out []string
	for _, p := range sortedKeys(ports) {
		a, inA := old[p]
		b, inB := cur[p]
		switch {
		case !inA:
			out = append(out, fmt.Sprintf("port %s added: %s", p, b))
		case !inB:
			out = append(out, fmt.Sprintf("port %s removed (was %s)", p, a))
		case a != b:
			out = append(out, fmt.Sprintf("port %s: %s -> %s", p, a, b))
		}
	}
	return out
}

// defKeys returns each step's definition key: the hash of its kind, kind
// version, resolved configuration and, per input port, the producer's
// definition key and output name. Ids do not enter it, so a renamed step
// keeps its key, like its cache key.
func defKeys(p *pipeline.Pipeline) map[string]string {
	keys := make(map[string]string, len(p.Steps))
	for _, s := range p.Steps { // dependencies first
		cfg, err := json.Marshal(s.Compiled.CacheConfig())
		if err != nil {
			cfg = []byte(fmt.Sprintf("%q", err.Error()))
		}
		inputs := map[string]string{}
		for _, in := range s.Inputs {
			inputs[in.Port] = keys[in.Step] + "." + in.Output
		}
		b, _ := json.Marshal(struct {
			Kind    string            `json:"kind"`
			Version int               `json:"version"`
			Config  json.RawMessage   `json:"config"`
			Inputs  map[string]string `json:"inputs"`
		}{s.Kind, kindVersion(s), cfg, inputs})
		sum := sha256.Sum256(b)
		keys[s.ID] = hex.EncodeToString(sum[:])
	}
	return keys
}

// topChanges compares the top-level keys other than mlrun, params and steps.
func topChanges(old, new *pipeline.Pipeline) []Change {
	a, b := map[string]any{}, map[string]any{}
	collect := func(root *yaml.Node, into map[string]any) {
		for i := 0; root != nil && root.Kind == yaml.MappingNode && i+1 < len(root.Content); i += 2 {
			switch k := root.Content[i].Value; k {
			case "mlrun", "params", "steps":
			default:
				into[k] = nodeValue(root.Content[i+1], 0)
			}
		}
	}
	collect(old.Root, a)
	collect(new.Root, b)
	return Values(a, b)
}

// paramChanges compares the resolved params.
func paramChanges(old, new *pipeline.Pipeline) []ParamChange {
	a, b := map[string]any{}, map[string]any{}
	for _, p := range old.Params {
		a[p.Name] = Normalize(p.Value)
	}
	for _, p := range new.Params {
		b[p.Name] = Normalize(p.Value)
	}
	names := map[string]bool{}
	for n := range a {
		names[n] = true
	}
	for n := range b {
		names[n] = true
	}
	var out []ParamChange
	for _, n := range sortedKeys(names) {
		va, inA := a[n]
		vb, inB := b[n]
		pc := ParamChange{Name: n, Old: va, New: vb}
		switch {
		case !inA:
			pc.Op, pc.UsedBy = OpAdded, usedBy(new, n)
		case !inB:
			pc.Op, pc.UsedBy = OpRemoved, usedBy(old, n)
		case Render(va) != Render(vb):
			pc.Op, pc.UsedBy = OpChanged, usedBy(new, n)
		default:
			continue
		}
		out = append(out, pc)
	}
	return out
}

// usedBy lists the steps whose written settings mention params.NAME, as a
// ${params.NAME} reference or in an expression.
func usedBy(p *pipeline.Pipeline, name string) []string {
	re := regexp.MustCompile(`\bparams\.` + regexp.QuoteMeta(name) + `\b`)
	var out []string
	for _, s := range p.Steps {
		if n := writtenNode(p, s.ID); n != nil && mentions(n, re, 0) {
			out = append(out, s.ID)
		}
	}
	return out
}

func mentions(n *yaml.Node, re *regexp.Regexp, depth int) bool {
	if n == nil || depth > 100 {
		return false
	}
	if n.Kind == yaml.AliasNode {
		return mentions(n.Alias, re, depth+1)
	}
	if n.Kind == yaml.ScalarNode {
		return re.MatchString(n.Value)
	}
	for _, c := range n.Content {
		if mentions(c, re, depth+1) {
			return true
		}
	}
	return false
}

// writtenNode returns the step's mapping as written in the file (params
// not substituted), or nil.
func writtenNode(p *pipeline.Pipeline, id string) *yaml.Node {
	root := p.Root
	if root == nil || root.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "steps" {
			continue
		}
		steps := resolve(root.Content[i+1])
		for j := 0; steps != nil && steps.Kind == yaml.MappingNode && j+1 < len(steps.Content); j += 2 {
			if steps.Content[j].Value == id {
				return steps.Content[j+1]
			}
		}
	}
	return nil
}

// written returns the step's settings as written, as a map, without kind;
// input references to renamed steps are given their new names (rename
// maps old ids to new ones; nil for none).
func written(p *pipeline.Pipeline, s *pipeline.StepSpec, rename map[string]string) map[string]any {
	out := map[string]any{}
	v, _ := nodeValue(writtenNode(p, s.ID), 0).(map[string]any)
	for k, x := range v {
		out[k] = x
	}
	delete(out, "kind")
	if s.KindImpl != nil {
		for _, port := range s.KindImpl.Inputs() {
			ref, ok := out[port.Name].(string)
			if !ok {
				continue
			}
			id, output, hasOut := strings.Cut(ref, ".")
			if n, ok := rename[id]; ok {
				out[port.Name] = n
				if hasOut {
					out[port.Name] = n + "." + output
				}
			}
		}
	}
	return out
}

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// nodeValue converts a node to the JSON value model: mappings to maps
// (merge keys applied), sequences to slices, scalars to their decoded
// value.
func nodeValue(n *yaml.Node, depth int) any {
	n = resolve(n)
	if n == nil || depth > 200 {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		var merged []map[string]any
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := resolve(n.Content[i]), n.Content[i+1]
			if k == nil {
				continue
			}
			if k.Tag == "!!merge" {
				switch x := nodeValue(v, depth+1).(type) {
				case map[string]any:
					merged = append(merged, x)
				case []any:
					for _, it := range x {
						if mm, ok := it.(map[string]any); ok {
							merged = append(merged, mm)
						}
					}
				}
				continue
			}
			if _, dup := m[k.Value]; !dup {
				m[k.Value] = nodeValue(v, depth+1)
			}
		}
		for _, mm := range merged {
			for k, v := range mm {
				if _, ok := m[k]; !ok {
					m[k] = v
				}
			}
		}
		return m
	case yaml.SequenceNode:
		a := make([]any, len(n.Content))
		for i, c := range n.Content {
			a[i] = nodeValue(c, depth+1)
		}
		return a
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return n.Value
		}
		return Normalize(v)
	}
	return nil
}

// isExpr reports whether a setting path of step s holds an expression.
func isExpr(s *pipeline.StepSpec, p string) bool {
	patterns := ExprPaths[s.Kind]
	if ep, ok := s.KindImpl.(ExprPather); ok {
		patterns = ep.ExprPaths()
	}
	// "columns.a" matches "columns.*"; path.Match wants "/" separators.
	sp := strings.ReplaceAll(p, ".", "/")
	for _, pat := range patterns {
		if ok, _ := path.Match(strings.ReplaceAll(pat, ".", "/"), sp); ok {
			return true
		}
	}
	return false
}

// Stats counts the steps by what happens to them.
func (r *Report) Stats() (added, removed, renamed, changed int) {
	for _, s := range r.Steps {
		switch s.Op {
		case OpAdded:
			added++
		case OpRemoved:
			removed++
		case OpRenamed:
			renamed++
		default:
			changed++
		}
	}
	return
}
