package split

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/internal/textfmt"
	"github.com/mlrun-cli/mlrun/steps/internal/yamlnode"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// Version is the implementation version of the split kind, part of every
// cache key.
const Version = 1

// Methods of splitting.
const (
	MethodRandom     = "random"
	MethodStratified = "stratified"
	MethodTime       = "time"
)

// Default fractions.
const (
	DefaultTest  = 0.2
	DefaultValid = 0.0
)

// pcgStream is the second PCG seed word; with the step's seed it fixes the
// shuffle. Changing it changes every split, so it requires a Version bump.
const pcgStream = 0x6d6c72756e73706c // "mlrunspl"

// Kind returns the split step kind.
func Kind() pipeline.Kind { return kind{} }

type kind struct{}

func (kind) Name() string { return "split" }

func (kind) Version() int { return Version }

func (kind) Inputs() []pipeline.Port {
	return []pipeline.Port{{Name: "input", Required: true, Doc: "the dataset to split"}}
}

func (kind) Outputs() []string { return []string{"train", "test", "valid"} }

func (kind) Required() []string { return nil }

func (kind) Settings() map[string]any {
	fraction := func(desc string, def float64, lower string) map[string]any {
		return map[string]any{
			"type": "number", lower: 0, "exclusiveMaximum": 1, "default": def,
			"description": desc,
		}
	}
	threshold := map[string]any{
		"type":        []string{"string", "number"},
		"description": "a date or timestamp (for a time column) or a number (for a numeric column)",
	}
	return map[string]any{
		"method": map[string]any{
			"type": "string", "enum": []string{MethodRandom, MethodStratified, MethodTime},
			"default":     MethodRandom,
			"description": "random: shuffle rows; stratified: keep the class proportions of `stratify` in every output; time: out-of-time split on `time.column`",
		},
		"test":  fraction("fraction of rows in the test output (random and stratified methods)", DefaultTest, "exclusiveMinimum"),
		"valid": fraction("fraction of rows in the valid output; 0 gives an empty valid dataset", DefaultValid, "minimum"),
		"seed": map[string]any{
			"type": "integer", "default": 0,
			"description": "seed of the shuffle; the same seed gives the same split",
		},
		"stratify": map[string]any{
			"type":        "string",
			"description": "class column whose proportions every output keeps (method stratified); null is a class",
		},
		"time": map[string]any{
			"type":                 "object",
			"description":          "out-of-time split (method time): rows with column >= test_from go to test, rows with valid_from <= column < test_from to valid, earlier rows to train; rows where column is null are dropped",
			"required":             []string{"column", "test_from"},
			"additionalProperties": false,
			"properties": map[string]any{
				"column":     map[string]any{"type": "string", "description": "a time or numeric column"},
				"test_from":  mergeDesc(threshold, "first value of the test period"),
				"valid_from": mergeDesc(threshold, "first value of the valid period; must be before test_from"),
			},
		},
	}
}

func mergeDesc(m map[string]any, desc string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	out["description"] = desc + ": " + m["description"].(string)
	return out
}

// Config is the resolved configuration of a split step; it is the step's
// cache config.
type Config struct {
	Method   string      `json:"method"`
	Test     float64     `json:"test"`
	Valid    float64     `json:"valid"`
	Seed     int64       `json:"seed"`
	Stratify string      `json:"stratify,omitempty"`
	Time     *TimeConfig `json:"time,omitempty"`
}

// TimeConfig configures an out-of-time split. For a time column the
// thresholds are Unix nanoseconds (UTC); for a numeric column they are the
// numbers themselves.
type TimeConfig struct {
	Column    string   `json:"column"`
	IsTime    bool     `json:"is_time"`
	TestFrom  float64  `json:"test_from"`
	ValidFrom *float64 `json:"valid_from,omitempty"`
	// testFromNS and validFromNS hold exact nanoseconds for time columns
	// (float64 cannot hold every int64).
	TestFromNS  int64  `json:"test_from_ns,omitempty"`
	ValidFromNS *int64 `json:"valid_from_ns,omitempty"`
}

type compiled struct {
	cfg    Config
	schema *table.Schema
}

func (k kind) Compile(req *pipeline.CompileRequest) pipeline.Compiled {
	// Collect this step's problems apart, to know whether it compiled.
	d := new(diag.List)
	defer req.Diags.Merge(d)
	var schema *table.Schema
	if t, ok := req.Inputs["input"]; ok && t != nil {
		s, ok := t.(*table.Schema)
		if !ok {
			d.Add(req.Pos(req.Setting("input")), "input must be a dataset, got %s", t.TypeName())
			return nil
		}
		schema = s
	}
	cfg := Config{Method: MethodRandom, Test: DefaultTest, Valid: DefaultValid}

	methodNode := req.Setting("method")
	if methodNode != nil {
		m, ok := yamlnode.Str(methodNode)
		switch {
		case !ok:
			d.Add(req.Pos(methodNode), "method must be a string (random, stratified or time), got %s", yamlnode.Describe(methodNode))
		case m != MethodRandom && m != MethodStratified && m != MethodTime:
			d.Add(req.Pos(methodNode), "unknown split method %q (want random, stratified or time)", m)
		default:
			cfg.Method = m
		}
	}
	methodPos := req.Pos(methodNode)
	if methodNode == nil {
		methodPos = req.Step.Pos
	}

	testNode, validNode := req.Setting("test"), req.Setting("valid")
	if cfg.Method == MethodTime {
		for _, n := range []*yaml.Node{testNode, validNode} {
			if n != nil {
				d.Add(req.Pos(n), "fractions do not apply to method time: rows are assigned by time.test_from and time.valid_from")
			}
		}
		cfg.Test, cfg.Valid = 0, 0
	} else {
		fractionsOK := true
		if testNode != nil {
			f, ok := yamlnode.Number(testNode)
			switch {
			case !ok:
				d.Add(req.Pos(testNode), "test must be a number, got %s", yamlnode.Describe(testNode))
				fractionsOK = false
			case !(f > 0 && f < 1):
				d.Add(req.Pos(testNode), "test must be a fraction between 0 and 1 (exclusive), got %v", f)
				fractionsOK = false
			default:
				cfg.Test = f
			}
		}
		if validNode != nil {
			f, ok := yamlnode.Number(validNode)
			switch {
			case !ok:
				d.Add(req.Pos(validNode), "valid must be a number, got %s", yamlnode.Describe(validNode))
				fractionsOK = false
			case !(f >= 0 && f < 1):
				d.Add(req.Pos(validNode), "valid must be a fraction in [0, 1), got %v", f)
				fractionsOK = false
			default:
				cfg.Valid = f
			}
		}
		if fractionsOK && cfg.Test+cfg.Valid >= 1 {
			pos := req.Pos(validNode)
			if validNode == nil {
				pos = req.Pos(testNode)
			}
			d.Add(pos, "test + valid must be below 1 to leave rows for train, got %v + %v", cfg.Test, cfg.Valid)
		}
	}

	if n := req.Setting("seed"); n != nil {
		s, ok := yamlnode.Integer(n)
		if !ok {
			d.Add(req.Pos(n), "seed must be an integer, got %s", yamlnode.Describe(n))
		}
		cfg.Seed = s
	}

	stratNode := req.Setting("stratify")
	switch {
	case stratNode != nil && cfg.Method != MethodStratified:
		d.Add(req.Pos(stratNode), "stratify applies only to method stratified")
	case stratNode == nil && cfg.Method == MethodStratified:
		d.Add(methodPos, "method stratified needs a stratify column")
	case stratNode != nil:
		col, ok := yamlnode.Str(stratNode)
		if !ok {
			d.Add(req.Pos(stratNode), "stratify must be a column name, got %s", yamlnode.Describe(stratNode))
			break
		}
		cfg.Stratify = col
		if schema != nil {
			f, found := schema.Lookup(col)
			switch {
			case !found:
				d.Add(req.Pos(stratNode), "unknown column %q%s", col, yamlnode.SuggestWithin(col, schema.Names(), 2))
			case f.Type == table.Float || f.Type == table.Time:
				d.Add(req.Pos(stratNode), "stratify column %q is %s; stratify by a class column (string, int or bool)", col, f.Type)
			}
		}
	}

	timeNode := req.Setting("time")
	switch {
	case timeNode != nil && cfg.Method != MethodTime:
		d.Add(req.Pos(timeNode), "time applies only to method time")
	case timeNode == nil && cfg.Method == MethodTime:
		d.Add(methodPos, "method time needs time: {column, test_from}")
	case timeNode != nil:
		cfg.Time = compileTime(req, d, timeNode, schema)
	}

	if d.HasErrors() || schema == nil {
		return nil
	}
	return &compiled{cfg: cfg, schema: schema}
}

// compileTime decodes and checks the `time:` mapping.
func compileTime(req *pipeline.CompileRequest, d *diag.List, n *yaml.Node, schema *table.Schema) *TimeConfig {
	if n.Kind != yaml.MappingNode {
		d.Add(req.Pos(n), "time must be a mapping {column, test_from, valid_from}, got %s", yamlnode.Describe(n))
		return nil
	}
	tc := &TimeConfig{}
	var colNode, testNode, validNode *yaml.Node
	for _, p := range yamlnode.Pairs(n) {
		switch p.Key.Value {
		case "column":
			colNode = p.Value
		case "test_from":
			testNode = p.Value
		case "valid_from":
			validNode = p.Value
		default:
			d.Add(req.Pos(p.Key), "unknown key %q in time (want column, test_from, valid_from)", p.Key.Value)
		}
	}
	if colNode == nil {
		d.Add(req.Pos(n), "time needs a column")
	}
	if testNode == nil {
		d.Add(req.Pos(n), "time needs test_from")
	}
	if colNode == nil {
		return nil
	}
	col, ok := yamlnode.Str(colNode)
	if !ok {
		d.Add(req.Pos(colNode), "time.column must be a column name, got %s", yamlnode.Describe(colNode))
		return nil
	}
	tc.Column = col
	if schema == nil {
		return tc
	}
	f, found := schema.Lookup(col)
	if !found {
		d.Add(req.Pos(colNode), "unknown column %q%s", col, yamlnode.SuggestWithin(col, schema.Names(), 2))
		return nil
	}
	switch {
	case f.Type == table.Time:
		tc.IsTime = true
	case f.Type == table.Float || f.Type == table.Int:
	default:
		d.Add(req.Pos(colNode), "time column %q is %s; want a time or numeric column", col, f.Type)
		return nil
	}
	threshold := func(v *yaml.Node, name string) (float64, int64, bool) {
		if tc.IsTime {
			s := v.Value
			if v.Kind == yaml.ScalarNode && (v.ShortTag() == "!!str" || v.ShortTag() == "!!timestamp") {
				if ns, ok := table.ParseTimeConstant(s); ok {
					return float64(ns), ns, true
				}
			}
			d.Add(req.Pos(v), "time.%s must be a date or timestamp (2006-01-02, 2006-01-02T15:04:05Z07:00) for time column %q, got %q", name, col, s)
			return 0, 0, false
		}
		x, ok := yamlnode.Number(v)
		if !ok {
			d.Add(req.Pos(v), "time.%s must be a number for %s column %q, got %s", name, f.Type, col, yamlnode.Describe(v))
		}
		return x, 0, ok
	}
	if testNode == nil {
		return nil
	}
	tf, tns, ok := threshold(testNode, "test_from")
	if !ok {
		return nil
	}
	tc.TestFrom, tc.TestFromNS = tf, tns
	if validNode != nil {
		vf, vns, ok := threshold(validNode, "valid_from")
		if !ok {
			return nil
		}
		if (tc.IsTime && vns >= tns) || (!tc.IsTime && vf >= tf) {
			d.Add(req.Pos(validNode), "time.valid_from must be before time.test_from")
			return nil
		}
		tc.ValidFrom = &vf
		if tc.IsTime {
			tc.ValidFromNS = &vns
		}
	}
	return tc
}

func (c *compiled) OutputTypes() map[string]pipeline.Type {
	return map[string]pipeline.Type{"train": c.schema, "test": c.schema, "valid": c.schema}
}

func (c *compiled) CacheConfig() any { return c.cfg }

func (c *compiled) Run(ctx context.Context, req *pipeline.RunRequest) (*pipeline.Result, error) {
	obj, ok := req.Inputs["input"]
	if !ok {
		return nil, fmt.Errorf("split: input not connected")
	}
	ds, ok := obj.(*table.Dataset)
	if !ok {
		return nil, fmt.Errorf("split: input is a %s, not a dataset", obj.TypeName())
	}
	a, err := Assign(ds, c.cfg)
	if err != nil {
		return nil, err
	}
	res := &pipeline.Result{
		Outputs: map[string]pipeline.Object{
			"train": ds.Take(a.Train),
			"test":  ds.Take(a.Test),
			"valid": ds.Take(a.Valid),
		},
		Metrics: map[string]float64{
			"rows.train": float64(len(a.Train)),
			"rows.test":  float64(len(a.Test)),
			"rows.valid": float64(len(a.Valid)),
		},
	}
	note := fmt.Sprintf("train %s · test %s · valid %s rows", textfmt.Thousands(len(a.Train)), textfmt.Thousands(len(a.Test)), textfmt.Thousands(len(a.Valid)))
	switch c.cfg.Method {
	case MethodStratified:
		note += fmt.Sprintf(" (stratified by %s, seed %d)", c.cfg.Stratify, c.cfg.Seed)
		col := ds.Column(c.cfg.Stratify)
		for name, rows := range map[string][]int{"train": a.Train, "test": a.Test, "valid": a.Valid} {
			if len(rows) == 0 {
				continue
			}
			// Count by class, then label each class once.
			byClass := map[classKey]int{}
			example := map[classKey]int{}
			for _, r := range rows {
				k := keyOf(col, r)
				if _, ok := byClass[k]; !ok {
					example[k] = r
				}
				byClass[k]++
			}
			counts := map[string]int{}
			for k, n := range byClass {
				counts[classLabel(col, example[k])] += n
			}
			for label, n := range counts {
				res.Metrics["share."+name+"."+label] = float64(n) / float64(len(rows))
			}
		}
	case MethodTime:
		note += " (out of time on " + c.cfg.Time.Column + ")"
		if a.Dropped > 0 {
			res.Metrics["rows.dropped"] = float64(a.Dropped)
			res.Notes = append(res.Notes, fmt.Sprintf("%s rows dropped: %s is null", textfmt.Thousands(a.Dropped), c.cfg.Time.Column))
		}
	default:
		note += fmt.Sprintf(" (random, seed %d)", c.cfg.Seed)
	}
	res.Notes = append([]string{note}, res.Notes...)
	return res, nil
}

// Assignment lists, for each output, the selected row indices in increasing
// order. Dropped counts rows assigned to no output (null time values).
type Assignment struct {
	Train, Test, Valid []int
	Dropped            int
}

// Assign computes the rows of each output of a split of ds by cfg.
func Assign(ds *table.Dataset, cfg Config) (Assignment, error) {
	switch cfg.Method {
	case MethodRandom, "":
		return assignRandom(ds.Rows, cfg), nil
	case MethodStratified:
		col := ds.Column(cfg.Stratify)
		if col == nil {
			return Assignment{}, pipeline.Invalidf("split: stratify column %q not in the dataset", cfg.Stratify)
		}
		return assignStratified(col, ds.Rows, cfg), nil
	case MethodTime:
		if cfg.Time == nil {
			return Assignment{}, fmt.Errorf("split: method time without time settings")
		}
		col := ds.Column(cfg.Time.Column)
		if col == nil {
			return Assignment{}, pipeline.Invalidf("split: time column %q not in the dataset", cfg.Time.Column)
		}
		return assignTime(col, ds.Rows, cfg.Time)
	}
	return Assignment{}, fmt.Errorf("split: unknown method %q", cfg.Method)
}

func newRand(seed int64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), pcgStream))
}

// counts returns round(test×n) and round(valid×n), clamped to n.
func counts(n int, test, valid float64) (int, int) {
	nt := min(int(math.Round(test*float64(n))), n)
	nv := min(int(math.Round(valid*float64(n))), n-nt)
	return nt, nv
}

func assignRandom(n int, cfg Config) Assignment {
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	r := newRand(cfg.Seed)
	r.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	nt, nv := counts(n, cfg.Test, cfg.Valid)
	return finish(perm[:nt], perm[nt:nt+nv], perm[nt+nv:])
}

// finish sorts each output's rows (keeping the original row order) and
// copies them into non-nil slices.
func finish(test, valid, train []int) Assignment {
	a := Assignment{
		Train: append(make([]int, 0, len(train)), train...),
		Test:  append(make([]int, 0, len(test)), test...),
		Valid: append(make([]int, 0, len(valid)), valid...),
	}
	slices.Sort(a.Train)
	slices.Sort(a.Test)
	slices.Sort(a.Valid)
	return a
}

// classKey identifies a class of the stratify column.
type classKey struct {
	null bool
	i    int64
	s    string
}

func keyOf(col *table.Column, row int) classKey {
	if col.IsNull(row) {
		return classKey{null: true}
	}
	switch col.Type {
	case table.String:
		return classKey{s: col.Str(row)}
	case table.Int, table.Time:
		return classKey{i: col.Ints[row]}
	case table.Bool:
		if col.Bools[row] {
			return classKey{i: 1}
		}
		return classKey{}
	case table.Float:
		return classKey{i: int64(math.Float64bits(col.Floats[row]))}
	}
	return classKey{}
}

// classLabel renders row's class for metric names ("null" for null).
func classLabel(col *table.Column, row int) string {
	if col.IsNull(row) {
		return "null"
	}
	switch col.Type {
	case table.String:
		return col.Str(row)
	case table.Int:
		return strconv.FormatInt(col.Ints[row], 10)
	case table.Time:
		return table.FormatTime(col.Ints[row])
	case table.Bool:
		return strconv.FormatBool(col.Bools[row])
	case table.Float:
		return strconv.FormatFloat(col.Floats[row], 'g', -1, 64)
	}
	return ""
}

func assignStratified(col *table.Column, n int, cfg Config) Assignment {
	// The class of every row, classes in order of first appearance.
	index := map[classKey]int32{}
	class := make([]int32, n)
	var sizes []int
	for row := range n {
		k := keyOf(col, row)
		c, ok := index[k]
		if !ok {
			c = int32(len(sizes))
			index[k] = c
			sizes = append(sizes, 0)
		}
		class[row] = c
		sizes[c]++
	}
	// The rows of each class in row order, classes one after another (a
	// counting sort: one array, no per-class slices to grow).
	start := make([]int, len(sizes)+1)
	for i, size := range sizes {
		start[i+1] = start[i] + size
	}
	next := slices.Clone(start[:len(sizes)])
	rows := make([]int, n)
	for row, c := range class {
		rows[next[c]] = row
		next[c]++
	}
	class = nil
	nt, nv := counts(n, cfg.Test, cfg.Valid)
	testN := allocate(sizes, cfg.Test, nt)
	validN := allocate(sizes, cfg.Valid, nv)
	// Shuffle each class; its first rows go to test, the next to valid.
	const inTrain, inTest, inValid = 0, 1, 2
	part := make([]uint8, n)
	var ntest, nvalid int
	r := newRand(cfg.Seed)
	for i := range sizes {
		seg := rows[start[i]:start[i+1]]
		r.Shuffle(len(seg), func(a, b int) { seg[a], seg[b] = seg[b], seg[a] })
		t := testN[i]
		v := min(validN[i], len(seg)-t)
		for _, row := range seg[:t] {
			part[row] = inTest
		}
		for _, row := range seg[t : t+v] {
			part[row] = inValid
		}
		ntest, nvalid = ntest+t, nvalid+v
	}
	rows = nil
	// Each output's rows in increasing order.
	a := Assignment{
		Train: make([]int, 0, n-ntest-nvalid),
		Test:  make([]int, 0, ntest),
		Valid: make([]int, 0, nvalid),
	}
	for row, p := range part {
		switch p {
		case inTrain:
			a.Train = append(a.Train, row)
		case inTest:
			a.Test = append(a.Test, row)
		default:
			a.Valid = append(a.Valid, row)
		}
	}
	return a
}

// allocate splits total rows over classes of the given sizes in proportion
// frac by the largest-remainder method: each class gets floor(frac×size)
// and the classes with the largest fractional parts (ties: first class)
// get one more until total is reached. Each result is within one of
// frac×size.
func allocate(sizes []int, frac float64, total int) []int {
	out := make([]int, len(sizes))
	rem := make([]float64, len(sizes))
	sum := 0
	for i, s := range sizes {
		exact := frac * float64(s)
		out[i] = min(int(math.Floor(exact)), s)
		rem[i] = exact - float64(out[i])
		sum += out[i]
	}
	order := make([]int, len(sizes))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case rem[a] > rem[b]:
			return -1
		case rem[a] < rem[b]:
			return 1
		}
		return 0
	})
	for _, i := range order {
		if sum >= total {
			break
		}
		if out[i] < sizes[i] && rem[i] > 0 {
			out[i]++
			sum++
		}
	}
	return out
}

func assignTime(col *table.Column, n int, tc *TimeConfig) (Assignment, error) {
	var a Assignment
	a.Train, a.Test, a.Valid = []int{}, []int{}, []int{}
	for row := range n {
		if col.IsNull(row) {
			a.Dropped++
			continue
		}
		var inTest, inValid bool
		if tc.IsTime {
			if col.Type != table.Time {
				return Assignment{}, pipeline.Invalidf("split: time column %q is %s, not time", tc.Column, col.Type)
			}
			v := col.Ints[row]
			inTest = v >= tc.TestFromNS
			inValid = tc.ValidFromNS != nil && v >= *tc.ValidFromNS
		} else {
			if !col.Type.Numeric() {
				return Assignment{}, pipeline.Invalidf("split: time column %q is %s, not numeric", tc.Column, col.Type)
			}
			v := col.Float(row)
			if math.IsNaN(v) {
				a.Dropped++
				continue
			}
			inTest = v >= tc.TestFrom
			inValid = tc.ValidFrom != nil && v >= *tc.ValidFrom
		}
		switch {
		case inTest:
			a.Test = append(a.Test, row)
		case inValid:
			a.Valid = append(a.Valid, row)
		default:
			a.Train = append(a.Train, row)
		}
	}
	return a, nil
}
