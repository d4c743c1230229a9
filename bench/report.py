#!/usr/bin/python3
"""Print the Markdown comparison table of a bench/run.sh run.

Usage:
    /usr/bin/python3 bench/report.py DIR [--go GO]

Reads from DIR (standard library only):
  python_<rows>.json   one bench/baseline.py result per row count
  go_bench.txt         `go test -bench ... -benchmem -count N` output
  cli_*.json           optional hyperfine --export-json results (end-to-end CLI timings)
  e2e_*.json           optional bench/measure.py results (wall time, peak RSS)
  report-*.md          optional Markdown sections written by bench/stages/*.sh,
                       appended in name order
and prints, to standard output: the machine, the Python stages, every Go
benchmark (medians over -count runs), and the side-by-side table of PAIRS
with the ratio Python median / Go median (> 1 means Go is faster).
"""
import argparse
import glob
import json
import os
import platform
import re
import statistics
import subprocess
import sys

# Side-by-side rows: (label, Python stage in baseline.py's JSON, regexp that
# selects Go benchmarks by name). A Go benchmark whose name holds a row count
# as a path element or after "=", "_" or "-" ("ReadCSV/rows=1M", "Eval/100k",
# "ReadCSV_1000000") pairs only with the Python run of that size; one with no
# row count in its name pairs with every size. Extend this list when new Go benchmarks
# arrive.
PAIRS = [
    ("load: pandas.read_csv vs mlrun load step (parse + types + SHA-256)",
     "read_csv", r"^BenchmarkLoadStep"),
    ("fingerprint: sha256(df.to_string()) vs mlrun load step",
     "to_string", r"^BenchmarkLoadStep"),
    ("derive 3 workshop features: pandas vs mlrun derive step",
     "derive", r"^BenchmarkDeriveStep"),
]

# The workshop fingerprint at 1M rows from ../shared/bench/baselines.md
# (same kind of machine, not this run): quoted only when this run skipped it.
TO_STRING_1M_REFERENCE_S = 85.45

BENCH_LINE = re.compile(r"^(Benchmark\S+?)(?:-(\d+))?\s+(\d+)\s+(.*)$")


def parse_go(path):
    """Go benchmark results keyed by (package, name): lists of metric dicts."""
    out, pkg = {}, ""
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("pkg: "):
                pkg = line[5:].strip()
                continue
            m = BENCH_LINE.match(line)
            if not m:
                continue
            fields = m.group(4).split()
            metrics = {"iterations": int(m.group(3))}
            for value, unit in zip(fields[0::2], fields[1::2]):
                try:
                    metrics[unit] = float(value)
                except ValueError:
                    pass
            if "ns/op" in metrics:
                out.setdefault((pkg, m.group(1)), []).append(metrics)
    return out


def median_of(runs, unit):
    vals = [r[unit] for r in runs if unit in r]
    return statistics.median(vals) if vals else None


def fmt_s(s):
    """Human seconds: 3 significant figures, in s, ms or µs."""
    if s is None:
        return "–"
    if s >= 1:
        return f"{s:.3g} s" if s < 100 else f"{s:.0f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def fmt_bytes(b):
    if b is None:
        return "–"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= scale:
            return f"{b / scale:.1f} {unit}"
    return f"{b:.0f} B"


def fmt_rows(n):
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


ROW_COUNT = re.compile(r"(?:^|[/_=-])(\d+)([kKmM]?)(?=$|[/_=-])")


def row_counts(name):
    """Row counts named in a Go benchmark's name ("rows=1M", "100k", "100000").

    Numbers below 1000 (jobs, repeats) are not row counts.
    """
    out = set()
    for digits, unit in ROW_COUNT.findall(name):
        n = int(digits) * {"": 1, "k": 1000, "m": 1_000_000}[unit.lower()]
        if n >= 1000:
            out.add(n)
    return out


def run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unavailable"


def machine(go, py):
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "unknown"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = fmt_bytes(int(line.split()[1]) * 1024)
                    break
    except OSError:
        pass
    rows = [("CPU", cpu), ("nproc", run(["nproc"])), ("memory", mem),
            ("kernel", f"{platform.system()} {platform.release()}"),
            ("go", run([go, "version"]))]
    if py:
        v = py["versions"]
        rows.append(("python (baseline)", f"{py['python_executable']} {v['python']}, "
                                          f"pandas {v['pandas']}, numpy {v['numpy']}"))
    rows.append(("python3 on PATH", run(["python3", "--version"])))
    return rows



def go_median_s(go, pattern, rows):
    """Median seconds of the first Go benchmark matching pattern for rows."""
    for (pkg, name), runs in sorted(go.items()):
        if re.search(pattern, name) and rows in row_counts(name):
            return median_of(runs, "ns/op") / 1e9, name, len(runs)
    return None, None, 0


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def hyperfine_medians(path):
    """{command: (median s, runs)} of a hyperfine JSON export."""
    r = load_json(path) or {}
    return [(x["command"], x["median"], len(x.get("times") or [])) for x in r.get("results", [])]


def faster(base_s, mlrun_s):
    """"N× faster" or "N× slower" for mlrun against a baseline."""
    r = base_s / mlrun_s
    return f"{r:.2f}× faster" if r >= 1 else f"{1 / r:.2f}× slower"


def issue2(d, py, go):
    """The issue-2 figures: mlrun vs baseline vs ratio, with the targets."""
    rows = []  # (figure, mlrun, baseline, ratio, target, met)
    big = max(py) if py else None

    def met(ok):
        return "–" if ok is None else ("**yes**" if ok else "**no**")

    for n in sorted(py):
        g, name, k = go_median_s(go, r"^BenchmarkLoadStep", n)
        p = py[n]["read_csv"]["median_s"]
        ratio = p / g if g else None
        rows.append((f"load + fingerprint, {fmt_rows(n)} rows ({fmt_bytes(py[n]['csv_bytes'])}) "
                     f"vs pandas.read_csv", fmt_s(g), fmt_s(p),
                     faster(p, g) if g else "–", "≥ 3× faster" if n == big else "",
                     met(ratio >= 3 if ratio and n == big else None)))
        ts = py[n].get("to_string")
        if ts and g:
            rows.append((f"load + fingerprint, {fmt_rows(n)} rows vs sha256(df.to_string())",
                         fmt_s(g), fmt_s(ts["median_s"]), f"{ts['median_s'] / g:.0f}× faster", "", "–"))
        elif n == 1_000_000 and g:
            rows.append((f"load + fingerprint, 1M rows vs sha256(df.to_string()) "
                         f"(**reference figure** from ../shared/bench/baselines.md, not this run)",
                         fmt_s(g), fmt_s(TO_STRING_1M_REFERENCE_S),
                         f"{TO_STRING_1M_REFERENCE_S / g:.0f}× faster", "", "–"))
    if big:
        g, name, k = go_median_s(go, r"^BenchmarkDeriveStep", big)
        p = py[big]["derive"]["median_s"]
        ratio = g / p if g else None
        rows.append((f"derive 3 features, {fmt_rows(big)} rows vs pandas", fmt_s(g), fmt_s(p),
                     f"{ratio:.2f}× pandas' time" if ratio else "–", "≤ 2× pandas' time",
                     met(ratio <= 2 if ratio else None)))
    for cmd, med, k in hyperfine_medians(os.path.join(d, "cli_noop_example.json")):
        rows.append((f"no-op re-run of the example (all cached), {k} runs: `mlrun run -q credit-risk.yaml`",
                     fmt_s(med), "", "", "< 50 ms", met(med < 0.05)))
    for cmd, med, k in hyperfine_medians(os.path.join(d, "cli_noop_big.json")):
        what = ("validate only (compile)" if " validate " in cmd else
                "no-op re-run with --rehash" if "--rehash" in cmd else "no-op re-run (fingerprint memo)")
        rows.append((f"{what}, {fmt_rows(big) if big else ''} rows, {k} runs", fmt_s(med), "", "", "", "–"))
    for path in sorted(glob.glob(os.path.join(d, "e2e_mlrun_cold_*.json"))):
        m = load_json(path)
        if not m:
            continue
        n = int(path.rsplit("_", 1)[1].split(".")[0])
        pm = load_json(os.path.join(d, f"e2e_python_cold_{n}.json"))
        size = py[n]["csv_bytes"] if n in py else None
        rss = m["median_max_rss_kib"] * 1024
        prss = pm["median_max_rss_kib"] * 1024 if pm else None
        k = len(m["runs"])
        rows.append((f"cold full run, {fmt_rows(n)} rows, {k} runs: wall time "
                     f"(Python: bench/pipeline.py, pandas + scikit-learn, imports included)",
                     fmt_s(m["median_wall_s"]), fmt_s(pm["median_wall_s"]) if pm else "–",
                     faster(pm["median_wall_s"], m["median_wall_s"]) if pm else "–", "", "–"))
        rows.append((f"cold full run, {fmt_rows(n)} rows: peak RSS"
                     + (f" ({rss / size:.1f}× the CSV's {fmt_bytes(size)})" if size else ""),
                     fmt_bytes(rss), fmt_bytes(prss) if prss else "–",
                     (f"{prss / rss:.2f}× less" if prss >= rss else f"{rss / prss:.2f}× more") if prss else "–",
                     "< 3× the CSV", met(rss < 3 * size if size else None)))
    if not rows:
        return
    print("\n## Issue 2 figures (this run; medians)\n")
    print("| figure | mlrun | baseline | ratio | target | met |")
    print("|---|---:|---:|---:|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


def side_by_side(d, py, go):
    """The side-by-side table and the issue 2 figures."""
    print("\n## Side by side (ratio = Python median / Go median; > 1: Go faster)\n")
    print("| stage | rows | Python | Go benchmark | Go | ratio |")
    print("|---|---:|---:|---|---:|---:|")
    for label, stage, pattern in PAIRS:
        for n in sorted(py):
            st = py[n].get(stage)
            p_s = st["median_s"] if st else None
            matches = []
            for (pkg, name), runs in sorted(go.items()):
                if not re.search(pattern, name):
                    continue
                named = row_counts(name)
                if named and n not in named:
                    continue
                g_s, note = median_of(runs, "ns/op") / 1e9, ""
                mbs = median_of(runs, "MB/s")
                if not named and mbs:
                    # Unknown row count: scale by throughput to this file's size.
                    g_s, note = py[n]["csv_bytes"] / (mbs * 1e6), f" (its {mbs:.0f} MB/s on this file)"
                elif not named:
                    note = " (its own size)"
                matches.append((name + note, g_s, bool(named) or bool(mbs)))
            if not matches:
                print(f"| {label} | {fmt_rows(n)} | {fmt_s(p_s) if st else 'skipped'} "
                      f"| no `{pattern}` benchmark for this size | – | – |")
            for name, g_s, comparable in matches:
                ratio = f"{p_s / g_s:.1f}×" if p_s and g_s and comparable else "–"
                print(f"| {label} | {fmt_rows(n)} | {fmt_s(p_s) if st else 'skipped'} "
                      f"| {name} | {fmt_s(g_s)} | {ratio} |")

    issue2(d, py, go)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Markdown report of a bench/run.sh run")
    ap.add_argument("dir")
    ap.add_argument("--go", default="go", help="go binary for `go version`")
    a = ap.parse_args(argv)

    py = {}
    for path in glob.glob(os.path.join(a.dir, "python_*.json")):
        with open(path) as f:
            r = json.load(f)
        py[r["rows"]] = r
    go_path = os.path.join(a.dir, "go_bench.txt")
    go = parse_go(go_path) if os.path.exists(go_path) else {}
    extra = sorted(glob.glob(os.path.join(a.dir, "report-*.md")))
    if not py and not go and not extra:
        print(f"report: no python_*.json, go_bench.txt or report-*.md in {a.dir}", file=sys.stderr)
        return 1

    print("# mlrun vs pandas: benchmark report\n")
    print("| machine | |\n|---|---|")
    for k, v in machine(a.go, next(iter(py.values()), None)):
        print(f"| {k} | {v} |")

    if py:
        print("\n## Python reference (bench/baseline.py; median of runs)\n")
        print("| rows | file | read_csv | peak RSS after read | sha256 of bytes | "
              "sha256(df.to_string()) | derive 3 features |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for n in sorted(py):
            r = py[n]
            ts = r.get("to_string")
            print(f"| {fmt_rows(n)} | {fmt_bytes(r['csv_bytes'])} | {fmt_s(r['read_csv']['median_s'])} "
                  f"| {r['peak_rss_mb']:.0f} MiB | {fmt_s(r['sha256_file']['median_s'])} "
                  f"| {fmt_s(ts['median_s']) if ts else 'skipped'} | {fmt_s(r['derive']['median_s'])} |")

    if go:
        print("\n## Go benchmarks (go test -bench; median of -count runs)\n")
        print("| package | benchmark | runs | time/op | MB/s | B/op | allocs/op |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for (pkg, name), runs in sorted(go.items()):
            mbs = median_of(runs, "MB/s")
            allocs = median_of(runs, "allocs/op")
            print(f"| {pkg.rsplit('/', 2)[-2] + '/' + pkg.rsplit('/', 1)[-1] if '/' in pkg else pkg} "
                  f"| {name} | {len(runs)} | {fmt_s(median_of(runs, 'ns/op') / 1e9)} "
                  f"| {'–' if mbs is None else f'{mbs:.0f}'} | {fmt_bytes(median_of(runs, 'B/op'))} "
                  f"| {'–' if allocs is None else f'{allocs:.0f}'} |")

    if py or go:  # not when BENCH_STAGES names extra stages only
        side_by_side(a.dir, py, go)

    cli = sorted(glob.glob(os.path.join(a.dir, "cli_*.json")))
    if cli:
        print("\n## End to end (hyperfine; whole processes)\n")
        print("| command | runs | median | mean ± sd | min–max |")
        print("|---|---:|---:|---:|---:|")
        for path in cli:
            with open(path) as f:
                for r in json.load(f).get("results", []):
                    print(f"| `{r['command']}` | {len(r.get('times') or [])} | {fmt_s(r['median'])} "
                          f"| {fmt_s(r['mean'])} ± {fmt_s(r['stddev'] or 0)} "
                          f"| {fmt_s(r['min'])}–{fmt_s(r['max'])} |")
    for path in extra:
        with open(path) as f:
            print("\n" + f.read().rstrip("\n"))
    print("\nCompare figures from the same machine only; differences under ~10% are noise.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
