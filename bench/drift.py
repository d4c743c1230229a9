#!/usr/bin/python3
"""Drift side of the issue-4 benchmark: scipy.stats.ks_2samp + a numpy PSI.

    /usr/bin/python3 bench/drift.py gen DIR [--rows N] [--seed S]
    /usr/bin/python3 bench/drift.py run DIR [--repeats R]
    /usr/bin/python3 bench/drift.py compare PY.json GO.json

gen writes DIR/drift_ref.npy and DIR/drift_cur.npy: float64 arrays of shape
(20, N), one row per feature (C order, so each feature is contiguous), from
numpy's PCG64 generator seeded with S (default 42). The reference and the
current batch are independent draws; features 1, 2, 5, 9, 13 and 17 of the
current batch are shifted (incomes up 15%, higher utilisation, a small
mean shift, ...), the others are not. Some features are integer-valued or
rounded, so that there are ties. No NaNs: scipy's ks_2samp does not drop
them. The Go benchmark (steps/profile BenchmarkDriftBatch) reads the same
files.

run loads both files (untimed) and times, over all 20 features, with
gc.collect() before each of --repeats runs (median reported):
  ks     scipy.stats.ks_2samp(ref, cur, method='auto') (asymptotic at 1M rows)
  psi    a numpy PSI as a monitoring script writes it: deciles of the
         reference (np.quantile, linear), duplicate edges and an edge at the
         maximum dropped, counts of both samples in the bins (e_{i-1}, e_i]
         by np.searchsorted(side='left') + np.bincount, shares, empty shares
         set to 1e-4 (stats.PSIEpsilon), sum of (c - r) ln(c / r)
  psi_frozen  the same with the edges and reference counts given (only the
         current batch is binned): what a frozen reference saves numpy
It prints one JSON object with the timings, peak RSS (getrusage ru_maxrss,
after loading and at the end) and the statistics of every feature.

compare checks mlrun's statistics (the JSON the Go benchmark writes) against
scipy's: KS statistic to 1e-9 relative, p-value to 1e-6 relative, PSI to
1e-9 absolute (the largest relative difference is reported too), edges to
1e-12 relative; prints a
JSON object with the largest differences and "identical": true/false.
"""
import argparse
import gc
import json
import resource
import statistics
import sys
import time

import numpy as np

EPS = 1e-4  # stats.PSIEpsilon
BINS = 10   # profile.DefaultBins
FEATURES = 20


def generate(rng, n, shifted):
    """The 20 features; shifted=True gives the drifted batch."""
    s = shifted
    f = []
    f.append(rng.normal(0, 1, n))                                        # 0
    f.append(rng.lognormal(10.8, 0.5, n) * (1.15 if s else 1))           # 1 income +15%
    f.append(rng.beta(2, 5 if not s else 4, n))                           # 2 utilisation up
    f.append(rng.poisson(3, n).astype(float))                            # 3 counts (ties)
    f.append(rng.exponential(2.0, n))                                    # 4
    f.append(rng.normal(100 + (0.08 if s else 0), 15, n))                # 5 tiny shift (p mid-range)
    f.append(np.round(rng.normal(50, 10, n), 2))                         # 6 two decimals (ties)
    f.append((rng.uniform(size=n) < 0.3).astype(float))                  # 7 binary
    f.append(rng.gamma(2.0, 3.0, n))                                     # 8
    f.append(rng.normal(0.3 if s else 0, 1, n))                          # 9 mean shift
    f.append(rng.uniform(0, 1, n))                                       # 10
    f.append(rng.integers(18, 80, n).astype(float))                      # 11 age (ties)
    f.append(rng.standard_t(5, n))                                       # 12
    f.append(rng.normal(0, 1.1 if s else 1, n))                          # 13 spread up
    f.append(rng.lognormal(0, 1, n))                                     # 14
    f.append(np.round(rng.uniform(300, 850, n)))                         # 15 score (ties)
    f.append(rng.weibull(1.5, n))                                        # 16
    f.append(rng.poisson(5 if not s else 6, n).astype(float))            # 17 more purchases
    f.append(rng.normal(-2, 0.5, n))                                     # 18
    f.append(rng.logistic(0, 1, n))                                      # 19
    out = np.vstack(f)
    assert out.shape == (FEATURES, n)
    return np.ascontiguousarray(out, dtype=np.float64)


def cmd_gen(a):
    rng = np.random.default_rng(a.seed)
    ref = generate(rng, a.rows, False)
    cur = generate(rng, a.rows, True)
    np.save(f"{a.dir}/drift_ref.npy", ref)
    np.save(f"{a.dir}/drift_cur.npy", cur)
    print(f"drift: wrote {a.dir}/drift_ref.npy and drift_cur.npy ({FEATURES} x {a.rows})", file=sys.stderr)


def edges_of(r):
    qs = np.quantile(r, np.arange(1, BINS) / BINS)  # method='linear'
    edges = []
    for q in qs:
        if not edges or q > edges[-1]:
            edges.append(float(q))
    while edges and edges[-1] >= r.max():
        edges.pop()
    return np.asarray(edges)


def psi_from_counts(rc, cc):
    rs, cs = rc / rc.sum(), cc / cc.sum()
    rr, cr = np.maximum(rs, EPS), np.maximum(cs, EPS)
    return float(np.sum((cr - rr) * np.log(cr / rr)))


def psi(r, c):
    e = edges_of(r)
    rc = np.bincount(np.searchsorted(e, r, side="left"), minlength=len(e) + 1)
    cc = np.bincount(np.searchsorted(e, c, side="left"), minlength=len(e) + 1)
    return psi_from_counts(rc, cc), e


def psi_frozen(e, rc, c):
    cc = np.bincount(np.searchsorted(e, c, side="left"), minlength=len(e) + 1)
    return psi_from_counts(rc, cc)


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, repeats):
    ts = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(ts), "min_s": min(ts), "max_s": max(ts), "runs": ts}


def cmd_run(a):
    import scipy
    from scipy import stats
    rss0 = rss_mb()
    ref = np.load(f"{a.dir}/drift_ref.npy")
    cur = np.load(f"{a.dir}/drift_cur.npy")
    rss_loaded = rss_mb()
    nf = ref.shape[0]

    def ks_all():
        return [stats.ks_2samp(ref[i], cur[i], method="auto") for i in range(nf)]

    def psi_all():
        return [psi(ref[i], cur[i]) for i in range(nf)]

    frozen = []
    for i in range(nf):
        e = edges_of(ref[i])
        frozen.append((e, np.bincount(np.searchsorted(e, ref[i], side="left"), minlength=len(e) + 1)))

    def psi_frozen_all():
        return [psi_frozen(frozen[i][0], frozen[i][1], cur[i]) for i in range(nf)]

    print(f"drift: scipy ks_2samp x{nf}, {a.repeats} runs", file=sys.stderr)
    t_ks = timed(ks_all, a.repeats)
    print(f"drift: numpy PSI x{nf}, {a.repeats} runs", file=sys.stderr)
    t_psi = timed(psi_all, a.repeats)
    t_psif = timed(psi_frozen_all, a.repeats)
    ks = ks_all()
    ps = psi_all()
    feats = []
    for i in range(nf):
        feats.append({"feature": i, "ks_statistic": float(ks[i].statistic),
                      "ks_pvalue": float(ks[i].pvalue), "psi": ps[i][0],
                      "edges": [float(x) for x in ps[i][1]]})
    out = {"rows_ref": int(ref.shape[1]), "rows_cur": int(cur.shape[1]), "features": nf,
           "repeats": a.repeats, "scipy": scipy.__version__, "numpy": np.__version__,
           "ks": t_ks, "psi": t_psi, "psi_frozen": t_psif,
           "total_median_s": t_ks["median_s"] + t_psi["median_s"],
           "rss_start_mb": rss0, "rss_loaded_mb": rss_loaded, "peak_rss_mb": rss_mb(),
           "stats": feats}
    json.dump(out, sys.stdout, indent=1)
    print()


def rel(a, b):
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b))


def cmd_compare(a):
    py = json.load(open(a.py))
    go = json.load(open(a.go))
    gs = {f["feature"]: f for f in go["stats"]}
    worst = {"ks_statistic": 0.0, "ks_pvalue": 0.0, "psi": 0.0, "psi_rel": 0.0, "edges": 0.0}
    bad = []
    tol = {"ks_statistic": 1e-9, "ks_pvalue": 1e-6, "psi": 1e-9, "edges": 1e-12}
    for p in py["stats"]:
        g = gs.get(p["feature"])
        if g is None:
            bad.append(f"feature {p['feature']}: missing from mlrun's output")
            continue
        for k in ("ks_statistic", "ks_pvalue"):
            d = rel(p[k], g[k])
            worst[k] = max(worst[k], d)
            if d > tol[k]:
                bad.append(f"feature {p['feature']}: {k} scipy {p[k]!r} mlrun {g[k]!r}")
        d = abs(p["psi"] - g["psi"])
        worst["psi"] = max(worst["psi"], d)
        worst["psi_rel"] = max(worst["psi_rel"], rel(p["psi"], g["psi"]))
        if d > tol["psi"]:
            bad.append(f"feature {p['feature']}: psi numpy {p['psi']!r} mlrun {g['psi']!r}")
        if len(p["edges"]) != len(g["edges"]):
            bad.append(f"feature {p['feature']}: {len(p['edges'])} numpy edges, {len(g['edges'])} mlrun edges")
        else:
            for x, y in zip(p["edges"], g["edges"]):
                d = rel(x, y)
                worst["edges"] = max(worst["edges"], d)
                if d > tol["edges"]:
                    bad.append(f"feature {p['feature']}: edge numpy {x!r} mlrun {y!r}")
    json.dump({"identical": not bad, "max_rel_diff": worst, "tolerance": tol, "problems": bad},
              sys.stdout, indent=1)
    print()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("dir")
    g.add_argument("--rows", type=int, default=1_000_000)
    g.add_argument("--seed", type=int, default=42)
    r = sub.add_parser("run")
    r.add_argument("dir")
    r.add_argument("--repeats", type=int, default=5)
    c = sub.add_parser("compare")
    c.add_argument("py")
    c.add_argument("go")
    a = ap.parse_args()
    {"gen": cmd_gen, "run": cmd_run, "compare": cmd_compare}[a.cmd](a)


if __name__ == "__main__":
    main()
