package exec

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline"
)

// readsFile is a compiled step reading one file.
type readsFile struct {
	pipeline.Compiled
	path string
}

func (r readsFile) Files() []string { return []string{r.path} }

func TestRunMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	debug.SetMemoryLimit(math.MaxInt64)

	path := filepath.Join(t.TempDir(), "data.csv")
	if err := os.WriteFile(path, make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &pipeline.Pipeline{Steps: []*pipeline.StepSpec{
		{ID: "a", Compiled: readsFile{path: path}},
		{ID: "b", Compiled: readsFile{path: path}}, // counted once
	}}
	// Small inputs: the floor.
	restore := runMemoryLimit(p, 0)
	if got := debug.SetMemoryLimit(-1); got != minMemoryLimit {
		t.Errorf("limit %d, want %d", got, minMemoryLimit)
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("not restored: %d", got)
	}
	// Large inputs: proportional to their size.
	if err := os.Truncate(path, 200<<20); err != nil {
		t.Fatal(err)
	}
	restore = runMemoryLimit(p, 0)
	if got, want := debug.SetMemoryLimit(-1), int64(memoryPerInputByte*(200<<20)); got != want {
		t.Errorf("limit %d, want %d", got, want)
	}
	restore()
	// An explicit limit; none; a limit the process already has is kept.
	restore = runMemoryLimit(p, 123<<20)
	if got := debug.SetMemoryLimit(-1); got != 123<<20 {
		t.Errorf("explicit limit: %d", got)
	}
	restore()
	restore = runMemoryLimit(p, -1)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("negative: limit %d", got)
	}
	restore()
	debug.SetMemoryLimit(1 << 30)
	restore = runMemoryLimit(p, 0)
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Errorf("existing limit replaced: %d", got)
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Errorf("existing limit not kept: %d", got)
	}
}
