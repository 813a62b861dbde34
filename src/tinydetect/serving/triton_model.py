"""The served model: a Triton Python-backend model that scores UTF-8 texts with any ONNX variant.

Loaded by tritonserver's Python-backend stub (copied into the model repository as `1/model.py` by `server.py`), so
`triton_python_backend_utils` is the server's module, not a package. Why a Python-backend model and not a function
bound with PyTriton's `triton.bind`: PyTriton answers an exception of the bound function with one error for every
request of the dynamic batch, as HTTP 500. Here each request is checked on its own; a bad one gets INVALID_ARG (HTTP
400, gRPC INVALID_ARGUMENT) naming what is wrong, and the good requests batched with it are scored as usual.
"""

from __future__ import annotations

import json

import numpy as np
import triton_python_backend_utils as pb_utils

from tinydetect.runtime.onnx_scorer import OnnxScorer
from tinydetect.serving.texts import BadText, decode_texts

TEXT, P_AI, LABEL, REASON = "text", "p_ai", "label", "reason"


class TritonPythonModel:
    """Triton calls `initialize` once per instance, then `execute` with each dynamic batch of requests."""

    def initialize(self, args: dict) -> None:
        parameters = json.loads(args["model_config"])["parameters"]
        setting = {name: value["string_value"] for name, value in parameters.items()}
        self.scorer = OnnxScorer(setting["model"], threads=int(setting["threads"]) or None)
        self.max_text_bytes = int(setting["max_text_bytes"])

    def execute(self, requests: list) -> list:
        texts_by_request, responses = [], [None] * len(requests)
        for index, request in enumerate(requests):
            try:
                texts_by_request.append((index, decode_texts(self._texts(request), self.max_text_bytes)))
            except BadText as error:
                responses[index] = pb_utils.InferenceResponse(
                    error=pb_utils.TritonError(str(error), pb_utils.TritonError.INVALID_ARG))
        every_text = [text for _, texts in texts_by_request for text in texts]
        p_ai = self.scorer.probability_ai(every_text).astype(np.float32)
        labels = self.scorer.threshold.labels(p_ai, every_text)  # the rule of every surface (decision/threshold.py)
        start = 0
        for index, texts in texts_by_request:
            end = start + len(texts)
            responses[index] = self._response(p_ai[start:end], labels[start:end])
            start = end
        return responses

    @staticmethod
    def _texts(request) -> np.ndarray:
        return pb_utils.get_input_tensor_by_name(request, TEXT).as_numpy().reshape(-1)

    @staticmethod
    def _response(p_ai: np.ndarray, labels: list[tuple[str, str | None]]):
        """`label` AI, HUMAN or UNSURE, and `reason` (empty unless UNSURE), per text."""
        def column(values) -> np.ndarray:
            return np.array([value.encode() for value in values], dtype=object).reshape(-1, 1)

        return pb_utils.InferenceResponse(output_tensors=[
            pb_utils.Tensor(P_AI, p_ai.reshape(-1, 1)),
            pb_utils.Tensor(LABEL, column(label for label, _ in labels)),
            pb_utils.Tensor(REASON, column(reason or "" for _, reason in labels)),
        ])
