"""Parameter initializers with Haiku's names, arguments and defaults.

An initializer is any callable `init(shape, dtype) -> array`; those below draw
their randomness from `nets.next_rng_key()`, so they must run inside `init`.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from vtrax.nets.rng import next_rng_key

# stddev of a unit normal truncated to [-2, 2]; VarianceScaling divides by it so
# that the truncated draw has the intended variance.
_TRUNCATED_NORMAL_STDDEV = 0.87962566103423978


class Constant:
    """Fills with `constant` (a scalar or an array broadcastable to the shape)."""

    def __init__(self, constant: Any):
        self.constant = constant

    def __call__(self, shape: Sequence[int], dtype: Any) -> jax.Array:
        return jnp.broadcast_to(jnp.asarray(self.constant), tuple(shape)).astype(dtype)


class RandomNormal:
    """Samples from N(mean, stddev^2)."""

    def __init__(self, stddev: float = 1.0, mean: float = 0.0):
        self.stddev = stddev
        self.mean = mean

    def __call__(self, shape: Sequence[int], dtype: Any) -> jax.Array:
        draw = jax.random.normal(next_rng_key(), tuple(shape), dtype)
        return jnp.asarray(self.mean, dtype) + jnp.asarray(self.stddev, dtype) * draw


class TruncatedNormal:
    """Samples `mean + stddev * z` with z a unit normal truncated to [lower, upper]."""

    def __init__(self, stddev: float = 1.0, mean: float = 0.0, lower: float = -2.0, upper: float = 2.0):
        self.stddev = stddev
        self.mean = mean
        self.lower = lower
        self.upper = upper

    def __call__(self, shape: Sequence[int], dtype: Any) -> jax.Array:
        draw = jax.random.truncated_normal(next_rng_key(), self.lower, self.upper, tuple(shape), dtype)
        return jnp.asarray(self.mean, dtype) + jnp.asarray(self.stddev, dtype) * draw


class RandomUniform:
    """Samples uniformly from [minval, maxval)."""

    def __init__(self, minval: float = 0.0, maxval: float = 1.0):
        self.minval = minval
        self.maxval = maxval

    def __call__(self, shape: Sequence[int], dtype: Any) -> jax.Array:
        return jax.random.uniform(next_rng_key(), tuple(shape), dtype, self.minval, self.maxval)


def compute_fans(shape: Sequence[int], fan_in_axes: Optional[Sequence[int]] = None) -> tuple[float, float]:
    """(fan_in, fan_out) of a weight shape: [in, out] for dense, [*kernel, in, out] for conv."""
    shape = tuple(shape)
    if len(shape) < 1:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    if len(shape) == 2:
        return float(shape[0]), float(shape[1])
    if fan_in_axes is not None:
        fan_in = float(np.prod([shape[axis] for axis in fan_in_axes]))
        return fan_in, float(np.prod(shape)) / fan_in
    receptive_field = float(np.prod(shape[:-2]))
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class VarianceScaling:
    """Scales the draw to variance `scale / n`, n the fan-in, fan-out or their mean.

    Args:
      scale: variance multiplier (> 0).
      mode: "fan_in", "fan_out" or "fan_avg".
      distribution: "truncated_normal", "normal" or "uniform".
      fan_in_axes: axes that make up fan-in (default: all but the last).
    """

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("truncated_normal", "normal", "uniform")

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal",
                 fan_in_axes: Optional[Sequence[int]] = None):
        if scale <= 0.0:
            raise ValueError(f"VarianceScaling scale must be > 0, got {scale}.")
        if mode not in self._MODES:
            raise ValueError(f"VarianceScaling mode must be one of {self._MODES}, got {mode!r}.")
        if distribution not in self._DISTRIBUTIONS:
            raise ValueError(f"VarianceScaling distribution must be one of {self._DISTRIBUTIONS}, got "
                             f"{distribution!r}.")
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.fan_in_axes = fan_in_axes

    def __call__(self, shape: Sequence[int], dtype: Any) -> jax.Array:
        fan_in, fan_out = compute_fans(shape, self.fan_in_axes)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, fan)
        if self.distribution == "truncated_normal":
            return TruncatedNormal(stddev=math.sqrt(variance) / _TRUNCATED_NORMAL_STDDEV)(shape, dtype)
        if self.distribution == "normal":
            return RandomNormal(stddev=math.sqrt(variance))(shape, dtype)
        limit = math.sqrt(3.0 * variance)
        return RandomUniform(minval=-limit, maxval=limit)(shape, dtype)


class Orthogonal:
    """A (semi-)orthogonal matrix along `axis`, times `scale` (Saxe et al. 2013).

    The array is viewed as a matrix with `shape[axis]` rows and all other
    dimensions flattened into columns; rows (or columns, whichever are fewer)
    are orthonormal.
    """

    def __init__(self, scale: float = 1.0, axis: int = -1):
        self.scale = scale
        self.axis = axis

    def __call__(self, shape: Sequence[int], dtype: Any) -> jax.Array:
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError(f"Orthogonal initializer needs a shape of rank >= 2, got {shape}.")
        axis = self.axis % len(shape)
        num_rows = shape[axis]
        other_dims = shape[:axis] + shape[axis + 1:]
        num_cols = int(np.prod(other_dims))
        draw = jax.random.normal(next_rng_key(), (max(num_rows, num_cols), min(num_rows, num_cols)), jnp.float32)
        q, r = jnp.linalg.qr(draw)
        q = q * jnp.sign(jnp.diag(r))[None, :]  # make the decomposition unique
        matrix = q.T if num_rows < num_cols else q  # [num_rows, num_cols]
        matrix = matrix.reshape((num_rows,) + other_dims)
        return (self.scale * jnp.moveaxis(matrix, 0, axis)).astype(dtype)
