package runquery

import (
	"fmt"
	"math"

	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// Diff is the difference between two runs (`mlrun runs diff`): params,
// data files, steps and metrics.
type Diff struct {
	A        string         `json:"a"`
	B        string         `json:"b"`
	Params   []ValueChange  `json:"params,omitempty"`
	Files    []FileChange   `json:"files,omitempty"`
	Steps    []StepChange   `json:"steps,omitempty"`
	Metrics  []MetricChange `json:"metrics,omitempty"`
	Pipeline *ValueChange   `json:"pipeline_file,omitempty"`
	Version  *ValueChange   `json:"mlrun_version,omitempty"`
}

// ValueChange is a named value that differs.
type ValueChange struct {
	Name string `json:"name"`
	A    any    `json:"a"`
	B    any    `json:"b"`
}

// FileChange is an input file of a step whose SHA-256 differs (empty:
// the step did not read it in that run).
type FileChange struct {
	Step string `json:"step"`
	Path string `json:"path"`
	A    string `json:"a_sha256"`
	B    string `json:"b_sha256"`
}

// StepChange is a step added, removed, or changed (kind, cache key, status).
type StepChange struct {
	Step   string `json:"step"`
	Change string `json:"change"`
}

// MetricChange is a step metric that differs (NaN: absent in that run).
type MetricChange struct {
	Step   string  `json:"step"`
	Metric string  `json:"metric"`
	A      float64 `json:"a"`
	B      float64 `json:"b"`
	Delta  float64 `json:"delta"`
}

// DiffRuns compares run a with run b: the pipeline file, the mlrun
// version, params, each step of b against the step of a with the same id
// (files, kind, cache key, status, metrics), and the steps of a that b
// lacks.
func DiffRuns(ra, rb *lineage.RunRecord) *Diff {
	d := &Diff{A: ra.ID, B: rb.ID}
	if ra.FileSHA256 != rb.FileSHA256 || ra.File != rb.File {
		d.Pipeline = &ValueChange{Name: "file", A: ra.File + " sha256:" + short(ra.FileSHA256), B: rb.File + " sha256:" + short(rb.FileSHA256)}
	}
	if ra.Version != rb.Version {
		d.Version = &ValueChange{Name: "mlrun", A: ra.Version, B: rb.Version}
	}
	keys := map[string]bool{}
	for k := range ra.Params {
		keys[k] = true
	}
	for k := range rb.Params {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		va, oka := ra.Params[k]
		vb, okb := rb.Params[k]
		if oka != okb || fmt.Sprint(va) != fmt.Sprint(vb) {
			c := ValueChange{Name: k, A: va, B: vb}
			if !oka {
				c.A = nil
			}
			if !okb {
				c.B = nil
			}
			d.Params = append(d.Params, c)
		}
	}
	stepsA := map[string]*lineage.StepRecord{}
	for i := range ra.Steps {
		stepsA[ra.Steps[i].ID] = &ra.Steps[i]
	}
	seen := map[string]bool{}
	for i := range rb.Steps {
		sb := &rb.Steps[i]
		seen[sb.ID] = true
		sa, ok := stepsA[sb.ID]
		if !ok {
			d.Steps = append(d.Steps, StepChange{Step: sb.ID, Change: "added"})
			continue
		}
		filesA := map[string]string{}
		for _, f := range sa.Files {
			filesA[f.Path] = f.SHA256
		}
		filesB := map[string]bool{}
		for _, f := range sb.Files {
			filesB[f.Path] = true
			if ha, ok := filesA[f.Path]; ok && ha != f.SHA256 {
				d.Files = append(d.Files, FileChange{Step: sb.ID, Path: f.Path, A: ha, B: f.SHA256})
			} else if !ok {
				d.Files = append(d.Files, FileChange{Step: sb.ID, Path: f.Path, B: f.SHA256})
			}
		}
		for _, f := range sa.Files {
			if !filesB[f.Path] { // the step reads another file now
				d.Files = append(d.Files, FileChange{Step: sb.ID, Path: f.Path, A: f.SHA256})
			}
		}
		switch {
		case sa.Kind != sb.Kind:
			d.Steps = append(d.Steps, StepChange{Step: sb.ID, Change: fmt.Sprintf("kind %s -> %s", sa.Kind, sb.Kind)})
		case sa.CacheKey != sb.CacheKey:
			d.Steps = append(d.Steps, StepChange{Step: sb.ID, Change: fmt.Sprintf("cache key %s -> %s%s", short(sa.CacheKey), short(sb.CacheKey), outputsChange(sa, sb))})
		case sa.Status != sb.Status:
			d.Steps = append(d.Steps, StepChange{Step: sb.ID, Change: fmt.Sprintf("status %s -> %s", sa.Status, sb.Status)})
		}
		for _, k := range unionKeys(sa.Metrics, sb.Metrics) {
			va, oka := sa.Metrics[k]
			vb, okb := sb.Metrics[k]
			if !oka {
				va = math.NaN()
			}
			if !okb {
				vb = math.NaN()
			}
			if va != vb && !(math.IsNaN(va) && math.IsNaN(vb)) {
				d.Metrics = append(d.Metrics, MetricChange{Step: sb.ID, Metric: k, A: va, B: vb, Delta: vb - va})
			}
		}
	}
	for i := range ra.Steps {
		if !seen[ra.Steps[i].ID] {
			d.Steps = append(d.Steps, StepChange{Step: ra.Steps[i].ID, Change: "removed"})
		}
	}
	return d
}

// outputsChange says whether two steps with different cache keys gave the
// same outputs.
func outputsChange(sa, sb *lineage.StepRecord) string {
	for k, oa := range sa.Outputs {
		if ob, ok := sb.Outputs[k]; ok && ob.ID != oa.ID {
			return ", outputs differ"
		}
	}
	if len(sa.Outputs) > 0 {
		return ", same outputs"
	}
	return ""
}

// unionKeys returns the metric names of a or b, sorted.
func unionKeys(a, b lineage.Metrics) []string {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return sortedKeys(keys)
}

func short(hex string) string {
	if len(hex) > 12 {
		return hex[:12]
	}
	return hex
}
