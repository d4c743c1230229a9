#!/usr/bin/env bash
# bench/run.sh: side-by-side benchmark of mlrun (Go) against the pandas
# reference, on synthetic loan applications. `make bench` runs it after
# installing the Python packages and hyperfine (make bench-deps).
#
# Steps: build mlrun-synth; generate the CSVs (seed 42) into $BENCH_DIR; run
# bench/baseline.py on each; run the Go benchmarks; run the end-to-end CLI
# timings (run_cli_timings); print a Markdown report (bench/report.py), also
# saved as $BENCH_DIR/report.md. See bench/README.md.
#
# Environment (all optional):
#   BENCH_DIR        work directory for data and results   (/tmp/mlrun-bench)
#   BENCH_ROWS       row counts to generate and time        ("100000 1000000")
#   BENCH_REPEATS    runs per Python stage (median)         (5)
#   BENCH_COUNT      go test -count (median over runs)      (5)
#   BENCH_TO_STRING  row counts that also time sha256(df.to_string()) (~85 s and
#                    ~3.5 GB at 1M rows): a list, "all" or "none"    (100000)
#   GO_BENCH         go test -bench regexp                  (BenchmarkReadCSV|BenchmarkEval)
#   GO_BENCH_PKGS    packages to benchmark                  (./steps/table ./steps/exprenv)
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
GO_BENCH=${GO_BENCH:-'BenchmarkReadCSV|BenchmarkEval'}
GO_BENCH_PKGS=${GO_BENCH_PKGS:-"./steps/table ./steps/exprenv"}
PYTHON=${PYTHON:-/usr/bin/python3}
SEED=42
GO_FAILED=0

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
	[[ $BENCH_REPEATS =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPEATS: '$BENCH_REPEATS' is not a positive integer"
	[[ $BENCH_COUNT =~ ^[1-9][0-9]*$ ]] || die "BENCH_COUNT: '$BENCH_COUNT' is not a positive integer"
}

csv_path() { printf '%s/applications_%s.csv' "$BENCH_DIR" "$1"; }

# build_and_generate builds mlrun-synth and writes one CSV per row count. The
# generator is deterministic and fast (~1 s per million rows), so the files
# are always rewritten rather than trusted from an earlier run.
build_and_generate() {
	mkdir -p "$BENCH_DIR/bin" || die "cannot create $BENCH_DIR"
	log "building mlrun-synth"
	(cd "$ROOT" && "$GO" build -o "$BENCH_DIR/bin/mlrun-synth" ./cmd/mlrun-synth) ||
		die "go build ./cmd/mlrun-synth failed"
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

run_python() {
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

run_go() {
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

# ----------------------------------------------------------------------------
# run_cli_timings: END-TO-END CLI TIMINGS (hyperfine). TO BE EXTENDED when the
# mlrun CLI exists: add entries to CLI_COMMANDS below, each a name and a
# command line; every entry runs under hyperfine and its JSON export is
# written to $BENCH_DIR/cli_<name>.json, which bench/report.py tabulates
# ("End to end" section). Put the Python command of the same workflow next
# to the mlrun one so they land side by side. Available variables:
# $ROOT, $BENCH_DIR, $PYTHON, $(csv_path ROWS).
# ----------------------------------------------------------------------------
run_cli_timings() {
	local -a CLI_COMMANDS=(
		# "name" "command line"
		# e.g. "mlrun_run_1M" "$ROOT/bin/mlrun run ... $(csv_path 1000000)"
	)
	rm -f "$BENCH_DIR"/cli_*.json
	if ((${#CLI_COMMANDS[@]} == 0)); then
		log "end-to-end CLI timings: none configured yet (see run_cli_timings)"
		return
	fi
	command -v hyperfine >/dev/null || die "hyperfine not found: run 'make bench-deps'"
	local i
	for ((i = 0; i < ${#CLI_COMMANDS[@]}; i += 2)); do
		log "hyperfine ${CLI_COMMANDS[i]}"
		hyperfine --warmup 1 --runs "$BENCH_COUNT" --export-json "$BENCH_DIR/cli_${CLI_COMMANDS[i]}.json" \
			"${CLI_COMMANDS[i + 1]}" >&2 || die "hyperfine ${CLI_COMMANDS[i]} failed"
	done
}

main() {
	check_tools
	rm -f "$BENCH_DIR"/python_*.json "$BENCH_DIR"/go_bench.txt
	build_and_generate
	run_python
	run_go
	run_cli_timings
	"$PYTHON" "$ROOT/bench/report.py" "$BENCH_DIR" --go "$GO" >"$BENCH_DIR/report.md" ||
		die "bench/report.py failed"
	cat "$BENCH_DIR/report.md"
	log "report saved to $BENCH_DIR/report.md"
	((GO_FAILED == 0)) || die "the Go benchmarks failed (see $BENCH_DIR/go_bench.txt)"
}

main "$@"
