#!/usr/bin/python3
"""Write reference.json: inputs and scikit-learn/scipy values of the metrics
in package stats, for the cross-check test (stats_test.go).

Run with /usr/bin/python3 (scikit-learn 1.2.1, scipy 1.10.1, numpy 1.24.2):

    /usr/bin/python3 steps/stats/testdata/make_reference.py
"""
import json
import os

import numpy as np
from scipy.stats import ks_2samp
from sklearn.metrics import (accuracy_score, brier_score_loss, confusion_matrix,
                             f1_score, log_loss, precision_score, recall_score,
                             roc_auc_score, roc_curve)


def case(name, score, y, w=None, threshold=0.5):
    score = np.asarray(score, dtype=float)
    y = np.asarray(y, dtype=int)
    wl = None if w is None else [float(v) for v in w]
    pred = (score >= threshold).astype(int)
    fpr, tpr, _ = roc_curve(y, score, sample_weight=w, drop_intermediate=False)
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1], sample_weight=w).ravel()
    out = {
        "name": name,
        "score": [float(v) for v in score],
        "y": [int(v) for v in y],
        "w": wl,
        "threshold": threshold,
        "auc": roc_auc_score(y, score, sample_weight=w),
        "ks": float(np.max(np.abs(tpr - fpr))),
        "tp": float(tp), "fp": float(fp), "tn": float(tn), "fn": float(fn),
        "accuracy": accuracy_score(y, pred, sample_weight=w),
        "precision": precision_score(y, pred, sample_weight=w, zero_division=0),
        "recall": recall_score(y, pred, sample_weight=w, zero_division=0),
        "f1": f1_score(y, pred, sample_weight=w, zero_division=0),
        "log_loss": log_loss(y, score, sample_weight=w, eps=1e-15),
        "brier": brier_score_loss(y, score, sample_weight=w),
    }
    if w is None:
        out["ks_scipy"] = float(ks_2samp(score[y == 1], score[y == 0]).statistic)
    return out


def main():
    rng = np.random.default_rng(20261126)
    cases = []
    cases.append(case("hand", [0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]))
    cases.append(case("tiny", [0.3, 0.7], [1, 0]))
    cases.append(case("all_equal", [0.3] * 10, [0, 1, 0, 0, 1, 0, 1, 0, 0, 0]))
    y = rng.integers(0, 2, 60)
    s = np.round(np.clip(0.3 * y + rng.uniform(0, 0.7, 60), 0, 1), 1)
    cases.append(case("ties", s, y, threshold=0.6))
    y = (rng.uniform(size=400) < 0.05).astype(int)
    s = 1 / (1 + np.exp(-(1.5 * y + rng.normal(size=400) - 3)))
    cases.append(case("imbalanced", s, y, threshold=0.1))
    y = (rng.uniform(size=500) < 0.3).astype(int)
    s = np.round(1 / (1 + np.exp(-(y + rng.normal(size=500)))), 2)
    w = rng.uniform(0.1, 3, 500)
    cases.append(case("weighted_ties", s, y, w=w))
    s = np.array([0.0, 1.0, 1.0, 0.0, 0.5, 1e-20, 1 - 1e-17])
    cases.append(case("extreme_probs", s, [0, 1, 0, 1, 1, 0, 1]))
    y = rng.integers(0, 2, 2000)
    s = 1 / (1 + np.exp(-(0.8 * y + rng.normal(size=2000))))
    cases.append(case("random", s, y, threshold=0.55))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json")
    with open(path, "w") as f:
        json.dump({"generator": "make_reference.py, scikit-learn 1.2.1", "cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
