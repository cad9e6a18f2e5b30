"""`LayerNorm`: normalise over some axes, then scale and offset (Ba et al. 2016, https://arxiv.org/abs/1607.06450)."""

from __future__ import annotations

import collections.abc
from typing import Optional, Sequence, Union

import jax
import jax.numpy as jnp

from vtrax.nets.base import Initializer, get_parameter
from vtrax.nets.module import Module

Axes = Union[int, Sequence[int], slice]


def _as_axes(axis: Axes, what: str) -> Union[tuple, slice]:
    if isinstance(axis, slice):
        return axis
    if isinstance(axis, int):
        return (axis,)
    if isinstance(axis, collections.abc.Iterable):
        axes = tuple(axis)
        if all(isinstance(a, int) for a in axes):
            return axes
    raise ValueError(f"LayerNorm {what} must be an int, a slice or a sequence of ints, got {axis!r}.")


class LayerNorm(Module):
    """Layer normalisation with Haiku's arguments and parameter names.

    `y = scale * (x - mean) / sqrt(var + eps) + offset`, mean and variance over
    `axis`. Parameters `scale` (init ones) and `offset` (init zeros) have the
    shape of the input along `param_axis` (default: the last axis).
    """

    def __init__(self, axis: Axes, create_scale: bool, create_offset: bool, eps: float = 1e-5,
                 scale_init: Optional[Initializer] = None, offset_init: Optional[Initializer] = None,
                 use_fast_variance: bool = False, name: Optional[str] = None, *, param_axis: Optional[Axes] = None):
        super().__init__(name=name)
        if not create_scale and scale_init is not None:
            raise ValueError("LayerNorm: scale_init was given but create_scale=False.")
        if not create_offset and offset_init is not None:
            raise ValueError("LayerNorm: offset_init was given but create_offset=False.")
        self.axis = _as_axes(axis, "axis")
        self.param_axis = _as_axes(-1 if param_axis is None else param_axis, "param_axis")
        self.eps = eps
        self.create_scale = create_scale
        self.create_offset = create_offset
        self.scale_init = scale_init or jnp.ones
        self.offset_init = offset_init or jnp.zeros
        self.use_fast_variance = use_fast_variance

    def __call__(self, inputs: jax.Array, scale: Optional[jax.Array] = None,
                 offset: Optional[jax.Array] = None) -> jax.Array:
        """Normalises `inputs` (any shape); `scale`/`offset` may be passed only if not created."""
        if self.create_scale and scale is not None:
            raise ValueError("LayerNorm: cannot pass scale at call time when create_scale=True.")
        if self.create_offset and offset is not None:
            raise ValueError("LayerNorm: cannot pass offset at call time when create_offset=True.")
        axes = _resolve(self.axis, inputs.ndim)
        mean = jnp.mean(inputs, axis=axes, keepdims=True)
        if self.use_fast_variance:
            variance = jnp.mean(jnp.square(inputs), axis=axes, keepdims=True) - jnp.square(mean)
        else:
            variance = jnp.var(inputs, axis=axes, keepdims=True)
        param_axes = _resolve(self.param_axis, inputs.ndim)
        param_shape = tuple(inputs.shape[a] for a in param_axes)
        if self.create_scale:
            scale = get_parameter("scale", param_shape, inputs.dtype, init=self.scale_init)
        if self.create_offset:
            offset = get_parameter("offset", param_shape, inputs.dtype, init=self.offset_init)
        scale = _broadcast_param(scale, param_axes, inputs, 1.0)
        offset = _broadcast_param(offset, param_axes, inputs, 0.0)
        eps = jax.lax.convert_element_type(self.eps, variance.dtype)
        inv = scale * jnp.broadcast_to(jax.lax.rsqrt(variance + eps), inputs.shape)
        return inv * (inputs - jnp.broadcast_to(mean, inputs.shape)) + offset


def _resolve(axes: Union[tuple, slice], ndim: int) -> tuple:
    if isinstance(axes, slice):
        return tuple(range(ndim)[axes])
    return tuple(sorted(a % ndim for a in axes))


def _broadcast_param(value, param_axes: tuple, inputs: jax.Array, default: float) -> jax.Array:
    """Puts a parameter of shape [inputs.shape[a] for a in param_axes] in place and broadcasts it."""
    if value is None:
        return jnp.full(inputs.shape, default, inputs.dtype)
    value = jnp.asarray(value)
    if value.shape == tuple(inputs.shape[a] for a in param_axes) and value.ndim != inputs.ndim:
        value = jnp.reshape(value, [inputs.shape[a] if a in param_axes else 1 for a in range(inputs.ndim)])
    return jnp.broadcast_to(value, inputs.shape)
