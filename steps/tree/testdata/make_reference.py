#!/usr/bin/python3
"""Write sklearn_reference.json: test AUCs of scikit-learn's and xgboost's
tree ensembles on synthetic applications, for the quality cross-check
(quality_test.go).

Data: `mlrun-synth -rows 50000 -seed 42` (byte-identical on every run; the
SHA-256 of the CSV is recorded and the Go test checks it generates the same
bytes). Features are the workshop's four, derived as in
examples/pipelines/credit-risk.yaml; row i goes to test when i % 5 == 4,
else to train (as helpers_test.go).

Run with /usr/bin/python3 (scikit-learn, xgboost from Debian):

    go run ./cmd/mlrun-synth -rows 50000 -seed 42 -o /tmp/synth50k.csv
    /usr/bin/python3 steps/tree/testdata/make_reference.py /tmp/synth50k.csv
"""
import hashlib
import json
import os
import sys

import numpy as np
import pandas as pd
import sklearn
import xgboost
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.metrics import roc_auc_score

FEATURES = ["debt_to_income_ratio", "credit_utilization", "payment_score", "annual_income"]


def load(path):
    raw = open(path, "rb").read()
    df = pd.read_csv(path)
    df["debt_to_income_ratio"] = df.total_debt / (df.annual_income + 0.01)
    df["credit_utilization"] = df.credit_card_balance / (df.credit_limit + 0.01)
    df["payment_score"] = df.on_time_payments / (df.total_payments + 1) * 100
    test = np.arange(len(df)) % 5 == 4
    x, y = df[FEATURES].to_numpy(), df.loan_default.to_numpy()
    return hashlib.sha256(raw).hexdigest(), len(df), x[~test], y[~test], x[test], y[test]


def main():
    sha, rows, xtr, ytr, xte, yte = load(sys.argv[1])
    out = {"csv_sha256": sha, "rows": rows, "sklearn": sklearn.__version__, "xgboost": xgboost.__version__}
    # scikit-learn's forest (1.2) takes no NaN: impute the training median
    # (credit_utilization has about 1% missing); mlrun's learns a direction.
    med = np.nanmedian(xtr, axis=0)
    xtr_rf, xte_rf = np.where(np.isnan(xtr), med, xtr), np.where(np.isnan(xte), med, xte)
    rf = RandomForestClassifier(n_estimators=200, max_depth=10, min_samples_split=100,
                                class_weight="balanced", n_jobs=2, random_state=42).fit(xtr_rf, ytr)
    out["random_forest_auc"] = roc_auc_score(yte, rf.predict_proba(xte_rf)[:, 1])
    hgb = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, max_depth=6,
                                         max_leaf_nodes=None, min_samples_leaf=20, l2_regularization=1.0,
                                         early_stopping=False, random_state=42).fit(xtr, ytr)
    out["hist_gradient_boosting_auc"] = roc_auc_score(yte, hgb.predict_proba(xte)[:, 1])
    xgb = xgboost.XGBClassifier(tree_method="hist", n_estimators=200, max_depth=6, learning_rate=0.1,
                                n_jobs=2, random_state=42).fit(xtr, ytr)
    out["xgboost_auc"] = roc_auc_score(yte, xgb.predict_proba(xte)[:, 1])
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "sklearn_reference.json"), "w") as f:
        json.dump(out, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
