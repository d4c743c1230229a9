#!/usr/bin/env bash
# Drift (issue 4) side by side: KS (statistic and p-value) and PSI over the
# 20 numeric features of a 1M-row batch against a 1M-row reference.
#   mlrun: steps/profile BenchmarkDriftBatch, what the monitor step does per
#          batch against the frozen profile (the batch sorted, KS merged
#          with the sorted reference, the batch counted in the frozen decile
#          bins, PSI), features one after the other; the one-off profile
#          build (BenchmarkDriftProfileBuild) reported apart, and the same
#          with features over GOMAXPROCS goroutines (BenchmarkDriftBatchParallel,
#          what the monitor step does with --jobs above 1).
#   scipy: bench/drift.py run, scipy.stats.ks_2samp(method='auto') and a
#          numpy PSI (deciles of the reference, np.searchsorted + bincount).
# Both read the same two .npy files, written by bench/drift.py gen (numpy
# PCG64, seed 42). The statistics must agree (bench/drift.py compare: KS
# statistic 1e-9 relative, p-value 1e-6 relative, PSI 1e-9); the stage
# fails otherwise. Peak RSS of each process from getrusage (RUSAGE_CHILDREN).
#
#   BENCH_DIR (default /tmp/mlrun-bench)  BENCH_REPEATS (Python runs, default 5)
#   BENCH_COUNT (Go runs, default 5)  BENCH_DRIFT_ROWS (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/local/go/bin"
dir=${BENCH_DIR:-/tmp/mlrun-bench}
repeats=${BENCH_REPEATS:-5}
count=${BENCH_COUNT:-5}
rows=${BENCH_DRIFT_ROWS:-1000000}
py=/usr/bin/python3
go=${GO:-go}
mkdir -p "$dir/bin"
"$py" -c 'import scipy, numpy' 2>/dev/null ||
	{ echo "bench: error: drift: $py cannot import scipy and numpy: run 'make bench-deps'" >&2; exit 1; }

# maxrss OUT.rss CMD...: run CMD, then write its peak RSS (KiB) to OUT.rss.
maxrss() {
	local out=$1
	shift
	"$py" -c 'import resource, subprocess, sys
r = subprocess.run(sys.argv[2:])
open(sys.argv[1], "w").write("%d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(r.returncode)' "$out" "$@"
}

echo "bench: drift: generating 20 features x $rows rows (seed 42)" >&2
"$py" bench/drift.py gen "$dir" --rows "$rows" --seed 42
"$go" test -c -o "$dir/bin/profile.test" ./steps/profile
load_go=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench: drift: Go benchmarks (-count $count), load average $load_go" >&2
rm -f "$dir/drift_go_stats.json"
(cd steps/profile && MLRUN_BENCH_DRIFT_DIR="$dir" MLRUN_BENCH_DRIFT_OUT="$dir/drift_go_stats.json" \
	maxrss "$dir/drift_go.rss" "$dir/bin/profile.test" -test.run '^$' \
	-test.bench '^BenchmarkDrift(Batch|BatchParallel)$' -test.benchtime 1x -test.count "$count" \
	-test.benchmem) >"$dir/drift_go.txt"
(cd steps/profile && MLRUN_BENCH_DRIFT_DIR="$dir" "$dir/bin/profile.test" -test.run '^$' \
	-test.bench '^BenchmarkDriftProfileBuild$' -test.benchtime 1x -test.count "$count" \
	-test.benchmem) >>"$dir/drift_go.txt"
load_py=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench: drift: scipy + numpy (--repeats $repeats), load average $load_py" >&2
maxrss "$dir/drift_py.rss" "$py" bench/drift.py run "$dir" --repeats "$repeats" >"$dir/drift_py.json"
"$py" bench/drift.py compare "$dir/drift_py.json" "$dir/drift_go_stats.json" >"$dir/drift_compare.json"
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

"$py" - "$dir" "$load_go" "$load_py" "$load_end" <<'PY'
import json, os, re, statistics, sys
d, load_go, load_py, load_end = sys.argv[1:5]
go = {}
for line in open(f"{d}/drift_go.txt"):
    m = re.match(r"Benchmark(Drift\w+)-\d+\s+\d+\s+(\d+) ns/op.*?(\d+) B/op", line)
    if m:
        go.setdefault(m.group(1), []).append((int(m.group(2)) / 1e9, int(m.group(3))))
py = json.load(open(f"{d}/drift_py.json"))
cmp = json.load(open(f"{d}/drift_compare.json"))
rss_go = int(open(f"{d}/drift_go.rss").read()) / 1024
rss_py = int(open(f"{d}/drift_py.rss").read()) / 1024
batch = statistics.median(t for t, _ in go["DriftBatch"])
build = statistics.median(t for t, _ in go["DriftProfileBuild"])
par = statistics.median(t for t, _ in go["DriftBatchParallel"])
batch_b = go["DriftBatch"][-1][1] / 2**20
ks, psi, psif = py["ks"]["median_s"], py["psi"]["median_s"], py["psi_frozen"]["median_s"]
n, f = py["rows_cur"], py["features"]
print(f"## Drift (issue 4)\n")
print(f"KS (statistic and p-value) and PSI (frozen decile bins) for {f} numeric features, "
      f"{n:,}-row batch against a {py['rows_ref']:,}-row reference (bench/drift.py gen, seed 42; "
      f"6 features shifted). Medians of {len(go['DriftBatch'])} Go runs and {py['repeats']} Python runs; "
      f"ratio = scipy / mlrun (above 1: mlrun faster). Load average (1, 5, 15 min) at the start of "
      f"the Go runs {load_go}, of the Python runs {load_py}, at the end {load_end}.\n")
print("| | KS s | PSI s | KS + PSI s | ratio | peak RSS MB |")
print("|---|---|---|---|---|---|")
print(f"| mlrun, per batch, features one after the other (frozen profile; batch sort included) | | | {batch:.3f} | | {rss_go:.0f} |")
print(f"| scipy {py['scipy']} ks_2samp + numpy {py['numpy']} PSI | {ks:.3f} | {psi:.3f} | {ks + psi:.3f} | "
      f"**{(ks + psi) / batch:.1f}x** | {rss_py:.0f} |")
print(f"| mlrun, features over {len(os.sched_getaffinity(0))} goroutines (what the monitor step does with --jobs 2) | | | {par:.3f} | {(ks + psi) / par:.1f}x | |")
print(f"| numpy PSI with the edges and reference counts given | | {psif:.3f} | | | |")
print(f"| mlrun, one-off profile build (sort, edges, counts of the reference) | | | {build:.3f} | | |")
print()
w = cmp["max_rel_diff"]
print(f"Identical statistics: **{'yes' if cmp['identical'] else 'no'}** (largest differences: KS statistic "
      f"{w['ks_statistic']:.1e} relative, p-value {w['ks_pvalue']:.1e} relative, PSI {w['psi']:.1e} absolute, "
      f"bin edges {w['edges']:.1e} relative; tolerances 1e-9, 1e-6, 1e-9).\n")
mb = f * n * 8 / 2**20
print(f"Peak RSS is each whole process. Python holds both datasets ({2 * mb:.0f} MB; {py['rss_loaded_mb']:.0f} MB "
      f"after loading them). The Go process (both batch benchmarks; the profile build runs in another) holds "
      f"what monitoring holds: the frozen profile (the sorted reference, {mb:.0f} MB, the raw reference "
      f"dropped once it is built) and the batch ({mb:.0f} MB), and allocates {batch_b:.0f} MB per batch "
      f"(B/op: each feature's sorted copy).")
for p in cmp["problems"]:
    print(f"- {p}")
PY
if ! "$py" -c 'import json, sys; sys.exit(0 if json.load(open(sys.argv[1]))["identical"] else 1)' "$dir/drift_compare.json"; then
	echo "bench: error: drift: mlrun's statistics differ from scipy's (see $dir/drift_compare.json)" >&2
	exit 1
fi
