package main

import (
	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/pipeline"
)

func (a *app) schemaCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the pipeline format",
		Long: `Print the JSON Schema of the pipeline format, generated from the registered
step kinds. The same schema is committed as schemas/pipeline.schema.json; editors
use it through a "# yaml-language-server: $schema=..." line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := a.registry()
			if err != nil {
				return err
			}
			b, err := pipeline.GenerateSchema(reg)
			if err != nil {
				return err
			}
			_, err = a.stdout.Write(b)
			return err
		},
	}
}
