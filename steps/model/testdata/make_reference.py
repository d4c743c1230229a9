#!/usr/bin/python3
"""Write lr_reference.json: a small mixed-type dataset and scikit-learn's
logistic regression coefficients on it, for the cross-check test
(logistic_test.go). The preprocessing mirrors package model: numeric nulls
imputed with the median, one indicator per sorted string level (null -> all
zeros), every design column standardised (population std) when
standardize is true; LogisticRegression(C=1/l2) minimises the same objective.

The solver is newton-cg with a tight tolerance: the default lbfgs stops on
scipy's relative-reduction test (ftol) after ~11 iterations with a gradient
norm near 5e-6, about 5e-5 away from the optimum in the coefficients,
whatever tol is given.

Run with /usr/bin/python3 (scikit-learn 1.2.1, numpy 1.24.2):

    /usr/bin/python3 steps/model/testdata/make_reference.py
"""
import json
import os
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression


def main():
    warnings.simplefilter("ignore")  # newton-cg may stop at max_iter with the gradient at 1e-12
    rng = np.random.default_rng(7)
    n = 600
    x1 = rng.normal(size=n)
    x2 = rng.integers(0, 50, n).astype(float)
    x2_missing = rng.uniform(size=n) < 0.07
    x3 = rng.uniform(size=n) < 0.4
    levels = np.array(["rent", "owner", "parents"])
    cat = levels[rng.integers(0, 3, n)].astype(object)
    cat[rng.uniform(size=n) < 0.05] = None
    t = 0.8 * x1 - 0.03 * np.where(x2_missing, 25, x2) + 0.7 * x3 + np.where(cat == "owner", -0.9, 0.0) - 0.5
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-t))).astype(int)

    x2_imp = x2.copy()
    x2_imp[x2_missing] = np.median(x2[~x2_missing])
    sorted_levels = sorted(levels)
    onehot = [(cat == l).astype(float) for l in sorted_levels]
    X = np.column_stack([x1, x2_imp, x3.astype(float)] + onehot)
    names = ["x1", "x2", "x3"] + ["cat=" + l for l in sorted_levels]

    cases = []
    for l2, cw, std in [(1.0, None, True), (0.25, "balanced", True), (3.0, None, False), (1.0, {0: 1.0, 1: 2.5}, True)]:
        Z = X
        if std:
            Z = (X - X.mean(axis=0)) / X.std(axis=0)
        lr = LogisticRegression(C=1 / l2, class_weight=cw, solver="newton-cg", tol=1e-11, max_iter=2000)
        lr.fit(Z, y)
        cases.append({
            "l2": l2,
            "class_weight": cw if cw is None or isinstance(cw, str) else {str(k): v for k, v in cw.items()},
            "standardize": std,
            "intercept": float(lr.intercept_[0]),
            "coef": [float(v) for v in lr.coef_[0]],
            "proba": [float(v) for v in lr.predict_proba(Z)[:, 1][:20]],
        })
    data = {
        "x1": [float(v) for v in x1],
        "x2": [None if m else int(v) for v, m in zip(x2, x2_missing)],
        "x3": [bool(v) for v in x3],
        "cat": [None if v is None else str(v) for v in cat],
        "y": [int(v) for v in y],
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lr_reference.json")
    with open(path, "w") as f:
        json.dump({"generator": "make_reference.py, scikit-learn 1.2.1", "columns": names,
                   "data": data, "cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
