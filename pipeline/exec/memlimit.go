package exec

import (
	"math"
	"os"
	"runtime/debug"

	"github.com/mlrun-cli/mlrun/pipeline"
)

// Soft memory limit of a run, derived from its data.
//
// With the default GOGC=100 the Go heap grows to twice the live heap
// before each collection, so a run whose steps each hold a few hundred MB
// for a moment peaks at twice that. A soft memory limit makes the GC
// collect sooner as the heap nears it instead (it never fails an
// allocation: above the limit the GC runs more often, with at most about
// half the CPU). The live heap of a run peaks at about 2.6 times the size
// of the CSV it loads (the 1M-row example: split holding the dataset with
// its derived columns and the train and test copies; train's fit and
// drift profile stay below that), so the limit is memoryPerInputByte
// times the size of the files the pipeline reads, a little above that
// peak, and at least minMemoryLimit so that small runs never collect more
// than before.
const (
	memoryPerInputByte = 3.0
	minMemoryLimit     = 256 << 20
)

// runMemoryLimit sets the runtime's soft memory limit for a run and
// returns the function that restores it. limit < 0 does nothing; 0
// derives the limit from the sizes of the files p's steps read. A limit
// the process already has (GOMEMLIMIT, or another run's) is kept.
func runMemoryLimit(p *pipeline.Pipeline, limit int64) func() {
	if limit < 0 || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		return func() {}
	}
	if limit == 0 {
		var size int64
		seen := map[string]bool{}
		for _, spec := range p.Steps {
			fr, ok := spec.Compiled.(pipeline.FileReader)
			if !ok {
				continue
			}
			for _, path := range fr.Files() {
				if st, err := os.Stat(path); err == nil && !seen[path] {
					seen[path] = true
					size += st.Size()
				}
			}
		}
		limit = max(int64(memoryPerInputByte*float64(size)), minMemoryLimit)
	}
	debug.SetMemoryLimit(limit)
	return func() {
		// Restore the default unless someone changed the limit since.
		if debug.SetMemoryLimit(-1) == limit {
			debug.SetMemoryLimit(math.MaxInt64)
		}
	}
}
