package validate

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// compileStep compiles a validate step whose settings are the YAML mapping
// src against schema.
func compileStep(t testing.TB, src string, schema *table.Schema, params map[string]any) (pipeline.Compiled, []string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	p := &pipeline.Pipeline{File: "p.yaml", Dir: ".", Source: []byte(src)}
	step := &pipeline.StepSpec{ID: "s", Kind: "validate", Node: doc.Content[0], Pos: diag.Pos{File: "p.yaml", Line: 1, Col: 1}}
	var diags diag.List
	c := Kind().Compile(&pipeline.CompileRequest{
		Step: step, Pipeline: p, Diags: &diags, Params: params,
		Inputs: map[string]pipeline.Type{"input": schema},
	})
	var msgs []string
	for _, d := range diags.Items() {
		msgs = append(msgs, d.String())
	}
	return c, msgs
}

func day(s string) int64 {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t.UnixNano()
}

// sample is a 6-row dataset with nulls.
func sample(t *testing.T) *table.Dataset {
	t.Helper()
	ageValid := table.NewBitmap(6)
	ageValid.SetNull(5)
	homeValid := table.NewBitmap(6)
	homeValid.SetNull(2)
	ds, err := table.NewDataset(
		table.NewIntColumn("id", []int64{1, 2, 2, 3, 1, 4}, nil),
		table.NewFloatColumn("amount", []float64{100, -5, math.NaN(), 20, 0, 7.5}),
		table.NewStringColumn("home", []string{"own", "rent", "", "moon", "own", "rent"}, homeValid),
		table.NewIntColumn("age", []int64{30, 17, 45, 101, 50, 0}, ageValid),
		table.NewTimeColumn("applied", []int64{day("2024-01-01"), day("2023-12-31"), day("2024-06-30"), day("2024-07-01"), day("2024-03-03"), day("2024-02-02")}, nil),
		table.NewBoolColumn("flag", []bool{true, false, true, true, false, true}, nil),
	)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestCompileErrors(t *testing.T) {
	schema := sample(t).Schema()
	tests := []struct {
		src  string
		want []string
	}{
		{"kind: validate", []string{`p.yaml:1:1: validate step needs rules`}},
		{"rules: {}", []string{`p.yaml:1:8: rules is empty: declare at least one rule`}},
		{"rules: [a]", []string{`p.yaml:1:8: rules must be a mapping of rule name to rule, got a list`}},
		{"rules:\n  a: 1", []string{`p.yaml:2:6: rule "a" must be a mapping with one of expr, not_null, max_missing, range, allowed, unique, regex, rows, got an integer`}},
		{"rules:\n  a: {severity: warn}", []string{`p.yaml:2:3: rule "a" needs one of expr, not_null, max_missing, range, allowed, unique, regex, rows`}},
		{"rules:\n  a: {expr: amount > 0, not_null: id}", []string{`p.yaml:2:25: rule "a" has both expr and not_null; a rule checks one thing`}},
		{"rules:\n  a: {expr: amount > 0, mostli: 0.9}", []string{`p.yaml:2:25: unknown key "mostli" in rule "a" (want one of expr, not_null, max_missing, range, allowed, unique, regex, rows, and mostly, severity, doc)`}},
		{"rules:\n  a: {expr: amount + 1}", []string{`p.yaml:2:13: rule "a": expr must be boolean, got float`}},
		{"rules:\n  a: {expr: amont > 0}", []string{`p.yaml:2:13: rule "a": unknown column "amont"; did you mean "amount"?`}},
		{"rules:\n  a:\n    expr: amount > 0 and hom == 'x'", []string{`p.yaml:3:26: rule "a": unknown column "hom"; did you mean "home"?`}},
		{"rules:\n  a: {expr: amount > 0, mostly: 1.5}", []string{`p.yaml:2:33: mostly must be a fraction between 0 and 1, got 1.5`}},
		{"rules:\n  a: {rows: {min: 1}, mostly: 0.5}", []string{`p.yaml:2:31: mostly applies only to row rules (expr, not_null, range, allowed, unique, regex), not rows`}},
		{"rules:\n  a: {not_null: id, severity: fatal}", []string{`p.yaml:2:31: severity must be error or warn, got "fatal"`}},
		{"rules:\n  a: {not_null: [id, idd, id]}", []string{
			`p.yaml:2:22: rule "a": unknown column "idd"; did you mean "id"?`,
			`p.yaml:2:27: rule "a": column "id" listed twice`}},
		{"rules:\n  a: {range: {column: home, min: 0}}", []string{`p.yaml:2:23: rule "a": range needs a numeric or time column; "home" is string`}},
		{"rules:\n  a: {range: {column: age}}", []string{`p.yaml:2:14: rule "a": range needs min, max or both`}},
		{"rules:\n  a: {range: {column: age, min: 10, max: 5}}", []string{`p.yaml:2:42: rule "a": range max 5 is below min 10`}},
		{"rules:\n  a: {range: {column: age, min: ten, maks: 5}}", []string{`p.yaml:2:38: rule "a": unknown key "maks" in range (want column, min, max)`}},
		{"rules:\n  a: {range: {column: applied, min: 5}}", []string{`p.yaml:2:37: rule "a": range min must be a date or timestamp for time column "applied", got "5"`}},
		{"rules:\n  a: {allowed: {column: age, values: [1, two, 3.5]}}", []string{
			`p.yaml:2:42: rule "a": allowed value "two" is not an integer (column "age" is int)`,
			`p.yaml:2:47: rule "a": allowed value "3.5" is not an integer (column "age" is int)`}},
		{"rules:\n  a: {allowed: {column: flag, values: [yes]}}", []string{`p.yaml:2:40: rule "a": allowed value "yes" is not a boolean (column "flag" is bool)`}},
		{"rules:\n  a: {allowed: {column: home, values: []}}", []string{`p.yaml:2:39: rule "a": allowed values must be a non-empty list, got a list`}},
		{"rules:\n  a: {regex: {column: age, pattern: '^[0-9]+$'}}", []string{`p.yaml:2:23: rule "a": regex needs a string column; "age" is int`}},
		{"rules:\n  a: {regex: {column: home, pattern: '(own'}}", []string{"p.yaml:2:38: rule \"a\": invalid pattern: error parsing regexp: missing closing ): `(own`"}},
		{"rules:\n  a: {unique: hme}", []string{`p.yaml:2:15: rule "a": unknown column "hme"; did you mean "home"?`}},
		{"rules:\n  a: {max_missing: 1.5}", []string{`p.yaml:2:20: rule "a": max_missing must be a fraction between 0 and 1, got 1.5`}},
		{"rules:\n  a: {max_missing: {column: age, columns: [id], max: 0.1}}", []string{`p.yaml:2:43: rule "a": max_missing takes column or columns, not both`}},
		{"rules:\n  a: {max_missing: {column: age}}", []string{`p.yaml:2:20: rule "a": max_missing needs max`}},
		{"rules:\n  a: {rows: {min: -1}}", []string{`p.yaml:2:19: rule "a": rows min must be a non-negative integer, got -1`}},
		{"rules:\n  a: {rows: {min: 10, max: 5}}", []string{`p.yaml:2:28: rule "a": rows max 5 is below min 10`}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			c, got := compileStep(t, tt.src, schema, nil)
			if !slices.Equal(got, tt.want) {
				t.Errorf("diagnostics:\n got %q\nwant %q", got, tt.want)
			}
			if c != nil {
				t.Errorf("compiled despite errors")
			}
		})
	}
}

const sampleRules = `rules:
  amount_positive:
    expr: amount > 0
  amount_mostly:
    expr: amount >= 0
    mostly: 0.75
    severity: warn
  not_null: {not_null: [amount, home]}
  age_range: {range: {column: age, min: 18, max: 100}}
  applied_2024: {range: {column: applied, min: 2024-01-01}}
  home_known: {allowed: {column: home, values: [own, rent, other]}}
  id_unique: {unique: id}
  home_regex: {regex: {column: home, pattern: '^(own|rent)$'}}
  missing_all: {max_missing: 0.05}
  missing_cols: {max_missing: {columns: [amount, id], max: 0.1}}
  enough: {rows: {min: 10}}
  few: {rows: {max: 6}}
`

func TestRun(t *testing.T) {
	ds := sample(t)
	c, diags := compileStep(t, sampleRules, ds.Schema(), nil)
	if len(diags) > 0 {
		t.Fatalf("diagnostics %q", diags)
	}
	if got := c.OutputTypes(); !slices.Equal(got["data"].(*table.Schema).Fields, ds.Schema().Fields) || got["report"].TypeName() != "validation" {
		t.Errorf("output types %v", got)
	}
	type want struct {
		passed  bool
		failing int
		rows    []int
		message string
	}
	wants := map[string]want{
		"amount_positive": {false, 2, []int{2, 5}, "2 of 5 rows (40.00%) fail `amount > 0`; allowed 0%; 1 rows with nulls not checked"},
		"amount_mostly":   {true, 1, []int{2}, "1 of 5 rows (20.00%) fail `amount >= 0`; allowed 25%; 1 rows with nulls not checked"},
		"not_null":        {false, 1, []int{3}, "1 of 6 rows (16.67%) fail `not_null(amount, home)`; allowed 0%"},
		"age_range":       {false, 2, []int{2, 4}, "2 of 5 rows (40.00%) fail `18 ≤ age ≤ 100`; allowed 0%; 1 rows with nulls not checked"},
		"applied_2024":    {false, 1, []int{2}, "1 of 6 rows (16.67%) fail `applied ≥ 2024-01-01T00:00:00Z`; allowed 0%"},
		"home_known":      {false, 1, []int{4}, "1 of 5 rows (20.00%) fail `home in [own, rent, other]`; allowed 0%; 1 rows with nulls not checked"},
		"id_unique":       {false, 2, []int{3, 5}, "2 of 6 rows (33.33%) fail `unique(id)`; allowed 0%"},
		"home_regex":      {false, 1, []int{4}, "1 of 5 rows (20.00%) fail `home matches ^(own|rent)$`; allowed 0%; 1 rows with nulls not checked"},
		"missing_all":     {true, 0, nil, "3 of 36 cells (8.33%) missing; allowed 5%"},
		"missing_cols":    {false, 0, nil, "amount 1 of 6 (16.67%) missing; allowed 10%"},
		"enough":          {false, 0, nil, "6 rows; want rows ≥ 10"},
		"few":             {true, 0, nil, "6 rows; want rows ≤ 6"},
	}
	wants["missing_all"] = want{false, 0, nil, "3 of 36 cells (8.33%) missing; allowed 5%"}

	var reports []string
	for _, jobs := range []int{1, 4} {
		res, err := c.Run(context.Background(), &pipeline.RunRequest{Inputs: map[string]pipeline.Object{"input": ds}, Jobs: jobs})
		if err != nil {
			t.Fatal(err)
		}
		if res.Outputs["data"] != pipeline.Object(ds) {
			t.Errorf("data output is not the input object")
		}
		if len(res.Checks) != len(wants) {
			t.Fatalf("%d checks, want %d", len(res.Checks), len(wants))
		}
		for i, ch := range res.Checks {
			w, ok := wants[ch.Name]
			if !ok {
				t.Fatalf("unexpected check %q", ch.Name)
			}
			if ch.Passed != w.passed || ch.Failing != w.failing || !slices.Equal(ch.Rows, w.rows) || ch.Message != w.message || ch.Kind != "rule" {
				t.Errorf("check %s: passed %v failing %d rows %v kind %q\n  message %q\nwant passed %v failing %d rows %v\n  message %q",
					ch.Name, ch.Passed, ch.Failing, ch.Rows, ch.Kind, ch.Message, w.passed, w.failing, w.rows, w.message)
			}
			if i == 0 && ch.Name != "amount_positive" {
				t.Errorf("checks not in declaration order: first %q", ch.Name)
			}
		}
		if res.Checks[1].Severity != pipeline.SeverityWarn || res.Checks[0].Severity != pipeline.SeverityError {
			t.Errorf("severities %q %q", res.Checks[0].Severity, res.Checks[1].Severity)
		}
		if got := res.Checks[len(res.Checks)-3].Values; got["amount"] != 1.0/6 || got["id"] != 0 {
			t.Errorf("missing_cols values %v", got)
		}
		wantMetrics := map[string]float64{"rules_failed": 10, "rules_warned": 0, "rules_passed": 2, "missing_fraction": 3.0 / 36}
		if !equalMetrics(res.Metrics, wantMetrics) {
			t.Errorf("metrics %v, want %v", res.Metrics, wantMetrics)
		}
		if !res.Failed() {
			t.Errorf("result not failed")
		}
		var b strings.Builder
		if err := res.Outputs["report"].Encode(&b); err != nil {
			t.Fatal(err)
		}
		reports = append(reports, b.String())
	}
	if reports[0] != reports[1] {
		t.Errorf("report differs between jobs 1 and 4:\n%s\n%s", reports[0], reports[1])
	}
	var rep Report
	if err := json.Unmarshal([]byte(reports[0]), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 6 || rep.Columns != 6 || rep.MissingCells != 3 || rep.Passed || len(rep.Rules) != 12 {
		t.Errorf("report %+v", rep)
	}
}

func equalMetrics(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || math.Abs(v-w) > 1e-12 {
			return false
		}
	}
	return true
}

func TestWarnOnly(t *testing.T) {
	ds := sample(t)
	c, diags := compileStep(t, "rules:\n  a: {expr: amount > params.floor, severity: warn}\n  b: {not_null: id}", ds.Schema(), map[string]any{"floor": 50})
	if len(diags) > 0 {
		t.Fatalf("diagnostics %q", diags)
	}
	res, err := c.Run(context.Background(), &pipeline.RunRequest{Inputs: map[string]pipeline.Object{"input": ds}, Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed() || res.Metrics["rules_warned"] != 1 || res.Metrics["rules_passed"] != 1 || res.Checks[0].Failing != 4 {
		t.Errorf("failed %v metrics %v checks %+v", res.Failed(), res.Metrics, res.Checks)
	}
	if want := "2 rules: 1 passed, 0 failed, 1 warned; 8.33% of cells missing"; res.Notes[0] != want {
		t.Errorf("note %q, want %q", res.Notes[0], want)
	}
	b, _ := json.Marshal(c.CacheConfig())
	if !strings.Contains(string(b), `"params":{"floor":50}`) || !strings.Contains(string(b), `"expr":"amount \u003e params.floor"`) {
		t.Errorf("cache config %s lacks the expression or its params", b)
	}
}

func TestPercent(t *testing.T) {
	for f, want := range map[float64]string{0: "0%", 0.05: "5%", 1 - 0.99: "1%", 0.005: "0.5%", 0.12345: "12.35%"} {
		if got := percent(f); got != want {
			t.Errorf("percent(%v) = %q, want %q", f, got, want)
		}
	}
	for f, want := range map[float64]string{0: "0%", 0.0006: "0.06%", 0.00001: "<0.01%", 1: "100.00%"} {
		if got := failPercent(f); got != want {
			t.Errorf("failPercent(%v) = %q, want %q", f, got, want)
		}
	}
}

func TestCreditData(t *testing.T) {
	const path = "../../../shared/data/credit_data.csv"
	if _, err := os.Stat(path); err != nil {
		t.Skip("credit_data.csv: ../shared/data absent")
	}
	ds, _, err := table.ReadCSVFile(path, table.CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	src := `rules:
  missing_overall: {max_missing: 0.05}
  income: {max_missing: {column: Income, max: 0.05}}
  status: {allowed: {column: Status, values: [good, bad]}}
  age: {range: {column: Age, min: 18, max: 100}}
  price_covers_amount: {expr: Price >= Amount, mostly: 0.99}
  rows: {rows: {min: 1000}}
`
	c, diags := compileStep(t, src, ds.Schema(), nil)
	if len(diags) > 0 {
		t.Fatalf("diagnostics %q", diags)
	}
	res, err := c.Run(context.Background(), &pipeline.RunRequest{Inputs: map[string]pipeline.Object{"input": ds}, Jobs: 4})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Metrics["missing_fraction"], 455.0/(4454*14); got != want {
		t.Errorf("missing_fraction %v, want %v", got, want)
	}
	msgs := map[string]string{}
	for _, ch := range res.Checks {
		msgs[ch.Name] = ch.Message
		if ch.Name != "income" && !ch.Passed {
			t.Errorf("%s failed: %s", ch.Name, ch.Message)
		}
	}
	if want := "455 of 62,356 cells (0.73%) missing; allowed 5%"; msgs["missing_overall"] != want {
		t.Errorf("missing_overall: %q, want %q", msgs["missing_overall"], want)
	}
	if want := "Income 381 of 4,454 (8.55%) missing; allowed 5%"; msgs["income"] != want {
		t.Errorf("income: %q, want %q", msgs["income"], want)
	}
	if want := "4,454 rows; want rows ≥ 1,000"; msgs["rows"] != want {
		t.Errorf("rows: %q, want %q", msgs["rows"], want)
	}
}
