package predict_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/mlrun-cli/mlrun/internal/predict"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
	"github.com/mlrun-cli/mlrun/steps"
	"github.com/mlrun-cli/mlrun/steps/exprenv"
)

// BenchmarkOnlineScore scores single records as mlrun serve does, against
// a store that bench/stages/serve.sh built: MLRUN_ONLINE_BENCH_STORE (the
// store), MLRUN_ONLINE_BENCH_BODIES (its bodies.jsonl), and
// MLRUN_ONLINE_BENCH_MODEL (default pd@production). It is skipped without
// them.
//
//	BENCH_DIR=/tmp/b bash bench/stages/serve.sh
//	MLRUN_ONLINE_BENCH_STORE=/tmp/b/serve/store MLRUN_ONLINE_BENCH_BODIES=/tmp/b/serve/bodies.jsonl \
//	  go test -run '^$' -bench OnlineScore -benchmem ./internal/predict/
func BenchmarkOnlineScore(b *testing.B) {
	dir, bodies := os.Getenv("MLRUN_ONLINE_BENCH_STORE"), os.Getenv("MLRUN_ONLINE_BENCH_BODIES")
	if dir == "" || bodies == "" {
		b.Skip("MLRUN_ONLINE_BENCH_STORE and MLRUN_ONLINE_BENCH_BODIES are not set")
	}
	ref := os.Getenv("MLRUN_ONLINE_BENCH_MODEL")
	if ref == "" {
		ref = "pd@production"
	}
	ctx := context.Background()
	st, err := lineage.Open(dir, lineage.ReadOnly())
	if err != nil {
		b.Fatal(err)
	}
	reg := registry.New(st, func(src string, metrics []string) (registry.Gate, error) {
		return exprenv.CompileGate(src, metrics, nil)
	})
	_, v, err := reg.Resolve(ctx, ref)
	if err != nil {
		b.Fatal(err)
	}
	kinds, err := steps.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	sc, err := predict.New(ctx, st, v, predict.Options{Kinds: kinds, Jobs: 1, Online: true})
	if err != nil {
		b.Fatal(err)
	}
	recs := readRecords(b, bodies)
	on := sc.Online()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := on.Score(ctx, recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// readRecords reads JSON objects, one a line, as mlrun serve reads a
// record's fields.
func readRecords(b *testing.B, path string) []predict.Record {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var out []predict.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			b.Fatal(err)
		}
		rec := predict.Record{}
		for k, v := range raw {
			switch s := string(v); {
			case s == "null":
				rec[k] = predict.Value{Null: true}
			case s[0] == '"':
				var t string
				if err := json.Unmarshal(v, &t); err != nil {
					b.Fatal(err)
				}
				rec[k] = predict.Value{Text: t}
			default:
				rec[k] = predict.Value{Text: s}
			}
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	return out
}
