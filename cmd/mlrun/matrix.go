package main

import (
	"fmt"
	"io"

	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// bestVariant is the best variant of a matrix sweep by AUC: the evaluate
// step of the group (its id as written) with the highest auc.
type bestVariant struct {
	Group    string
	Step     string
	Variant  string
	AUC      float64
	Variants int
}

// bestVariants returns, for each group of evaluate steps a `matrix:`
// expanded (in record order), the variant with the highest auc (the
// first on ties).
func bestVariants(rec *lineage.RunRecord) []bestVariant {
	var out []bestVariant
	at := map[string]int{}
	for _, s := range rec.Steps {
		auc, ok := s.Metrics["auc"]
		if s.Kind != "evaluate" || s.Group == "" || !ok || auc != auc {
			continue
		}
		i, seen := at[s.Group]
		if !seen {
			at[s.Group] = len(out)
			out = append(out, bestVariant{Group: s.Group, Step: s.ID, Variant: s.Variant, AUC: auc, Variants: 1})
			continue
		}
		out[i].Variants++
		if auc > out[i].AUC {
			out[i].Step, out[i].Variant, out[i].AUC = s.ID, s.Variant, auc
		}
	}
	return out
}

// bestStep reports whether grouped step s belongs to a best variant (its
// unqualified metrics then stand for the run).
func bestStep(best []bestVariant, s *lineage.StepRecord) bool {
	if s.Group == "" {
		return true
	}
	for _, b := range best {
		if s.Variant == b.Variant {
			return true
		}
	}
	return false
}

// writeBestVariants prints the run summary's "best variant by auc" lines.
func writeBestVariants(w io.Writer, rec *lineage.RunRecord) {
	for _, b := range bestVariants(rec) {
		fmt.Fprintf(w, "\nbest variant by auc (%s, %d variants): %s  auc %s  (%s)\n", b.Group, b.Variants, b.Variant, fmtFloat(b.AUC), b.Step)
	}
}
