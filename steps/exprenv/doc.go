// Package exprenv compiles and evaluates the expressions of pipeline files:
// validate rules (`loan_amount > 0`), derived columns
// (`total_debt / (annual_income + 0.01)`) and evaluation gates
// (`auc >= params.min_auc`). It is mlrun's only importer of
// github.com/expr-lang/expr.
//
// # Compiling
//
// Compile parses the source with expr's parser, then types the tree against
// the input's *table.Schema: every identifier is a column (a name that is
// not an identifier is written col("name with space")), params are
// constants written params.NAME, and every operation is checked at load
// time. Errors are *Error values with a 1-based line and column inside the
// expression (unknown names come with a near-miss suggestion:
// `unknown column "anual_income"; did you mean "annual_income"?`); Pos and
// PosSource shift them to the expression's place in the pipeline file.
//
// # Types
//
// Column types are float, int, bool, string and time. Int and bool values
// promote to float where mixed with floats (bool as 0/1). `+ - * %` on two
// ints stay int; `/`, `**` (or `^`) and pow are always float. Strings
// support ==, != (with a constant: evaluated once per dictionary value),
// in [list], matches "regexp", startsWith, endsWith, contains, < <= > >=
// and + (concatenation). A time compares with a time or with a string
// constant such as "2020-01-01" (RFC 3339 or YYYY-MM-DD, UTC).
//
// Functions: abs, sqrt, log (natural), log10, exp, pow(x, y), min(a, b, ...),
// max(a, b, ...), clip(x, lo, hi), round(x) and round(x, digits) (half away
// from zero), floor, ceil, float(x), int(x) (toward zero), coalesce(a, b,
// ...), if_null(x, v), is_null(x), not_null(x), year(t), month(t), day(t),
// hour(t) (UTC), lower(s), upper(s), trim(s), len(s) (runes). `a ?? b` is
// coalesce(a, b); `c ? a : b` is the conditional; `not in`, `not matches`
// and friends negate.
//
// # Null semantics
//
//   - A null input to arithmetic, a comparison or a function yields null
//     (except the null-handling functions below).
//   - A non-finite arithmetic result is null: x/0, 0/0, x % 0, log of a
//     negative number or of 0, sqrt(-1), overflow to ±Inf, and any
//     arithmetic on an infinite input value.
//   - Int overflow in + - * (and -x, abs(x) of the smallest int64) yields
//     null, the int counterpart of a float overflowing to Inf; int(x) of a
//     float out of the int64 range is null too.
//   - `&&`/`and`, `||`/`or` and `!`/`not` follow SQL three-valued logic:
//     null && false = false, null || true = true, otherwise a null operand
//     gives null; !null = null.
//   - coalesce(a, b, ...) (and a ?? b, if_null(x, v)) returns the first
//     non-null argument; is_null(x) and not_null(x) are never null.
//   - c ? a : b with a null c gives null.
//   - Comparing with the nil literal is a compile error (it would always be
//     null): use is_null(x) or not_null(x).
//   - A NaN in a float column is null, as is a row whose validity bit is
//     clear.
//
// # Evaluation
//
// Program.Eval evaluates over whole columns: the typed tree runs as column
// kernels over []float64, []int64, []bool and dictionary codes plus null
// masks, in chunks of 4096 rows spread over jobs goroutines (every row is
// independent, so the result does not depend on jobs). Float values carry
// nulls as NaN. String predicates against constants are evaluated once per
// distinct dictionary value and then mapped over the codes.
//
// What has no column kernel (lower, upper, trim, len, string concatenation,
// string ordering and column-to-column string comparisons, conditionals and
// coalesce over strings, startsWith/endsWith/contains with a non-constant
// argument) runs per row in expr's VM: the subtree is printed as expr source
// in which every operation is a call of a null-aware Go function, so the
// fallback honours the same null semantics. Program.Vectorised reports
// whether an expression needs no fallback.
package exprenv
