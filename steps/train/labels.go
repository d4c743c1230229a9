package train

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/mlrun-cli/mlrun/steps/internal/yamlnode"
	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// maxShown is the number of distinct target values a message lists.
const maxShown = 10

// maxMagnitude bounds the values of a float feature: squared and summed
// over up to 1e8 rows (variances, standardisation, profile moments) they
// stay finite, so that no model or profile holds an infinity.
const maxMagnitude = 1e150

// isPositive reports whether a target value, as written in the file (a
// level) or rendered by model.RawValues, counts as the positive class of
// t; ok is false when it is not a value of t's type. Without Positive, 1
// (true) is positive and 0 (false) negative; ok is false for other
// numbers too.
func isPositive(t model.Target, v string) (pos, ok bool) {
	switch t.Type {
	case table.String:
		return v == t.Positive, true
	case table.Bool:
		var b bool
		switch {
		case strings.EqualFold(v, "true") || v == "1":
			b = true
		case strings.EqualFold(v, "false") || v == "0":
		default:
			return false, false
		}
		want := true
		if t.Positive != "" {
			want, _ = strconv.ParseBool(t.Positive)
		}
		return b == want, true
	case table.Int, table.Float:
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return false, false
		}
		if t.Positive == "" {
			return x == 1, x == 0 || x == 1
		}
		want, _ := strconv.ParseFloat(t.Positive, 64)
		return x == want, true
	}
	return false, false
}

// checkLevels checks the target's labels against its distinct values (all
// of them, as the load step read them) and returns the problem, or "": a
// positive value that never occurs, numeric values other than 0 and 1
// without positive, one class only.
func checkLevels(t model.Target, levels []string) string {
	pos, neg := 0, 0
	for _, v := range levels {
		p, ok := isPositive(t, v)
		switch {
		case !ok && t.Positive == "" && t.Type != table.Bool:
			return fmt.Sprintf("target %q holds values other than 0 and 1 (its values: %s): set positive to the value that counts as 1", t.Name, showValues(t, levels))
		case p:
			pos++
		default:
			neg++
		}
	}
	switch {
	case len(levels) == 0:
		return ""
	case pos == 0:
		return fmt.Sprintf("positive %s never occurs in target %q (its values: %s)%s", showPositive(t), t.Name, showValues(t, levels), suggest(t, levels))
	case neg == 0:
		return fmt.Sprintf("target %q holds only %s: training needs both classes", t.Name, showValues(t, levels))
	}
	return ""
}

// showPositive renders the positive value as written, quoted for a string
// target; without one, 1 or true.
func showPositive(t model.Target) string {
	switch {
	case t.Type == table.String:
		return strconv.Quote(t.Positive)
	case t.Positive != "":
		return t.Positive
	case t.Type == table.Bool:
		return "true"
	}
	return "1"
}

// showValues lists values of the target, quoted for a string target, at
// most maxShown of them.
func showValues(t model.Target, vals []string) string {
	var b strings.Builder
	for i, v := range vals {
		if i == maxShown {
			b.WriteString(", ...")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		if t.Type == table.String {
			v = strconv.Quote(v)
		}
		b.WriteString(v)
	}
	return b.String()
}

// suggest returns a near value of a string target, as `; did you mean "x"?`.
func suggest(t model.Target, vals []string) string {
	if t.Type != table.String {
		return ""
	}
	return yamlnode.Suggest(t.Positive, vals)
}

// checkData checks the training rows before fitting: the labels (a
// positive value that never occurs, one class only), the magnitude of the
// float features and the number of distinct values of the inferred string
// features.
func (c *compiled) checkData(train *table.Dataset) error {
	t := c.spec.Target
	col := train.Column(t.Name)
	if col != nil && train.Rows > 0 && col.NullCount() == 0 {
		y, err := t.Labels(train)
		if err != nil {
			return err
		}
		pos := 0
		for _, v := range y {
			pos += int(v)
		}
		switch {
		case pos == 0:
			return fmt.Errorf("target %q: positive %s never occurs in the %d training rows (its values: %s)", t.Name, showPositive(t), train.Rows, showValues(t, distinct(col)))
		case pos == train.Rows:
			return fmt.Errorf("target %q: every one of the %d training rows is positive (%s): training needs both classes", t.Name, train.Rows, showPositive(t))
		}
	}
	for _, name := range c.cfg.Features {
		col := train.Column(name)
		if col == nil || col.Type != table.Float {
			continue
		}
		for i, v := range col.Floats {
			if math.Abs(v) > maxMagnitude && col.Valid.Valid(i) {
				return fmt.Errorf("feature %q holds %g (row %d): numbers beyond ±%g overflow the statistics of training and monitoring; rescale the column (a derive step: %s / 1e6)",
					name, v, i+1, maxMagnitude, name)
			}
		}
	}
	limit := c.cfg.MaxLevels
	if limit == 0 {
		limit = min(defaultMaxLevels, max(minMaxLevels, train.Rows/2))
	}
	for _, name := range c.inferred {
		col := train.Column(name)
		if col == nil || col.Type != table.String {
			continue // the fit reports it
		}
		if n := usedLevels(col); n > limit {
			return fmt.Errorf("feature %q is an inferred string column with %d distinct values in %d training rows, more than the limit of %d (max_levels): "+
				"a model would learn a category per value; declare it under the load step's columns: (%s: string) to use it as it is, set max_levels, or leave it out",
				name, n, train.Rows, limit, name)
		}
	}
	return nil
}

// usedLevels counts the distinct values of a string column's valid rows.
func usedLevels(c *table.Column) int {
	seen := make([]bool, len(c.Dict))
	n := 0
	for i, code := range c.Codes {
		if c.Valid.Valid(i) && !seen[code] {
			seen[code] = true
			n++
		}
	}
	return n
}

// distinct returns the distinct values of a target column's rows, in
// first-seen order, rendered as model.RawValues does (at most maxShown+1).
func distinct(c *table.Column) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range model.RawValues(c) {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
			if len(out) > maxShown {
				break
			}
		}
	}
	return out
}
