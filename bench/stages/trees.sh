#!/usr/bin/env bash
# Tree ensembles side by side: mlrun's random_forest and gradient_boosting
# (Go benchmarks in steps/tree, 2 workers) against scikit-learn and xgboost
# (bench/trees.py) on the same mlrun-synth data and split, in one run.
# Prints a Markdown table; ratios are Python / mlrun (above 1: mlrun faster).
#
# Also: prediction of every row (train and test, BenchmarkPredictAll and
# predict_proba), and the peak resident set during fit of each side, measured
# in its own process (VmHWM reset through /proc/self/clear_refs right before
# each fit; the rise over the resident set before fit is the training's own).
#
#   BENCH_DIR (default /tmp/mlrun-bench)  BENCH_TREE_ROWS (default "100000")
#   BENCH_REPEATS (default 3)  BENCH_TREE_SKIP_RF_ABOVE (default 200000 rows:
#   scikit-learn's forest takes minutes beyond)  BENCH_TREE_RF_REPEATS
#   (default BENCH_REPEATS: runs of scikit-learn's forest)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/local/go/bin"
# OpenMP threads (xgboost, HistGradientBoosting) spin while waiting by default;
# on a shared 2-core machine that makes them 10x slower. Passive waits are fair.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
dir=${BENCH_DIR:-/tmp/mlrun-bench}
rows_list=${BENCH_TREE_ROWS:-100000}
repeats=${BENCH_REPEATS:-3}
rf_repeats=${BENCH_TREE_RF_REPEATS:-$repeats}
skip_rf_above=${BENCH_TREE_SKIP_RF_ABOVE:-200000}
mkdir -p "$dir/bin"
# The mlrun-synth bench/run.sh built (MLRUN_SYNTH_BIN, which is already
# $dir/bin/mlrun-synth there: it is used in place, never copied onto
# itself), else one built here.
synth=${MLRUN_SYNTH_BIN:-$dir/bin/mlrun-synth}
if [ -z "${MLRUN_SYNTH_BIN:-}" ]; then go build -o "$synth" ./cmd/mlrun-synth; fi
go test -c -o "$dir/bin/tree.test" ./steps/tree
for rows in $rows_list; do
  csv="$dir/applications_$rows.csv"
  echo "bench: trees: generating $rows rows" >&2
  "$synth" -rows "$rows" -seed 42 -o "$csv"
  case $rows in 1000000) sub='rows=1M' ;; *) sub="rows=$((rows / 1000))k" ;; esac
  echo "bench: trees: Go benchmarks ($sub; load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  (cd steps/tree && env "MLRUN_BENCH_CSV_$rows=$csv" /usr/bin/time -v "$dir/bin/tree.test" \
      -test.run '^$' -test.bench "Benchmark(Fit|Predict|PredictAll|Explain)(RandomForest|GradientBoosting)/$sub\$" \
      -test.benchtime 1x -test.count "$repeats" -test.benchmem) >"$dir/trees_go_$rows.txt" 2>"$dir/trees_go_$rows.time"
  skip=()
  if [ "$rows" -gt "$skip_rf_above" ]; then skip=(--skip-rf); fi
  echo "bench: trees: Python baselines (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  /usr/bin/python3 bench/trees.py "$csv" --repeats "$repeats" --rf-repeats "$rf_repeats" "${skip[@]}" >"$dir/trees_py_$rows.json"
done
/usr/bin/python3 - "$dir" $rows_list <<'PY'
import json, re, statistics, sys
d, rows = sys.argv[1], sys.argv[2:]
nan = float("nan")
print("## Tree ensembles\n\nMedians of the runs; mlrun and Python with 2 workers; ratios are Python / mlrun (above 1: mlrun faster). "
      "Predict: the 20% test rows, and every row (train and test). Fit memory: peak resident set of the process during fit, "
      "and its rise over the resident set before fit (data loaded), largest over the runs.\n")
print("| rows | model | fit s | predict s (test) | predict s (all rows) | test AUC | fit ratio | predict-all ratio | fit peak RSS MB | fit rise MB |")
print("|---|---|---|---|---|---|---|---|---|---|")
explain_rows = []
for r in rows:
    go = {}
    for line in open(f"{d}/trees_go_{r}.txt"):
        m = re.match(r"Benchmark(\S+?)/rows=\S+?-\d+\s+\d+\s+(\d+) ns/op(.*)", line)
        if not m:
            continue
        extra = {k: float(v) for v, k in re.findall(r"([\d.]+) (\S+)", m.group(3))}
        go.setdefault(m.group(1).replace("/", ""), []).append((int(m.group(2)) / 1e9, extra))
    med = {k: statistics.median(t for t, _ in v) for k, v in go.items()}
    last = {k: v[-1][1] for k, v in go.items()}
    mx = lambda k, m: max((e.get(m, nan) for _, e in go.get(k, [])), default=nan)
    py = {p["model"]: p for p in json.load(open(f"{d}/trees_py_{r}.json"))}
    for algo, name in [("RandomForest", "mlrun random_forest"), ("GradientBoosting", "mlrun gradient_boosting")]:
        print(f"| {r} | {name} | {med.get('Fit'+algo, nan):.3f} | {med.get('Predict'+algo, nan):.3f} | {med.get('PredictAll'+algo, nan):.3f} "
              f"| {last.get('Predict'+algo, {}).get('auc', nan):.4f} | | | {mx('Fit'+algo, 'peak-MB'):.0f} | {mx('Fit'+algo, 'fit-MB'):.0f} |")
    for name, algo in [("sklearn_rf", "RandomForest"), ("sklearn_hgb", "GradientBoosting"), ("xgboost", "GradientBoosting")]:
        if name not in py:
            continue
        q = py[name]
        f, pa = med.get("Fit" + algo, nan), med.get("PredictAll" + algo, nan)
        qa = q.get("predict_all_s") or nan
        print(f"| {r} | {name} | {q['fit_s']:.3f} | {q['predict_s']:.3f} | {qa:.3f} | {q['auc']:.4f} | {q['fit_s']/f:.1f}x | {qa/pa:.1f}x "
              f"| {q.get('fit_peak_rss_mb', nan):.0f} | {q.get('fit_rss_mb', nan):.0f} |")
    if "xgboost" in py and py["xgboost"].get("explain_s"):
        xs, ge, gr = py["xgboost"]["explain_s"], med.get("ExplainGradientBoosting", nan), med.get("ExplainRandomForest", nan)
        explain_rows.append(f"| {r} | {ge:.3f} | {gr:.3f} | {xs:.3f} | {xs/ge:.1f}x |")
    for name, q in py.items():
        print(f"<!-- {r} {name} process peak RSS {q['peak_rss_mb']:.0f} MB (after loading data: {q['data_rss_mb']:.0f} MB); fits {q.get('fits_s')} -->")
    try:
        t = open(f"{d}/trees_go_{r}.time").read()
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", t)
        print(f"<!-- {r} mlrun benchmark process peak RSS {int(m.group(1))/1024:.0f} MB (all benchmarks, data parsed in process) -->")
    except Exception:
        pass
if explain_rows:
    print("\nReason codes: exact TreeSHAP of the first 10k test rows, 2 workers (mlrun steps/explain, what `mlrun predict` computes; "
          "xgboost `predict(pred_contribs=True)`); ratio is xgboost / mlrun gradient boosting.\n")
    print("| rows | mlrun gradient_boosting s | mlrun random_forest s | xgboost pred_contribs s | ratio |")
    print("|---|---|---|---|---|")
    for line in explain_rows:
        print(line)
PY
