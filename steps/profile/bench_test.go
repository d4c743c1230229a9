package profile

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mlrun-cli/mlrun/steps/stats"
)

// The issue-4 drift benchmark (bench/stages/drift.sh). bench/drift.py gen
// writes $MLRUN_BENCH_DRIFT_DIR/drift_ref.npy and drift_cur.npy, float64
// arrays of shape (features, rows); bench/drift.py run times scipy and
// numpy on the same numbers.

type driftData struct {
	cur   [][]float64
	feats []Feature // the frozen profile of the reference, built once
	err   error
}

var (
	driftOnce sync.Once
	driftD    driftData
)

func driftDir(b *testing.B) string {
	dir := os.Getenv("MLRUN_BENCH_DRIFT_DIR")
	if dir == "" {
		b.Skip("MLRUN_BENCH_DRIFT_DIR is not set: run bench/stages/drift.sh")
	}
	return dir
}

// loadDrift builds the frozen profile of the reference once per process
// (the -count runs share it), drops the raw reference, as monitoring never
// holds it, then reads the current batch.
func loadDrift(b *testing.B) *driftData {
	dir := driftDir(b)
	driftOnce.Do(func() {
		d := &driftD
		ref, err := readNpy2D(filepath.Join(dir, "drift_ref.npy"))
		if err != nil {
			d.err = err
			return
		}
		d.feats = buildProfile(ref)
		ref = nil
		debug.FreeOSMemory()
		if d.cur, d.err = readNpy2D(filepath.Join(dir, "drift_cur.npy")); d.err != nil {
			return
		}
		if len(d.feats) != len(d.cur) {
			d.err = fmt.Errorf("%d reference features, %d current", len(d.feats), len(d.cur))
		}
	})
	if driftD.err != nil {
		b.Fatal(driftD.err)
	}
	return &driftD
}

func buildProfile(ref [][]float64) []Feature {
	feats := make([]Feature, len(ref))
	for i, v := range ref {
		feats[i] = NumericFeature("f"+strconv.Itoa(i), v, DefaultBins)
	}
	return feats
}

// featureDriftResult is one feature's statistics, as bench/drift.py
// compare reads them.
type featureDriftResult struct {
	Feature     int       `json:"feature"`
	KSStatistic float64   `json:"ks_statistic"`
	KSPValue    float64   `json:"ks_pvalue"`
	KSExact     bool      `json:"ks_exact"`
	PSI         float64   `json:"psi"`
	Edges       []float64 `json:"edges"`
}

// batchDrift is what the monitor step does for the KS and PSI of one
// numeric feature of a batch (steps/monitor featureDrift, without the
// column-to-[]float64 conversion): sort the batch without NaNs, count it in
// the feature's bins of the psi_bins convention (the frozen bins for the
// default, right_closed), PSI of the shares, KS against the frozen sorted
// reference.
func batchDrift(ref *Feature, cur []float64) (stats.KSResult, float64, error) {
	return batchDriftIn(ref, cur, EdgesBinning)
}

func batchDriftIn(ref *Feature, cur []float64, b stats.Binning) (stats.KSResult, float64, error) {
	v := stats.SortedCopy(cur)
	edges, refCounts := ref.Bins(b, DefaultBins)
	counts := b.Counts(v, edges)
	psi, err := stats.PSI(stats.Shares(refCounts), stats.Shares(counts))
	if err != nil {
		return stats.KSResult{}, 0, err
	}
	ks, err := stats.KS2SampSorted(ref.Sorted, v)
	return ks, psi, err
}

// BenchmarkDriftBatch times KS (statistic and p-value) and PSI over every
// feature of the current batch against the frozen profile, one feature
// after the other as the monitor step does. Sorting the batch is timed;
// building the profile (sorting the reference, its edges and counts) is
// not: see BenchmarkDriftProfileBuild. With MLRUN_BENCH_DRIFT_OUT set, the
// statistics are written there as JSON for bench/drift.py compare.
func BenchmarkDriftBatch(b *testing.B) {
	d := loadDrift(b)
	res := make([]featureDriftResult, len(d.feats))
	runtime.GC()
	b.ResetTimer()
	for range b.N {
		for i := range d.feats {
			ks, psi, err := batchDrift(&d.feats[i], d.cur[i])
			if err != nil {
				b.Fatalf("feature %d: %v", i, err)
			}
			res[i] = featureDriftResult{Feature: i, KSStatistic: ks.Statistic, KSPValue: ks.PValue,
				KSExact: ks.Exact, PSI: psi, Edges: d.feats[i].Edges}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(len(d.feats)), "features")
	b.ReportMetric(float64(len(d.cur[0])), "rows")
	if out := os.Getenv("MLRUN_BENCH_DRIFT_OUT"); out != "" {
		buf, err := json.MarshalIndent(map[string]any{"stats": res}, "", " ")
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(out, append(buf, '\n'), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDriftBatchNumpy is BenchmarkDriftBatch with psi_bins: numpy:
// the bins are cut from the frozen sorted values for every batch (11
// quantiles and a binary search of each edge per feature), which the
// frozen right-closed bins spare.
func BenchmarkDriftBatchNumpy(b *testing.B) {
	d := loadDrift(b)
	runtime.GC()
	b.ResetTimer()
	for range b.N {
		for i := range d.feats {
			if _, _, err := batchDriftIn(&d.feats[i], d.cur[i], stats.BinsNumpy); err != nil {
				b.Fatalf("feature %d: %v", i, err)
			}
		}
	}
}

// BenchmarkDriftBatchParallel is BenchmarkDriftBatch with the features
// spread over GOMAXPROCS goroutines (each takes the next feature; results
// by feature index, so they are the same as one after the other), as the
// monitor step does with more than one job.
func BenchmarkDriftBatchParallel(b *testing.B) {
	d := loadDrift(b)
	res := make([]featureDriftResult, len(d.feats))
	runtime.GC()
	b.ResetTimer()
	for range b.N {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range runtime.GOMAXPROCS(0) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1) - 1); i < len(d.feats); i = int(next.Add(1) - 1) {
					ks, psi, err := batchDrift(&d.feats[i], d.cur[i])
					if err != nil {
						b.Errorf("feature %d: %v", i, err)
						return
					}
					res[i] = featureDriftResult{Feature: i, KSStatistic: ks.Statistic, KSPValue: ks.PValue,
						KSExact: ks.Exact, PSI: psi, Edges: d.feats[i].Edges}
				}
			}()
		}
		wg.Wait()
	}
}

// BenchmarkDriftProfileBuild times the one-off part, paid once at training
// time: NumericFeature for every reference feature (sorted copy, summary
// statistics, quantiles, decile edges, reference bin counts). Run it in a
// process of its own when measuring the batch benchmarks' peak RSS.
func BenchmarkDriftProfileBuild(b *testing.B) {
	ref, err := readNpy2D(filepath.Join(driftDir(b), "drift_ref.npy"))
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	b.ResetTimer()
	for range b.N {
		buildProfile(ref)
	}
}

var npyShape = regexp.MustCompile(`'shape':\s*\((\d+),\s*(\d+)\)`)

// readNpy2D reads a little-endian float64, C-order, two-dimensional .npy
// file (format version 1, 2 or 3) as one slice per row.
func readNpy2D(path string) ([][]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !bytes.Equal(pre[:6], []byte("\x93NUMPY")) {
		return nil, fmt.Errorf("%s: not a .npy file", path)
	}
	var hlen int
	switch pre[6] {
	case 1:
		var n uint16
		err = binary.Read(r, binary.LittleEndian, &n)
		hlen = int(n)
	case 2, 3:
		var n uint32
		err = binary.Read(r, binary.LittleEndian, &n)
		hlen = int(n)
	default:
		return nil, fmt.Errorf("%s: .npy version %d", path, pre[6])
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !bytes.Contains(hdr, []byte("'descr': '<f8'")) || !bytes.Contains(hdr, []byte("'fortran_order': False")) {
		return nil, fmt.Errorf("%s: want a C-order '<f8' array, header %s", path, hdr)
	}
	m := npyShape.FindSubmatch(hdr)
	if m == nil {
		return nil, fmt.Errorf("%s: want a 2-D array, header %s", path, hdr)
	}
	rows, _ := strconv.Atoi(string(m[1]))
	cols, _ := strconv.Atoi(string(m[2]))
	out := make([][]float64, rows)
	for i := range out {
		out[i] = make([]float64, cols)
		if err := binary.Read(r, binary.LittleEndian, out[i]); err != nil {
			return nil, fmt.Errorf("%s: row %d: %w", path, i, err)
		}
	}
	return out, nil
}
