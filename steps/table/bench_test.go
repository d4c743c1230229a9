package table

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkReadCSV parses a generated 200k-row, 16-column CSV from a file
// (read, hash, parse), reporting MB/s.
func BenchmarkReadCSV(b *testing.B) {
	data := genCSV(200_000, 1)
	path := filepath.Join(b.TempDir(), "bench.csv")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := ReadCSVFile(path, CSVOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseCSVJobs1 parses the same data in memory on one goroutine.
func BenchmarkParseCSVJobs1(b *testing.B) {
	data := genCSV(200_000, 1)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := ParseCSV(data, CSVOptions{Jobs: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncode encodes a parsed 200k-row dataset.
func BenchmarkEncode(b *testing.B) {
	ds, _, err := ParseCSV(genCSV(200_000, 1), CSVOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var n countWriter
	if err := ds.Encode(&n); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(n))
	for b.Loop() {
		if err := ds.Encode(new(countWriter)); err != nil {
			b.Fatal(err)
		}
	}
}

type countWriter int

func (w *countWriter) Write(p []byte) (int, error) { *w += countWriter(len(p)); return len(p), nil }
