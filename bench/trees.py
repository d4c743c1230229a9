#!/usr/bin/python3
"""Tree-ensemble baselines for bench/stages/trees.sh: fit and predict times
(median of --repeats), test AUC and peak RSS of scikit-learn's
RandomForestClassifier (the workshop's settings, n_jobs=2),
HistGradientBoostingClassifier (200 iterations, depth 6, rate 0.1) and
xgboost XGBClassifier(tree_method='hist', n_estimators=200, max_depth=6,
learning_rate=0.1, n_jobs=2), on the workshop's four features of an
mlrun-synth CSV; row i is test when i % 5 == 4 (as steps/tree's benchmarks).
Each model runs in a child process so its peak RSS is its own. Also timed:
predict_proba on every row (train and test, as BenchmarkPredictAll), and
the peak resident set during fit (fit_peak_rss_mb; fit_rss_mb its rise over
the resident set before fit): the kernel's peak (VmHWM) is reset by writing
5 to /proc/self/clear_refs right before each fit, as steps/tree's
benchmarks do.

    /usr/bin/python3 bench/trees.py applications_100000.csv [--repeats 3] [--skip-rf] [--rf-repeats 1]
"""
import argparse
import json
import multiprocessing as mp
import resource
import statistics
import time

import numpy as np
import pandas as pd

FEATURES = ["debt_to_income_ratio", "credit_utilization", "payment_score", "annual_income"]


def load(path):
    df = pd.read_csv(path)
    df["debt_to_income_ratio"] = df.total_debt / (df.annual_income + 0.01)
    df["credit_utilization"] = df.credit_card_balance / (df.credit_limit + 0.01)
    df["payment_score"] = df.on_time_payments / (df.total_payments + 1) * 100
    test = np.arange(len(df)) % 5 == 4
    x, y = df[FEATURES].to_numpy(), df.loan_default.to_numpy()
    return x[~test], y[~test], x[test], y[test], x, y


def make(name):
    if name == "sklearn_rf":
        from sklearn.ensemble import RandomForestClassifier
        return RandomForestClassifier(n_estimators=200, max_depth=10, min_samples_split=100,
                                      class_weight="balanced", n_jobs=2, random_state=42)
    if name == "sklearn_hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier
        return HistGradientBoostingClassifier(max_iter=200, max_depth=6, learning_rate=0.1,
                                              early_stopping=False, random_state=42)
    import xgboost
    return xgboost.XGBClassifier(tree_method="hist", n_estimators=200, max_depth=6, learning_rate=0.1,
                                 n_jobs=2, random_state=42)


def status_kb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def run(name, path, repeats, q, predict_all):
    import gc
    from sklearn.metrics import roc_auc_score
    xtr, ytr, xte, yte, xall, yall = load(path)
    if name == "sklearn_rf":  # no NaN support in scikit-learn 1.2's forest: median-impute
        med = np.nanmedian(xtr, axis=0)
        xtr, xte = np.where(np.isnan(xtr), med, xtr), np.where(np.isnan(xte), med, xte)
        xall = np.where(np.isnan(xall), med, xall)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fits, preds, alls, explains, auc, auc_all, fit_peak, fit_rise = [], [], [], [], None, None, 0, 0
    for _ in range(repeats):
        m = make(name)
        gc.collect()
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        before = status_kb("VmRSS")
        t = time.perf_counter()
        m.fit(xtr, ytr)
        fits.append(time.perf_counter() - t)
        hwm = status_kb("VmHWM")
        fit_peak, fit_rise = max(fit_peak, hwm), max(fit_rise, hwm - before)
        t = time.perf_counter()
        p = m.predict_proba(xte)[:, 1]
        preds.append(time.perf_counter() - t)
        auc = roc_auc_score(yte, p)
        if name == "xgboost":  # reason codes: exact TreeSHAP of the first 10k test rows
            import xgboost
            dm = xgboost.DMatrix(xte[:10000])
            t = time.perf_counter()
            m.get_booster().predict(dm, pred_contribs=True)
            explains.append(time.perf_counter() - t)
        if predict_all:
            t = time.perf_counter()
            p = m.predict_proba(xall)[:, 1]
            alls.append(time.perf_counter() - t)
            auc_all = roc_auc_score(yall, p)
        del m
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    q.put({"model": name, "fit_s": statistics.median(fits), "predict_s": statistics.median(preds),
           "predict_all_s": statistics.median(alls) if alls else None, "all_rows": len(yall), "auc_all": auc_all,
           "explain_s": statistics.median(explains) if explains else None,
           "auc": auc, "train_rows": len(ytr), "test_rows": len(yte), "fits_s": fits,
           "peak_rss_mb": peak / 1024, "data_rss_mb": base / 1024,
           "fit_peak_rss_mb": fit_peak / 1024, "fit_rss_mb": fit_rise / 1024})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-rf", action="store_true")
    ap.add_argument("--rf-repeats", type=int, help="runs of scikit-learn's forest (default --repeats)")
    ap.add_argument("--no-predict-all", action="store_true", help="do not time predict_proba on every row")
    a = ap.parse_args()
    out = []
    for name in ["sklearn_rf", "sklearn_hgb", "xgboost"]:
        if name == "sklearn_rf" and a.skip_rf:
            continue
        q = mp.Queue()
        reps = a.rf_repeats if name == "sklearn_rf" and a.rf_repeats else a.repeats
        p = mp.Process(target=run, args=(name, a.csv, reps, q, not a.no_predict_all))
        p.start()
        out.append(q.get())
        p.join()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
