#!/usr/bin/python3
"""The example pipeline (examples/pipelines/credit-risk.yaml) in pandas and
scikit-learn, for bench/run.sh's cold end-to-end comparison with `mlrun run`.

Usage:
    /usr/bin/python3 bench/pipeline.py FILE.csv

The same stages, in one process, imports included (the caller times the
whole process and reads its peak RSS):
  load      SHA-256 of the file's bytes, then pandas.read_csv
  validate  overall missing fraction <= 5%, loan_amount > 0, annual_income >= 0,
            18 <= age <= 100, home_ownership in the four known values,
            application_id unique, >= 1000 rows, on_time_payments <=
            total_payments for 99% of rows (warn only)
  derive    the workshop's three features (vectorised)
  split     stratified 80/20 on loan_default, seed 42
  train     StandardScaler + LogisticRegression(C=1, class_weight='balanced')
            on the three features and annual_income (rows with a missing
            feature dropped, as mlrun's default)
  evaluate  roc_auc_score on the test rows
Prints one JSON line: rows, the file's sha256, the AUC and per-stage seconds.
Exit status 1 when a rule or the AUC >= 0.70 gate fails.
"""
import hashlib
import json
import sys
import time

T0 = time.perf_counter()
import pandas as pd  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

FEATURES = ["debt_to_income_ratio", "credit_utilization", "payment_score", "annual_income"]


def main(path):
    t = {"imports": time.perf_counter() - T0}
    s = time.perf_counter()
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    df = pd.read_csv(path, na_values=["", "NA"], keep_default_na=False)
    t["load"] = time.perf_counter() - s

    s = time.perf_counter()
    failed = []
    if df.isna().to_numpy().mean() > 0.05:
        failed.append("missing_overall")
    if not (df["loan_amount"] > 0).all():
        failed.append("loan_amount_positive")
    if not (df["annual_income"].dropna() >= 0).all():
        failed.append("income_not_negative")
    if not df["age"].dropna().between(18, 100).all():
        failed.append("age_plausible")
    if not df["home_ownership"].dropna().isin(["own", "mortgage", "rent", "other"]).all():
        failed.append("home_ownership_known")
    if not df["application_id"].is_unique:
        failed.append("application_ids_unique")
    if len(df) < 1000:
        failed.append("enough_rows")
    _warn = (df["on_time_payments"] <= df["total_payments"]).mean() < 0.99
    t["validate"] = time.perf_counter() - s

    s = time.perf_counter()
    df["debt_to_income_ratio"] = df["total_debt"] / (df["annual_income"] + 0.01)
    df["credit_utilization"] = df["credit_card_balance"] / (df["credit_limit"] + 0.01)
    df["payment_score"] = df["on_time_payments"] / (df["total_payments"] + 1) * 100
    t["derive"] = time.perf_counter() - s

    s = time.perf_counter()
    train, test = train_test_split(df, test_size=0.2, random_state=42, stratify=df["loan_default"])
    t["split"] = time.perf_counter() - s

    s = time.perf_counter()
    train = train.dropna(subset=FEATURES)
    model = make_pipeline(StandardScaler(),
                          LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000))
    model.fit(train[FEATURES], train["loan_default"])
    t["train"] = time.perf_counter() - s

    s = time.perf_counter()
    test = test.dropna(subset=FEATURES)
    auc = roc_auc_score(test["loan_default"], model.predict_proba(test[FEATURES])[:, 1])
    t["evaluate"] = time.perf_counter() - s
    if auc < 0.70:
        failed.append("auc_floor")
    print(json.dumps({"rows": len(df), "sha256": h.hexdigest(), "auc": round(auc, 4),
                      "failed": failed, "seconds": {k: round(v, 4) for k, v in t.items()}}))
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
