"""`Conv2D`: 2-D convolution over NHWC (or NCHW) images (Haiku's `hk.Conv2D`)."""

from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from vtrax.nets import initializers
from vtrax.nets.base import Initializer, get_parameter
from vtrax.nets.module import Module

IntOrPair = Union[int, Sequence[int]]
Padding = Union[str, Sequence[Sequence[int]]]


def _pair(value: IntOrPair, what: str) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ValueError(f"Conv2D {what} must be an int or a sequence of 2 ints, got {value}.")
    return value


def _padding(padding: Padding) -> Union[str, tuple]:
    if isinstance(padding, str):
        if padding.upper() not in ("SAME", "VALID"):
            raise ValueError(f"Conv2D padding must be 'SAME', 'VALID' or 2 (low, high) pairs, got {padding!r}.")
        return padding.upper()
    pairs = tuple(tuple(int(p) for p in pair) for pair in padding)
    if len(pairs) != 2 or any(len(pair) != 2 for pair in pairs):
        raise ValueError(f"Conv2D padding pairs must look like ((top, bottom), (left, right)), got {padding!r}.")
    return pairs


class Conv2D(Module):
    """2-D convolution.

    Parameters: `w` [kernel_h, kernel_w, in_channels // feature_group_count,
    output_channels] (default init truncated normal, stddev
    `1/sqrt(kernel_h * kernel_w * in_channels // groups)`) and `b` [output_channels]
    for NHWC, [output_channels, 1, 1] for NCHW (default zeros).
    """

    def __init__(self, output_channels: int, kernel_shape: IntOrPair, stride: IntOrPair = 1, rate: IntOrPair = 1,
                 padding: Padding = "SAME", with_bias: bool = True, w_init: Optional[Initializer] = None,
                 b_init: Optional[Initializer] = None, data_format: str = "NHWC", mask: Optional[jax.Array] = None,
                 feature_group_count: int = 1, name: Optional[str] = None):
        """Args:
          output_channels: number of output channels.
          kernel_shape: int or (height, width).
          stride: int or (height, width) step between windows.
          rate: int or (height, width) kernel dilation (atrous rate).
          padding: "SAME", "VALID" or ((top, bottom), (left, right)).
          with_bias: whether to add `b`.
          w_init, b_init: initializers (defaults above).
          data_format: "NHWC" (default) or "NCHW".
          mask: optional array multiplied into `w` (same shape as `w`).
          feature_group_count: grouped convolution; divides the input channels.
          name: module name; default "conv2_d".
        """
        super().__init__(name=name)
        if data_format not in ("NHWC", "NCHW"):
            raise ValueError(f"Conv2D data_format must be 'NHWC' or 'NCHW', got {data_format!r}.")
        if not with_bias and b_init is not None:
            raise ValueError("Conv2D: b_init was given but with_bias=False; drop b_init or set with_bias=True.")
        self.output_channels = int(output_channels)
        self.kernel_shape = _pair(kernel_shape, "kernel_shape")
        self.stride = _pair(stride, "stride")
        self.rate = _pair(rate, "rate")
        self.padding = _padding(padding)
        self.with_bias = with_bias
        self.w_init = w_init
        self.b_init = b_init or jnp.zeros
        self.data_format = data_format
        self.channel_index = -1 if data_format == "NHWC" else 1
        self.mask = mask
        self.feature_group_count = int(feature_group_count)

    def __call__(self, inputs: jax.Array, *, precision: Any = None) -> jax.Array:
        """[N, H, W, C] (or unbatched [H, W, C]) -> [N, H', W', output_channels]."""
        if inputs.ndim not in (3, 4):
            raise ValueError(
                f"Conv2D '{self.module_name}' needs input of rank 4 [N, H, W, C] (or 3 unbatched), got shape "
                f"{tuple(inputs.shape)}. For extra leading dims such as [T, B, H, W, C] wrap it in nets.BatchApply.")
        unbatched = inputs.ndim == 3
        if unbatched:
            inputs = inputs[None]
        in_channels = inputs.shape[self.channel_index]
        if in_channels % self.feature_group_count:
            raise ValueError(f"Conv2D '{self.module_name}': {in_channels} input channels are not divisible by "
                             f"feature_group_count={self.feature_group_count}.")
        w_shape = self.kernel_shape + (in_channels // self.feature_group_count, self.output_channels)
        w_init = self.w_init or initializers.TruncatedNormal(stddev=1.0 / np.sqrt(np.prod(w_shape[:-1])))
        w = get_parameter("w", w_shape, inputs.dtype, init=w_init)
        if self.mask is not None:
            if tuple(self.mask.shape) != w_shape:
                raise ValueError(f"Conv2D mask shape {tuple(self.mask.shape)} must equal the kernel shape {w_shape}.")
            w = w * self.mask
        out = lax.conv_general_dilated(
            inputs, w, window_strides=self.stride, padding=self.padding, rhs_dilation=self.rate,
            dimension_numbers=(self.data_format, "HWIO", self.data_format),
            feature_group_count=self.feature_group_count, precision=precision)
        if self.with_bias:
            bias_shape = (self.output_channels,) if self.channel_index == -1 else (self.output_channels, 1, 1)
            b = get_parameter("b", bias_shape, inputs.dtype, init=self.b_init)
            out = out + jnp.broadcast_to(b, out.shape)
        return out[0] if unbatched else out
