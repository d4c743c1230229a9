#!/usr/bin/python3
"""Run a command several times; record each run's wall time and peak RSS.

Usage:
    /usr/bin/python3 bench/measure.py --name NAME --runs N [--setup CMD] [--stdout FILE] -- COMMAND...

Before each run, --setup (a shell command, e.g. removing a store) runs
untimed. COMMAND runs directly (no shell); its peak resident set comes from
the kernel's accounting of the child (os.wait4 ru_maxrss), so it needs no
/usr/bin/time. A run that exits non-zero stops the measurement with exit 1.
Prints one JSON object: name, command, and per run wall_s and max_rss_kib,
plus their medians. The last run's standard output goes to --stdout if set.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--setup", default="")
    ap.add_argument("--stdout", default="")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args(argv)
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not cmd or a.runs < 1:
        ap.error("need a command and --runs >= 1")
    runs = []
    for i in range(a.runs):
        if a.setup:
            subprocess.run(a.setup, shell=True, check=True)
        out = open(a.stdout, "wb") if a.stdout else subprocess.DEVNULL
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        if a.stdout:
            out.close()
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            print(f"measure: {a.name}: run {i + 1} exited {code}: {' '.join(cmd)}", file=sys.stderr)
            return 1
        runs.append({"wall_s": round(wall, 4), "max_rss_kib": ru.ru_maxrss,
                     "user_s": round(ru.ru_utime, 3), "sys_s": round(ru.ru_stime, 3)})
        print(f"[measure] {a.name} run {i + 1}/{a.runs}: {wall:.2f} s, peak RSS {ru.ru_maxrss / 1024:.0f} MiB",
              file=sys.stderr)
    print(json.dumps({"name": a.name, "command": cmd, "runs": runs,
                      "median_wall_s": statistics.median(r["wall_s"] for r in runs),
                      "median_max_rss_kib": statistics.median(r["max_rss_kib"] for r in runs)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
