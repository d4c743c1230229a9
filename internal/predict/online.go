package predict

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"
	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/internal/decisions"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/steps/load"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// Value is one field of a record as entered: its text (a JSON number's
// literal, a string, true or false), or Null for a missing value.
type Value struct {
	Text string
	Null bool
	// Bad, when set, says why the value as sent cannot be a field (a JSON
	// object, say): Score reports it with the record's other bad fields.
	Bad string
}

// Record is one application as entered, by field name.
type Record map[string]Value

// FieldError names a bad field of a record and what is wrong with it.
type FieldError struct {
	// Field is the field's name ("" for a problem of the whole record).
	Field   string `json:"field"`
	Message string `json:"message"`
}

// InputError reports the bad fields of a record (HTTP 400): unknown
// fields, missing required fields, values that do not parse as their
// column's type. Every bad field is listed, sorted by name.
type InputError struct {
	Fields []FieldError
}

// Error implements error.
func (e *InputError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "bad record: " + strings.Join(parts, "; ")
}

// ExitCode implements pipeline.ExitCoder: invalid input.
func (e *InputError) ExitCode() int { return pipeline.ExitInvalid }

// RuleFailure is a validation rule of the chain that a record fails.
type RuleFailure struct {
	Step    string   `json:"step"`
	Rule    string   `json:"rule"`
	Fields  []string `json:"fields,omitempty"`
	Message string   `json:"message"`
}

// RefusedError reports a record that fails an error-severity rule of the
// chain: it is not scored (HTTP 400, as mlrun predict refuses such a
// batch).
type RefusedError struct {
	Rules []RuleFailure
}

// Error implements error.
func (e *RefusedError) Error() string {
	parts := make([]string, len(e.Rules))
	for i, r := range e.Rules {
		parts[i] = r.Step + "/" + r.Rule + ": " + r.Message
	}
	return "the record fails the validation the model was trained behind: " + strings.Join(parts, "; ")
}

// ExitCode implements pipeline.ExitCoder: a failed check.
func (e *RefusedError) ExitCode() int { return pipeline.ExitCheckFailed }

// Field describes a field a record may hold: a column of the chain's load
// step (the target excepted).
type Field struct {
	Name string `json:"name"`
	// Type is the column's type as the load step reads it (float, int,
	// bool, string, date, time).
	Type string `json:"type"`
	// Required fields must be present (they may be null): the chain or the
	// model reads them.
	Required bool `json:"required"`
}

// Online is a scorer's chain compiled for single records (mlrun serve).
// It is safe for concurrent use.
type Online struct {
	s      *Scorer
	load   string
	steps  []*pipeline.StepSpec
	fields []Field
	index  map[string]int
	header []byte
	opts   table.CSVOptions
	// rows parses a record's row as ParseCSV parses header and row.
	rows *table.RowParser
	// log is the steps' logger (none: a record's steps log nothing).
	log hclog.Logger
	// null is the token a null value is written as (the load step's first
	// missing token).
	null      string
	protected []string
	reasons   map[string]string
	// ruleFields are the columns each rule names, by step and rule.
	ruleFields map[string][]string
	skipped    []string
}

// datasetRules are the validate rule keys that judge a dataset, not a row.
var datasetRules = []string{"rows", "unique", "max_missing"}

// compileOnline compiles the scorer's chain for records: the load step
// declaring every column of training but the target, and the validate and
// derive steps without their dataset rules. Which fields are required is
// found by compiling the chain without each one (a step that reads it
// fails to compile) and from the model's features.
func compileOnline(s *Scorer) (*Online, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(s.chain.Doc), &doc); err != nil || len(doc.Content) == 0 {
		return nil, fmt.Errorf("scoring chain: cannot parse its document: %v", err)
	}
	o := &Online{s: s, load: s.chain.Load, index: map[string]int{}, ruleFields: map[string][]string{}, log: hclog.NewNullLogger()}
	steps := mapGet(doc.Content[0], "steps")
	var names []string
	if ld := mapGet(steps, s.chain.Load); ld != nil {
		if cols := mapGet(ld, "columns"); cols != nil && cols.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(cols.Content); i += 2 {
				if n := cols.Content[i].Value; n != s.v.Target {
					names = append(names, n)
				}
			}
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: its scoring chain declares no column types (a version registered before mlrun kept them): it cannot score records", s.Ref())
	}
	// Leave out the rules that judge a dataset.
	for i := 0; i+1 < len(steps.Content); i += 2 {
		id, st := steps.Content[i].Value, steps.Content[i+1]
		if k := mapGet(st, "kind"); k == nil || k.Value != "validate" {
			continue
		}
		rules := mapGet(st, "rules")
		if rules == nil || rules.Kind != yaml.MappingNode {
			continue
		}
		var kept []*yaml.Node
		for j := 0; j+1 < len(rules.Content); j += 2 {
			name, r := rules.Content[j].Value, rules.Content[j+1]
			if isDatasetRule(r) {
				o.skipped = append(o.skipped, id+"/"+name)
				continue
			}
			o.ruleFields[id+"/"+name] = ruleColumns(r)
			kept = append(kept, rules.Content[j], r)
		}
		rules.Content = kept
	}
	src, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, err
	}
	chain := *s.chain
	chain.Doc = string(src)

	dir, err := os.MkdirTemp("", "mlrun-online-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// The load step refuses a file without rows: the compile reads a
	// header and one row of nulls (every column's type is declared).
	null := ""
	if ld := mapGet(steps, s.chain.Load); ld != nil {
		if m := mapGet(ld, "missing"); m != nil && m.Kind == yaml.SequenceNode && len(m.Content) > 0 {
			null = m.Content[0].Value
		}
	}
	compile := func(cols []string) (*pipeline.Pipeline, error) {
		path := filepath.Join(dir, fmt.Sprintf("header-%d.csv", len(cols)))
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		_ = w.Write(cols)
		nulls := make([]string, len(cols))
		for i := range nulls {
			nulls[i] = null
		}
		_ = w.Write(nulls)
		w.Flush()
		if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
			return nil, err
		}
		doc, err := chain.ForBatch(cols, path)
		if err != nil {
			return nil, err
		}
		return pipeline.Parse(s.docName(), doc, pipeline.LoadOptions{Registry: s.kinds})
	}
	p, err := compile(names)
	if err != nil {
		return nil, fmt.Errorf("%s: compiling its scoring chain for records: %w", s.Ref(), err)
	}
	var loadStep *load.Compiled
	for _, st := range p.Steps {
		if st.ID == o.load {
			loadStep, _ = st.Compiled.(*load.Compiled)
			continue
		}
		o.steps = append(o.steps, st)
	}
	if loadStep == nil {
		return nil, fmt.Errorf("scoring chain: no compiled load step %q", o.load)
	}
	cfg, _ := loadStep.CacheConfig().(load.Config)
	schema := loadStep.Schema()
	types := make(map[string]table.Type, len(schema.Fields))
	for _, f := range schema.Fields {
		types[f.Name] = f.Type
	}
	o.opts = table.CSVOptions{Name: "record", Delimiter: ',', Missing: cfg.Missing, Types: types, Jobs: 1}
	if len(cfg.Missing) == 0 {
		return nil, fmt.Errorf("scoring chain: load step %q has no missing token: a null field cannot be read", o.load)
	}
	o.null = cfg.Missing[0]
	features := s.model.Features()
	for i, n := range names {
		req := slices.Contains(features, n)
		if !req {
			rest := slices.Delete(slices.Clone(names), i, i+1)
			_, err := compile(rest)
			req = err != nil
		}
		o.index[n] = len(o.fields)
		o.fields = append(o.fields, Field{Name: n, Type: types[n].String(), Required: req})
	}
	var hb bytes.Buffer
	w := csv.NewWriter(&hb)
	_ = w.Write(names)
	w.Flush()
	o.header = hb.Bytes()
	o.rows = table.NewRowParser(o.header, o.opts)
	o.protected, o.reasons = p.Protected, p.Reasons
	return o, nil
}

func isDatasetRule(r *yaml.Node) bool {
	for _, k := range datasetRules {
		if mapGet(r, k) != nil {
			return true
		}
	}
	if m := mapGet(r, "mostly"); m != nil {
		if f, err := strconv.ParseFloat(m.Value, 64); err != nil || f < 1 {
			return true
		}
	}
	return false
}

// ruleColumns returns the columns a rule names (none for an expression).
func ruleColumns(r *yaml.Node) []string {
	var out []string
	add := func(n *yaml.Node) {
		if n == nil {
			return
		}
		switch n.Kind {
		case yaml.ScalarNode:
			out = append(out, n.Value)
		case yaml.SequenceNode:
			for _, c := range n.Content {
				out = append(out, c.Value)
			}
		}
	}
	add(mapGet(r, "not_null"))
	for _, k := range []string{"range", "allowed", "regex"} {
		if n := mapGet(r, k); n != nil {
			add(mapGet(n, "column"))
		}
	}
	return out
}

func mapGet(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// Fields returns the fields a record may hold, in the load step's order.
func (o *Online) Fields() []Field { return o.fields }

// Skipped names the rules (step/rule) that judge a dataset and so do not
// apply to single records.
func (o *Online) Skipped() []string { return o.skipped }

// Score scores one record: it checks its fields (every bad one reported
// in an *InputError), parses them as the chain's load step parses a CSV
// row, runs the chain's validate and derive steps (a failed error rule is
// a *RefusedError), then the model and, for an adverse decision, the
// reasons. The decision's RowHash is the record's (decisions.RowHashMap
// of its fields as entered, a null as the load step's first missing
// token): the hash of the same row in a CSV file. Row, ID, Request and
// Time are the caller's.
func (o *Online) Score(ctx context.Context, rec Record) (decisions.Decision, error) {
	var bad []FieldError
	for name := range rec {
		if _, ok := o.index[name]; !ok {
			bad = append(bad, FieldError{Field: name, Message: "unknown field" + o.suggest(name)})
		}
	}
	for _, f := range o.fields {
		if _, ok := rec[f.Name]; !ok && f.Required {
			bad = append(bad, FieldError{Field: f.Name, Message: fmt.Sprintf("required field missing (%s; null for a missing value)", f.Type)})
		}
	}
	for name, v := range rec {
		if _, ok := o.index[name]; ok && v.Bad != "" {
			bad = append(bad, FieldError{Field: name, Message: v.Bad})
		}
	}
	row := make([]string, len(o.fields))
	entered := make(map[string]string, len(rec))
	for i, f := range o.fields {
		v, ok := rec[f.Name]
		switch {
		case !ok || v.Null || v.Bad != "":
			row[i] = o.null
		default:
			row[i] = v.Text
		}
		if ok {
			entered[f.Name] = row[i]
		}
	}
	ds, err := o.parse(row)
	var ie *InputError
	if errors.As(err, &ie) {
		bad = append(bad, ie.Fields...)
	} else if err != nil {
		return decisions.Decision{}, err
	}
	if len(bad) > 0 {
		return decisions.Decision{}, sortedInputError(bad)
	}
	results := map[string]*pipeline.Result{o.load: {Outputs: map[string]pipeline.Object{"data": ds}}}
	var refused []RuleFailure
	for _, st := range o.steps {
		in := make(map[string]pipeline.Object, len(st.Inputs))
		for _, ref := range st.Inputs {
			r, ok := results[ref.Step]
			if !ok || r.Outputs[ref.Output] == nil {
				return decisions.Decision{}, fmt.Errorf("step %q: input %s: %s has no output %q", st.ID, ref.Port, ref.Step, ref.Output)
			}
			in[ref.Port] = r.Outputs[ref.Output]
		}
		res, err := st.Compiled.Run(ctx, &pipeline.RunRequest{Inputs: in, Jobs: 1, Logger: o.log, Progress: pipeline.NoProgress{}})
		if err != nil {
			return decisions.Decision{}, fmt.Errorf("step %q: %w", st.ID, err)
		}
		for _, c := range res.Checks {
			if c.Failed() {
				refused = append(refused, RuleFailure{Step: st.ID, Rule: c.Name, Fields: slices.Clone(o.ruleFields[st.ID+"/"+c.Name]), Message: c.Message})
			}
		}
		results[st.ID] = res
	}
	if len(refused) > 0 {
		return decisions.Decision{}, &RefusedError{Rules: refused}
	}
	final := o.s.chain.Final
	out, ok := results[final.Step].Outputs[final.Output].(*table.Dataset)
	if !ok {
		return decisions.Decision{}, fmt.Errorf("step %q output %q is not a dataset", final.Step, final.Output)
	}
	decs, _, err := o.s.decide(out, o.protected, o.reasons, 1)
	if err != nil {
		return decisions.Decision{}, err
	}
	if len(decs) != 1 {
		return decisions.Decision{}, fmt.Errorf("one record scored as %d rows", len(decs))
	}
	d := decs[0]
	d.RowHash = decisions.RowHashMap(entered)
	return d, nil
}

// parse reads one row (in field order) as the load step reads a CSV row.
// A value that does not parse is reported with every other such value.
func (o *Online) parse(row []string) (*table.Dataset, error) {
	ds, _, err := o.rows.Parse(row)
	if err == nil {
		return ds, nil
	}
	var pe *table.ParseError
	if !errors.As(err, &pe) {
		return nil, err
	}
	// Find every bad field: parse each one alone.
	var bad []FieldError
	for i, f := range o.fields {
		var one bytes.Buffer
		w := csv.NewWriter(&one)
		_ = w.Write([]string{f.Name})
		_ = w.Write([]string{row[i]})
		w.Flush()
		opts := o.opts
		opts.Types = map[string]table.Type{f.Name: o.opts.Types[f.Name]}
		if _, _, err := table.ParseCSV(one.Bytes(), opts); err != nil {
			msg := err.Error()
			if errors.As(err, &pe) && pe.Msg != "" {
				msg = pe.Msg
			}
			bad = append(bad, FieldError{Field: f.Name, Message: fmt.Sprintf("%s (want %s)", msg, f.Type)})
		}
	}
	if len(bad) == 0 {
		bad = append(bad, FieldError{Message: pe.Error()})
	}
	return nil, sortedInputError(bad)
}

func sortedInputError(bad []FieldError) *InputError {
	sort.Slice(bad, func(i, j int) bool { return bad[i].Field < bad[j].Field })
	return &InputError{Fields: bad}
}

// suggest returns ` (did you mean "x"?)` for the field closest to name.
func (o *Online) suggest(name string) string {
	best, bestD := "", 3
	for _, f := range o.fields {
		if d := editDistance(strings.ToLower(name), strings.ToLower(f.Name)); d < bestD {
			best, bestD = f.Name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Protected returns the pipeline's protected attributes (never reasons).
func (o *Online) Protected() []string { return o.protected }
