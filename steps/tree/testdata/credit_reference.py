#!/usr/bin/python3
"""Test AUCs of scikit-learn's and xgboost's tree ensembles on
../shared/data/credit_data.csv, on exactly the rows mlrun's split step puts
in test (credit_split.txt, written by credit_test.go with
-update-credit-split: split.Assign, stratified on Status, test 0.2, seed 42),
for TestCreditDataAUC.

Target: Status == "bad". Home, Marital, Records, Job one-hot
(pandas.get_dummies, missing -> all zeros), as ../shared/bench/baseline_real.py.
The forest takes no NaN in scikit-learn 1.2: numeric missing values are
filled with the training medians; HistGradientBoosting and xgboost take NaN.

    /usr/bin/python3 steps/tree/testdata/credit_reference.py [credit_data.csv]
"""
import json
import os
import sys

import numpy as np
import pandas as pd
import sklearn
import xgboost
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.metrics import roc_auc_score

HERE = os.path.dirname(os.path.abspath(__file__))
CATS = ["Home", "Marital", "Records", "Job"]


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "../../../../shared/data/credit_data.csv")
    df = pd.read_csv(path)
    test_rows = [int(l) for l in open(os.path.join(HERE, "credit_split.txt")) if not l.startswith("#")]
    test = np.zeros(len(df), dtype=bool)
    test[test_rows] = True
    y = (df["Status"] == "bad").astype(np.int8).to_numpy()
    x = pd.get_dummies(df.drop(columns=["Status"]), columns=CATS, dtype=np.float64)
    xtr, xte, ytr, yte = x[~test], x[test], y[~test], y[test]
    med = xtr.median()
    out = {"sklearn": sklearn.__version__, "xgboost": xgboost.__version__,
           "train_rows": int(len(ytr)), "test_rows": int(len(yte)), "test_positives": int(yte.sum())}
    rf = RandomForestClassifier(n_estimators=200, max_depth=10, min_samples_split=100,
                                class_weight="balanced", n_jobs=2, random_state=42)
    rf.fit(xtr.fillna(med), ytr)
    out["random_forest_auc"] = roc_auc_score(yte, rf.predict_proba(xte.fillna(med))[:, 1])
    hgb = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, max_depth=6,
                                         min_samples_leaf=20, l2_regularization=1.0,
                                         early_stopping=False, random_state=42).fit(xtr, ytr)
    out["hist_gradient_boosting_auc"] = roc_auc_score(yte, hgb.predict_proba(xte)[:, 1])
    xgb = xgboost.XGBClassifier(tree_method="hist", n_estimators=200, max_depth=6, learning_rate=0.1,
                                n_jobs=2, random_state=42).fit(xtr, ytr)
    out["xgboost_auc"] = roc_auc_score(yte, xgb.predict_proba(xte)[:, 1])
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
