package synth

import (
	"io"
	"testing"
)

// BenchmarkWrite measures generator throughput; b.SetBytes makes go test
// report MB/s.
func BenchmarkWrite(b *testing.B) {
	for _, drift := range []bool{false, true} {
		name := "base"
		if drift {
			name = "drift"
		}
		b.Run(name, func(b *testing.B) {
			var cw countWriter
			if err := Write(&cw, Options{Rows: 10000, Seed: 1, Drift: drift}); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(cw.n)
			b.ReportAllocs()
			for b.Loop() {
				if err := Write(io.Discard, Options{Rows: 10000, Seed: 1, Drift: drift}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// countWriter counts the bytes written to it.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
