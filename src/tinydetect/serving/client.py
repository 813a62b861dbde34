"""Scoring texts with a running `tinydetect serve` through `tritonclient` (HTTP or gRPC): one request per call."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http

from tinydetect.serving.repository import SERVED_MODEL


def connect(protocol: str, url: str):
    """An HTTP client or a gRPC client (each used from one thread)."""
    if protocol == "http":
        return triton_http.InferenceServerClient(url, network_timeout=120)
    return triton_grpc.InferenceServerClient(url)


def text_input(client, texts: Sequence[str | bytes], name: str = "text"):
    """The `text` tensor, [n, 1] BYTES; str is encoded as UTF-8, bytes are sent as they are."""
    module = triton_http if isinstance(client, triton_http.InferenceServerClient) else triton_grpc
    data = np.array([[text.encode() if isinstance(text, str) else text] for text in texts], dtype=object)
    tensor = module.InferInput(name, list(data.shape), "BYTES")
    tensor.set_data_from_numpy(data)
    return tensor


def score(client, texts: Sequence[str | bytes]) -> tuple[np.ndarray, list[str]]:
    """(p_ai, labels) for one request of `texts`; a refused request raises `InferenceServerException`."""
    p_ai, labels, _ = score_with_reasons(client, texts)
    return p_ai, labels


def score_with_reasons(client, texts: Sequence[str | bytes]) -> tuple[np.ndarray, list[str], list[str]]:
    """(p_ai, labels, reasons) for one request of `texts`: a reason (why UNSURE) is empty for AI and HUMAN."""
    result = client.infer(SERVED_MODEL, [text_input(client, texts)])
    labels, reasons = ([value.decode() for value in result.as_numpy(name).reshape(-1)] for name in ("label", "reason"))
    return result.as_numpy("p_ai").reshape(-1), labels, reasons
