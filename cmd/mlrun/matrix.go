package main

import (
	"fmt"
	"io"

	"github.com/mlrun-cli/mlrun/internal/runquery"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// writeBestVariants prints the run summary's "best variant by auc" lines.
func writeBestVariants(w io.Writer, rec *lineage.RunRecord) {
	for _, b := range runquery.BestVariants(rec) {
		fmt.Fprintf(w, "\nbest variant by auc (%s, %d variants): %s  auc %s  (%s)\n", b.Group, b.Variants, b.Variant, fmtFloat(b.AUC), b.Step)
	}
}
