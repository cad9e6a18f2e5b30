"""numpy arrays <-> `Tensor` messages, and the checks an `Act` request must pass.

A `Tensor` carries `shape`, a numpy dtype name and the row-major little-endian bytes.
Every check raises `InvalidRequestError` with one sentence naming the problem, the
expected and actual values, and the fix; the service turns it into INVALID_ARGUMENT.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from vtrax.deploy.serve import vtrax_serve_pb2 as pb

# dtypes a Tensor may carry (bool and complex are never observations).
DTYPES = ("float16", "float32", "float64", "uint8", "int8", "uint16", "int16", "uint32", "int32", "int64",
          "uint64")
MAX_RANK = 8


class InvalidRequestError(ValueError):
    """A request the service refuses; the message says what is wrong and how to fix it."""


def to_tensor(array: np.ndarray) -> pb.Tensor:
    """The `Tensor` message of `array` (any shape; dtype from `DTYPES`)."""
    array = np.asarray(array)
    if array.dtype.name not in DTYPES:
        raise InvalidRequestError(f"dtype {array.dtype.name} cannot be sent; use one of {', '.join(DTYPES)}")
    little = array.astype(array.dtype.newbyteorder("<"), copy=False)
    return pb.Tensor(shape=list(array.shape), dtype=array.dtype.name, data=np.ascontiguousarray(little).tobytes())


def from_tensor(tensor: pb.Tensor, *, name: str) -> np.ndarray:
    """The array a `Tensor` message holds (read-only view of its bytes).

    Args:
      tensor: the message.
      name: the field's name, used in error messages ('observations').

    Raises:
      InvalidRequestError: unknown dtype, negative or too many dimensions, or a
        byte count that does not match shape x itemsize.
    """
    if tensor.dtype not in DTYPES:
        raise InvalidRequestError(f"{name}.dtype {tensor.dtype!r} is not a supported numpy dtype name; "
                                  f"use one of {', '.join(DTYPES)}")
    shape = tuple(int(size) for size in tensor.shape)
    if len(shape) > MAX_RANK or any(size < 0 for size in shape):
        raise InvalidRequestError(f"{name}.shape {list(shape)} is not a valid array shape "
                                  f"(non-negative sizes, at most {MAX_RANK} dimensions)")
    dtype = np.dtype(tensor.dtype).newbyteorder("<")
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(tensor.data) != expected:
        raise InvalidRequestError(f"{name}.data has {len(tensor.data)} bytes but shape {list(shape)} of "
                                  f"{tensor.dtype} needs {expected}; send array.tobytes() of a C-contiguous array")
    return np.frombuffer(tensor.data, dtype=dtype).reshape(shape)


def check_observations(observations: np.ndarray, *, env_id: str, observation_shape: Sequence[int],
                       observation_dtype: np.dtype, max_batch_size: int) -> None:
    """Raise `InvalidRequestError` unless `observations` is a finite [B, *observation_shape] batch, 1 <= B <= max.

    Args:
      observations: the decoded request array.
      env_id: named in messages so the client sees which environment is served.
      observation_shape: one observation's shape, e.g. (4,) for CartPole.
      observation_dtype: the environment's dtype; no silent casting is done.
      max_batch_size: the server's limit on B.
    """
    want = [int(size) for size in observation_shape]
    got = list(observations.shape)
    if observations.ndim != len(want) + 1 or got[1:] != want:
        raise InvalidRequestError(f"observations must have shape [B, {', '.join(map(str, want))}] for {env_id}, "
                                  f"got {got}; stack B observations of shape {want} along a new first axis")
    if got[0] == 0:
        raise InvalidRequestError(f"observations batch is empty (shape {got}); send at least one observation")
    if got[0] > max_batch_size:
        raise InvalidRequestError(f"batch of {got[0]} observations exceeds this server's --max-batch-size "
                                  f"{max_batch_size}; split it into smaller requests")
    if observations.dtype != np.dtype(observation_dtype):
        raise InvalidRequestError(f"observations must be {np.dtype(observation_dtype).name} for {env_id}, got "
                                  f"{observations.dtype.name}; convert with "
                                  f"np.asarray(x, np.{np.dtype(observation_dtype).name})")
    _check_finite(observations)


def _check_finite(observations: np.ndarray) -> None:
    """NaN or inf would pass through the network and come back as action 0 with value nan."""
    if observations.dtype.kind != "f":
        return
    finite_rows = np.isfinite(observations).reshape(len(observations), -1).all(axis=1)
    if not finite_rows.all():
        rows = np.flatnonzero(~finite_rows).tolist()
        raise InvalidRequestError(f"observations must be finite, got NaN or inf in row(s) {rows[:8]}"
                                  f"{' ...' if len(rows) > 8 else ''}; replace or drop those observations")


def check_request_size(size_bytes: int, max_request_bytes: int) -> None:
    """Raise `InvalidRequestError` when a request is larger than the server accepts."""
    if size_bytes > max_request_bytes:
        raise InvalidRequestError(f"request is {size_bytes:,} bytes, over this server's --max-request-bytes "
                                  f"{max_request_bytes:,}; send fewer observations per request")
