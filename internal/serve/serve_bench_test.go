//go:build unix

package serve

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
	"github.com/mlrun-cli/mlrun/steps"
	"github.com/mlrun-cli/mlrun/steps/exprenv"
)

// BenchmarkServeScore drives POST /score of a server on loopback with 8
// clients per GOMAXPROCS (16 on 2 cores, as bench/stages/serve.sh), closed
// loop and keep-alive as mlrun-load, every decision journaled. It needs a store it may write
// to (a copy of the one bench/stages/serve.sh built) and its bodies:
// MLRUN_SERVE_BENCH_STORE, MLRUN_SERVE_BENCH_BODIES, and
// MLRUN_SERVE_BENCH_MODEL (default pd@production); it is skipped without
// them.
func BenchmarkServeScore(b *testing.B) {
	dir, bodiesPath := os.Getenv("MLRUN_SERVE_BENCH_STORE"), os.Getenv("MLRUN_SERVE_BENCH_BODIES")
	if dir == "" || bodiesPath == "" {
		b.Skip("MLRUN_SERVE_BENCH_STORE and MLRUN_SERVE_BENCH_BODIES are not set")
	}
	ref := os.Getenv("MLRUN_SERVE_BENCH_MODEL")
	if ref == "" {
		ref = "pd@production"
	}
	raw, err := os.ReadFile(bodiesPath)
	if err != nil {
		b.Fatal(err)
	}
	var bodies [][]byte
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		bodies = append(bodies, bytes.Clone(sc.Bytes()))
	}
	st, err := lineage.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	reg := registry.New(st, func(src string, metrics []string) (registry.Gate, error) {
		return exprenv.CompileGate(src, metrics, nil)
	})
	kinds, err := steps.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, _, err := New(ctx, Options{Store: st, Registry: reg, Kinds: kinds, Ref: ref, JournalDir: filepath.Join(b.TempDir(), "journal"), Reload: -1})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, 5*time.Second) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	for srv.notReady() != nil {
		time.Sleep(time.Millisecond)
	}
	url := "http://" + ln.Addr().String() + "/score"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := bodies[int(next.Add(1))%len(bodies)]
			resp, err := client.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
