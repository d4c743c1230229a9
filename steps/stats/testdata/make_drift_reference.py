#!/usr/bin/python3
"""Write drift_reference.json: samples and scipy values of the drift
statistics in package stats (ks.go, kolmogorov.go, drift.go, chisq.go), for
the cross-check test drift_test.go. The Go tests read the committed JSON and
need no Python.

Run with /usr/bin/python3 (scipy 1.10.1, numpy 1.24.2):

    /usr/bin/python3 steps/stats/testdata/make_drift_reference.py

Definitions that scipy does not provide (PSI over frozen bins, the
Hosmer-Lemeshow test) are written here in numpy, independently of the Go
code, following the formulas in the Go doc comments.
"""
import json
import os

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

EPS = 1e-4  # stats.PSIEpsilon


def fl(v):
    return [None if np.isnan(x) else float(x) for x in np.asarray(v, dtype=float)]


def r2(v):
    """Two decimals: keeps the fixture small (and adds ties)."""
    return np.round(v, 2)


def ks_case(name, a, b):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a2, b2 = a[~np.isnan(a)], b[~np.isnan(b)]
    r = stats.ks_2samp(a2, b2, method="auto")
    ws = stats.wasserstein_distance(a2, b2)
    return {"name": name, "a": fl(a), "b": fl(b), "statistic": float(r.statistic),
            "pvalue": float(r.pvalue), "wasserstein": float(ws),
            "ref_std": float(np.std(a2))}


def psi_case(name, ref, cur, bins=10):
    ref = np.asarray(ref, dtype=float)
    cur = np.asarray(cur, dtype=float)
    r, c = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    qs = np.quantile(r, np.arange(1, bins) / bins)  # method='linear'
    edges = []
    for q in qs:
        if not edges or q > edges[-1]:
            edges.append(float(q))
    while edges and edges[-1] >= r.max():
        edges.pop()
    e = np.asarray(edges)
    rc = np.bincount(np.searchsorted(e, r, side="left"), minlength=len(e) + 1)
    cc = np.bincount(np.searchsorted(e, c, side="left"), minlength=len(e) + 1)
    rs, cs = rc / rc.sum(), cc / cc.sum()
    rr, cr = np.maximum(rs, EPS), np.maximum(cs, EPS)
    psi = float(np.sum((cr - rr) * np.log(cr / rr)))
    js = float(jensenshannon(rc, cc, base=2))
    return {"name": name, "ref": fl(ref), "cur": fl(cur), "bins": bins, "edges": edges,
            "ref_counts": [int(x) for x in rc], "cur_counts": [int(x) for x in cc],
            "psi": psi, "js": js}


def kstwo_case(n, d):
    return {"n": n, "d": d, "sf": float(stats.kstwo.sf(d, n))}


def chi_case(name, ref_counts, cur_counts):
    table = np.array([ref_counts, cur_counts], dtype=float)
    keep = table.sum(axis=0) > 0
    c2, p, dof, _ = stats.chi2_contingency(table[:, keep], correction=True)
    exp = np.asarray(ref_counts, dtype=float)
    obs = np.asarray(cur_counts, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        gof = stats.chisquare(obs, exp / exp.sum() * obs.sum())
    return {"name": name, "ref": ref_counts, "cur": cur_counts,
            "contingency": {"statistic": float(c2), "pvalue": float(p), "dof": int(dof)},
            # null where scipy divides by a zero expected count (inf or nan)
            "gof": {"statistic": fin(gof.statistic), "pvalue": fin(gof.pvalue)}}


def fin(x):
    return float(x) if np.isfinite(x) else None


def hl_case(name, p, y, g=10):
    p = np.asarray(p, dtype=float)
    y = np.asarray(y, dtype=float)
    order = np.argsort(p, kind="stable")
    h = 0.0
    for grp in np.array_split(order, g):
        o, e, n = y[grp].sum(), p[grp].sum(), len(grp)
        den = e * (1 - e / n)
        if den > 0:
            h += (o - e) ** 2 / den
    return {"name": name, "p": fl(p), "y": [int(v) for v in y], "groups": g,
            "statistic": float(h), "pvalue": float(stats.chi2.sf(h, g - 2))}


def main():
    rng = np.random.default_rng(4)
    ks = []
    ks.append(ks_case("tiny", [1.0, 2.0, 3.0], [2.5, 4.0]))
    ks.append(ks_case("one_each", [1.0], [2.0]))
    ks.append(ks_case("equal_sizes", rng.normal(size=50), rng.normal(0.3, 1, 50)))
    ks.append(ks_case("unequal", rng.normal(size=70), rng.normal(0.2, 1.2, 45)))
    ks.append(ks_case("ties", rng.integers(0, 5, 200).astype(float), rng.integers(0, 6, 150).astype(float)))
    ks.append(ks_case("all_equal", [3.0] * 20, [3.0] * 15))
    ks.append(ks_case("disjoint", rng.uniform(0, 1, 30), rng.uniform(2, 3, 40)))
    ks.append(ks_case("nans", np.where(rng.uniform(size=80) < 0.1, np.nan, rng.normal(size=80)),
                      np.where(rng.uniform(size=60) < 0.2, np.nan, rng.normal(0.5, 1, 60))))
    ks.append(ks_case("exact_large", r2(rng.normal(size=3000)), r2(rng.normal(0.05, 1, 2000))))
    ks.append(ks_case("exact_square", r2(rng.lognormal(size=4000)), r2(rng.lognormal(0.02, 1, 4000))))
    ks.append(ks_case("asymp", r2(rng.normal(size=12000)), r2(rng.normal(0.03, 1, 5000))))
    ks.append(ks_case("asymp_shift", r2(rng.normal(size=15000)), r2(rng.normal(0.1, 1, 11000))))
    ks.append(ks_case("asymp_small_n2", r2(rng.normal(size=20000)), r2(rng.normal(0.2, 1, 60))))
    ks.append(ks_case("asymp_same", r2(rng.normal(size=11000)), r2(rng.normal(size=10500))))

    kstwo = [kstwo_case(n, d) for n, d in [
        (10, 0.05), (10, 0.2), (10, 0.6), (50, 0.1), (50, 0.3), (140, 0.05), (140, 0.2),
        (141, 0.05), (500, 0.02), (500, 0.05), (500, 0.09), (1000, 0.01), (1000, 0.04),
        (4000, 0.02), (20000, 0.005), (20000, 0.012), (150000, 0.002), (500000, 0.001),
        (500000, 0.0025), (2000, 0.7), (300, 1 / 300 * 0.8), (300, 298.5 / 300)]]

    psi = []
    psi.append(psi_case("shifted", rng.normal(size=2000), rng.normal(0.5, 1, 1500)))
    psi.append(psi_case("same", rng.normal(size=2000), rng.normal(size=1000)))
    psi.append(psi_case("ties", rng.integers(0, 4, 500).astype(float), rng.integers(0, 5, 400).astype(float)))
    psi.append(psi_case("empty_bins", rng.uniform(0, 1, 1000), rng.uniform(0, 0.3, 500)))
    psi.append(psi_case("nans", np.where(rng.uniform(size=600) < 0.1, np.nan, rng.exponential(size=600)),
                        rng.exponential(1.3, 700), bins=5))
    psi.append(psi_case("constant_ref", [2.0] * 50, [2.0, 3.0, 2.0, 1.0]))

    chi = []
    chi.append(chi_case("shift", [500, 300, 150, 50], [400, 320, 200, 80]))
    chi.append(chi_case("same", [500, 300, 150, 50], [250, 150, 75, 25]))
    chi.append(chi_case("two_categories", [90, 10], [80, 20]))
    chi.append(chi_case("new_category", [100, 50, 0], [90, 40, 12]))
    chi.append(chi_case("unused_category", [100, 50, 0], [90, 40, 0]))

    hl = []
    y = (rng.uniform(size=500) < 0.2).astype(int)
    p = 1 / (1 + np.exp(-(1.4 * y + rng.normal(size=500) - 1.8)))
    hl.append(hl_case("logistic", p, y))
    p2 = rng.uniform(0.05, 0.3, 203)
    y2 = (rng.uniform(size=203) < p2).astype(int)
    hl.append(hl_case("calibrated", p2, y2))
    hl.append(hl_case("miscalibrated", p2, (rng.uniform(size=203) < 0.5).astype(int), g=8))

    out = {"ks": ks, "kstwo": kstwo, "psi": psi, "chi": chi, "hl": hl}
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "drift_reference.json"), "w") as f:
        json.dump(out, f, sort_keys=True, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
