package scoring

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// Source returns the pipeline file a run read: the copy the store keeps
// (RunRecord.Source), else, for a run recorded before mlrun kept it, the
// file at path (the run's file when empty) when its SHA-256 is still the
// run's (exit code 2 otherwise).
func Source(ctx context.Context, st *lineage.Store, run *lineage.RunRecord, path string) ([]byte, error) {
	if !run.Source.IsNull() {
		src, err := st.GetObject(ctx, run.Source)
		if err != nil {
			return nil, fmt.Errorf("pipeline source of run %s: %w", run.ID, err)
		}
		return src, nil
	}
	if path == "" {
		path = run.File
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("pipeline file of run %s (recorded before mlrun kept a copy in the store): %w (use --pipeline PATH if it moved)", run.ID, err))
	}
	if sum := sha256.Sum256(src); hex.EncodeToString(sum[:]) != run.FileSHA256 {
		return nil, pipeline.Invalidf("pipeline file %s changed since run %s read it (sha256 %s then, %s now), and the run was recorded before mlrun kept a copy in the store: the steps the model was trained behind are unknown",
			path, run.ID, short(run.FileSHA256), short(hex.EncodeToString(sum[:])))
	}
	return src, nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// LoadedSchema returns a function giving the schema the run's load step
// read (from its stored output), for Build.
func LoadedSchema(ctx context.Context, st *lineage.Store, run *lineage.RunRecord) func(string) *table.Schema {
	return func(loadStep string) *table.Schema {
		if s := run.Step(loadStep); s != nil {
			if o, ok := s.Outputs["data"]; ok {
				if b, err := st.GetObject(ctx, o.ID); err == nil {
					if ds, err := table.Decode(b); err == nil {
						return ds.Schema()
					}
				}
			}
		}
		return nil
	}
}

// ForRun builds the chain of a run's train step from the pipeline the run
// read (path: see Source).
func ForRun(ctx context.Context, st *lineage.Store, kinds *pipeline.Registry, run *lineage.RunRecord, trainStep, path string) (*Chain, error) {
	src, err := Source(ctx, st, run, path)
	if err != nil {
		return nil, err
	}
	return Build(src, sourceStep(run, trainStep), run.Params, kinds, LoadedSchema(ctx, st, run))
}

// sourceStep is the id the pipeline file gives a run's step: a variant of a
// matrix sweep is written as its group.
func sourceStep(run *lineage.RunRecord, step string) string {
	if s := run.Step(step); s != nil && s.Group != "" {
		return s.Group
	}
	return step
}

// ForVersion returns the chain of a registered version: the one it keeps,
// else (versions registered before mlrun kept it) the chain of its run.
func ForVersion(ctx context.Context, st *lineage.Store, kinds *pipeline.Registry, v *registry.Version, path string) (*Chain, error) {
	if !v.Chain.IsNull() {
		b, err := st.GetObject(ctx, v.Chain)
		if err != nil {
			return nil, fmt.Errorf("%s: scoring chain %s: %w", v.Ref(), v.Chain.Short(), err)
		}
		return Decode(b)
	}
	run, err := st.GetRun(ctx, v.Run)
	if err != nil {
		return nil, fmt.Errorf("%s: run %s: %w", v.Ref(), v.Run, err)
	}
	return ForRun(ctx, st, kinds, run, v.Step, path)
}

// Fill records in a version about to be registered what scoring,
// monitoring and reporting it need, storing the objects: the pipeline
// source, the resolved chain, and the pipeline's model card, protected
// attributes and reason texts. A run whose pipeline source is lost (one
// recorded before mlrun kept it, whose file changed since) is registered
// without them: its version reads the run as before.
func Fill(ctx context.Context, st *lineage.Store, kinds *pipeline.Registry, run *lineage.RunRecord, v *registry.Version) error {
	src, err := Source(ctx, st, run, "")
	if err != nil {
		return nil
	}
	id := run.Source
	if id.IsNull() {
		if id, err = st.PutBytes(ctx, src); err != nil {
			return err
		}
	}
	v.Source = id
	ch, err := Build(src, sourceStep(run, v.Step), run.Params, kinds, LoadedSchema(ctx, st, run))
	if err != nil {
		return fmt.Errorf("step %s of run %s: scoring chain: %w", v.Step, run.ID, err)
	}
	b, err := json.Marshal(ch)
	if err != nil {
		return err
	}
	if v.Chain, err = st.PutBytes(ctx, b); err != nil {
		return err
	}
	p, err := pipeline.Parse(run.File, src, pipeline.LoadOptions{Registry: kinds})
	if err != nil {
		return fmt.Errorf("the pipeline run %s read: %w", run.ID, err)
	}
	v.ModelCard, v.Protected, v.Reasons, v.Description = p.ModelCard, p.Protected, p.Reasons, p.Description
	return nil
}
