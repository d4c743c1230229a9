package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/pipeline"
)

func (a *app) dagCommand() *cobra.Command {
	var (
		params []string
		format string
	)
	cmd := &cobra.Command{
		Use:   "dag FILE",
		Short: "Print the step graph as text, Mermaid or Graphviz dot",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.loadPipeline(args[0], params)
			if err != nil {
				return err
			}
			switch format {
			case "text":
				writeDAGText(a.stdout, p)
			case "mermaid":
				writeDAGMermaid(a.stdout, p)
			case "dot":
				writeDAGDot(a.stdout, p)
			default:
				return pipeline.Invalidf("--format must be text, mermaid or dot, not %q", format)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&params, "param", "p", nil, "override a parameter: name=value (repeatable)")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text, mermaid or dot")
	return cmd
}

func writeDAGText(w io.Writer, p *pipeline.Pipeline) {
	for _, s := range p.Steps {
		var ins []string
		for _, in := range s.Inputs {
			ins = append(ins, in.Port+"="+in.String())
		}
		if len(ins) == 0 {
			fmt.Fprintf(w, "%s (%s)\n", s.ID, s.Kind)
			continue
		}
		fmt.Fprintf(w, "%s (%s) <- %s\n", s.ID, s.Kind, strings.Join(ins, ", "))
	}
}

func writeDAGMermaid(w io.Writer, p *pipeline.Pipeline) {
	fmt.Fprintln(w, "flowchart LR")
	for _, s := range p.Steps {
		fmt.Fprintf(w, "  %s[\"%s<br/><small>%s</small>\"]\n", mermaidID(s.ID), s.ID, s.Kind)
	}
	for _, s := range p.Steps {
		for _, in := range s.Inputs {
			fmt.Fprintf(w, "  %s -->|%s| %s\n", mermaidID(in.Step), in.Output, mermaidID(s.ID))
		}
	}
}

func mermaidID(id string) string { return "s_" + strings.ReplaceAll(id, "-", "_") }

func writeDAGDot(w io.Writer, p *pipeline.Pipeline) {
	fmt.Fprintf(w, "digraph %q {\n  rankdir=LR;\n  node [shape=box];\n", p.Name)
	for _, s := range p.Steps {
		fmt.Fprintf(w, "  %q [label=%q];\n", s.ID, s.ID+"\n("+s.Kind+")")
	}
	for _, s := range p.Steps {
		for _, in := range s.Inputs {
			fmt.Fprintf(w, "  %q -> %q [label=%q];\n", in.Step, s.ID, in.Output)
		}
	}
	fmt.Fprintln(w, "}")
}
