#!/usr/bin/env bash
# The store (issue 12) before and after, in the same run: the example's
# no-op re-run (every step cached, process start included; hyperfine) and a
# cold run of the example pipeline on the largest CSV (empty store; wall
# time and peak RSS, bench/measure.py), with the current mlrun and with a
# baseline mlrun built from BENCH_BASELINE_REV (a git revision; default
# the commit before the state tree, aadd51d). The two binaries alternate:
# for the cold runs one of each, BENCH_E2E_RUNS times (default 3), so a
# noisy neighbour weighs on both. Medians. Without git history (a tarball)
# the baseline is skipped and only the current figures are printed.
#
#   BENCH_DIR (default /tmp/mlrun-bench)  BENCH_ROWS (the largest is used)
#   BENCH_CLI_RUNS (hyperfine runs, default 30)  BENCH_E2E_RUNS (default 3)
#   BENCH_BASELINE_REV (default aadd51d)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/local/go/bin"
root=$PWD
dir=${BENCH_DIR:-/tmp/mlrun-bench}
rows=$(printf '%s\n' ${BENCH_ROWS:-"100000 1000000"} | sort -n | tail -1)
cli_runs=${BENCH_CLI_RUNS:-30}
e2e_runs=${BENCH_E2E_RUNS:-3}
rev=${BENCH_BASELINE_REV:-aadd51d}
py=/usr/bin/python3
go=${GO:-go}
log() { printf '[bench %s] store: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

cur="$dir/bin/mlrun"
[[ -x $cur ]] || { echo "bench: error: store: $cur missing (the data stage builds it)" >&2; exit 1; }
csv="$dir/applications_$rows.csv"
[[ -f $csv ]] || { echo "bench: error: store: $csv missing (the data stage writes it)" >&2; exit 1; }

base=""
if git -C "$root" rev-parse --verify -q "$rev^{commit}" >/dev/null; then
	base="$dir/bin/mlrun-baseline"
	wt="$dir/baseline-src"
	rm -rf "$wt"
	git -C "$root" worktree prune
	git -C "$root" worktree add -f --detach "$wt" "$rev" >/dev/null 2>&1
	log "building the baseline mlrun at $rev"
	(cd "$wt" && "$go" build -o "$base" ./cmd/mlrun)
	git -C "$root" worktree remove --force "$wt"
else
	log "no git revision $rev here: the baseline is skipped"
fi

big="$dir/credit-risk-store-$rows.yaml"
sed "s#^\(    path: \).*applications\.csv\$#\1$csv#" "$root/examples/pipelines/credit-risk.yaml" >"$big"
ex="$root/examples/pipelines/credit-risk.yaml"

# The no-op re-run, each binary on its own pre-warmed store.
names=(current)
bins=("$cur")
[[ -n $base ]] && names+=(baseline) && bins+=("$base")
cmds=()
for i in "${!bins[@]}"; do
	store="$dir/store-noop-${names[$i]}"
	rm -rf "$store"
	"${bins[$i]}" --store "$store" run -q "$ex"
	"${bins[$i]}" --store "$store" run "$ex" | grep -Eq '\(0 ran, [1-9][0-9]* cached' ||
		{ echo "bench: error: store: the example is not all cached for ${names[$i]}" >&2; exit 1; }
	cmds+=("${bins[$i]} --store $store run -q $ex")
done
load0=$(cut -d' ' -f1-3 /proc/loadavg)
log "no-op re-run of the example, hyperfine $cli_runs runs each (load $load0)"
hyperfine -N --warmup 3 --runs "$cli_runs" --export-json "$dir/store_noop.json" "${cmds[@]}" >&2

# Cold runs on the largest CSV, alternating.
load1=$(cut -d' ' -f1-3 /proc/loadavg)
log "cold run on $rows rows, $e2e_runs alternations (load $load1)"
rm -f "$dir"/store_cold_*.json
for r in $(seq "$e2e_runs"); do
	for i in "${!bins[@]}"; do
		store="$dir/store-cold-${names[$i]}"
		"$py" bench/measure.py --name "cold_${names[$i]}_$r" --runs 1 --setup "rm -rf '$store'" \
			-- "${bins[$i]}" --store "$store" run -q "$big" >"$dir/store_cold_${names[$i]}_$r.json"
	done
done
load2=$(cut -d' ' -f1-3 /proc/loadavg)

"$py" - "$dir" "$rows" "$rev" "$load0" "$load1" "$load2" "${names[@]}" <<'PY'
import glob, json, statistics, sys
d, rows, rev, load0, load1, load2, *names = sys.argv[1:]
noop = {r["command"]: r for r in json.load(open(f"{d}/store_noop.json"))["results"]}
print("## The store (issue 12): before and after, same run\n")
print(f"`bench/stages/store.sh`: the current mlrun against the baseline built from `{rev}` (the last commit before the state tree), alternating. Load average {load0} / {load1} / {load2}.\n")
print("| measure | " + " | ".join(names) + (" | current / baseline |" if len(names) > 1 else ""))
print("|---|" + "---|" * len(names) + ("---|" if len(names) > 1 else ""))
med = {}
for n in names:
    r = next(v for k, v in noop.items() if f"store-noop-{n} " in k)
    med[n] = statistics.median(r["times"]) * 1000
row = "| no-op re-run of the example (all cached, process start included; median of hyperfine runs) | " + " | ".join(f"{med[n]:.1f} ms" for n in names)
if len(names) > 1:
    row += f" | {med['current'] / med['baseline']:.2f}x |"
print(row)
wall, rss = {}, {}
for n in names:
    runs = [json.load(open(f))["runs"][0] for f in sorted(glob.glob(f"{d}/store_cold_{n}_*.json"))]
    wall[n] = statistics.median(x["wall_s"] for x in runs)
    rss[n] = statistics.median(x["max_rss_kib"] for x in runs) / 1024
for label, vals, fmt in (("wall", wall, "{:.2f} s"), ("peak RSS", rss, "{:.0f} MiB")):
    row = f"| cold run of the example on {int(rows):,} rows, {label} (median) | " + " | ".join(fmt.format(vals[n]) for n in names)
    if len(names) > 1:
        row += f" | {vals['current'] / vals['baseline']:.3f}x |"
    print(row)
print()
PY
