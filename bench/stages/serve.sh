#!/usr/bin/env bash
# Online scoring side by side: mlrun serve (POST /score, every decision
# fsynced in its journal before the answer, reason codes for adverse
# decisions) against a Flask + scikit-learn server under gunicorn
# (bench/serve_flask.py: same pipeline, same kind of model, reason codes, no
# durable log), both on loopback, driven in the same run by the same Go load
# generator (cmd/mlrun-load: closed loop, keep-alive, single-record
# requests), alternating mlrun and Python for each repeat. Prints a Markdown
# table of the medians: throughput, p50 and p99 latency, and the ratios.
#
#   BENCH_DIR (default /tmp/mlrun-bench)  BENCH_SERVE_ROWS (training rows,
#   default 20000)  BENCH_SERVE_SECONDS (measured seconds per run, default
#   5)  BENCH_SERVE_REPEATS (default 3)  BENCH_SERVE_CONCURRENCY (connections,
#   default 16)  BENCH_SERVE_WORKERS (gunicorn workers, default nproc)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
export PATH="$PATH:/usr/local/go/bin"
dir=${BENCH_DIR:-/tmp/mlrun-bench}/serve
rows=${BENCH_SERVE_ROWS:-20000}
secs=${BENCH_SERVE_SECONDS:-5}
repeats=${BENCH_SERVE_REPEATS:-3}
conc=${BENCH_SERVE_CONCURRENCY:-16}
workers=${BENCH_SERVE_WORKERS:-$(nproc)}
python=${PYTHON:-/usr/bin/python3}
log() { echo "bench: serve: $*" >&2; }
command -v gunicorn >/dev/null || { log "gunicorn not found: run 'make bench-deps' (Debian gunicorn python3-flask)"; exit 1; }
"$python" -c 'import flask, sklearn' 2>/dev/null || { log "$python cannot import flask and sklearn: run 'make bench-deps'"; exit 1; }

rm -rf "$dir"
mkdir -p "$dir/bin"
# The binaries bench/run.sh's data stage built, else built here.
mlrun=${MLRUN_BIN:-}
synth=${MLRUN_SYNTH_BIN:-}
[ -x "$mlrun" ] || { mlrun=$dir/bin/mlrun; go build -o "$mlrun" ./cmd/mlrun; }
[ -x "$synth" ] || { synth=$dir/bin/mlrun-synth; go build -o "$synth" ./cmd/mlrun-synth; }
go build -o "$dir/bin/mlrun-load" ./cmd/mlrun-load
"$synth" -rows "$rows" -seed 42 -o "$dir/applications.csv"

cat >"$dir/p.yaml" <<'YAML'
mlrun: 1
name: pd
protected: [age, age_group]
reasons:
  debt_to_income_ratio: Debt too high relative to income
  credit_utilization: Credit card balances too high relative to limits
  payment_score: Too few payments made on time
  annual_income: Income too low
steps:
  applications:
    kind: load
    path: applications.csv
    columns:
      loan_default: int
      application_date: date
  quality:
    kind: validate
    input: applications
    rules:
      age_plausible:
        range: {column: age, min: 18, max: 100}
  features:
    kind: derive
    input: quality
    columns:
      debt_to_income_ratio: total_debt / (annual_income + 0.01)
      credit_utilization: credit_card_balance / (credit_limit + 0.01)
      payment_score: on_time_payments / (total_payments + 1) * 100
  split:
    kind: split
    input: features
    method: stratified
    stratify: loan_default
    test: 0.2
    seed: 42
  model:
    kind: train
    input: split.train
    algorithm: logistic_regression
    target: loan_default
    features: [debt_to_income_ratio, credit_utilization, payment_score, annual_income]
    class_weight: balanced
YAML
store="$dir/store"
(cd "$dir" && "$mlrun" --store "$store" run -q p.yaml >&2 &&
	"$mlrun" --store "$store" models register --run latest --step model --name pd >&2 &&
	"$mlrun" --store "$store" models promote pd 1 --alias production --reason bench >&2)

# Request bodies: 2000 applications as entered, without the target.
"$python" - "$dir/applications.csv" "$dir/bodies.jsonl" <<'PY'
import csv, json, sys
num = {"annual_income", "total_debt", "credit_card_balance", "credit_limit", "on_time_payments",
       "total_payments", "loan_amount", "age", "employment_years"}
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as out:
    for i, row in enumerate(csv.DictReader(f)):
        if i == 2000:
            break
        row.pop("loan_default")
        val = lambda v: None if v == "" else int(v) if v.lstrip("-").isdigit() else float(v)
        out.write(json.dumps({k: val(v) if k in num else v for k, v in row.items()}) + "\n")
PY

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

: >"$dir/mlrun-serve.out" # read below before the server may have opened it
"$mlrun" --store "$store" serve --model pd@production --addr 127.0.0.1:0 >>"$dir/mlrun-serve.out" 2>"$dir/mlrun-serve.err" &
mlrun_pid=$!
pids+=("$mlrun_pid")
mlrun_url=""
for _ in $(seq 600); do
	mlrun_url=$(sed -n 's/^serving .* on \(http:[^ ]*\)$/\1/p' "$dir/mlrun-serve.out")
	[ -n "$mlrun_url" ] && break
	kill -0 "$mlrun_pid" 2>/dev/null || { cat "$dir/mlrun-serve.err" >&2; exit 1; }
	sleep 0.1
done
[ -n "$mlrun_url" ] || { log "mlrun serve did not start"; exit 1; }

port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
MLRUN_SERVE_BENCH_CSV="$dir/applications.csv" gunicorn -w "$workers" -b "127.0.0.1:$port" --chdir "$root/bench" \
	--access-logfile /dev/null serve_flask:app >"$dir/flask.out" 2>"$dir/flask.err" &
pids+=("$!")
flask_url="http://127.0.0.1:$port"
for _ in $(seq 600); do
	curl -fs "$flask_url/health" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -fs "$flask_url/health" >/dev/null || { cat "$dir/flask.err" >&2; log "gunicorn did not start"; exit 1; }

load() { "$dir/bin/mlrun-load" -url "$1/score" -bodies "$dir/bodies.jsonl" -c "$conc" -d "${secs}s" -warmup 1s -expect '"decision"'; }
for r in $(seq "$repeats"); do
	log "run $r/$repeats: mlrun serve (load $(cut -d' ' -f1-3 /proc/loadavg))"
	load "$mlrun_url" >"$dir/load_mlrun_$r.json"
	log "run $r/$repeats: flask (load $(cut -d' ' -f1-3 /proc/loadavg))"
	load "$flask_url" >"$dir/load_flask_$r.json"
done
curl -fs "$mlrun_url/metrics" >"$dir/metrics.txt"
kill -TERM "$mlrun_pid"
wait "$mlrun_pid" || { log "mlrun serve did not stop cleanly"; cat "$dir/mlrun-serve.err" >&2; exit 1; }
"$mlrun" --store "$store" audit log --type batch.scored --json >"$dir/batches.json"
"$mlrun" --store "$store" verify >&2

"$python" - "$dir" "$repeats" "$conc" "$workers" "$secs" <<'PY'
import json, re, statistics, sys
d, repeats, conc, workers, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
runs = {s: [json.load(open(f"{d}/load_{s}_{r}.json")) for r in range(1, repeats + 1)] for s in ("mlrun", "flask")}
for s, v in runs.items():
    for x in v:
        if x["ok"] == 0 or x["non_200"] or x["errors"]:
            sys.exit(f"bench: serve: {s}: {x['ok']} answered 200, {x['non_200']} other answers, {x['errors']} errors")
med = {s: {k: statistics.median(x[k] for x in v) for k in ("rps", "p50_ms", "p99_ms")} for s, v in runs.items()}
m = open(f"{d}/metrics.txt").read()
def metric(name):
    x = re.search(r"^" + re.escape(name) + r" (\S+)$", m, re.M)
    return float(x.group(1)) if x else float("nan")
fsyncs, journaled = metric("mlrun_serve_journal_fsyncs_total"), metric("mlrun_serve_journal_decisions_total")
recorded = sum(int(e["detail"]["rows"]) for e in json.load(open(f"{d}/batches.json")) if e["detail"].get("source") == "serve")
answered = sum(x["ok"] for x in runs["mlrun"])
print("## Online scoring (mlrun serve)\n")
print(f"Single-record POST /score on loopback, {conc} keep-alive connections (closed loop), {secs} s measured after a 1 s warm-up, "
      f"medians of {repeats} runs alternating the two servers; the load generator (cmd/mlrun-load) shares the machine's cores. "
      f"mlrun serve fsyncs every decision in its journal before answering (group commit) and computes reason codes for adverse decisions; "
      f"the Python side is Flask + scikit-learn under gunicorn ({workers} sync workers), same pipeline and model kind, reason codes, no durable log.\n")
print("| server | requests/s | p50 ms | p99 ms |")
print("|---|---|---|---|")
for s, name in (("mlrun", "mlrun serve"), ("flask", f"Flask + scikit-learn, gunicorn -w {workers}")):
    print(f"| {name} | {med[s]['rps']:.0f} | {med[s]['p50_ms']:.2f} | {med[s]['p99_ms']:.2f} |")
print(f"| **ratio** (mlrun / Python throughput; Python / mlrun latency) | **{med['mlrun']['rps']/med['flask']['rps']:.1f}x** "
      f"| {med['flask']['p50_ms']/med['mlrun']['p50_ms']:.1f}x | {med['flask']['p99_ms']/med['mlrun']['p99_ms']:.1f}x |")
print(f"\nJournal: {journaled:.0f} decisions in {fsyncs:.0f} fsyncs ({journaled/max(fsyncs,1):.1f} per fsync); "
      f"{recorded} decisions recorded in the store's decision logs after SIGTERM "
      f"({answered} answered 200 in the measured windows, plus the warm-ups); mlrun verify clean.")
print("\nEvery run: " + "; ".join(f"{s} " + ", ".join(f"{x['rps']:.0f}/s p99 {x['p99_ms']:.2f} ms" for x in v) for s, v in runs.items()))
PY
