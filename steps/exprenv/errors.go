package exprenv

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline/diag"
)

// Error is a compile error at a 1-based line and column inside the
// expression source.
type Error struct {
	Line, Col int
	Msg       string
}

// Error renders "line:col: message".
func (e *Error) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg) }

// suggest returns the candidate closest to name by edit distance, or ""
// when none is close (distance at most max(1, len(name)/4); a case-only
// difference always counts). Ties go to the earlier candidate.
func suggest(name string, candidates []string) string {
	best, bestD := "", max(1, utf8.RuneCountInString(name)/4)+1
	for _, c := range candidates {
		if c == name {
			continue
		}
		d := levenshtein(name, c)
		if strings.EqualFold(c, name) {
			d = 0
		}
		if d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// levenshtein is the optimal-string-alignment edit distance: insertions,
// deletions, substitutions and transpositions of adjacent runes cost 1.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

func sortStrings(s []string) { sort.Strings(s) }

// Pos maps an Error to a position in the pipeline file, given the YAML
// scalar node holding the expression (its Line/Column are the scalar's
// start). When err is not an *Error (or node is nil) it returns the node's
// position.
//
// Plain scalars map line 1 exactly (a plain scalar folded over several lines
// maps later columns approximately, as folding joins lines with a space).
// Single- and double-quoted scalars add one column for the opening quote
// and one for every escaped character before the error (” in single
// quotes; \" and \\ in double quotes). Literal and folded block scalars
// start on the line after the indicator; as a node does not record its
// content indentation, Pos returns the right line with Col 0 (unknown)
// for them: use PosSource with the file's bytes for the exact column.
func Pos(file string, node *yaml.Node, err error) diag.Pos {
	return PosSource(file, nil, node, err)
}

// PosSource is Pos given the pipeline file's bytes (src may be nil): for
// literal and folded block scalars it reads the content indentation from
// src to give the exact column (for literal scalars every line maps
// exactly; for folded ones lines are found by walking the raw lines). The
// value must not have been changed since parsing (a ${params.X}
// substitution shifts later columns on its line).
func PosSource(file string, src []byte, node *yaml.Node, err error) diag.Pos {
	if node == nil {
		return diag.Pos{File: file}
	}
	base := diag.Pos{File: file, Line: node.Line, Col: node.Column}
	var e *Error
	if !errors.As(err, &e) || e.Line < 1 {
		return base
	}
	lines := strings.Split(node.Value, "\n")
	before := "" // the error's line of the value, up to the error column
	if e.Line <= len(lines) {
		r := []rune(lines[e.Line-1])
		before = string(r[:min(max(e.Col-1, 0), len(r))])
	}
	switch {
	case node.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return blockPos(file, src, node, e, lines)
	case node.Style&yaml.SingleQuotedStyle != 0:
		if e.Line > 1 {
			return diag.Pos{File: file, Line: node.Line + e.Line - 1}
		}
		return diag.Pos{File: file, Line: node.Line, Col: node.Column + e.Col + strings.Count(before, "'")}
	case node.Style&yaml.DoubleQuotedStyle != 0:
		if e.Line > 1 {
			return diag.Pos{File: file, Line: node.Line + e.Line - 1}
		}
		return diag.Pos{File: file, Line: node.Line, Col: node.Column + e.Col + strings.Count(before, `"`) + strings.Count(before, `\`)}
	}
	if e.Line > 1 {
		return diag.Pos{File: file, Line: node.Line + e.Line - 1}
	}
	return diag.Pos{File: file, Line: node.Line, Col: node.Column + e.Col - 1}
}

// blockPos maps an error inside a literal (|) or folded (>) block scalar.
func blockPos(file string, src []byte, node *yaml.Node, e *Error, lines []string) diag.Pos {
	literal := node.Style&yaml.LiteralStyle != 0
	var raw []string
	if src != nil {
		raw = strings.Split(string(src), "\n")
	}
	// First content line: the first non-blank line after the indicator.
	first := node.Line + 1
	indent := -1
	for l := first; l <= len(raw); l++ {
		s := strings.TrimRight(raw[l-1], "\r")
		if strings.TrimSpace(s) == "" {
			continue
		}
		first = l
		indent = len(s) - len(strings.TrimLeft(s, " "))
		break
	}
	if literal || indent < 0 {
		// Literal: value line k is raw line first+k-1 (blank leading lines
		// are part of the value as empty lines; skip them identically).
		lead := 0
		for lead < len(lines) && lines[lead] == "" {
			lead++
		}
		line := first + e.Line - 1 - lead
		if indent < 0 {
			return diag.Pos{File: file, Line: node.Line + e.Line}
		}
		return diag.Pos{File: file, Line: line, Col: indent + e.Col}
	}
	// Folded: the value's line e.Line was built from one or more raw lines
	// joined with single spaces; walk the raw lines to find the column.
	vline := 1
	col := e.Col // 1-based column within the current value line
	for l := first; l <= len(raw); l++ {
		s := strings.TrimRight(raw[l-1], "\r")
		if strings.TrimSpace(s) != "" && len(s)-len(strings.TrimLeft(s, " ")) < indent {
			break // end of the block
		}
		content := ""
		if len(s) > indent {
			content = s[indent:]
		}
		if content == "" { // a blank line ends a value line
			vline++
			col = e.Col
			continue
		}
		if vline == e.Line {
			n := utf8.RuneCountInString(content)
			if col <= n+1 {
				return diag.Pos{File: file, Line: l, Col: indent + col}
			}
			col -= n + 1
		}
	}
	return diag.Pos{File: file, Line: first}
}
