"""The Python side of the serve benchmark (bench/stages/serve.sh).

A Flask app scoring single records with scikit-learn, as mlrun serve does
with the same pipeline (bench/stages/serve.sh writes it): the age range
rule, the three derived features, a balanced logistic regression on the
four features (missing values imputed with the training median, as mlrun does; standardised), the decision at 0.5 and, for adverse
decisions, the top 4 reason codes (coefficient times the standardised
distance from the training mean: the contributions mlrun gives for a
logistic regression) with their texts. Bad input is a 400 naming each bad
field. The model is trained at import on the CSV named by
MLRUN_SERVE_BENCH_CSV (stratified 80% split, seed 42).

It does not record decisions durably: mlrun serve fsyncs each one before
answering; this server does less work per request.

Run: gunicorn -w 2 -b 127.0.0.1:PORT --chdir bench serve_flask:app
"""
import os

import numpy as np
import pandas as pd
from flask import Flask, jsonify, request
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

FEATURES = ["debt_to_income_ratio", "credit_utilization", "payment_score", "annual_income"]
REASONS = {
    "debt_to_income_ratio": "Debt too high relative to income",
    "credit_utilization": "Credit card balances too high relative to limits",
    "payment_score": "Too few payments made on time",
    "annual_income": "Income too low",
}
NUMERIC = ["annual_income", "total_debt", "credit_card_balance", "credit_limit",
           "on_time_payments", "total_payments", "age"]
OPTIONAL = ["application_id", "application_date", "loan_amount", "employment_years",
            "home_ownership", "purpose", "region", "age_group"]
KNOWN = set(NUMERIC) | set(OPTIONAL)
THRESHOLD = 0.5


def derive(income, debt, balance, limit, on_time, total):
    return [debt / (income + 0.01), balance / (limit + 0.01), on_time / (total + 1) * 100, income]


def train(path):
    df = pd.read_csv(path)
    x = np.column_stack(derive(df.annual_income, df.total_debt, df.credit_card_balance, df.credit_limit,
                               df.on_time_payments, df.total_payments))
    x_train, _, y_train, _ = train_test_split(x, df.loan_default, test_size=0.2, stratify=df.loan_default,
                                              random_state=42)
    model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=1000))
    model.fit(x_train, y_train)
    return model


model = train(os.environ["MLRUN_SERVE_BENCH_CSV"])
imputer, scaler, logit = model[0], model[1], model[2]
coef = logit.coef_[0]
app = Flask(__name__)


@app.post("/score")
def score():
    rec = request.get_json(silent=True)
    if not isinstance(rec, dict):
        return jsonify(error="want a record (a JSON object)"), 400
    bad = [{"field": k, "message": "unknown field"} for k in rec if k not in KNOWN]
    vals = {}
    for k in NUMERIC:
        if k not in rec:
            bad.append({"field": k, "message": "required field missing"})
            continue
        try:
            vals[k] = float("nan") if rec[k] is None else float(rec[k])
        except (TypeError, ValueError):
            bad.append({"field": k, "message": "want a number"})
    if bad:
        return jsonify(error=f"{len(bad)} bad field(s)", fields=bad), 400
    if not (np.isnan(vals["age"]) or 18 <= vals["age"] <= 100):
        return jsonify(error="the record fails the validation the model was trained behind",
                       rules=[{"rule": "age_plausible", "fields": ["age"]}]), 400
    x = np.array([derive(vals["annual_income"], vals["total_debt"], vals["credit_card_balance"],
                         vals["credit_limit"], vals["on_time_payments"], vals["total_payments"])])
    p = float(model.predict_proba(x)[0, 1])
    out = {"score": p, "decision": "approve"}
    if p >= THRESHOLD:
        out["decision"] = "adverse"
        contrib = coef * scaler.transform(imputer.transform(x))[0]
        top = [i for i in np.argsort(-contrib) if contrib[i] > 0][:4]
        out["reasons"] = [{"code": FEATURES[i], "text": REASONS[FEATURES[i]], "contribution": float(contrib[i])}
                          for i in top]
    return jsonify(decisions=[out])


@app.get("/health")
def health():
    return jsonify(ready=True)
