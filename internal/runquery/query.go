package runquery

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/steps/exprenv"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// Query selects, orders and pages runs.
type Query struct {
	// Where is a boolean expression over the runs' metrics and
	// params.NAME ("" keeps every run), e.g. `auc >= 0.8 && params.seed == 42`.
	Where string
	// Sort is "time" ("" or "-time": newest first, the default), "+time"
	// (oldest first), or a metric name, '-' in front for descending.
	// Runs lacking the metric (or whose value is NaN) come last.
	Sort string
	// Pipeline and Status keep only the runs of that pipeline name and
	// status ("": any).
	Pipeline string
	Status   string
	// Offset skips that many matching runs; Limit (> 0) keeps at most
	// that many after them.
	Offset int
	Limit  int
}

// Result is a page of matching runs.
type Result struct {
	// Runs are the page, in the query's order (shared with the
	// snapshot's cache: do not change the summaries).
	Runs []*Summary `json:"runs"`
	// Total counts every matching run.
	Total int `json:"total"`
}

// FieldError is an invalid part of a query: Field is "where" or "sort".
// Its exit code is 2.
type FieldError struct {
	Field string
	Err   error
}

// Error renders "field: problem".
func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

// ExitCode implements pipeline's exit-code interface: an invalid query is
// a usage error.
func (e *FieldError) ExitCode() int { return pipeline.ExitInvalid }

// identRe matches the identifiers an expression may mention (and more:
// words in string literals, which only make a compile key finer).
var identRe = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)

// ErrNoSuchMetric is wrapped by the FieldError of a sort by a metric no run
// has (a typo would otherwise silently keep the time order).
var ErrNoSuchMetric = errors.New("no run has a metric")

// Query returns the page of runs q selects, newest first unless q.Sort
// says otherwise. An invalid where expression, or a sort by a metric no
// selected run has, is a *FieldError.
func (s *Snapshot) Query(q Query) (*Result, error) {
	runs, err := s.selected(q)
	if err != nil {
		return nil, err
	}
	res := &Result{Total: len(runs)}
	lo := min(max(q.Offset, 0), len(runs))
	hi := len(runs)
	if q.Limit > 0 {
		hi = min(lo+q.Limit, hi)
	}
	res.Runs = runs[lo:hi:hi]
	return res, nil
}

// selKey is what a selection of runs depends on (not the page).
type selKey struct{ where, sort, pipeline, status string }

// selCache keeps the last selections of a snapshot, so that paging
// through a filter, or a second look, does not filter and sort again.
type selCache struct {
	mu    sync.Mutex
	m     map[selKey][]*Summary
	order []selKey
}

// selCacheSize bounds the selections a snapshot keeps.
const selCacheSize = 16

func newSelCache() *selCache { return &selCache{m: map[selKey][]*Summary{}} }

// selected returns the runs q selects, in its order (shared: do not
// change the slice), from the snapshot's cache when it holds them.
func (s *Snapshot) selected(q Query) ([]*Summary, error) {
	k := selKey{q.Where, q.Sort, q.Pipeline, q.Status}
	c := s.sel
	if c != nil {
		c.mu.Lock()
		runs, ok := c.m[k]
		c.mu.Unlock()
		if ok {
			return runs, nil
		}
	}
	runs, err := s.selectRuns(q)
	if err != nil || c == nil {
		return runs, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok {
		if len(c.order) >= selCacheSize {
			delete(c.m, c.order[0])
			c.order = c.order[1:]
		}
		c.order = append(c.order, k)
		c.m[k] = runs
	}
	return runs, nil
}

// selectRuns filters and sorts the snapshot's runs for q.
func (s *Snapshot) selectRuns(q Query) ([]*Summary, error) {
	runs := make([]*Summary, 0, len(s.runs))
	for i := len(s.runs) - 1; i >= 0; i-- { // newest first
		r := s.runs[i]
		if (q.Pipeline != "" && r.Pipeline != q.Pipeline) || (q.Status != "" && r.Status != q.Status) {
			continue
		}
		runs = append(runs, r)
	}
	if q.Where != "" {
		var err error
		if runs, err = filter(runs, q.Where, s.metrics, s.params); err != nil {
			return nil, err
		}
	}
	if err := Sort(runs, q.Sort); err != nil {
		return nil, err
	}
	return runs, nil
}

// Filter returns the runs for which the boolean expression where is true,
// in their order. The expression is first compiled against the union of
// every run's metric names and params, so that a syntax error is reported
// (a *FieldError) even when no run would match; then against each run's
// own, once per distinct set of metric names and params: a run lacking a
// metric or param the expression reads does not match.
func Filter(runs []*Summary, where string) ([]*Summary, error) {
	names := map[string]bool{}
	params := map[string]any{}
	for _, r := range runs {
		for k := range r.Metrics {
			names[k] = true
		}
		for k, v := range r.Params {
			params[k] = v
		}
	}
	return filter(runs, where, sortedKeys(names), params)
}

// filter is Filter with the union of the metric names and params given
// (a snapshot keeps them).
func filter(runs []*Summary, where string, names []string, params map[string]any) ([]*Summary, error) {
	if _, err := exprenv.CompileGate(where, names, params); err != nil {
		return nil, &FieldError{Field: "where", Err: err}
	}
	// The expression compiles alike for runs that agree on which of the
	// names it mentions they have as metrics, and on the values of the
	// params it mentions (params are constants of a compiled expression):
	// group the runs by that, compile once per group against only those
	// metrics and params (what the expression does not mention cannot
	// change its meaning), and evaluate it over the group at once, one row
	// per run, as the columns of a dataset.
	idents := identRe.FindAllString(where, -1)
	slices.Sort(idents)
	idents = slices.Compact(idents)
	type group struct {
		metrics []string
		params  map[string]any
		rows    []int
	}
	groups := map[string]*group{}
	var order []*group
	var key []byte
	for i, r := range runs {
		key = key[:0]
		for _, id := range idents {
			if _, ok := r.Metrics[id]; ok {
				key = append(key, id...)
				key = append(key, 0)
			}
		}
		key = append(key, 1)
		for _, id := range idents {
			if v, ok := r.Params[id]; ok {
				key = fmt.Appendf(key, "%s=%#v\x00", id, v)
			}
		}
		g := groups[string(key)]
		if g == nil {
			g = &group{}
			for _, id := range idents {
				if _, ok := r.Metrics[id]; ok {
					g.metrics = append(g.metrics, id)
				}
				if v, ok := r.Params[id]; ok {
					if g.params == nil {
						g.params = map[string]any{}
					}
					g.params[id] = v
				}
			}
			groups[string(key)] = g
			order = append(order, g)
		}
		g.rows = append(g.rows, i)
	}
	match := make([]bool, len(runs))
	for _, g := range order {
		schema := &table.Schema{}
		for _, m := range g.metrics {
			schema.Fields = append(schema.Fields, table.Field{Name: m, Type: table.Float})
		}
		p, err := exprenv.Compile(where, schema, g.params)
		if err != nil || p.Type() != table.Bool {
			continue // reads a metric or param these runs lack
		}
		ds := &table.Dataset{Rows: len(g.rows)}
		for _, name := range p.Columns() {
			vals := make([]float64, len(g.rows))
			for j, i := range g.rows {
				vals[j] = runs[i].Metrics[name]
			}
			ds.Columns = append(ds.Columns, &table.Column{Name: name, Type: table.Float, Floats: vals})
		}
		col, err := p.Eval(ds, 1)
		if err != nil {
			continue
		}
		for j, i := range g.rows {
			match[i] = col.Valid.Valid(j) && col.Bools[j]
		}
	}
	var kept []*Summary
	for i, r := range runs {
		if match[i] {
			kept = append(kept, r)
		}
	}
	return kept, nil
}

// Sort orders runs, given newest first, by key: "time", "-time" or "" keep
// them; "+time" reverses them (oldest first); otherwise key is a metric
// name, ascending or with a '-' in front descending (a '+' is allowed),
// runs lacking it last, ties in their order. A metric no run has is a
// *FieldError wrapping ErrNoSuchMetric.
func Sort(runs []*Summary, key string) error {
	switch key {
	case "time", "-time", "":
		return nil
	case "+time":
		slices.Reverse(runs)
		return nil
	}
	desc := strings.HasPrefix(key, "-")
	name := strings.TrimLeft(key, "-+")
	type keyed struct {
		r *Summary
		v float64
	}
	ks := make([]keyed, len(runs))
	known := len(runs) == 0
	for i, r := range runs {
		v, ok := r.Metrics[name]
		if !ok {
			v = math.NaN()
		}
		ks[i] = keyed{r, v}
		known = known || !math.IsNaN(v)
	}
	if !known {
		return &FieldError{Field: "sort", Err: fmt.Errorf("%w %q", ErrNoSuchMetric, name)}
	}
	sort.SliceStable(ks, func(i, j int) bool {
		vi, vj := ks[i].v, ks[j].v
		switch {
		case math.IsNaN(vi):
			return false // missing values last
		case math.IsNaN(vj):
			return true
		case desc:
			return vi > vj
		default:
			return vi < vj
		}
	})
	for i := range ks {
		runs[i] = ks[i].r
	}
	return nil
}
