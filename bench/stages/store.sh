#!/usr/bin/env bash
# The store (issues 12 and 13), in the same run: the example's no-op re-run
# (every step cached, process start included; hyperfine) and a cold run of
# the example pipeline on the largest CSV (empty store; wall time and peak
# RSS, bench/measure.py), each with
#   - the current mlrun on a local store,
#   - a baseline mlrun built from BENCH_BASELINE_REV (a git revision;
#     default the commit before the state tree, aadd51d) on a local store,
#   - the current mlrun on an S3 store served by versitygw on 127.0.0.1
#     (bin/versitygw, built by make test; skipped without it), its local
#     cache empty for the cold runs: once with the server at normal
#     priority, competing with mlrun for the machine's cores, once at
#     nice 19, taking what mlrun leaves, as a server elsewhere would.
# The variants alternate: for the cold runs one of each, BENCH_E2E_RUNS
# times (default 3), so a noisy neighbour weighs on all. Medians. Without
# git history (a tarball) the baseline is skipped.
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

vgw=${VERSITYGW:-$root/bin/versitygw}
s3=""
if [[ -x $vgw ]]; then
	# Two servers: one at normal priority (it competes with mlrun for the
	# machine's cores), one at nice 19 (it uses what mlrun leaves, as a
	# server on other machines would).
	pids=()
	for v in s3 s3nice; do
		port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		rm -rf "$dir/$v-root" && mkdir -p "$dir/$v-root/bench"
		nice=""
		[[ $v == s3nice ]] && nice="nice -n 19"
		$nice "$vgw" --port "127.0.0.1:$port" --access bench-access --secret bench-secret-key posix "$dir/$v-root" >"$dir/versitygw-$v.log" 2>&1 &
		pids+=($!)
		for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
		printf -v "endpoint_$v" '%s' "http://127.0.0.1:$port"
	done
	trap 'kill "${pids[@]}" 2>/dev/null' EXIT
	export AWS_ACCESS_KEY_ID=bench-access AWS_SECRET_ACCESS_KEY=bench-secret-key AWS_REGION=us-east-1
	export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
	s3=yes
	log "versitygw on $endpoint_s3 and (nice 19) $endpoint_s3nice"
else
	log "no versitygw ($vgw): the S3 store is skipped (make test builds it)"
fi

big="$dir/credit-risk-store-$rows.yaml"
sed "s#^\(    path: \).*applications\.csv\$#\1$csv#" "$root/examples/pipelines/credit-risk.yaml" >"$big"
ex="$root/examples/pipelines/credit-risk.yaml"

# The variants: name, binary, store (for the cold runs: emptied before each).
names=(current)
bins=("$cur")
stores=("$dir/store-%s-current")
caches=("$dir/cache-current")
if [[ -n $base ]]; then
	names+=(baseline) bins+=("$base") stores+=("$dir/store-%s-baseline") caches+=("$dir/cache-baseline")
fi
if [[ -n $s3 ]]; then
	names+=(s3 s3nice) bins+=("$cur" "$cur") stores+=("s3://bench/%s" "s3://bench/%s") caches+=("$dir/cache-s3" "$dir/cache-s3nice")
fi
store_of() { printf "${stores[$1]}" "$2"; }
empty() { # empty the store and cache of variant $1 for use $2
	local st
	st=$(store_of "$1" "$2")
	rm -rf "${caches[$1]}"
	if [[ $st == s3://* ]]; then rm -rf "$dir/${names[$1]}-root/bench/$2"; else rm -rf "$st"; fi
}
# mlr I ARGS...: mlrun of variant I, with its cache and (for S3) server.
mlr() {
	local i=$1
	shift
	local ep=""
	case ${names[$i]} in
	s3) ep=$endpoint_s3 ;;
	s3nice) ep=$endpoint_s3nice ;;
	esac
	MLRUN_CACHE_DIR=${caches[$i]} AWS_ENDPOINT_URL=$ep "${bins[$i]}" "$@"
}

# The no-op re-run, each variant on its own pre-warmed store: one
# hyperfine per variant, with its environment (no wrapper process).
load0=$(cut -d' ' -f1-3 /proc/loadavg)
log "no-op re-run of the example, hyperfine $cli_runs runs each (load $load0)"
for i in "${!bins[@]}"; do
	empty "$i" noop
	st=$(store_of "$i" noop)
	mlr "$i" --store "$st" run -q "$ex"
	out=$(mlr "$i" --store "$st" run "$ex")
	grep -Eq '\(0 ran, [1-9][0-9]* cached' <<<"$out" ||
		{ echo "bench: error: store: the example is not all cached for ${names[$i]}: $out" >&2; exit 1; }
	ep=""
	[[ ${names[$i]} == s3 ]] && ep=$endpoint_s3
	[[ ${names[$i]} == s3nice ]] && ep=$endpoint_s3nice
	MLRUN_CACHE_DIR=${caches[$i]} AWS_ENDPOINT_URL=$ep hyperfine -N --warmup 3 --runs "$cli_runs" \
		--export-json "$dir/store_noop_${names[$i]}.json" "${bins[$i]} --store $st run -q $ex" >&2
done

# Cold runs on the largest CSV, alternating.
load1=$(cut -d' ' -f1-3 /proc/loadavg)
log "cold run on $rows rows, $e2e_runs alternations (load $load1)"
rm -f "$dir"/store_cold_*.json
for r in $(seq "$e2e_runs"); do
	for i in "${!bins[@]}"; do
		empty "$i" cold
		ep=""
		[[ ${names[$i]} == s3 ]] && ep=$endpoint_s3
		[[ ${names[$i]} == s3nice ]] && ep=$endpoint_s3nice
		MLRUN_CACHE_DIR=${caches[$i]} AWS_ENDPOINT_URL=$ep "$py" bench/measure.py --name "cold_${names[$i]}_$r" --runs 1 \
			-- "${bins[$i]}" --store "$(store_of "$i" cold)" run -q "$big" >"$dir/store_cold_${names[$i]}_$r.json"
	done
done
load2=$(cut -d' ' -f1-3 /proc/loadavg)

"$py" - "$dir" "$rows" "$rev" "$load0" "$load1" "$load2" "${names[@]}" <<'PY'
import glob, json, statistics, sys
d, rows, rev, load0, load1, load2, *names = sys.argv[1:]
label = {"current": "local store", "baseline": f"local store, baseline `{rev}`",
         "s3": "S3 store (versitygw on 127.0.0.1)", "s3nice": "S3 store (versitygw on 127.0.0.1 at nice 19)"}
noop = {n: statistics.median(json.load(open(f"{d}/store_noop_{n}.json"))["results"][0]["times"]) * 1000 for n in names}
wall, rss = {}, {}
for n in names:
    runs = [json.load(open(f))["runs"][0] for f in sorted(glob.glob(f"{d}/store_cold_{n}_*.json"))]
    wall[n] = statistics.median(x["wall_s"] for x in runs)
    rss[n] = statistics.median(x["max_rss_kib"] for x in runs) / 1024
print("## The store (issues 12 and 13): same run\n")
print(f"`bench/stages/store.sh`: the current mlrun on a local store, the baseline built from `{rev}` (the last commit before the state tree) on a local store, and the current mlrun on an S3 store served by versitygw on loopback, at normal priority (it competes with mlrun for the machine's cores) and at nice 19 (it takes what mlrun leaves, as a server elsewhere would); the variants alternate. Load average {load0} / {load1} / {load2}.\n")
print("| variant | no-op re-run of the example (median, process start included) | cold run, " + f"{int(rows):,} rows: wall (median) | peak RSS (median) | cold wall / current local |")
print("|---|---|---|---|---|")
for n in names:
    print(f"| {label[n]} | {noop[n]:.1f} ms | {wall[n]:.2f} s | {rss[n]:.0f} MiB | {wall[n] / wall['current']:.3f}x |")
print()
PY
