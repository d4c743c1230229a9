// Package diag holds the diagnostics mlrun reports about pipeline files and
// inputs: a severity, a message and a position (file:line:col), collected in
// a List so that every problem in a file is reported at once, sorted by
// position.
package diag

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in a source file. Line and Col are 1-based; a zero Line
// means the position is unknown (only the file is named).
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

// String renders the position as file:line:col, dropping unknown parts.
func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	default:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	}
}

// Before reports whether p sorts before q (file, then line, then column).
func (p Pos) Before(q Pos) bool {
	if p.File != q.File {
		return p.File < q.File
	}
	if p.Line != q.Line {
		return p.Line < q.Line
	}
	return p.Col < q.Col
}

// Severity says whether a diagnostic fails the pipeline.
type Severity int

const (
	// Error makes the pipeline invalid.
	Error Severity = iota
	// Warning is reported but does not fail.
	Warning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Diagnostic is one problem found in a pipeline file or one of its inputs.
type Diagnostic struct {
	Pos      Pos      `json:"pos"`
	Severity Severity `json:"-"`
	Message  string   `json:"message"`
	// Snippet is an optional excerpt of the source line with a caret.
	Snippet string `json:"snippet,omitempty"`
}

// String renders "file:line:col: message".
func (d Diagnostic) String() string {
	prefix := ""
	if d.Severity == Warning {
		prefix = "warning: "
	}
	if d.Pos == (Pos{}) {
		return prefix + d.Message
	}
	return d.Pos.String() + ": " + prefix + d.Message
}

// List collects diagnostics. The zero value is ready to use.
type List struct {
	items []Diagnostic
}

// Add appends an error at pos.
func (l *List) Add(pos Pos, format string, args ...any) {
	l.items = append(l.items, Diagnostic{Pos: pos, Severity: Error, Message: fmt.Sprintf(format, args...)})
}

// Warn appends a warning at pos.
func (l *List) Warn(pos Pos, format string, args ...any) {
	l.items = append(l.items, Diagnostic{Pos: pos, Severity: Warning, Message: fmt.Sprintf(format, args...)})
}

// Append adds already-built diagnostics.
func (l *List) Append(ds ...Diagnostic) { l.items = append(l.items, ds...) }

// Merge adds every diagnostic of other.
func (l *List) Merge(other *List) {
	if other != nil {
		l.items = append(l.items, other.items...)
	}
}

// HasErrors reports whether any diagnostic is an error.
func (l *List) HasErrors() bool {
	for _, d := range l.items {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Len returns the number of diagnostics.
func (l *List) Len() int { return len(l.items) }

// Items returns the diagnostics sorted by position (stable, duplicates removed).
func (l *List) Items() []Diagnostic {
	out := make([]Diagnostic, len(l.items))
	copy(out, l.items)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pos.Before(out[j].Pos) })
	dedup := out[:0]
	for i, d := range out {
		if i > 0 && d.Pos == out[i-1].Pos && d.Message == out[i-1].Message {
			continue
		}
		dedup = append(dedup, d)
	}
	return dedup
}

// Err returns nil when the list holds no errors, otherwise an *Errors with
// every diagnostic (warnings included) sorted by position.
func (l *List) Err() error {
	if !l.HasErrors() {
		return nil
	}
	return &Errors{Diagnostics: l.Items()}
}

// Errors is the error returned for an invalid pipeline: every diagnostic,
// sorted by position. Its exit code is 2.
type Errors struct {
	Diagnostics []Diagnostic
}

// Error renders one diagnostic per line.
func (e *Errors) Error() string {
	var b strings.Builder
	for i, d := range e.Diagnostics {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(d.String())
	}
	return b.String()
}

// ExitCode is 2: the pipeline or its usage is invalid.
func (e *Errors) ExitCode() int { return 2 }

// AsErrors extracts an *Errors from err's chain.
func AsErrors(err error) (*Errors, bool) {
	var e *Errors
	ok := errors.As(err, &e)
	return e, ok
}
