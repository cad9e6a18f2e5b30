"""Max and average pooling (Haiku's `hk.max_pool`, `hk.avg_pool`, `hk.MaxPool`, `hk.AvgPool`).

`window_shape` and `strides` are either full-rank sequences (e.g. [1, 3, 3, 1]
for NHWC), shorter sequences (leading dims are taken as batch dims and padded
with 1), or an int applied to every axis but the first and `channel_axis`.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from vtrax.nets.module import Module

Size = Union[int, Sequence[int]]


def _infer_shape(x: jax.Array, size: Size, channel_axis: Optional[int], what: str) -> tuple[int, ...]:
    if isinstance(size, (int, np.integer)):
        if channel_axis is not None and not -x.ndim <= channel_axis < x.ndim:
            raise ValueError(f"Invalid channel_axis {channel_axis} for an input of shape {tuple(x.shape)}.")
        channel = None if channel_axis is None else channel_axis % x.ndim
        return (1,) + tuple(1 if axis == channel else int(size) for axis in range(1, x.ndim))
    size = tuple(int(s) for s in size)
    if len(size) > x.ndim:
        raise ValueError(f"Pooling {what} {size} has more entries than the input has axes {tuple(x.shape)}.")
    return (1,) * (x.ndim - len(size)) + size


def _check_padding(padding: str) -> None:
    if padding not in ("SAME", "VALID"):
        raise ValueError(f"Pooling padding must be 'SAME' or 'VALID', got {padding!r}.")


def max_pool(value: jax.Array, window_shape: Size, strides: Size, padding: str,
             channel_axis: Optional[int] = -1) -> jax.Array:
    """Max over windows; same rank as `value`. Padding cells never win (they are -inf)."""
    _check_padding(padding)
    value = jnp.asarray(value)
    window = _infer_shape(value, window_shape, channel_axis, "window_shape")
    steps = _infer_shape(value, strides, channel_axis, "strides")
    # NOTE: init values must be numpy constants, not jnp arrays: under jit a jnp constant is a tracer, and
    # reduce_window then falls back to a generic reduction that has no gradient.
    if jnp.issubdtype(value.dtype, jnp.floating):
        lowest = np.array(-np.inf, value.dtype)
    else:
        lowest = np.array(np.iinfo(value.dtype).min, value.dtype)
    return lax.reduce_window(value, lowest, lax.max, window, steps, padding)


def avg_pool(value: jax.Array, window_shape: Size, strides: Size, padding: str,
             channel_axis: Optional[int] = -1) -> jax.Array:
    """Mean over windows; with SAME padding, only real (unpadded) cells are averaged."""
    _check_padding(padding)
    value = jnp.asarray(value)
    window = _infer_shape(value, window_shape, channel_axis, "window_shape")
    steps = _infer_shape(value, strides, channel_axis, "strides")
    zero = np.array(0, value.dtype)  # a numpy constant, see max_pool
    pooled = lax.reduce_window(value, zero, lax.add, window, steps, padding)
    if padding == "VALID":
        return pooled / np.prod(window)
    ones = jnp.ones([dim if size != 1 else 1 for dim, size in zip(value.shape, window)], value.dtype)
    counts = lax.reduce_window(ones, zero, lax.add, window, steps, padding)
    return pooled / jnp.broadcast_to(counts, pooled.shape)


class MaxPool(Module):
    """Module form of `max_pool`."""

    def __init__(self, window_shape: Size, strides: Size, padding: str, channel_axis: Optional[int] = -1,
                 name: Optional[str] = None):
        super().__init__(name=name)
        self.window_shape, self.strides, self.padding, self.channel_axis = window_shape, strides, padding, channel_axis

    def __call__(self, value: jax.Array) -> jax.Array:
        return max_pool(value, self.window_shape, self.strides, self.padding, self.channel_axis)


class AvgPool(Module):
    """Module form of `avg_pool`."""

    def __init__(self, window_shape: Size, strides: Size, padding: str, channel_axis: Optional[int] = -1,
                 name: Optional[str] = None):
        super().__init__(name=name)
        self.window_shape, self.strides, self.padding, self.channel_axis = window_shape, strides, padding, channel_axis

    def __call__(self, value: jax.Array) -> jax.Array:
        return avg_pool(value, self.window_shape, self.strides, self.padding, self.channel_axis)
