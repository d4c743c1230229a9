package validate

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/exprenv"
	"github.com/mlrun-cli/mlrun/steps/internal/textfmt"
	"github.com/mlrun-cli/mlrun/steps/internal/yamlnode"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// Rule kinds: the keys of a rule of which exactly one is present.
const (
	RuleExpr       = "expr"
	RuleNotNull    = "not_null"
	RuleMaxMissing = "max_missing"
	RuleRange      = "range"
	RuleAllowed    = "allowed"
	RuleUnique     = "unique"
	RuleRegex      = "regex"
	RuleRows       = "rows"
)

// ruleKinds lists the rule kinds in the order they are documented.
var ruleKinds = []string{RuleExpr, RuleNotNull, RuleMaxMissing, RuleRange, RuleAllowed, RuleUnique, RuleRegex, RuleRows}

// rowRule reports whether a rule kind counts failing rows (and so accepts
// `mostly`).
func rowRule(k string) bool { return k != RuleMaxMissing && k != RuleRows }

// Rule is one compiled rule. Its exported fields are its canonical
// configuration (part of the step's cache key).
type Rule struct {
	Name     string  `json:"name"`
	Kind     string  `json:"kind"`
	Desc     string  `json:"desc"`
	Severity string  `json:"severity"`
	Mostly   float64 `json:"mostly"`
	// Columns are the columns checked (none for a whole-table max_missing,
	// rows and expr).
	Columns []string `json:"columns,omitempty"`
	// Max is the max_missing fraction.
	Max float64 `json:"max,omitempty"`
	// Lo and Hi bound a range rule (Unix nanoseconds for a time column)
	// or a rows rule.
	Lo *float64 `json:"lo,omitempty"`
	Hi *float64 `json:"hi,omitempty"`
	// LoNS and HiNS are exact bounds for a time column.
	LoNS *int64 `json:"lo_ns,omitempty"`
	HiNS *int64 `json:"hi_ns,omitempty"`
	// Values are the allowed values, canonically rendered, sorted.
	Values []string `json:"values,omitempty"`
	// Pattern is the regex rule's pattern.
	Pattern string `json:"pattern,omitempty"`
	// Expr is the expression source.
	Expr string `json:"expr,omitempty"`

	prog    *exprenv.Program
	re      *regexp.Regexp
	colType table.Type
	// allowed sets, by column type.
	strs   map[string]bool
	ints   map[int64]bool
	floats map[float64]bool
	bools  map[bool]bool
}

// compiler decodes the rules of one step.
type compiler struct {
	req    *pipeline.CompileRequest
	d      *diag.List
	schema *table.Schema // nil when the input did not compile
}

func (c *compiler) pos(n *yaml.Node) diag.Pos { return c.req.Pos(n) }

// rules decodes the `rules:` mapping.
func (c *compiler) rules(n *yaml.Node) []*Rule {
	if n.Kind != yaml.MappingNode {
		c.d.Add(c.pos(n), "rules must be a mapping of rule name to rule, got %s", yamlnode.Describe(n))
		return nil
	}
	if len(n.Content) == 0 {
		c.d.Add(c.pos(n), "rules is empty: declare at least one rule")
		return nil
	}
	var out []*Rule
	seen := map[string]bool{}
	for _, p := range yamlnode.Pairs(n) {
		if seen[p.Key.Value] {
			c.d.Add(c.pos(p.Key), "rule %q declared twice", p.Key.Value)
			continue
		}
		seen[p.Key.Value] = true
		if r := c.rule(p.Key, p.Value); r != nil {
			out = append(out, r)
		}
	}
	return out
}

// rule decodes one rule; it returns nil after reporting a problem.
func (c *compiler) rule(key, n *yaml.Node) *Rule {
	name := key.Value
	if n.Kind != yaml.MappingNode {
		c.d.Add(c.pos(n), "rule %q must be a mapping with one of %s, got %s", name, strings.Join(ruleKinds, ", "), yamlnode.Describe(n))
		return nil
	}
	r := &Rule{Name: name, Severity: pipeline.SeverityError, Mostly: 1}
	var body, mostlyNode *yaml.Node
	ok := true
	for _, p := range yamlnode.Pairs(n) {
		k := p.Key.Value
		switch {
		case slices.Contains(ruleKinds, k):
			if body != nil {
				c.d.Add(c.pos(p.Key), "rule %q has both %s and %s; a rule checks one thing", name, r.Kind, k)
				ok = false
				continue
			}
			r.Kind, body = k, p.Value
		case k == "mostly":
			mostlyNode = p.Value
			f, isNum := yamlnode.Number(p.Value)
			if !isNum || !(f >= 0 && f <= 1) { // NaN too
				c.d.Add(c.pos(p.Value), "mostly must be a fraction between 0 and 1, got %s", p.Value.Value)
				ok = false
			}
			r.Mostly = f
		case k == "severity":
			s, _ := yamlnode.Str(p.Value)
			if s != pipeline.SeverityError && s != pipeline.SeverityWarn {
				c.d.Add(c.pos(p.Value), "severity must be error or warn, got %q", p.Value.Value)
				ok = false
			}
			r.Severity = s
		case k == "doc":
			if _, isStr := yamlnode.Str(p.Value); !isStr {
				c.d.Add(c.pos(p.Value), "doc must be a string, got %s", yamlnode.Describe(p.Value))
			}
		default:
			c.d.Add(c.pos(p.Key), "unknown key %q in rule %q (want one of %s, and mostly, severity, doc)", k, name, strings.Join(ruleKinds, ", "))
			ok = false
		}
	}
	if body == nil {
		if ok {
			c.d.Add(c.pos(key), "rule %q needs one of %s", name, strings.Join(ruleKinds, ", "))
		}
		return nil
	}
	if mostlyNode != nil && !rowRule(r.Kind) {
		c.d.Add(c.pos(mostlyNode), "mostly applies only to row rules (expr, not_null, range, allowed, unique, regex), not %s", r.Kind)
		ok = false
	}
	var bodyOK bool
	switch r.Kind {
	case RuleExpr:
		bodyOK = c.expr(r, body)
	case RuleNotNull, RuleUnique:
		bodyOK = c.columnList(r, body)
		r.Desc = r.Kind + "(" + strings.Join(r.Columns, ", ") + ")"
	case RuleMaxMissing:
		bodyOK = c.maxMissing(r, body)
	case RuleRange:
		bodyOK = c.rangeRule(r, body)
	case RuleAllowed:
		bodyOK = c.allowed(r, body)
	case RuleRegex:
		bodyOK = c.regex(r, body)
	case RuleRows:
		bodyOK = c.rows(r, body)
	}
	if !ok || !bodyOK {
		return nil
	}
	return r
}

// column checks that a column name node names a column of the schema and
// returns its type (0 when the schema is unknown).
func (c *compiler) column(r *Rule, n *yaml.Node) (string, table.Type, bool) {
	name, ok := yamlnode.Str(n)
	if !ok {
		c.d.Add(c.pos(n), "rule %q: column must be a column name, got %s", r.Name, yamlnode.Describe(n))
		return "", 0, false
	}
	if c.schema == nil {
		return name, 0, true
	}
	f, found := c.schema.Lookup(name)
	if !found {
		c.d.Add(c.pos(n), "rule %q: unknown column %q%s", r.Name, name, yamlnode.SuggestWithin(name, c.schema.Names(), 2))
		return name, 0, false
	}
	return name, f.Type, true
}

// columnList decodes `col` or `[col, ...]` into r.Columns.
func (c *compiler) columnList(r *Rule, n *yaml.Node) bool {
	nodes := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		nodes = n.Content
		if len(nodes) == 0 {
			c.d.Add(c.pos(n), "rule %q: %s needs at least one column", r.Name, r.Kind)
			return false
		}
	}
	ok := true
	for _, cn := range nodes {
		name, _, good := c.column(r, cn)
		if !good {
			ok = false
			continue
		}
		if slices.Contains(r.Columns, name) {
			c.d.Add(c.pos(cn), "rule %q: column %q listed twice", r.Name, name)
			ok = false
			continue
		}
		r.Columns = append(r.Columns, name)
	}
	return ok
}

// body decodes a built-in rule's mapping, reporting unknown keys.
func (c *compiler) body(r *Rule, n *yaml.Node, keys ...string) (map[string]*yaml.Node, bool) {
	if n.Kind != yaml.MappingNode {
		c.d.Add(c.pos(n), "rule %q: %s must be a mapping {%s}, got %s", r.Name, r.Kind, strings.Join(keys, ", "), yamlnode.Describe(n))
		return nil, false
	}
	out := map[string]*yaml.Node{}
	ok := true
	for _, p := range yamlnode.Pairs(n) {
		if !slices.Contains(keys, p.Key.Value) {
			c.d.Add(c.pos(p.Key), "rule %q: unknown key %q in %s (want %s)", r.Name, p.Key.Value, r.Kind, strings.Join(keys, ", "))
			ok = false
			continue
		}
		out[p.Key.Value] = p.Value
	}
	return out, ok
}

func (c *compiler) expr(r *Rule, n *yaml.Node) bool {
	if n.Kind != yaml.ScalarNode || n.Value == "" {
		c.d.Add(c.pos(n), "rule %q: expr must be a boolean expression, got %s", r.Name, yamlnode.Describe(n))
		return false
	}
	r.Expr, r.Desc = n.Value, n.Value
	if c.schema == nil {
		return true
	}
	prog, err := exprenv.Compile(n.Value, c.schema, c.req.Params)
	if err != nil {
		c.d.Add(exprenv.PosSource(c.req.Pipeline.File, c.req.Pipeline.Source, n, err), "rule %q: %s", r.Name, exprMessage(err))
		return false
	}
	if prog.Type() != table.Bool {
		c.d.Add(c.pos(n), "rule %q: expr must be boolean, got %s", r.Name, prog.Type())
		return false
	}
	r.prog, r.Expr = prog, prog.Source()
	return true
}

func (c *compiler) maxMissing(r *Rule, n *yaml.Node) bool {
	fraction := func(v *yaml.Node) bool {
		f, ok := yamlnode.Number(v)
		if !ok || !(f >= 0 && f <= 1) { // NaN too
			c.d.Add(c.pos(v), "rule %q: max_missing must be a fraction between 0 and 1, got %s", r.Name, v.Value)
			return false
		}
		r.Max = f
		return true
	}
	if n.Kind == yaml.ScalarNode {
		if !fraction(n) {
			return false
		}
		r.Desc = "missing cells ≤ " + percent(r.Max)
		return true
	}
	m, ok := c.body(r, n, "column", "columns", "max")
	if !ok {
		return false
	}
	switch {
	case m["column"] != nil && m["columns"] != nil:
		c.d.Add(c.pos(m["columns"]), "rule %q: max_missing takes column or columns, not both", r.Name)
		return false
	case m["column"] != nil:
		name, _, good := c.column(r, m["column"])
		if !good {
			ok = false
		}
		r.Columns = []string{name}
	case m["columns"] != nil:
		if m["columns"].Kind != yaml.SequenceNode {
			c.d.Add(c.pos(m["columns"]), "rule %q: columns must be a list, got %s", r.Name, yamlnode.Describe(m["columns"]))
			return false
		}
		ok = c.columnList(r, m["columns"]) && ok
	}
	if m["max"] == nil {
		c.d.Add(c.pos(n), "rule %q: max_missing needs max", r.Name)
		return false
	}
	if !fraction(m["max"]) || !ok {
		return false
	}
	r.Desc = "missing cells ≤ " + percent(r.Max)
	if len(r.Columns) > 0 {
		r.Desc = "missing ≤ " + percent(r.Max) + " in " + strings.Join(r.Columns, ", ")
	}
	return true
}

func (c *compiler) rangeRule(r *Rule, n *yaml.Node) bool {
	m, ok := c.body(r, n, "column", "min", "max")
	if !ok {
		return false
	}
	if m["column"] == nil {
		c.d.Add(c.pos(n), "rule %q: range needs a column", r.Name)
		return false
	}
	if m["min"] == nil && m["max"] == nil {
		c.d.Add(c.pos(n), "rule %q: range needs min, max or both", r.Name)
		return false
	}
	name, typ, ok := c.column(r, m["column"])
	if !ok {
		return false
	}
	r.Columns, r.colType = []string{name}, typ
	if typ != 0 && typ != table.Int && typ != table.Float && typ != table.Time {
		c.d.Add(c.pos(m["column"]), "rule %q: range needs a numeric or time column; %q is %s", r.Name, name, typ)
		return false
	}
	bound := func(key string) (*float64, *int64, string, bool) {
		v := m[key]
		if v == nil {
			return nil, nil, "", true
		}
		if typ == table.Time {
			if v.Kind == yaml.ScalarNode && (v.ShortTag() == "!!str" || v.ShortTag() == "!!timestamp") {
				if ns, ok := table.ParseTimeConstant(v.Value); ok {
					f := float64(ns)
					return &f, &ns, table.FormatTime(ns), true
				}
			}
			c.d.Add(c.pos(v), "rule %q: range %s must be a date or timestamp for time column %q, got %q", r.Name, key, name, v.Value)
			return nil, nil, "", false
		}
		f, isNum := yamlnode.Number(v)
		if !isNum {
			c.d.Add(c.pos(v), "rule %q: range %s must be a number, got %s", r.Name, key, yamlnode.Describe(v))
			return nil, nil, "", false
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			// NaN compares false with every value; an infinity bounds
			// nothing; neither is part of a cache key (JSON).
			c.d.Add(c.pos(v), "rule %q: range %s must be a finite number, got %s", r.Name, key, strconv.FormatFloat(f, 'g', -1, 64))
			return nil, nil, "", false
		}
		return &f, nil, strconv.FormatFloat(f, 'g', -1, 64), true
	}
	lo, loNS, loS, ok1 := bound("min")
	hi, hiNS, hiS, ok2 := bound("max")
	if !ok1 || !ok2 {
		return false
	}
	if lo != nil && hi != nil && (*lo > *hi || (loNS != nil && *loNS > *hiNS)) {
		c.d.Add(c.pos(m["max"]), "rule %q: range max %s is below min %s", r.Name, hiS, loS)
		return false
	}
	r.Lo, r.Hi, r.LoNS, r.HiNS = lo, hi, loNS, hiNS
	switch {
	case lo != nil && hi != nil:
		r.Desc = fmt.Sprintf("%s ≤ %s ≤ %s", loS, name, hiS)
	case lo != nil:
		r.Desc = fmt.Sprintf("%s ≥ %s", name, loS)
	default:
		r.Desc = fmt.Sprintf("%s ≤ %s", name, hiS)
	}
	return true
}

func (c *compiler) allowed(r *Rule, n *yaml.Node) bool {
	m, ok := c.body(r, n, "column", "values")
	if !ok {
		return false
	}
	if m["column"] == nil || m["values"] == nil {
		c.d.Add(c.pos(n), "rule %q: allowed needs column and values", r.Name)
		return false
	}
	name, typ, ok := c.column(r, m["column"])
	if !ok {
		return false
	}
	r.Columns, r.colType = []string{name}, typ
	vals := m["values"]
	if vals.Kind != yaml.SequenceNode || len(vals.Content) == 0 {
		c.d.Add(c.pos(vals), "rule %q: allowed values must be a non-empty list, got %s", r.Name, yamlnode.Describe(vals))
		return false
	}
	r.strs, r.ints, r.floats, r.bools = map[string]bool{}, map[int64]bool{}, map[float64]bool{}, map[bool]bool{}
	for _, v := range vals.Content {
		if v.Kind != yaml.ScalarNode || v.ShortTag() == "!!null" {
			c.d.Add(c.pos(v), "rule %q: allowed value must be a scalar, got %s (nulls are not checked; use not_null)", r.Name, yamlnode.Describe(v))
			ok = false
			continue
		}
		bad := func(want string) {
			c.d.Add(c.pos(v), "rule %q: allowed value %s is not %s (column %q is %s)", r.Name, strconv.Quote(v.Value), want, name, typ)
			ok = false
		}
		switch typ {
		case table.String, 0:
			r.strs[v.Value] = true
			r.Values = append(r.Values, v.Value)
		case table.Int:
			i, isInt := yamlnode.Integer(v)
			if !isInt {
				bad("an integer")
				continue
			}
			r.ints[i] = true
			r.Values = append(r.Values, strconv.FormatInt(i, 10))
		case table.Float:
			f, isNum := yamlnode.Number(v)
			if !isNum {
				bad("a number")
				continue
			}
			if math.IsNaN(f) || math.IsInf(f, 0) {
				bad("a finite number")
				continue
			}
			r.floats[f] = true
			r.Values = append(r.Values, strconv.FormatFloat(f, 'g', -1, 64))
		case table.Bool:
			var b bool
			if v.ShortTag() != "!!bool" || v.Decode(&b) != nil {
				bad("a boolean")
				continue
			}
			r.bools[b] = true
			r.Values = append(r.Values, strconv.FormatBool(b))
		case table.Time:
			ns, isTime := table.ParseTimeConstant(v.Value)
			if !isTime {
				bad("a date or timestamp")
				continue
			}
			r.ints[ns] = true
			r.Values = append(r.Values, table.FormatTime(ns))
		}
	}
	if !ok {
		return false
	}
	r.Desc = name + " in [" + strings.Join(r.Values, ", ") + "]"
	slices.Sort(r.Values)
	r.Values = slices.Compact(r.Values)
	return true
}

func (c *compiler) regex(r *Rule, n *yaml.Node) bool {
	m, ok := c.body(r, n, "column", "pattern")
	if !ok {
		return false
	}
	if m["column"] == nil || m["pattern"] == nil {
		c.d.Add(c.pos(n), "rule %q: regex needs column and pattern", r.Name)
		return false
	}
	name, typ, ok := c.column(r, m["column"])
	if ok && typ != 0 && typ != table.String {
		c.d.Add(c.pos(m["column"]), "rule %q: regex needs a string column; %q is %s", r.Name, name, typ)
		ok = false
	}
	pat, isStr := yamlnode.Str(m["pattern"])
	if !isStr {
		c.d.Add(c.pos(m["pattern"]), "rule %q: pattern must be a string, got %s", r.Name, yamlnode.Describe(m["pattern"]))
		return false
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		c.d.Add(c.pos(m["pattern"]), "rule %q: invalid pattern: %v", r.Name, err)
		return false
	}
	if !ok {
		return false
	}
	r.Columns, r.colType, r.re, r.Pattern = []string{name}, typ, re, pat
	r.Desc = name + " matches " + pat
	return true
}

func (c *compiler) rows(r *Rule, n *yaml.Node) bool {
	m, ok := c.body(r, n, "min", "max")
	if !ok {
		return false
	}
	if m["min"] == nil && m["max"] == nil {
		c.d.Add(c.pos(n), "rule %q: rows needs min, max or both", r.Name)
		return false
	}
	bound := func(key string) (*float64, bool) {
		v := m[key]
		if v == nil {
			return nil, true
		}
		i, isInt := yamlnode.Integer(v)
		if !isInt || i < 0 {
			c.d.Add(c.pos(v), "rule %q: rows %s must be a non-negative integer, got %s", r.Name, key, v.Value)
			return nil, false
		}
		f := float64(i)
		return &f, true
	}
	lo, ok1 := bound("min")
	hi, ok2 := bound("max")
	if !ok1 || !ok2 {
		return false
	}
	if lo != nil && hi != nil && *lo > *hi {
		c.d.Add(c.pos(m["max"]), "rule %q: rows max %s is below min %s", r.Name, m["max"].Value, m["min"].Value)
		return false
	}
	r.Lo, r.Hi = lo, hi
	switch {
	case lo != nil && hi != nil:
		r.Desc = fmt.Sprintf("%s ≤ rows ≤ %s", textfmt.Thousands(int(*lo)), textfmt.Thousands(int(*hi)))
	case lo != nil:
		r.Desc = "rows ≥ " + textfmt.Thousands(int(*lo))
	default:
		r.Desc = "rows ≤ " + textfmt.Thousands(int(*hi))
	}
	return true
}

// exprMessage returns an expression compile error's message without its
// position inside the expression (the diagnostic carries the file position).
func exprMessage(err error) string {
	var e *exprenv.Error
	if errors.As(err, &e) {
		return e.Msg
	}
	return err.Error()
}
