package exec

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// keyPrefix versions the key derivation itself: changing how keys are
// computed must change every key.
const keyPrefix = "mlrun step cache key v1\n"

// keyInput is an input's part of a cache key: the object id and type.
type keyInput struct {
	ID   lineage.ID `json:"id"`
	Type string     `json:"type"`
}

// keyDesc is the complete description of a step's computation. Its
// canonical JSON (struct fields in order, map keys sorted, config compacted)
// hashed with SHA-256 is the step's cache key. It holds nothing that varies
// between runs of the same computation (no run id, no time, no Jobs).
type keyDesc struct {
	Kind    string              `json:"kind"`
	Version int                 `json:"version"`
	Config  json.RawMessage     `json:"config"`
	Inputs  map[string]keyInput `json:"inputs"`
	Files   []lineage.KeyFile   `json:"files"`
}

func (d *keyDesc) key() (string, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("encode cache key: %w", err)
	}
	return lineage.Hash(append([]byte(keyPrefix), b...)).String(), nil
}

// stepDesc gathers what a step's key is made of. inputs maps each port to
// the producer's output reference; files are fingerprinted through the
// store (memoised unless rehash).
func stepDesc(ctx context.Context, p *pipeline.Pipeline, spec *pipeline.StepSpec, kind pipeline.Kind,
	inputs map[string]lineage.ObjectRef, store *lineage.Store, rehash bool) (*keyDesc, map[string]pipeline.FileInfo, error) {
	cfg, err := json.Marshal(spec.Compiled.CacheConfig())
	if err != nil {
		return nil, nil, fmt.Errorf("encode settings: %w", err)
	}
	d := &keyDesc{
		Kind:    kind.Name(),
		Version: kind.Version(),
		Config:  cfg,
		Inputs:  make(map[string]keyInput, len(inputs)),
		Files:   []lineage.KeyFile{},
	}
	for port, ref := range inputs {
		d.Inputs[port] = keyInput{ID: ref.ID, Type: ref.Type}
	}
	var files map[string]pipeline.FileInfo
	if fr, ok := spec.Compiled.(pipeline.FileReader); ok {
		paths := fr.Files()
		files = make(map[string]pipeline.FileInfo, len(paths))
		for _, path := range paths {
			fi, err := store.Fingerprint(ctx, path, rehash)
			if err != nil {
				return nil, nil, err
			}
			files[path] = fi
			d.Files = append(d.Files, lineage.KeyFile{Path: keyPath(p, path), SHA256: fi.SHA256, Size: fi.Size})
		}
		sort.SliceStable(d.Files, func(i, j int) bool { return d.Files[i].Path < d.Files[j].Path })
	}
	return d, files, nil
}

// keyPath names a file in a cache key: relative to the pipeline's
// directory when inside it, so that moving a checkout keeps its cache.
func keyPath(p *pipeline.Pipeline, path string) string {
	if p.Dir != "" {
		abs, err1 := filepath.Abs(path)
		dir, err2 := filepath.Abs(p.Dir)
		if err1 == nil && err2 == nil {
			if rel, err := filepath.Rel(dir, abs); err == nil && filepath.IsLocal(rel) {
				return filepath.ToSlash(rel)
			}
		}
	}
	return filepath.ToSlash(path)
}

func keyRecord(p *pipeline.Pipeline, spec *pipeline.StepSpec, d *keyDesc, key, runID string) *lineage.KeyRecord {
	rec := &lineage.KeyRecord{
		Pipeline: p.Name, Step: spec.ID, Key: key, Kind: d.Kind, KindVersion: d.Version,
		Config: d.Config, Files: d.Files, RunID: runID,
		Inputs: make(map[string]lineage.ObjectRef, len(d.Inputs)),
	}
	for port, in := range d.Inputs {
		rec.Inputs[port] = lineage.ObjectRef{ID: in.ID, Type: in.Type}
	}
	return rec
}
