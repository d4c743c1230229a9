// Package monhistory is the history of monitored batches: the record kept
// for each batch a model was monitored on (records/monitor/<name>, by
// `mlrun monitor` and by a pipeline's monitor steps), and the selection of
// a model's batches, oldest first, that `mlrun monitor history` prints and
// `mlrun ui` charts.
//
// A batch belongs to a registered version when it was monitored by the
// version (Model and Version set), by the run and train step that produced
// it, or on the same model object (a pipeline may monitor a model whose
// train step was cached from another run).
package monhistory

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
	"github.com/mlrun-cli/mlrun/steps/monitor"
)

// NS is the record namespace of monitored batches:
// records/monitor/<run>--<step>--<time>.
const NS = "monitor"

// Record is the record of one monitored batch.
type Record struct {
	Time time.Time `json:"time"`
	Run  string    `json:"run"`
	Step string    `json:"step"`
	// Model and Version name the registered model version monitored
	// (empty when the batch was monitored by --run and --step).
	Model   string `json:"model,omitempty"`
	Version int    `json:"version,omitempty"`
	// ModelObject is the model compared; history matches a registered
	// version by it.
	ModelObject lineage.ID `json:"model_object,omitzero"`
	Data        string     `json:"data"`
	SHA256      string     `json:"data_sha256"`
	Rows        int        `json:"rows"`
	// Report is the monitor report object (a steps/monitor Report).
	Report lineage.ID `json:"report"`
	// Config says where the checks came from: a monitor step of the run,
	// a --config file, or the defaults.
	Config string  `json:"config"`
	Failed bool    `json:"failed"`
	Checks []Check `json:"checks"`
	// Alerts says what became of the batch's alert at each sink.
	Alerts []lineage.AlertStatus `json:"alerts,omitempty"`
}

// Check is one check's outcome on a batch, with its first value.
type Check struct {
	Name     string  `json:"name"`
	Passed   bool    `json:"passed"`
	Severity string  `json:"severity"`
	Value    float64 `json:"value"`
	Defined  bool    `json:"defined"`
	// NotEvaluated marks a check that could not be evaluated
	// (monitor.NotEvaluated): not passed, a failure when critical.
	NotEvaluated bool `json:"not_evaluated,omitempty"`
}

// Condense condenses checks for the history: each check's outcome and its
// first value (by name); failed reports whether a critical one failed.
func Condense(checks []pipeline.Check) (failed bool, out []Check) {
	for _, c := range checks {
		failed = failed || c.Failed()
		hc := Check{Name: c.Name, Passed: c.Passed, Severity: c.Severity, NotEvaluated: monitor.NotEvaluated(c)}
		if len(c.Values) > 0 {
			keys := make([]string, 0, len(c.Values))
			for k := range c.Values {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			hc.Value, hc.Defined = c.Values[keys[0]], true
		}
		out = append(out, hc)
	}
	return failed, out
}

// Selector says which batches belong to a model: by the run and train
// step that made it, or by its model object, each mapped to a version
// number (0: a run's model, not registered).
type Selector struct {
	// Model is the registered model's name ("" for a run's model): the
	// batches selected are shown as its versions.
	Model    string
	versions map[string]int
	objects  map[lineage.ID]int
}

// ForModel selects the batches of a registered model: NAME every
// version's, NAME@N or NAME@ALIAS one version's.
func ForModel(ctx context.Context, reg *registry.Registry, ref string) (*Selector, error) {
	m, v, err := reg.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	sel := &Selector{Model: m.Name, versions: map[string]int{}, objects: map[lineage.ID]int{}}
	if strings.Contains(ref, "@") {
		sel.add(v)
		return sel, nil
	}
	for _, vr := range m.Versions {
		ver, err := reg.Version(ctx, m, vr.Version)
		if err != nil {
			return nil, err
		}
		sel.add(ver)
	}
	return sel, nil
}

func (s *Selector) add(v *registry.Version) {
	s.versions[v.Run+"--"+v.Step] = v.Version
	s.objects[v.Object.ID] = v.Version
}

// ForRun selects the batches of the model a run's train step made.
func ForRun(run *lineage.RunRecord, step string) *Selector {
	sel := &Selector{versions: map[string]int{run.ID + "--" + step: 0}, objects: map[lineage.ID]int{}}
	if s := run.Step(step); s != nil {
		if o, ok := s.Outputs["model"]; ok {
			sel.objects[o.ID] = 0
		}
	}
	return sel
}

// List returns the records of the batches sel selects at view v, oldest
// first; with a registered model, each names the model and its version.
func List(ctx context.Context, v *lineage.View, sel *Selector) ([]*Record, error) {
	names, err := v.List(ctx, NS)
	if err != nil {
		return nil, err
	}
	var recs []*Record
	for _, n := range names {
		var r Record
		if err := v.GetJSON(ctx, NS, n, &r); err != nil {
			return nil, fmt.Errorf("monitor record %s: %w", n, err)
		}
		ver, ok := sel.versions[r.Run+"--"+r.Step]
		if !ok && !r.ModelObject.IsNull() {
			ver, ok = sel.objects[r.ModelObject]
		}
		if !ok {
			continue
		}
		if sel.Model != "" {
			r.Model, r.Version = sel.Model, ver
		}
		recs = append(recs, &r)
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Time.Before(recs[j].Time) })
	return recs, nil
}
