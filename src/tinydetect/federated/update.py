"""What a client sends in a round: its head's change since the round's global head (the delta), optionally clipped and
noised (differential privacy), quantized to INT8 with one scale per tensor.

On Flower's wire a delta is a parameter list of its own: the tensors in the head's order ([weight, bias]), quantized
(int8, or float32 when `delta_bits` is 32), then one float32 array of their scales. Browsers send the same as JSON
(`tensors`: shape, dtype, scale, base64 data; web/src/federated.ts); `from_wire` turns that into the same list, and
`dequantize` checks every update, from either side, before the server averages it.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Sequence

import numpy as np

from tinydetect.core.errors import UserError

WIRE_DTYPES = {"int8": np.int8, "float32": np.float32}
MAX_RANK = 4  # a head's tensors are matrices and vectors
MAX_VALUES = 10_000_000  # per dimension: far above any head, far below what would overflow a size


class UpdateError(UserError):
    """An update the server rejects (wrong shape, not finite, unknown client, closed round); the global head stays."""


def privatize(delta: Sequence[np.ndarray], clip_norm: float, noise_multiplier: float,
              rng: np.random.Generator) -> list[np.ndarray]:
    """Cut the delta's L2 norm (over all its tensors) to `clip_norm` (0: no cut), then add Gaussian noise of std
    `noise_multiplier * clip_norm` to every value (the Gaussian mechanism of DP-FedAvg)."""
    delta = [np.asarray(tensor, dtype=np.float64) for tensor in delta]
    if clip_norm > 0:
        norm = float(np.sqrt(sum(np.sum(tensor ** 2) for tensor in delta)))
        delta = [tensor * min(1.0, clip_norm / max(norm, 1e-12)) for tensor in delta]
    if noise_multiplier > 0:
        delta = [tensor + rng.normal(0.0, noise_multiplier * clip_norm, tensor.shape) for tensor in delta]
    return delta


def quantize(delta: Sequence[np.ndarray], bits: int) -> list[np.ndarray]:
    """[tensor..., scales]: INT8 with scale max|x| / 127 per tensor (bits 8), or float32 with scale 1 (bits 32)."""
    if bits == 32:
        return [np.asarray(tensor, dtype=np.float32) for tensor in delta] + [np.ones(len(delta), dtype=np.float32)]
    scales = [float(np.abs(tensor).max()) / 127 or 1.0 for tensor in delta]
    quantized = [np.clip(np.round(tensor / scale), -127, 127).astype(np.int8) for tensor, scale in zip(delta, scales, strict=True)]
    return [*quantized, np.asarray(scales, dtype=np.float32)]


def dequantize(update: Sequence[np.ndarray], shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    """The float64 delta of a quantized update, after checking it fits a head of these tensor shapes."""
    if len(update) != len(shapes) + 1:
        raise UpdateError(f"an update has {len(shapes)} tensors and their scales, got {len(update)} arrays")
    *tensors, scales = update
    scales = np.asarray(scales, dtype=np.float64).ravel()
    if scales.shape != (len(shapes),) or not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        raise UpdateError(f"scales must be {len(shapes)} finite positive numbers, got {scales.tolist()}")
    delta = []
    for index, (tensor, shape, scale) in enumerate(zip(tensors, shapes, scales, strict=True)):
        tensor = np.asarray(tensor)
        if tensor.dtype.type not in WIRE_DTYPES.values():
            raise UpdateError(f"tensor {index}: dtype {tensor.dtype}, expected int8 or float32")
        if tensor.shape != tuple(shape):
            raise UpdateError(f"tensor {index}: shape {list(tensor.shape)}, the head's is {list(shape)}")
        values = tensor.astype(np.float64) * scale
        if not np.all(np.isfinite(values)):
            raise UpdateError(f"tensor {index}: values are not all finite (NaN or infinity)")
        delta.append(values)
    return delta


def from_wire(tensors: object) -> list[np.ndarray]:
    """A browser's JSON `tensors` as the quantized update list (checked by `dequantize` after)."""
    if not isinstance(tensors, list) or not tensors:
        raise UpdateError("`tensors` must be a non-empty list")
    arrays, scales = [], []
    for index, tensor in enumerate(tensors):
        if not isinstance(tensor, dict) or not {"shape", "dtype", "scale", "data"} <= set(tensor):
            raise UpdateError(f"tensors[{index}]: needs shape, dtype, scale and data")
        dtype = WIRE_DTYPES.get(tensor["dtype"])
        if dtype is None:
            raise UpdateError(f"tensors[{index}]: dtype {tensor['dtype']!r}, expected one of {sorted(WIRE_DTYPES)}")
        shape = tensor["shape"]
        if not isinstance(shape, list) or len(shape) > MAX_RANK or not all(
                isinstance(size, int) and 0 <= size <= MAX_VALUES for size in shape):
            raise UpdateError(f"tensors[{index}]: shape must be a list of at most {MAX_RANK} sizes from 0 to "
                              f"{MAX_VALUES}, got {str(shape)[:80]}")
        try:
            values = np.frombuffer(base64.b64decode(tensor["data"], validate=True), dtype=dtype)
            scales.append(float(tensor["scale"]))
        except (binascii.Error, TypeError, ValueError, OverflowError) as error:
            raise UpdateError(f"tensors[{index}]: {error}") from None
        if values.size != math.prod(shape):  # Python integers: a product of huge sizes cannot wrap around
            raise UpdateError(f"tensors[{index}]: {values.size} values for shape {shape}")
        arrays.append(values.reshape(shape))
    return [*arrays, np.asarray(scales, dtype=np.float32)]


def wire_bytes(update: Sequence[np.ndarray]) -> int:
    """Bytes of the update's arrays: what a client sends on Flower's wire, before framing."""
    return int(sum(np.asarray(array).nbytes for array in update))


def to_wire(update: Sequence[np.ndarray]) -> list[dict]:
    """A quantized update as a browser sends it (the inverse of `from_wire`)."""
    *tensors, scales = update
    return [{"shape": list(tensor.shape), "dtype": np.asarray(tensor).dtype.name, "scale": float(scale),
             "data": base64.b64encode(np.ascontiguousarray(tensor).tobytes()).decode()}
            for tensor, scale in zip(tensors, scales, strict=True)]
