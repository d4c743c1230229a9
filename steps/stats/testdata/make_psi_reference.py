#!/usr/bin/python3
"""Write psi_reference.json: PSI and Jensen-Shannon values of both bin
conventions of package stats (drift.go), computed with numpy for the
cross-check test psi_test.go. The Go tests read the committed JSON and need
no Python.

Run with /usr/bin/python3 (numpy 1.24.2, scipy 1.10.1):

    /usr/bin/python3 steps/stats/testdata/make_psi_reference.py

The two conventions, written here in numpy independently of the Go code:

right_closed (stats.BinsRightClosed, mlrun's default): the interior edges are
  the reference quantiles at k/bins, k = 1..bins-1 (np.quantile, linear),
  duplicates dropped, and edges at or above the maximum dropped; a value x
  falls in bin i when e[i-1] < x <= e[i] (np.searchsorted(e, x, 'left')),
  the outer bins open. An edge equal to the minimum stays, so a tied
  minimum is a bin of its own.

numpy (stats.BinsNumpy): the edges of the common numpy recipe,
  np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1))), counted as
  np.histogram counts them: left-closed bins [e[i-1], e[i]), the last one
  closed at the maximum. The batch is counted with the outer edges opened to
  -inf and +inf, so that a batch value outside the reference's range falls
  in the first or last bin; np.histogram over the plain edges drops it
  (cur_counts_histogram and dropped show what that would give).

PSI = sum((c - r) * ln(c / r)) over the shares, every share below 1e-4
(stats.PSIEpsilon) raised to 1e-4; JS is scipy's jensenshannon(base=2) of
the counts.
"""
import json
import os

import numpy as np
from scipy.spatial.distance import jensenshannon

EPS = 1e-4  # stats.PSIEpsilon


def fl(v):
    return [None if np.isnan(x) else float(x) for x in np.asarray(v, dtype=float)]


def psi_of(rc, cc):
    rs, cs = rc / rc.sum(), cc / cc.sum()
    rr, cr = np.maximum(rs, EPS), np.maximum(cs, EPS)
    return float(np.sum((cr - rr) * np.log(cr / rr)))


def right_closed(r, c, bins):
    qs = np.quantile(r, np.arange(1, bins) / bins)
    edges = []
    for q in qs:
        if not edges or q > edges[-1]:
            edges.append(float(q))
    while edges and edges[-1] >= r.max():
        edges.pop()
    e = np.asarray(edges)
    rc = np.bincount(np.searchsorted(e, r, side="left"), minlength=len(e) + 1)
    cc = np.bincount(np.searchsorted(e, c, side="left"), minlength=len(e) + 1)
    return {"edges": edges, "ref_counts": [int(x) for x in rc], "cur_counts": [int(x) for x in cc],
            "psi": psi_of(rc, cc), "js": float(jensenshannon(rc, cc, base=2))}


def numpy_bins(r, c, bins):
    e = np.unique(np.quantile(r, np.linspace(0, 1, bins + 1)))
    if len(e) < 2:
        # A constant reference: np.histogram needs two edges; one bin.
        rc, cc, hist, dropped = np.array([len(r)]), np.array([len(c)]), [int(np.sum(c == e[0]))], int(np.sum(c != e[0]))
    else:
        rc, _ = np.histogram(r, e)
        opened = e.copy()
        opened[0], opened[-1] = -np.inf, np.inf
        assert (np.histogram(r, opened)[0] == rc).all()
        cc, _ = np.histogram(c, opened)
        h, _ = np.histogram(c, e)
        hist, dropped = [int(x) for x in h], int(len(c) - h.sum())
    return {"edges": [float(x) for x in e[1:-1]], "ref_counts": [int(x) for x in rc],
            "cur_counts": [int(x) for x in cc], "cur_counts_histogram": hist, "dropped": dropped,
            "psi": psi_of(rc, cc), "js": float(jensenshannon(rc, cc, base=2))}


def case(name, ref, cur, bins=10):
    ref = np.asarray(ref, dtype=float)
    cur = np.asarray(cur, dtype=float)
    r, c = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    rc, nb = right_closed(r, c, bins), numpy_bins(r, c, bins)
    rel = abs(rc["psi"] - nb["psi"]) / nb["psi"] if nb["psi"] > 0 else None
    return {"name": name, "ref": fl(ref), "cur": fl(cur), "bins": bins,
            "right_closed": rc, "numpy": nb, "psi_relative_difference": rel}


def main():
    rng = np.random.default_rng(14)
    cases = []
    # Continuous data: the conventions agree (no value sits on an edge).
    cases.append(case("continuous_shift", rng.normal(size=4000), rng.normal(0.25, 1.1, 3000)))
    cases.append(case("continuous_same", rng.normal(size=3000), rng.normal(size=2000)))
    # Tied data, where they differ.
    cases.append(case("counts_0_to_6", np.minimum(rng.poisson(1.2, 3000), 6), np.minimum(rng.poisson(1.5, 2000), 6)))
    bal = np.where(rng.uniform(size=3000) < 0.55, 0.0, np.round(rng.exponential(800, 3000)))
    bal2 = np.where(rng.uniform(size=2500) < 0.45, 0.0, np.round(rng.exponential(900, 2500)))
    cases.append(case("zero_inflated", bal, bal2))
    cases.append(case("binary", (rng.uniform(size=2000) < 0.3).astype(float), (rng.uniform(size=1500) < 0.4).astype(float)))
    cases.append(case("three_levels", rng.choice([1.0, 2.0, 3.0], 2000, p=[0.5, 0.3, 0.2]),
                      rng.choice([1.0, 2.0, 3.0], 1500, p=[0.4, 0.3, 0.3])))
    cases.append(case("delinquencies", rng.choice([0.0, 1.0, 2.0], 3000, p=[0.7, 0.2, 0.1]),
                      rng.choice([0.0, 1.0, 2.0], 2000, p=[0.6, 0.25, 0.15])))
    cases.append(case("mostly_max", rng.choice([0.0, 1.0, 2.0], 3000, p=[0.1, 0.2, 0.7]),
                      rng.choice([0.0, 1.0, 2.0], 2000, p=[0.15, 0.25, 0.6])))
    cases.append(case("ages", np.clip(np.round(rng.normal(42, 12, 4000)), 18, 80),
                      np.clip(np.round(rng.normal(44, 12, 2000)), 18, 80)))
    score = lambda n, top: np.where(rng.uniform(size=n) < top, 100.0, np.round(rng.uniform(40, 100, n)))
    cases.append(case("spike_at_max", score(3000, 0.4), score(2000, 0.5)))
    cases.append(case("tied_minimum", np.where(rng.uniform(size=3000) < 0.25, 0.0, rng.gamma(2, 1, 3000)),
                      np.where(rng.uniform(size=2000) < 0.35, 0.0, rng.gamma(2, 1, 2000))))
    cases.append(case("integers_bins4", rng.integers(0, 10, 1000).astype(float), rng.integers(0, 12, 800).astype(float), bins=4))
    # Batch values outside the reference's range.
    cases.append(case("out_of_range", rng.uniform(0, 1, 1000), rng.uniform(-0.5, 1.5, 1000)))
    cases.append(case("constant_ref", [2.0] * 50, [2.0, 3.0, 2.0, 1.0]))
    cases.append(case("nans_bins5", np.where(rng.uniform(size=600) < 0.1, np.nan, np.round(rng.exponential(size=600), 1)),
                      np.where(rng.uniform(size=700) < 0.2, np.nan, np.round(rng.exponential(1.3, 700), 1)), bins=5))

    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "psi_reference.json"), "w") as f:
        json.dump({"numpy": np.__version__, "cases": cases}, f, sort_keys=True, separators=(",", ":"))
        f.write("\n")
    for c in cases:
        rel = c["psi_relative_difference"]
        print("%-18s right_closed %9.6f (%2d bins)  numpy %9.6f (%2d bins)  %s" % (
            c["name"], c["right_closed"]["psi"], len(c["right_closed"]["ref_counts"]),
            c["numpy"]["psi"], len(c["numpy"]["ref_counts"]),
            "differ by %.0f%%" % (100 * rel) if rel is not None else "numpy: PSI 0, one bin"))


if __name__ == "__main__":
    main()
