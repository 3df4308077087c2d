"""The XGBoost inference handler for the multi-model-server baseline (shaped like the SageMaker
XGBoost container's: model_fn / input_fn / predict_fn / output_fn)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import xgboost as xgb
from sagemaker_inference import content_types, decoder, default_inference_handler, encoder


class XGBoostHandler(default_inference_handler.DefaultInferenceHandler):
    def default_model_fn(self, model_dir: str, context: Any = None) -> xgb.Booster:
        booster = xgb.Booster()
        booster.load_model(os.path.join(model_dir, "xgboost-model.json"))
        return booster

    def default_input_fn(self, input_data: Any, content_type: str, context: Any = None) -> np.ndarray:
        return decoder.decode(input_data, content_type)

    def default_predict_fn(self, data: np.ndarray, model: xgb.Booster, context: Any = None) -> np.ndarray:
        return model.predict(xgb.DMatrix(np.atleast_2d(data).astype(np.float32)), validate_features=False)

    def default_output_fn(self, prediction: np.ndarray, accept: str, context: Any = None) -> Any:
        return encoder.encode(prediction, accept or content_types.CSV)
