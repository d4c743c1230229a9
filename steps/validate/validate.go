package validate

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/exprenv"
	"github.com/mlrun-cli/mlrun/steps/internal/textfmt"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// Version is the implementation version of the validate kind, part of
// every cache key.
const Version = 1

// maxRows is the number of offending row numbers a check lists.
const maxRows = 10

// Kind returns the validate step kind.
func Kind() pipeline.Kind { return kind{} }

type kind struct{}

func (kind) Name() string { return "validate" }

func (kind) Version() int { return Version }

func (kind) Inputs() []pipeline.Port {
	return []pipeline.Port{{Name: "input", Required: true, Doc: "the dataset to check"}}
}

func (kind) Outputs() []string { return []string{"data", "report"} }

func (kind) Required() []string { return []string{"rules"} }

func (kind) Settings() map[string]any {
	column := map[string]any{"type": "string", "description": "a column name"}
	columns := map[string]any{
		"description": "a column name or a list of column names",
		"oneOf":       []any{column, map[string]any{"type": "array", "items": column, "minItems": 1}},
	}
	fraction := func(desc string) map[string]any {
		return map[string]any{"type": "number", "minimum": 0, "maximum": 1, "description": desc}
	}
	obj := func(desc string, props map[string]any, required ...string) map[string]any {
		m := map[string]any{"type": "object", "description": desc, "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			m["required"] = required
		}
		return m
	}
	bound := map[string]any{"type": []string{"number", "string"}, "description": "inclusive bound: a number, or a date/timestamp for a time column"}
	rule := map[string]any{
		"type":                 "object",
		"description":          "a rule: exactly one of expr, not_null, max_missing, range, allowed, unique, regex, rows",
		"additionalProperties": false,
		"minProperties":        1,
		"properties": map[string]any{
			RuleExpr:    map[string]any{"type": "string", "description": "boolean expression over the columns (and params.NAME) that every row must satisfy; a row where it is null is not checked"},
			RuleNotNull: mergeDesc(columns, "columns that must not be null"),
			RuleMaxMissing: map[string]any{
				"description": "largest fraction of missing cells: a number for the whole table, or {column|columns, max} for each column",
				"oneOf": []any{
					fraction("largest fraction of missing cells in the whole table"),
					obj("largest fraction of missing values of each column", map[string]any{
						"column": column, "columns": map[string]any{"type": "array", "items": column, "minItems": 1},
						"max": fraction("largest fraction of missing values"),
					}, "max"),
				},
			},
			RuleRange: obj("inclusive bounds of a numeric or time column (nulls are not checked)", map[string]any{
				"column": column, "min": bound, "max": bound,
			}, "column"),
			RuleAllowed: obj("the values a column may take (nulls are not checked)", map[string]any{
				"column": column,
				"values": map[string]any{"type": "array", "minItems": 1, "description": "allowed values, of the column's type"},
			}, "column", "values"),
			RuleUnique: mergeDesc(columns, "columns whose values (together) must not repeat; rows with a null are not checked"),
			RuleRegex: obj("a pattern (Go RE2 syntax, unanchored: use ^ and $) that the values of a string column must match", map[string]any{
				"column": column, "pattern": map[string]any{"type": "string", "description": "a Go regular expression"},
			}, "column", "pattern"),
			RuleRows: obj("bounds of the number of rows", map[string]any{
				"min": map[string]any{"type": "integer", "minimum": 0, "description": "fewest rows"},
				"max": map[string]any{"type": "integer", "minimum": 0, "description": "most rows"},
			}),
			"mostly":   fraction("fraction of checked rows that must pass (row rules); default 1"),
			"severity": map[string]any{"type": "string", "enum": []string{pipeline.SeverityError, pipeline.SeverityWarn}, "default": pipeline.SeverityError, "description": "error: a failure fails the run (exit 1); warn: it is only reported"},
			"doc":      map[string]any{"type": "string", "description": "what the rule is for"},
		},
	}
	return map[string]any{
		"rules": map[string]any{
			"type":                 "object",
			"description":          "rules by name, checked in order",
			"minProperties":        1,
			"additionalProperties": rule,
		},
	}
}

func mergeDesc(m map[string]any, desc string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	out["description"] = desc
	return out
}

// ReportType is the compile-time type of the `report` output.
type ReportType struct{}

// TypeName implements pipeline.Type.
func (ReportType) TypeName() string { return "validation" }

// Report is the value of the `validation` document written as `report`.
type Report struct {
	Rows            int     `json:"rows"`
	Columns         int     `json:"columns"`
	MissingCells    int     `json:"missing_cells"`
	MissingFraction float64 `json:"missing_fraction"`
	// Passed is false when a rule of severity error failed.
	Passed bool `json:"passed"`
	// Rules holds every rule's outcome, in declaration order.
	Rules []pipeline.Check `json:"rules"`
}

// cacheConfig is the step's canonical configuration.
type cacheConfig struct {
	Rules []*Rule `json:"rules"`
	// Params are the pipeline's params, included when an expression may
	// read them.
	Params map[string]any `json:"params,omitempty"`
}

type compiled struct {
	schema *table.Schema
	rules  []*Rule
	params map[string]any
}

func (kind) Compile(req *pipeline.CompileRequest) pipeline.Compiled {
	d := new(diag.List)
	defer req.Diags.Merge(d)
	c := &compiler{req: req, d: d}
	if t, ok := req.Inputs["input"]; ok && t != nil {
		s, ok := t.(*table.Schema)
		if !ok {
			d.Add(req.Pos(req.Setting("input")), "input must be a dataset, got %s", t.TypeName())
			return nil
		}
		c.schema = s
	}
	n := req.Setting("rules")
	if n == nil {
		d.Add(req.Step.Pos, "validate step needs rules")
		return nil
	}
	rules := c.rules(n)
	if d.HasErrors() || c.schema == nil {
		return nil
	}
	out := &compiled{schema: c.schema, rules: rules}
	for _, r := range rules {
		if r.Kind != RuleExpr {
			continue
		}
		if read := exprenv.ParamsRead(r.Expr, req.Params); len(read) > 0 {
			if out.params == nil {
				out.params = map[string]any{}
			}
			for k, v := range read {
				out.params[k] = v
			}
		}
	}
	return out
}

func (c *compiled) OutputTypes() map[string]pipeline.Type {
	return map[string]pipeline.Type{"data": c.schema, "report": ReportType{}}
}

func (c *compiled) CacheConfig() any { return cacheConfig{Rules: c.rules, Params: c.params} }

func (c *compiled) Run(ctx context.Context, req *pipeline.RunRequest) (*pipeline.Result, error) {
	obj, ok := req.Inputs["input"]
	if !ok {
		return nil, fmt.Errorf("validate: input not connected")
	}
	ds, ok := obj.(*table.Dataset)
	if !ok {
		return nil, fmt.Errorf("validate: input is a %s, not a dataset", obj.TypeName())
	}
	jobs := max(req.Jobs, 1)
	rep, err := evaluate(ctx, ds, c.rules, jobs)
	if err != nil {
		return nil, err
	}
	res := &pipeline.Result{
		Outputs: map[string]pipeline.Object{
			"data":   ds,
			"report": &pipeline.Document{Type: "validation", Value: rep},
		},
		Metrics: map[string]float64{"missing_fraction": rep.MissingFraction},
		Checks:  rep.Rules,
	}
	var failed, warned int
	for _, ch := range rep.Rules {
		switch {
		case ch.Passed:
		case ch.Severity == pipeline.SeverityWarn:
			warned++
		default:
			failed++
		}
	}
	res.Metrics["rules_failed"] = float64(failed)
	res.Metrics["rules_warned"] = float64(warned)
	res.Metrics["rules_passed"] = float64(len(rep.Rules) - failed - warned)
	res.Notes = []string{fmt.Sprintf("%d rules: %d passed, %d failed, %d warned; %s of cells missing",
		len(rep.Rules), len(rep.Rules)-failed-warned, failed, warned, failPercent(rep.MissingFraction))}
	return res, nil
}

// evaluate checks rules over ds with up to jobs goroutines and returns the
// report. The outcome does not depend on jobs.
func evaluate(ctx context.Context, ds *table.Dataset, rules []*Rule, jobs int) (*Report, error) {
	rep := &Report{Rows: ds.Rows, Columns: len(ds.Columns), Passed: true}
	for _, col := range ds.Columns {
		rep.MissingCells += col.NullCount()
	}
	if cells := ds.Rows * len(ds.Columns); cells > 0 {
		rep.MissingFraction = float64(rep.MissingCells) / float64(cells)
	}
	rep.Rules = make([]pipeline.Check, len(rules))
	errs := make([]error, len(rules))
	if jobs <= 1 || len(rules) <= 1 || ds.Rows <= inlineRows {
		// One goroutine, or too little work to share: check the rules in
		// turn on the caller's goroutine (a record of mlrun serve).
		for i, r := range rules {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			rep.Rules[i], errs[i] = r.check(ds, rep, jobs)
		}
		return finishReport(rep, rules, errs)
	}
	sem := make(chan struct{}, max(jobs, 1))
	var wg sync.WaitGroup
	for i, r := range rules {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			rep.Rules[i], errs[i] = r.check(ds, rep, jobs)
		}()
	}
	wg.Wait()
	return finishReport(rep, rules, errs)
}

// inlineRows is the most rows of a dataset whose rules are checked in turn
// on the caller's goroutine rather than on goroutines of their own.
const inlineRows = 256

// finishReport returns the first rule's error, else rep with Passed set.
func finishReport(rep *Report, rules []*Rule, errs []error) (*Report, error) {
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("rule %q: %w", rules[i].Name, err)
		}
		if rep.Rules[i].Failed() {
			rep.Passed = false
		}
	}
	return rep, nil
}

// counter counts a row rule's checked and failing rows.
type counter struct {
	checked, failing int
	rows             []int
}

func (c *counter) add(row int, fail bool) {
	c.checked++
	if fail {
		c.failing++
		if len(c.rows) < maxRows {
			c.rows = append(c.rows, row+1)
		}
	}
}

// check evaluates one rule.
func (r *Rule) check(ds *table.Dataset, rep *Report, jobs int) (pipeline.Check, error) {
	ch := pipeline.Check{Name: r.Name, Kind: "rule", Expr: r.Desc, Severity: r.Severity}
	cols := make([]*table.Column, len(r.Columns))
	for i, name := range r.Columns {
		if cols[i] = ds.Column(name); cols[i] == nil {
			return ch, pipeline.Invalidf("column %q not in the dataset", name)
		}
	}
	var cnt counter
	switch r.Kind {
	case RuleMaxMissing:
		r.maxMissing(&ch, ds, rep, cols)
		return ch, nil
	case RuleRows:
		ch.Passed = (r.Lo == nil || float64(ds.Rows) >= *r.Lo) && (r.Hi == nil || float64(ds.Rows) <= *r.Hi)
		ch.Values = map[string]float64{"rows": float64(ds.Rows)}
		ch.Message = fmt.Sprintf("%s rows; want %s", textfmt.Thousands(ds.Rows), r.Desc)
		return ch, nil
	case RuleExpr:
		res, err := r.prog.Eval(ds, jobs)
		if err != nil {
			return ch, fmt.Errorf("evaluate %s: %w", r.Expr, err)
		}
		if res.Type != table.Bool || res.Len() != ds.Rows {
			return ch, fmt.Errorf("evaluate %s: got %d %s values, want %d bool", r.Expr, res.Len(), res.Type, ds.Rows)
		}
		for i := range ds.Rows {
			if !res.IsNull(i) {
				cnt.add(i, !res.Bools[i])
			}
		}
	case RuleNotNull:
		for i := range ds.Rows {
			null := false
			for _, c := range cols {
				null = null || c.IsNull(i)
			}
			cnt.add(i, null)
		}
	case RuleRange:
		r.checkRange(&cnt, cols[0])
	case RuleAllowed:
		r.checkAllowed(&cnt, cols[0])
	case RuleUnique:
		checkUnique(&cnt, cols, ds.Rows)
	case RuleRegex:
		if err := r.checkRegex(&cnt, cols[0]); err != nil {
			return ch, err
		}
	default:
		return ch, fmt.Errorf("unknown rule kind %q", r.Kind)
	}
	ch.Failing, ch.Rows = cnt.failing, cnt.rows
	if cnt.checked > 0 {
		ch.Fraction = float64(cnt.failing) / float64(cnt.checked)
	}
	ch.Passed = ch.Fraction <= 1-r.Mostly+1e-12
	ch.Message = fmt.Sprintf("%s of %s rows (%s) fail `%s`; allowed %s",
		textfmt.Thousands(cnt.failing), textfmt.Thousands(cnt.checked), failPercent(ch.Fraction), r.Desc, percent(1-r.Mostly))
	if skipped := ds.Rows - cnt.checked; skipped > 0 {
		ch.Message += fmt.Sprintf("; %s rows with nulls not checked", textfmt.Thousands(skipped))
	}
	return ch, nil
}

func (r *Rule) maxMissing(ch *pipeline.Check, ds *table.Dataset, rep *Report, cols []*table.Column) {
	if len(cols) == 0 {
		ch.Fraction = rep.MissingFraction
		ch.Passed = rep.MissingFraction <= r.Max+1e-12
		ch.Values = map[string]float64{"missing_fraction": rep.MissingFraction}
		ch.Message = fmt.Sprintf("%s of %s cells (%s) missing; allowed %s",
			textfmt.Thousands(rep.MissingCells), textfmt.Thousands(ds.Rows*len(ds.Columns)), failPercent(rep.MissingFraction), percent(r.Max))
		return
	}
	ch.Passed = true
	ch.Values = map[string]float64{}
	var failing []string
	worst, worstFrac, worstNulls := "", -1.0, 0
	for _, c := range cols {
		nulls := c.NullCount()
		frac := 0.0
		if ds.Rows > 0 {
			frac = float64(nulls) / float64(ds.Rows)
		}
		ch.Values[c.Name] = frac
		ch.Fraction = math.Max(ch.Fraction, frac)
		desc := fmt.Sprintf("%s %s of %s (%s)", c.Name, textfmt.Thousands(nulls), textfmt.Thousands(ds.Rows), failPercent(frac))
		if frac > r.Max+1e-12 {
			ch.Passed = false
			failing = append(failing, desc)
		}
		if frac > worstFrac {
			worst, worstFrac, worstNulls = c.Name, frac, nulls
		}
	}
	if len(failing) > 0 {
		ch.Message = strings.Join(failing, ", ") + " missing; allowed " + percent(r.Max)
	} else {
		ch.Message = fmt.Sprintf("worst column %s %s of %s (%s) missing; allowed %s",
			worst, textfmt.Thousands(worstNulls), textfmt.Thousands(ds.Rows), failPercent(worstFrac), percent(r.Max))
	}
}

func (r *Rule) checkRange(cnt *counter, c *table.Column) {
	if c.Type == table.Time {
		for i := range c.Len() {
			if c.IsNull(i) {
				continue
			}
			v := c.Ints[i]
			cnt.add(i, (r.LoNS != nil && v < *r.LoNS) || (r.HiNS != nil && v > *r.HiNS))
		}
		return
	}
	for i := range c.Len() {
		v := c.Float(i)
		if math.IsNaN(v) {
			continue
		}
		cnt.add(i, (r.Lo != nil && v < *r.Lo) || (r.Hi != nil && v > *r.Hi))
	}
}

func (r *Rule) checkAllowed(cnt *counter, c *table.Column) {
	var inDict []bool
	if c.Type == table.String {
		inDict = make([]bool, len(c.Dict))
		for code, s := range c.Dict {
			inDict[code] = r.strs[s]
		}
	}
	for i := range c.Len() {
		if c.IsNull(i) {
			continue
		}
		var ok bool
		switch c.Type {
		case table.String:
			ok = inDict[c.Codes[i]]
		case table.Int, table.Time:
			ok = r.ints[c.Ints[i]]
		case table.Float:
			if math.IsNaN(c.Floats[i]) {
				continue
			}
			ok = r.floats[c.Floats[i]]
		case table.Bool:
			ok = r.bools[c.Bools[i]]
		}
		cnt.add(i, !ok)
	}
}

func (r *Rule) checkRegex(cnt *counter, c *table.Column) error {
	if c.Type != table.String {
		return pipeline.Invalidf("regex: column %q is %s, not string", c.Name, c.Type)
	}
	match := make([]bool, len(c.Dict))
	for code, s := range c.Dict {
		match[code] = r.re.MatchString(s)
	}
	for i := range c.Len() {
		if !c.IsNull(i) {
			cnt.add(i, !match[c.Codes[i]])
		}
	}
	return nil
}

// checkUnique fails every row whose key (the values of cols) appeared in an
// earlier row; rows with a null in the key are not checked.
func checkUnique(cnt *counter, cols []*table.Column, rows int) {
	seen := make(map[string]struct{}, rows)
	var key []byte
rowLoop:
	for i := range rows {
		key = key[:0]
		for _, c := range cols {
			if c.IsNull(i) {
				continue rowLoop
			}
			key = appendKey(key, c, i)
		}
		_, dup := seen[string(key)]
		if !dup {
			seen[string(key)] = struct{}{}
		}
		cnt.add(i, dup)
	}
}

// appendKey appends an unambiguous encoding of row i of c.
func appendKey(b []byte, c *table.Column, i int) []byte {
	put := func(u uint64) []byte {
		for s := 0; s < 64; s += 8 {
			b = append(b, byte(u>>s))
		}
		return b
	}
	switch c.Type {
	case table.String:
		s := c.Dict[c.Codes[i]]
		b = put(uint64(len(s)))
		return append(b, s...)
	case table.Int, table.Time:
		return put(uint64(c.Ints[i]))
	case table.Float:
		return put(math.Float64bits(c.Floats[i] + 0)) // +0 folds -0 into 0
	case table.Bool:
		if c.Bools[i] {
			return append(b, 1)
		}
		return append(b, 0)
	}
	return b
}
