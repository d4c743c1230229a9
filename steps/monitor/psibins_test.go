package monitor

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/mlrun-cli/mlrun/steps/profile"
	"github.com/mlrun-cli/mlrun/steps/stats"
)

// TestPSIBins: psi_bins chooses the bin convention of PSI and JS; the
// default is right_closed, the convention of the profile's frozen bins;
// numpy bins are cut from the frozen sorted values. On a tied feature the
// two differ; each is the one stats computes (cross-checked against numpy
// in package stats).
func TestPSIBins(t *testing.T) {
	m, prof := fixture(t, batchSpec{rows: 1500, seed: 1, roundX2: true})
	batch := gen(t, batchSpec{rows: 900, seed: 2, shift: 0.2, roundX2: true})
	if DefaultConfig().PSIBins != stats.BinsRightClosed {
		t.Fatalf("default psi_bins = %q", DefaultConfig().PSIBins)
	}
	psi := map[stats.Binning]float64{}
	for _, b := range stats.Binnings {
		cfg := DefaultConfig()
		cfg.PSIBins = b
		r, err := Compute(Input{Profile: prof, Model: m, Current: batch}, mustCompile(t, cfg))
		if err != nil {
			t.Fatal(err)
		}
		f, ref := findFeature(r, "x2"), prof.Feature("x2")
		edges := b.Edges(ref.Sorted, prof.Bins)
		rc, cc := b.Counts(ref.Sorted, edges), b.Counts(profile.Floats(batch.Column("x2")), edges)
		want, _ := stats.PSI(stats.Shares(rc), stats.Shares(cc))
		if !slices.Equal(f.Edges, edges) || !slices.Equal(f.ReferenceBins, rc) || !slices.Equal(f.CurrentBins, cc) {
			t.Errorf("%s: bins %v %v %v, want %v %v %v", b, f.Edges, f.ReferenceBins, f.CurrentBins, edges, rc, cc)
		}
		if got := float64(f.Vars["psi"]); math.Abs(got-want) > 1e-12 {
			t.Errorf("%s: psi %v, want %v", b, got, want)
		}
		psi[b] = float64(f.Vars["psi"])
		if b == stats.BinsRightClosed && (!slices.Equal(f.Edges, ref.Edges) || !slices.Equal(f.ReferenceBins, ref.Counts)) {
			t.Errorf("right_closed does not use the frozen bins")
		}
		// The report says which convention when it is not the default.
		if want := map[stats.Binning]stats.Binning{stats.BinsNumpy: stats.BinsNumpy}[b]; r.PSIBins != want {
			t.Errorf("%s: report psi_bins %q", b, r.PSIBins)
		}
		if r.Score == nil || len(r.Score.Edges) == 0 {
			t.Errorf("%s: no score bins", b)
		}
		raw, _ := json.Marshal(cfg)
		if !strings.Contains(string(raw), `"psi_bins":"`+string(b)+`"`) {
			t.Errorf("cache config %s does not record psi_bins", raw)
		}
	}
	if math.Abs(psi[stats.BinsNumpy]-psi[stats.BinsRightClosed]) < 1e-6 {
		t.Errorf("the conventions agree on a tied feature: %v", psi)
	}
}

// TestPSIBinsConfig: the setting is parsed, checked and kept in the
// resolved config; a record written before it existed means right_closed,
// the bins its batches were compared with.
func TestPSIBinsConfig(t *testing.T) {
	cfg, err := ParseConfig("m.yaml", []byte("psi_bins: numpy\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PSIBins != stats.BinsNumpy {
		t.Errorf("psi_bins = %q", cfg.PSIBins)
	}
	raw, _ := json.Marshal(cfg)
	back, err := ConfigFromRecord(raw)
	if err != nil || back.PSIBins != stats.BinsNumpy {
		t.Errorf("from record: %v, %v", back, err)
	}
	old, err := ConfigFromRecord([]byte(`{"threshold":0.5,"min_group":30,"drift":"psi >= 0.1","checks":[]}`))
	if err != nil || old.PSIBins != stats.BinsRightClosed {
		t.Errorf("a record without psi_bins: %q, %v", old.PSIBins, err)
	}
	if _, err := ConfigFromRecord([]byte(`{"psi_bins":"left","drift":"psi >= 0.1","checks":[]}`)); err == nil {
		t.Errorf("a record with psi_bins left compiles")
	}
	for _, tc := range []struct{ src, want string }{
		{"psi_bins: left\n", `m.yaml:1:11: psi_bins must be right_closed or numpy, got "left"`},
		{"psi_bins: 3\n", `m.yaml:1:11: psi_bins must be right_closed or numpy, got an integer`},
	} {
		if _, err := ParseConfig("m.yaml", []byte(tc.src)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.src, err, tc.want)
		}
	}
}
