package pdiff

import (
	"fmt"
	"io"
	"strings"
)

// WriteText writes the report for a terminal.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "diff %s %s\n", r.Old, r.New)
	if r.Empty() {
		b.WriteString("no semantic changes: every step keeps its cache key\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	if len(r.Pipeline) > 0 {
		b.WriteString("\npipeline:\n")
		for _, c := range r.Pipeline {
			fmt.Fprintf(&b, "  ~ %s\n", c)
		}
	}
	if len(r.Params) > 0 {
		b.WriteString("\nparams:\n")
		for _, p := range r.Params {
			fmt.Fprintf(&b, "  %s\n", p.line())
		}
	}
	if len(r.Steps) > 0 {
		b.WriteString("\nsteps:\n")
		for _, s := range r.Steps {
			fmt.Fprintf(&b, "  %s\n", s.line())
			for _, e := range s.Expressions {
				writeExprText(&b, e)
			}
			for _, c := range s.Settings {
				fmt.Fprintf(&b, "      %s\n", c)
			}
		}
	}
	if len(r.Rerun) > 0 {
		fmt.Fprintf(&b, "\nre-run: %d of %d steps\n", len(r.Rerun), r.StepCount)
		width := 4
		for _, rr := range r.Rerun {
			width = max(width, len(rr.ID))
		}
		for _, rr := range r.Rerun {
			fmt.Fprintf(&b, "  %-*s  %s\n", width, rr.ID, strings.Join(rr.Reasons, "; "))
		}
	} else {
		b.WriteString("\nre-run: none, every step keeps its cache key\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeExprText(b *strings.Builder, e Change) {
	fmt.Fprintf(b, "      expression %s %s\n", e.Path, opWord(e.Op))
	if s, ok := e.Old.(string); ok {
		fmt.Fprintf(b, "        - %s\n", s)
	} else if e.Old != nil {
		fmt.Fprintf(b, "        - %s\n", Render(e.Old))
	}
	if s, ok := e.New.(string); ok {
		fmt.Fprintf(b, "        + %s\n", s)
	} else if e.New != nil {
		fmt.Fprintf(b, "        + %s\n", Render(e.New))
	}
}

func opWord(op string) string {
	switch op {
	case OpAdded:
		return "added:"
	case OpRemoved:
		return "removed:"
	}
	return "changed:"
}

func (p ParamChange) line() string {
	var s string
	switch p.Op {
	case OpAdded:
		s = fmt.Sprintf("+ %s: %s", p.Name, Render(p.New))
	case OpRemoved:
		s = fmt.Sprintf("- %s (was %s)", p.Name, Render(p.Old))
	default:
		s = fmt.Sprintf("~ %s: %s -> %s", p.Name, Render(p.Old), Render(p.New))
	}
	if len(p.UsedBy) > 0 {
		s += "  (used by " + strings.Join(p.UsedBy, ", ") + ")"
	} else if p.Op != OpRemoved {
		s += "  (used by no step)"
	}
	return s
}

func (s StepChange) line() string {
	switch s.Op {
	case OpAdded:
		l := fmt.Sprintf("+ %s (%s): new step", s.ID, s.Kind)
		if len(s.After) > 0 {
			l += ", reads " + strings.Join(s.After, ", ")
		}
		return l
	case OpRemoved:
		return fmt.Sprintf("- %s (%s): removed", s.ID, s.Kind)
	case OpRenamed:
		return fmt.Sprintf("> %s -> %s (%s): renamed, same definition", s.OldID, s.ID, s.Kind)
	}
	return fmt.Sprintf("~ %s (%s)", s.ID, s.Kind)
}

// WriteMarkdown writes the report as Markdown, for a pull-request comment.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### Pipeline diff: `%s` → `%s`\n\n", r.Old, r.New)
	if r.Empty() {
		b.WriteString("No semantic changes: every step keeps its cache key.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	if len(r.Rerun) > 0 {
		fmt.Fprintf(&b, "**%d of %d steps re-run.**\n\n", len(r.Rerun), r.StepCount)
	} else {
		b.WriteString("**No step re-runs.**\n\n")
	}
	if len(r.Pipeline) > 0 {
		b.WriteString("#### Pipeline\n\n")
		for _, c := range r.Pipeline {
			fmt.Fprintf(&b, "- %s\n", mdCode(c.String()))
		}
		b.WriteString("\n")
	}
	if len(r.Params) > 0 {
		b.WriteString("#### Params\n\n| param | change | old | new | used by |\n|---|---|---|---|---|\n")
		for _, p := range r.Params {
			old, nw := "", ""
			if p.Old != nil {
				old = mdCode(Render(p.Old))
			}
			if p.New != nil {
				nw = mdCode(Render(p.New))
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", p.Name, p.Op, old, nw, mdList(p.UsedBy))
		}
		b.WriteString("\n")
	}
	if len(r.Steps) > 0 {
		b.WriteString("#### Steps\n\n")
		for _, s := range r.Steps {
			switch s.Op {
			case OpAdded:
				fmt.Fprintf(&b, "- **added** `%s` (%s)", s.ID, s.Kind)
				if len(s.After) > 0 {
					fmt.Fprintf(&b, ", reads %s", mdList(s.After))
				}
				b.WriteString("\n")
			case OpRemoved:
				fmt.Fprintf(&b, "- **removed** `%s` (%s)\n", s.ID, s.Kind)
			case OpRenamed:
				fmt.Fprintf(&b, "- **renamed** `%s` → `%s` (%s), same definition\n", s.OldID, s.ID, s.Kind)
			default:
				fmt.Fprintf(&b, "- **changed** `%s` (%s)\n", s.ID, s.Kind)
			}
			for _, e := range s.Expressions {
				fmt.Fprintf(&b, "  - expression `%s` %s\n\n    ```diff\n", e.Path, opWord(e.Op))
				if e.Old != nil {
					fmt.Fprintf(&b, "    - %s\n", exprText(e.Old))
				}
				if e.New != nil {
					fmt.Fprintf(&b, "    + %s\n", exprText(e.New))
				}
				b.WriteString("    ```\n")
			}
			for _, c := range s.Settings {
				fmt.Fprintf(&b, "  - %s\n", mdCode(c.String()))
			}
		}
		b.WriteString("\n")
	}
	if len(r.Rerun) > 0 {
		b.WriteString("#### Re-runs\n\n| step | why |\n|---|---|\n")
		for _, rr := range r.Rerun {
			var why []string
			for _, x := range rr.Reasons {
				why = append(why, mdCode(x))
			}
			fmt.Fprintf(&b, "| `%s` | %s |\n", rr.ID, strings.Join(why, "<br>"))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func exprText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return Render(v)
}

// mdCode renders s as inline code safe inside a table cell.
func mdCode(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	if strings.Contains(s, "`") {
		return "``" + s + "``"
	}
	return "`" + s + "`"
}

func mdList(ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = "`" + id + "`"
	}
	return strings.Join(out, ", ")
}
