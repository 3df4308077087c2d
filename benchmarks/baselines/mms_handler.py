"""SageMaker's own framework serving stack: sagemaker-inference on multi-model-server (Java),
with a handler shaped like the SageMaker XGBoost container's (model_fn / input_fn / predict_fn /
output_fn). Started with `python -m benchmarks.baselines.mms_handler` (SAGEMAKER_BASE_DIR set).
"""

from __future__ import annotations

from sagemaker_inference import model_server
from sagemaker_inference.default_handler_service import DefaultHandlerService
from sagemaker_inference.transformer import Transformer

from benchmarks.baselines.mms_inference import XGBoostHandler


# MMS loads the one class this module defines as the handler service.
class HandlerService(DefaultHandlerService):
    def __init__(self) -> None:
        super().__init__(transformer=Transformer(default_inference_handler=XGBoostHandler()))


if __name__ == "__main__":
    model_server.start_model_server(handler_service="benchmarks.baselines.mms_handler")
