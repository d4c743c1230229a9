#!/usr/bin/env bash
# bench/run.sh: side-by-side benchmark of mlrun (Go) against the pandas
# reference, on synthetic loan applications. `make bench` runs it after
# installing the Python packages and hyperfine (make bench-deps).
#
# Stages, in order (BENCH_STAGES picks some; see bench/README.md):
#   data    build mlrun and mlrun-synth; generate the CSVs (seed 42)
#   python  bench/baseline.py on each CSV (pandas read_csv, to_string, derive)
#   go      the Go benchmarks (load step, derive step) on the same CSVs
#   cli     hyperfine: no-op re-runs of the example pipeline and of the same
#           pipeline on the largest CSV (with and without --rehash)
#   e2e     cold full runs on the largest CSV, mlrun and bench/pipeline.py,
#           wall time and peak RSS (bench/measure.py)
#   then every bench/stages/NAME.sh (run with bash, in name order): the hook
#   for new benchmarks (tree ensembles, ...), one file per stage; its
#   standard output is a Markdown section of the report.
# Finally bench/report.py prints the Markdown report, saved as
# $BENCH_DIR/report.md.
#
# Environment (all optional):
#   BENCH_DIR        work directory for data and results   (/tmp/mlrun-bench)
#   BENCH_ROWS       row counts to generate and time        ("100000 1000000")
#   BENCH_REPEATS    runs per Python stage (median)         (5)
#   BENCH_COUNT      go test -count (median over runs)      (5)
#   BENCH_TO_STRING  row counts that also time sha256(df.to_string()) (~85 s and
#                    ~3.5 GB at 1M rows): a list, "all" or "none"    (100000)
#   BENCH_STAGES     stages to run, in this order           (data python go cli e2e, then
#                    the bench/stages/*.sh names); data is needed by all the others
#   BENCH_CLI_RUNS   hyperfine --runs for the no-op re-runs (30)
#   BENCH_E2E_RUNS   cold end-to-end runs per command       (3)
#   GO_BENCH         go test -bench regexp                  (BenchmarkLoadStep|BenchmarkLoadCompile|BenchmarkDeriveStep)
#   GO_BENCH_PKGS    packages to benchmark                  (./steps/load ./steps/derive)
#   PYTHON           the Python with pandas                 (/usr/bin/python3)
#   GO               the go command                         (go, else /usr/local/go/bin/go)
# The Go benchmarks see MLRUN_BENCH_DIR and MLRUN_BENCH_CSV_<rows> (e.g.
# MLRUN_BENCH_CSV_1000000) naming the generated files, should they want them.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/mlrun-bench}
BENCH_ROWS=${BENCH_ROWS:-"100000 1000000"}
BENCH_REPEATS=${BENCH_REPEATS:-5}
BENCH_COUNT=${BENCH_COUNT:-5}
BENCH_TO_STRING=${BENCH_TO_STRING:-100000}
BENCH_CLI_RUNS=${BENCH_CLI_RUNS:-30}
BENCH_E2E_RUNS=${BENCH_E2E_RUNS:-3}
GO_BENCH=${GO_BENCH:-'BenchmarkLoadStep|BenchmarkLoadCompile|BenchmarkDeriveStep'}
GO_BENCH_PKGS=${GO_BENCH_PKGS:-"./steps/load ./steps/derive"}
PYTHON=${PYTHON:-/usr/bin/python3}
SEED=42
GO_FAILED=0
STAGES_FAILED=()

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

check_tools() {
	if [[ -z ${GO:-} ]]; then
		if command -v go >/dev/null; then GO=go
		elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go
		else die "no go command: install Go or set GO=/path/to/go"; fi
	fi
	command -v "$GO" >/dev/null || die "GO=$GO is not executable"
	[[ -x $PYTHON ]] || die "no $PYTHON: run 'make bench-deps' (Debian python3-pandas) or set PYTHON"
	"$PYTHON" -c 'import pandas, numpy' 2>/dev/null ||
		die "$PYTHON cannot import pandas and numpy: run 'make bench-deps' (apt-get install python3-pandas)"
	local n
	for n in $BENCH_ROWS; do
		[[ $n =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROWS: '$n' is not a positive row count"
	done
	local v
	for v in BENCH_REPEATS BENCH_COUNT BENCH_CLI_RUNS BENCH_E2E_RUNS; do
		[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v: '${!v}' is not a positive integer"
	done
}

# largest_rows is the largest of BENCH_ROWS: the file of the end-to-end stages.
largest_rows() { printf '%s\n' $BENCH_ROWS | sort -n | tail -1; }

MLRUN() { "$BENCH_DIR/bin/mlrun" "$@"; }

csv_path() { printf '%s/applications_%s.csv' "$BENCH_DIR" "$1"; }

# stage_data builds mlrun and mlrun-synth into $BENCH_DIR/bin and writes one
# CSV per row count. The generator is deterministic and fast (~1 s per
# million rows), so the files are always rewritten rather than trusted from
# an earlier run.
stage_data() {
	mkdir -p "$BENCH_DIR/bin" || die "cannot create $BENCH_DIR"
	log "building mlrun and mlrun-synth"
	(cd "$ROOT" && "$GO" build -o "$BENCH_DIR/bin/mlrun" ./cmd/mlrun &&
		"$GO" build -o "$BENCH_DIR/bin/mlrun-synth" ./cmd/mlrun-synth) ||
		die "go build ./cmd/mlrun ./cmd/mlrun-synth failed"
	local n
	for n in $BENCH_ROWS; do
		log "generating $n rows -> $(csv_path "$n")"
		"$BENCH_DIR/bin/mlrun-synth" -rows "$n" -seed "$SEED" -o "$(csv_path "$n")" ||
			die "mlrun-synth -rows $n failed"
	done
}

wants_to_string() {
	case " $BENCH_TO_STRING " in
	" all ") return 0 ;;
	" none ") return 1 ;;
	*" $1 "*) return 0 ;;
	esac
	return 1
}

stage_python() {
	local n out flags
	for n in $BENCH_ROWS; do
		out="$BENCH_DIR/python_$n.json"
		flags=(--repeats "$BENCH_REPEATS" --tag "$n")
		wants_to_string "$n" || flags+=(--skip-to-string)
		log "python baseline, $n rows ${flags[*]}"
		"$PYTHON" "$ROOT/bench/baseline.py" "$(csv_path "$n")" "${flags[@]}" >"$out.tmp" ||
			die "bench/baseline.py failed on $(csv_path "$n")"
		mv "$out.tmp" "$out"
	done
}

stage_go() {
	local pkgs=() p n
	for p in $GO_BENCH_PKGS; do
		if [[ -d $ROOT/$p ]]; then pkgs+=("$p")
		else log "warning: $p does not exist; skipped"; fi
	done
	local out="$BENCH_DIR/go_bench.txt"
	if ((${#pkgs[@]} == 0)); then
		log "warning: no Go packages to benchmark"
		: >"$out"
		return
	fi
	export MLRUN_BENCH_DIR="$BENCH_DIR"
	for n in $BENCH_ROWS; do export "MLRUN_BENCH_CSV_$n=$(csv_path "$n")"; done
	log "go test -bench '$GO_BENCH' -count $BENCH_COUNT ${pkgs[*]}"
	(cd "$ROOT" && "$GO" test -run '^$' -bench "$GO_BENCH" -benchmem -count "$BENCH_COUNT" "${pkgs[@]}") \
		>"$out" 2>&1 || {
		cat "$out" >&2
		log "error: go test -bench failed (output above, also in $out); the report shows what was measured"
		GO_FAILED=1
		return
	}
	grep -c '^Benchmark' "$out" >/dev/null || log "warning: no benchmark matched '$GO_BENCH' in ${pkgs[*]}"
}

# hyperfine_json NAME ARGS...: hyperfine with its JSON export in
# $BENCH_DIR/cli_NAME.json, which bench/report.py tabulates. For stages too.
hyperfine_json() {
	local name=$1
	shift
	command -v hyperfine >/dev/null || die "hyperfine not found: run 'make bench-deps'"
	log "hyperfine $name"
	hyperfine --export-json "$BENCH_DIR/cli_$name.json" "$@" >&2 || die "hyperfine $name failed"
}

# measure NAME ARGS...: bench/measure.py (wall time and peak RSS of whole
# processes), its JSON in $BENCH_DIR/e2e_NAME.json. For stages too.
measure() {
	local name=$1
	shift
	"$PYTHON" "$ROOT/bench/measure.py" --name "$name" "$@" >"$BENCH_DIR/e2e_$name.json.tmp" ||
		die "measure $name failed"
	mv "$BENCH_DIR/e2e_$name.json.tmp" "$BENCH_DIR/e2e_$name.json"
}

# big_pipeline writes the example pipeline, its load path pointing at the
# largest generated CSV, to $BENCH_DIR/credit-risk-<rows>.yaml; prints its path.
big_pipeline() {
	local n out
	n=$(largest_rows)
	out="$BENCH_DIR/credit-risk-$n.yaml"
	sed "s#^\(    path: \).*applications\.csv\$#\1$(csv_path "$n")#" \
		"$ROOT/examples/pipelines/credit-risk.yaml" >"$out"
	grep -q "path: $(csv_path "$n")\$" "$out" || die "cannot point $out at $(csv_path "$n")"
	printf '%s' "$out"
}

# assert_all_cached STORE PIPELINE: one more run must report every step cached.
assert_all_cached() {
	local out
	out=$(cd "$ROOT" && MLRUN --store "$1" run "$2" 2>&1) || die "mlrun run $2 failed: $out"
	grep -Eq '\(0 ran, [1-9][0-9]* cached' <<<"$out" || die "$2 is not all cached in $1: $out"
}

# stage_cli: no-op re-runs (every step cached), process start included.
stage_cli() {
	local ex=examples/pipelines/credit-risk.yaml big store
	store="$BENCH_DIR/store-example"
	rm -rf "$store"
	log "pre-warming $store with $ex"
	(cd "$ROOT" && MLRUN --store "$store" run -q "$ex") || die "mlrun run $ex failed"
	assert_all_cached "$store" "$ex"
	(cd "$ROOT" && hyperfine_json noop_example -N --warmup 3 --runs "$BENCH_CLI_RUNS" \
		"$BENCH_DIR/bin/mlrun --store $store run -q $ex")

	big=$(big_pipeline)
	store="$BENCH_DIR/store-big"
	rm -rf "$store"
	log "pre-warming $store with $big"
	MLRUN --store "$store" run -q "$big" || die "mlrun run $big failed"
	assert_all_cached "$store" "$big"
	hyperfine_json noop_big -N --warmup 1 --runs "$(((BENCH_CLI_RUNS + 2) / 3))" \
		"$BENCH_DIR/bin/mlrun --store $store run -q $big" \
		"$BENCH_DIR/bin/mlrun --store $store run -q --rehash $big" \
		"$BENCH_DIR/bin/mlrun validate $big"
}

# stage_e2e: cold full runs (empty store) on the largest CSV, mlrun and the
# pandas/scikit-learn equivalent (bench/pipeline.py), wall time and peak RSS.
stage_e2e() {
	local big n store="$BENCH_DIR/store-cold"
	big=$(big_pipeline)
	n=$(largest_rows)
	measure "mlrun_cold_$n" --runs "$BENCH_E2E_RUNS" --setup "rm -rf '$store'" \
		-- "$BENCH_DIR/bin/mlrun" --store "$store" run -q "$big"
	"$PYTHON" -c 'import sklearn' 2>/dev/null || {
		log "warning: $PYTHON has no scikit-learn: Python end-to-end skipped (make bench-deps)"
		return
	}
	measure "python_cold_$n" --runs "$BENCH_E2E_RUNS" --stdout "$BENCH_DIR/python_pipeline_$n.out" \
		-- "$PYTHON" "$ROOT/bench/pipeline.py" "$(csv_path "$n")"
}

# Extra stages: every bench/stages/NAME.sh runs as `bash NAME.sh`, in name
# order after the built-in stages, in the repository root, with the
# environment below exported. Its standard output (Markdown) becomes a
# section of the report ($BENCH_DIR/report-NAME.md); progress goes to
# standard error. A failing stage is reported and the others still run; the
# script then exits 1. See bench/README.md.
extra_stages() {
	local f
	for f in "$ROOT"/bench/stages/*.sh; do
		[[ -e $f ]] && basename "$f" .sh
	done
	return 0
}

run_extra_stage() {
	local st=$1 n
	export ROOT BENCH_DIR BENCH_ROWS BENCH_REPEATS BENCH_COUNT PYTHON GO
	export MLRUN_BIN="$BENCH_DIR/bin/mlrun" MLRUN_SYNTH_BIN="$BENCH_DIR/bin/mlrun-synth"
	for n in $BENCH_ROWS; do export "MLRUN_BENCH_CSV_$n=$(csv_path "$n")"; done
	if ! (cd "$ROOT" && bash "bench/stages/$st.sh") >"$BENCH_DIR/report-$st.md.tmp"; then
		log "error: stage bench/stages/$st.sh failed; its section is left out of the report"
		rm -f "$BENCH_DIR/report-$st.md.tmp"
		STAGES_FAILED+=("$st")
		return
	fi
	mv "$BENCH_DIR/report-$st.md.tmp" "$BENCH_DIR/report-$st.md"
}

main() {
	check_tools
	local all stages st
	all="data python go cli e2e $(extra_stages | tr '\n' ' ')"
	stages=${BENCH_STAGES:-$all}
	for st in $stages; do
		[[ " $all " == *" $st "* ]] || die "BENCH_STAGES: unknown stage '$st' (have: $all)"
	done
	mkdir -p "$BENCH_DIR" || die "cannot create $BENCH_DIR"
	rm -f "$BENCH_DIR"/python_*.json "$BENCH_DIR"/go_bench.txt "$BENCH_DIR"/cli_*.json \
		"$BENCH_DIR"/e2e_*.json "$BENCH_DIR"/report-*.md
	for st in $stages; do
		log "stage $st"
		if declare -F "stage_$st" >/dev/null; then
			"stage_$st"
		else
			run_extra_stage "$st"
		fi
	done
	"$PYTHON" "$ROOT/bench/report.py" "$BENCH_DIR" --go "$GO" >"$BENCH_DIR/report.md" ||
		die "bench/report.py failed"
	cat "$BENCH_DIR/report.md"
	log "report saved to $BENCH_DIR/report.md"
	((GO_FAILED == 0)) || die "the Go benchmarks failed (see $BENCH_DIR/go_bench.txt)"
	((${#STAGES_FAILED[@]} == 0)) || die "stages failed: ${STAGES_FAILED[*]} (output above)"
}

main "$@"
