"""The classic bring-your-own serving pattern (AWS's scikit_bring_your_own example, adapted to
XGBoost): Flask under gunicorn, pandas parses the CSV body, a DMatrix is built from the frame.

    MODEL_DIR=... gunicorn -w 2 -b 127.0.0.1:PORT benchmarks.baselines.flask_predictor:app
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import flask
import pandas as pd
import xgboost as xgb

MODEL_DIR = Path(os.environ.get("MODEL_DIR", "/opt/ml/model"))
model = xgb.Booster()
model.load_model(MODEL_DIR / "xgboost-model.json")

app = flask.Flask(__name__)


@app.route("/ping", methods=["GET"])
def ping() -> flask.Response:
    return flask.Response(response="\n", status=200, mimetype="application/json")


@app.route("/invocations", methods=["POST"])
def transformation() -> flask.Response:
    if flask.request.content_type != "text/csv":
        return flask.Response(response="This predictor only supports CSV data", status=415, mimetype="text/plain")
    data = pd.read_csv(io.StringIO(flask.request.data.decode("utf-8")), header=None)
    predictions = model.predict(xgb.DMatrix(data), validate_features=False)
    out = io.StringIO()
    pd.DataFrame({"results": predictions}).to_csv(out, header=False, index=False)
    return flask.Response(response=out.getvalue(), status=200, mimetype="text/csv")
