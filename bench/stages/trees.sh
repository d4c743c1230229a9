#!/usr/bin/env bash
# Tree ensembles side by side: mlrun's random_forest and gradient_boosting
# (Go benchmarks in steps/tree, 2 workers) against scikit-learn and xgboost
# (bench/trees.py) on the same mlrun-synth data and split, in one run.
# Prints a Markdown table; ratios are Python / mlrun (above 1: mlrun faster).
#
#   BENCH_DIR (default /tmp/mlrun-bench)  BENCH_TREE_ROWS (default "100000")
#   BENCH_REPEATS (default 3)  BENCH_TREE_SKIP_RF_ABOVE (default 200000 rows:
#   scikit-learn's forest takes minutes beyond)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/local/go/bin"
# OpenMP threads (xgboost, HistGradientBoosting) spin while waiting by default;
# on a shared 2-core machine that makes them 10x slower. Passive waits are fair.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
dir=${BENCH_DIR:-/tmp/mlrun-bench}
rows_list=${BENCH_TREE_ROWS:-100000}
repeats=${BENCH_REPEATS:-3}
skip_rf_above=${BENCH_TREE_SKIP_RF_ABOVE:-200000}
mkdir -p "$dir/bin"
if [ -n "${MLRUN_SYNTH_BIN:-}" ]; then cp "$MLRUN_SYNTH_BIN" "$dir/bin/mlrun-synth"; else go build -o "$dir/bin/mlrun-synth" ./cmd/mlrun-synth; fi
go test -c -o "$dir/bin/tree.test" ./steps/tree
for rows in $rows_list; do
  csv="$dir/applications_$rows.csv"
  echo "bench: trees: generating $rows rows" >&2
  "$dir/bin/mlrun-synth" -rows "$rows" -seed 42 -o "$csv"
  case $rows in 1000000) sub='rows=1M' ;; *) sub="rows=$((rows / 1000))k" ;; esac
  echo "bench: trees: Go benchmarks ($sub)" >&2
  (cd steps/tree && env "MLRUN_BENCH_CSV_$rows=$csv" /usr/bin/time -v "$dir/bin/tree.test" \
      -test.run '^$' -test.bench "Benchmark(Fit|Predict)(RandomForest|GradientBoosting)/$sub\$" \
      -test.benchtime 1x -test.count "$repeats" -test.benchmem) >"$dir/trees_go_$rows.txt" 2>"$dir/trees_go_$rows.time"
  skip=()
  if [ "$rows" -gt "$skip_rf_above" ]; then skip=(--skip-rf); fi
  echo "bench: trees: Python baselines" >&2
  /usr/bin/python3 bench/trees.py "$csv" --repeats "$repeats" "${skip[@]}" >"$dir/trees_py_$rows.json"
done
/usr/bin/python3 - "$dir" $rows_list <<'PY'
import json, re, statistics, sys, platform, subprocess
d, rows = sys.argv[1], sys.argv[2:]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
print("## Tree ensembles\n\nMedians of the runs; mlrun and Python with 2 workers; ratios are Python / mlrun (above 1: mlrun faster).\n")
print("| rows | model | fit s | predict s (20% rows) | test AUC | fit ratio (py/mlrun) | predict ratio |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    go = {}
    for line in open(f"{d}/trees_go_{r}.txt"):
        m = re.match(r"Benchmark(\w+)/rows=\S+?-\d+\s+\d+\s+(\d+) ns/op(?:\s+([\d.]+) auc)?", line)
        if m:
            go.setdefault(m.group(1), []).append((int(m.group(2)) / 1e9, m.group(3)))
    med = {k: statistics.median(t for t, _ in v) for k, v in go.items()}
    auc = {k: float(v[-1][1]) for k, v in go.items() if v[-1][1]}
    py = {p["model"]: p for p in json.load(open(f"{d}/trees_py_{r}.json"))}
    rf_fit, rf_pred = med.get("FitRandomForest"), med.get("PredictRandomForest")
    gb_fit, gb_pred = med.get("FitGradientBoosting"), med.get("PredictGradientBoosting")
    print(f"| {r} | mlrun random_forest | {rf_fit:.3f} | {rf_pred:.3f} | {auc.get('PredictRandomForest', float('nan')):.4f} | | |")
    print(f"| {r} | mlrun gradient_boosting | {gb_fit:.3f} | {gb_pred:.3f} | {auc.get('PredictGradientBoosting', float('nan')):.4f} | | |")
    for name, (f, p) in [("sklearn_rf", (rf_fit, rf_pred)), ("sklearn_hgb", (gb_fit, gb_pred)), ("xgboost", (gb_fit, gb_pred))]:
        if name in py:
            q = py[name]
            print(f"| {r} | {name} | {q['fit_s']:.3f} | {q['predict_s']:.3f} | {q['auc']:.4f} | {q['fit_s']/f:.1f}x | {q['predict_s']/p:.1f}x |")
    for name, q in py.items():
        print(f"<!-- {r} {name} peak RSS {q['peak_rss_mb']:.0f} MB (after loading data: {q['data_rss_mb']:.0f} MB) -->")
    try:
        t = open(f"{d}/trees_go_{r}.time").read()
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", t)
        print(f"<!-- {r} mlrun benchmark process peak RSS {int(m.group(1))/1024:.0f} MB (all four benchmarks, data generated in process) -->")
    except Exception:
        pass
PY
