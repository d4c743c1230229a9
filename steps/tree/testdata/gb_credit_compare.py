#!/usr/bin/python3
"""xgboost's native categorical gradient boosting on
../shared/data/credit_data.csv, 8 seeds, on the rows mlrun's boosting is
compared on, for TestBoostCreditSeeds (boost_credit_test.go).

Rows: credit_split.txt lists the test rows (as for rf_credit_compare.py);
every other row is a training row, in file order.

Scenarios:
  native            the file as it is (Home, Marital, Records, Job strings).
  high_cardinality  the same with Amount and Price read as text: string
                    features of 285 and 1,419 levels.
Every string column is a pandas category (a missing value stays missing),
split natively (enable_categorical, max_cat_to_onehot=1: partition splits
ordered by gradient statistics, as mlrun's).

Settings, as mlrun's DefaultBoostConfig with subsample and colsample 0.8:
100 rounds, learning rate 0.1, max depth 6, tree_method hist, seeds 1..8
(random_state; mlrun's seed).

    /usr/bin/python3 steps/tree/testdata/gb_credit_compare.py           # print
    /usr/bin/python3 steps/tree/testdata/gb_credit_compare.py --write   # gb_credit_reference.json
"""
import argparse
import json
import os

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import roc_auc_score

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "..", "..", "shared", "data", "credit_data.csv")
SCENARIOS = {"native": [], "high_cardinality": ["Amount", "Price"]}
SEEDS = list(range(1, 9))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    df = pd.read_csv(args.data)
    with open(os.path.join(HERE, "credit_split.txt")) as f:
        test = {int(l) for l in f if l.strip() and not l.startswith("#")}
    is_test = np.array([i in test for i in range(len(df))])
    y = (df["Status"] == "bad").astype(int).to_numpy()
    X = df.drop(columns=["Status"])
    out = {"xgboost": xgb.__version__, "seeds": SEEDS, "scenarios": {}}
    for name, as_text in SCENARIOS.items():
        Xs = X.copy()
        for c in Xs.columns:
            if Xs[c].dtype == object or c in as_text:
                Xs[c] = Xs[c].astype(str).where(Xs[c].notna()).astype("category")
        aucs = []
        for s in SEEDS:
            m = xgb.XGBClassifier(n_estimators=100, learning_rate=0.1, max_depth=6, subsample=0.8,
                                  colsample_bytree=0.8, tree_method="hist", enable_categorical=True,
                                  max_cat_to_onehot=1, random_state=s)
            m.fit(Xs[~is_test], y[~is_test])
            aucs.append(float(roc_auc_score(y[is_test], m.predict_proba(Xs[is_test])[:, 1])))
        out["scenarios"][name] = {"as_text": as_text, "auc": [round(a, 6) for a in aucs],
                                  "mean_auc": round(float(np.mean(aucs)), 6)}
        print(name, "mean %.4f" % np.mean(aucs), " ".join("%.4f" % a for a in aucs))
    if args.write:
        with open(os.path.join(HERE, "gb_credit_reference.json"), "w") as f:
            json.dump(out, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
