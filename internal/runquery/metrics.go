package runquery

import (
	"strings"

	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/steps/stats"
)

// BestVariant is the best variant of a matrix sweep by AUC: the evaluate
// step of the group (its id as written) with the highest auc.
type BestVariant struct {
	Group    string
	Step     string
	Variant  string
	AUC      float64
	Variants int
}

// BestVariants returns, for each group of evaluate steps a `matrix:`
// expanded (in record order), the variant with the highest auc (the first
// on ties).
func BestVariants(rec *lineage.RunRecord) []BestVariant {
	var out []BestVariant
	at := map[string]int{}
	for _, s := range rec.Steps {
		auc, ok := s.Metrics["auc"]
		if s.Kind != "evaluate" || s.Group == "" || !ok || auc != auc {
			continue
		}
		i, seen := at[s.Group]
		if !seen {
			at[s.Group] = len(out)
			out = append(out, BestVariant{Group: s.Group, Step: s.ID, Variant: s.Variant, AUC: auc, Variants: 1})
			continue
		}
		out[i].Variants++
		if auc > out[i].AUC {
			out[i].Step, out[i].Variant, out[i].AUC = s.ID, s.Variant, auc
		}
	}
	return out
}

// BestStep reports whether step s stands for the run: it is not a variant
// of a sweep, or it belongs to a best variant.
func BestStep(best []BestVariant, s *lineage.StepRecord) bool {
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

// Metrics flattens a run's step metrics for filters and sorting. Each
// metric is available as step_metric (e.g. evaluation_auc) and, when no
// later step has a metric of the same name, unqualified (auc): the
// unqualified name refers to the last step in the run that reports it. Of
// the variants of a `matrix:` sweep, only the best by auc (BestVariants)
// gives unqualified names, so sorting by -auc ranks runs by their best
// variant. Names are made identifiers by Ident.
func Metrics(r *lineage.RunRecord) map[string]float64 {
	m := map[string]float64{}
	best := BestVariants(r)
	for i := range r.Steps {
		s := &r.Steps[i]
		bestStep := BestStep(best, s)
		for k, v := range s.Metrics {
			k = Ident(k)
			if bestStep {
				m[k] = v
			}
			m[Ident(s.ID)+"_"+k] = v
		}
	}
	return m
}

// Ident makes a metric or step name usable as an expression identifier:
// every character other than an ASCII letter, digit or '_' becomes '_'
// ("rows.test" becomes rows_test).
func Ident(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
			return r
		}
		return '_'
	}, s)
}

// Headline is what a list of runs shows of one evaluate step: the variant
// of a sweep ("" for a plain step) and those of its metrics auc, gini, ks,
// accuracy and f1 it has, in that order.
type Headline struct {
	Step    string       `json:"step"`
	Variant string       `json:"variant,omitempty"`
	Metrics []NamedValue `json:"metrics"`
}

// NamedValue is a named number (NaN is null in JSON).
type NamedValue struct {
	Name  string    `json:"name"`
	Value stats.Num `json:"value"`
}

// Headlines returns the headline of each evaluate step of r that stands
// for the run (BestStep), in record order.
func Headlines(r *lineage.RunRecord) []Headline {
	var out []Headline
	best := BestVariants(r)
	for i := range r.Steps {
		s := &r.Steps[i]
		if s.Kind != "evaluate" || !BestStep(best, s) {
			continue
		}
		h := Headline{Step: s.ID}
		if s.Group != "" {
			h.Variant = s.Variant
		}
		for _, k := range [...]string{"auc", "gini", "ks", "accuracy", "f1"} {
			if v, ok := s.Metrics[k]; ok {
				h.Metrics = append(h.Metrics, NamedValue{k, stats.Num(v)})
			}
		}
		out = append(out, h)
	}
	return out
}
