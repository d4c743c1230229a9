#!/usr/bin/python3
"""Reference numbers for the report's credit validation pack.

Reads scores.csv (set, score, label: the probabilities of default that the
report package's fixture model gives its training and test splits, written
by `go test ./internal/report -run TestCreditReference -update`) and writes
reference.json, which TestCreditReference compares with the report:

- the gains table of the test split: rows sorted by decreasing score (a
  stable sort: ties in row order) and cut into 10 groups with
  numpy.array_split; per group the rows, bads, goods, score range, bad rate,
  cumulative shares of bads and goods, KS (their difference), lift and
  cumulative lift;
- AUC by the Mann-Whitney U statistic over average ranks (pandas rank),
  KS as the largest gap between the empirical distribution functions of
  the scores of bads and goods over every distinct score, Gini = 2 AUC - 1,
  and the bad rate, for both splits;
- the PSI of the test scores against the training scores over 10 quantile
  bins of the training scores (numpy.quantile, linear; duplicate edges and
  edges at the maximum dropped; bin i is (e_{i-1}, e_i]), empty shares
  floored at 1e-4.

It is an implementation independent of the Go code (pandas and numpy, as
Debian packages them: apt-get install python3-pandas). Run it from this
directory: python3 reference.py
"""
import json
import os

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
PSI_EPSILON = 1e-4


def auc(score, label):
    ranks = pd.Series(score).rank(method="average").to_numpy()
    pos = label == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    u = ranks[pos].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def ks(score, label):
    bad = np.sort(score[label == 1])
    good = np.sort(score[label == 0])
    t = np.unique(score)
    f_bad = np.searchsorted(bad, t, side="right") / len(bad)
    f_good = np.searchsorted(good, t, side="right") / len(good)
    return float(np.max(np.abs(f_bad - f_good)))


def gains(score, label, groups=10):
    df = pd.DataFrame({"score": score, "label": label})
    df = df.iloc[np.argsort(-df["score"].to_numpy(), kind="stable")]
    sizes = [len(part) for part in np.array_split(np.arange(len(df)), groups)]
    df["decile"] = np.repeat(np.arange(1, groups + 1), sizes)
    g = df.groupby("decile").agg(rows=("label", "size"), bads=("label", "sum"),
                                 min_score=("score", "min"), max_score=("score", "max"))
    g["goods"] = g["rows"] - g["bads"]
    total_bads, total_goods, n = g["bads"].sum(), g["goods"].sum(), g["rows"].sum()
    rate = total_bads / n
    g["bad_rate"] = g["bads"] / g["rows"]
    g["cum_bads"] = g["bads"].cumsum() / total_bads
    g["cum_goods"] = g["goods"].cumsum() / total_goods
    g["ks"] = g["cum_bads"] - g["cum_goods"]
    g["lift"] = g["bad_rate"] / rate
    g["cum_lift"] = (g["bads"].cumsum() / g["rows"].cumsum()) / rate
    out = []
    for decile, r in g.iterrows():
        out.append({"decile": int(decile), "rows": int(r["rows"]), "bads": int(r["bads"]), "goods": int(r["goods"]),
                    "min_score": float(r["min_score"]), "max_score": float(r["max_score"]),
                    "bad_rate": float(r["bad_rate"]), "cum_bads": float(r["cum_bads"]),
                    "cum_goods": float(r["cum_goods"]), "ks": float(r["ks"]),
                    "lift": float(r["lift"]), "cum_lift": float(r["cum_lift"])})
    return out


def psi(ref, cur, bins=10):
    ref_sorted = np.sort(ref)
    edges = []
    for k in range(1, bins):
        q = float(np.quantile(ref_sorted, k / bins))
        if not edges or q > edges[-1]:
            edges.append(q)
    while edges and edges[-1] >= ref_sorted[-1]:
        edges.pop()
    edges = np.array(edges)
    n_bins = len(edges) + 1
    r = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=n_bins) / len(ref)
    c = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=n_bins) / len(cur)
    r, c = np.maximum(r, PSI_EPSILON), np.maximum(c, PSI_EPSILON)
    return float(np.sum((c - r) * np.log(c / r))), n_bins


def summary(df):
    s, y = df["score"].to_numpy(), df["label"].to_numpy()
    a = auc(s, y)
    return {"rows": int(len(df)), "bads": int(y.sum()), "bad_rate": float(y.mean()),
            "auc": a, "ks": ks(s, y), "gini": 2 * a - 1}


def main():
    # round_trip: the scores are written with the shortest digits that parse
    # back to the same float; pandas' default parser may be one ulp off.
    df = pd.read_csv(os.path.join(HERE, "scores.csv"), dtype={"set": str, "score": float, "label": int},
                     float_precision="round_trip")
    train, test = df[df["set"] == "train"], df[df["set"] == "test"]
    out = {"train": summary(train), "test": summary(test)}
    out["test"]["gains"] = gains(test["score"].to_numpy(), test["label"].to_numpy())
    out["psi"], out["psi_bins"] = psi(train["score"].to_numpy(), test["score"].to_numpy())
    with open(os.path.join(HERE, "reference.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
