#!/usr/bin/python3
"""Time the Python (pandas) reference for mlrun's side-by-side benchmark.

Usage:
    /usr/bin/python3 bench/baseline.py FILE.csv [--repeats N] [--skip-to-string] [--tag T]

Measures, on one CSV of loan applications (as written by mlrun-synth):

  read_csv       pandas.read_csv(FILE) with default options; median/min/max of
                 --repeats runs (the first run may pay for a cold page cache)
  sha256_file    hashlib.sha256 of the raw file bytes in 1 MiB chunks, the
                 fingerprint mlrun computes (median of --repeats runs)
  to_string      hashlib.sha256(df.to_string().encode()), the workshop's
                 fingerprint; slow (tens of seconds per million rows) and
                 memory-hungry, run once, or skipped with --skip-to-string
  derive         the workshop's three features with vectorised pandas
                 arithmetic (median of --repeats runs):
                   debt_to_income_ratio = total_debt / (annual_income + 0.01)
                   credit_utilization   = credit_card_balance / (credit_limit + 0.01)
                   payment_score        = on_time_payments / (total_payments + 1) * 100
  peak_rss_mb    the process's peak resident set (getrusage ru_maxrss) right
                 after the read_csv runs; rss_before_read_mb is the same figure
                 after the imports, before any read

Prints exactly one JSON object to standard output; progress goes to standard
error. Exit status 2 for bad arguments or a CSV without the workshop's columns.
"""
import argparse
import gc
import hashlib
import json
import os
import platform
import resource
import statistics
import sys
import time

import numpy as np
import pandas as pd

REQUIRED = ["total_debt", "annual_income", "credit_card_balance", "credit_limit",
            "on_time_payments", "total_payments"]


def peak_rss_mb():
    """Peak resident set of this process in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def summary(walls):
    """Median/min/max of a list of wall-clock seconds, rounded to microseconds."""
    return {"runs": len(walls),
            "median_s": round(statistics.median(walls), 6),
            "min_s": round(min(walls), 6),
            "max_s": round(max(walls), 6)}


def timed(fn, repeats):
    """Run fn repeats times (gc before each); return (last result, wall seconds list)."""
    walls, out = [], None
    for _ in range(repeats):
        out = None
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
    return out, walls


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def derive(df):
    df["debt_to_income_ratio"] = df["total_debt"] / (df["annual_income"] + 0.01)
    df["credit_utilization"] = df["credit_card_balance"] / (df["credit_limit"] + 0.01)
    df["payment_score"] = df["on_time_payments"] / (df["total_payments"] + 1) * 100
    return df


def log(msg):
    print(f"[baseline {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description="time the pandas reference on one CSV")
    ap.add_argument("csv", help="CSV file of loan applications (mlrun-synth output)")
    ap.add_argument("--repeats", type=int, default=5,
                    help="runs of read_csv, sha256_file and derive (median reported; default 5)")
    ap.add_argument("--skip-to-string", action="store_true",
                    help="skip sha256(df.to_string()), which takes ~85 s at 1M rows")
    ap.add_argument("--tag", default="", help="free-form label copied into the output")
    a = ap.parse_args(argv)
    if a.repeats < 1:
        ap.error("--repeats must be at least 1")
    if not os.path.isfile(a.csv):
        ap.error(f"{a.csv}: no such file")

    res = {"tag": a.tag, "csv": os.path.abspath(a.csv), "csv_bytes": os.path.getsize(a.csv),
           "repeats": a.repeats,
           "versions": {"python": platform.python_version(), "numpy": np.__version__,
                        "pandas": pd.__version__},
           "python_executable": sys.executable, "cpus": os.cpu_count(),
           "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
           "rss_before_read_mb": round(peak_rss_mb(), 1)}

    holder = {}

    def read():
        holder.pop("df", None)  # never hold two frames at once
        gc.collect()
        holder["df"] = pd.read_csv(a.csv)

    log(f"read_csv x{a.repeats}: {a.csv}")
    _, walls = timed(read, a.repeats)
    df = holder.pop("df")
    res["read_csv"] = summary(walls)
    res["peak_rss_mb"] = round(peak_rss_mb(), 1)
    res["rows"], res["cols"] = int(df.shape[0]), int(df.shape[1])
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        print(f"baseline: {a.csv}: missing columns {', '.join(missing)}", file=sys.stderr)
        return 2

    log(f"sha256_file x{a.repeats}")
    digest, walls = timed(lambda: sha256_file(a.csv), a.repeats)
    res["sha256_file"] = dict(summary(walls), sha256=digest)

    if a.skip_to_string:
        res["to_string"] = None
    else:
        log("sha256(df.to_string()) x1 (slow)")
        digest, walls = timed(lambda: hashlib.sha256(df.to_string().encode()).hexdigest(), 1)
        res["to_string"] = dict(summary(walls), sha256=digest, peak_rss_mb=round(peak_rss_mb(), 1))

    log(f"derive x{a.repeats}")
    _, walls = timed(lambda: derive(df), a.repeats)
    res["derive"] = summary(walls)
    res["derive"]["means"] = {c: float(df[c].mean()) for c in
                              ("debt_to_income_ratio", "credit_utilization", "payment_score")}

    res["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    json.dump(res, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
