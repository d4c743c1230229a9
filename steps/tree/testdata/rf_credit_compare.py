#!/usr/bin/python3
"""scikit-learn's RandomForestClassifier on ../shared/data/credit_data.csv,
8 seeds, on exactly the rows mlrun's forest is compared on, for
TestForestCreditSeeds (forest_credit_test.go).

Rows: credit_split.txt lists the test rows (0-based data rows; credit_test.go
writes it from split.Assign: stratified on Status, test 0.2, seed 42); every
other row is a training row, in file order. The Go test reads the same file
(--split FILE compares on other rows, for experiments).

Scenarios:
  native            the file as it is: 9 numeric columns and 4 string ones
                    (Home 6 levels, Marital 5, Records 2, Job 4).
  high_cardinality  the same with Amount and Price read as text
                    (`columns: {Amount: string, Price: string}` in a load
                    step): string features of 285 and 1,419 levels, like
                    the codes of real high-cardinality categoricals.

Preprocessing, as close to mlrun's as scikit-learn 1.2 allows:
  target   Status == "bad" (mlrun: positive: bad).
  numeric  float64. mlrun keeps missing values (a bin of their own, the
           direction learnt at each split); scikit-learn 1.2's forest
           rejects NaN, so Income (381 missing), Assets (47) and Debt (18)
           take the training median, in train and test.
  strings  mlrun splits them natively (one bin per level, up to 255 levels,
           the rest with missing values; a node's categories ordered by
           positive share and cut once). Encodings here (--encoding):
             onehot   pandas.get_dummies, a missing value all zeros (26
                      columns native, 1,728 high_cardinality), as
                      credit_reference.py and baseline_real.py: the default
                      and the reference.
             ordinal  the sorted training levels as 1..k, missing and
                      unseen 0 (13 columns): mlrun's bin codes, for
                      experiments.
Settings (both with max_features sqrt of the encoded columns, bootstrap of
n draws with replacement; mlrun's sqrt is of its 13 features):
  workshop  200 trees, max_depth 10, min_samples_split 100,
            class_weight balanced (the workshop's, examples, benchmarks)
  default   scikit-learn's defaults: 100 trees, unbounded depth,
            min_samples_split 2, min_samples_leaf 1, no class weight
Seeds 1..8 (random_state; mlrun's seed).

    /usr/bin/python3 steps/tree/testdata/rf_credit_compare.py           # print
    /usr/bin/python3 steps/tree/testdata/rf_credit_compare.py --write   # rf_credit_reference.json

--write records every scenario and setting, one-hot, on credit_split.txt:
the reference the Go test checks against (scikit-learn 1.2.1, Debian).
"""
import argparse
import json
import os
import sys

import numpy as np
import pandas as pd
import sklearn
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score

HERE = os.path.dirname(os.path.abspath(__file__))
CSV = os.path.join(HERE, "../../../../shared/data/credit_data.csv")
CATS = ["Home", "Marital", "Records", "Job"]
SCENARIOS = {"native": [], "high_cardinality": ["Amount", "Price"]}
SEEDS = list(range(1, 9))
CONFIGS = {
    "workshop": dict(n_estimators=200, max_depth=10, min_samples_split=100, min_samples_leaf=1,
                     class_weight="balanced"),
    "default": dict(n_estimators=100, max_depth=None, min_samples_split=2, min_samples_leaf=1,
                    class_weight=None),
}


def load(path, split, as_text, encoding):
    df = pd.read_csv(path, dtype={c: str for c in as_text})
    test_rows = [int(l) for l in open(split) if not l.startswith("#")]
    test = np.zeros(len(df), dtype=bool)
    test[test_rows] = True
    y = (df["Status"] == "bad").astype(np.int8).to_numpy()
    x = df.drop(columns=["Status"])
    cats = CATS + list(as_text)
    if encoding == "onehot":
        x = pd.get_dummies(x, columns=cats, dtype=np.float64)
    else:
        for c in cats:
            levels = sorted(x.loc[~test, c].dropna().unique())
            x[c] = x[c].map({v: i + 1 for i, v in enumerate(levels)}).fillna(0)
    x = x.astype(np.float64)
    xtr, xte = x[~test], x[test]
    med = xtr.median()
    return xtr.fillna(med).to_numpy(), xte.fillna(med).to_numpy(), y[~test], y[test], x.shape[1]


def aucs(xtr, xte, ytr, yte, cfg, max_features, jobs):
    out = []
    for s in SEEDS:
        rf = RandomForestClassifier(max_features=max_features, bootstrap=True, n_jobs=jobs, random_state=s, **cfg)
        rf.fit(xtr, ytr)
        out.append(float(roc_auc_score(yte, rf.predict_proba(xte)[:, 1])))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", default=CSV)
    ap.add_argument("--split", default=os.path.join(HERE, "credit_split.txt"), help="file of test rows")
    ap.add_argument("--scenario", default=",".join(SCENARIOS))
    ap.add_argument("--as-text", default=None, help="experiments: columns read as text, instead of --scenario")
    ap.add_argument("--config", default=",".join(CONFIGS))
    ap.add_argument("--encoding", default="onehot", choices=["onehot", "ordinal"])
    ap.add_argument("--max-features", default="sqrt", help="sqrt, log2, an integer, or a fraction")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--write", action="store_true", help="write rf_credit_reference.json")
    a = ap.parse_args()
    mf = a.max_features
    if mf not in ("sqrt", "log2"):
        mf = float(mf) if "." in mf else int(mf)
    scenarios = {n: SCENARIOS[n] for n in a.scenario.split(",")}
    if a.as_text is not None:
        scenarios = {"as_text:" + a.as_text: [c for c in a.as_text.split(",") if c]}
    if a.write and (a.encoding != "onehot" or a.max_features != "sqrt" or a.split != ap.get_default("split")
                    or a.as_text is not None or len(scenarios) != len(SCENARIOS) or a.config != ap.get_default("config")):
        raise SystemExit("--write records the reference: every scenario and config, one-hot, sqrt, credit_split.txt")
    out = {"sklearn": sklearn.__version__, "encoding": a.encoding, "max_features": a.max_features,
           "seeds": SEEDS, "scenarios": {}}
    for sname, as_text in scenarios.items():
        xtr, xte, ytr, yte, cols = load(a.csv, a.split, as_text, a.encoding)
        sc = {"as_text": as_text, "columns": cols, "train_rows": int(len(ytr)), "test_rows": int(len(yte)),
              "test_positives": int(yte.sum()), "configs": {}}
        for name in a.config.split(","):
            v = aucs(xtr, xte, ytr, yte, CONFIGS[name], mf, a.jobs)
            sc["configs"][name] = {"settings": CONFIGS[name], "auc": [round(x, 6) for x in v],
                                   "mean_auc": round(float(np.mean(v)), 6)}
            print(f"{sname} {name} {a.encoding} ({cols} columns) max_features={a.max_features}: "
                  + " ".join(f"{x:.4f}" for x in v) + f"  mean {np.mean(v):.4f}", file=sys.stderr)
        out["scenarios"][sname] = sc
    if a.write:
        with open(os.path.join(HERE, "rf_credit_reference.json"), "w") as f:
            json.dump(out, f, indent=1, sort_keys=True)
            f.write("\n")
    else:
        print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
