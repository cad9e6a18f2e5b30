"""`Linear`: an affine layer `y = x @ w + b` (Haiku's `hk.Linear`)."""

from __future__ import annotations

from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np

from vtrax.nets import initializers
from vtrax.nets.base import Initializer, get_parameter
from vtrax.nets.module import Module


class Linear(Module):
    """Affine layer over the last axis.

    Parameters: `w` [input_size, output_size] (default init truncated normal
    with stddev `1/sqrt(input_size)`), `b` [output_size] (default zeros), both
    in the input's dtype.
    """

    def __init__(self, output_size: int, with_bias: bool = True, w_init: Optional[Initializer] = None,
                 b_init: Optional[Initializer] = None, name: Optional[str] = None):
        """Args:
          output_size: number of output features.
          with_bias: whether to add the bias `b`.
          w_init: initializer of `w`; default TruncatedNormal(1/sqrt(input_size)).
          b_init: initializer of `b`; default zeros. Must be None if with_bias=False.
          name: module name; default "linear".
        """
        super().__init__(name=name)
        if not with_bias and b_init is not None:
            raise ValueError("Linear: b_init was given but with_bias=False; drop b_init or set with_bias=True.")
        self.output_size = int(output_size)
        self.with_bias = with_bias
        self.w_init = w_init
        self.b_init = b_init or jnp.zeros
        self.input_size: Optional[int] = None

    def __call__(self, inputs: jax.Array, *, precision: Any = None) -> jax.Array:
        """[..., input_size] -> [..., output_size]."""
        if not inputs.shape:
            raise ValueError(f"Linear '{self.module_name}' got a scalar input; it needs shape [..., input_size].")
        input_size = self.input_size = inputs.shape[-1]
        dtype = inputs.dtype
        w_init = self.w_init or initializers.TruncatedNormal(stddev=1.0 / np.sqrt(input_size))
        w = get_parameter("w", [input_size, self.output_size], dtype, init=w_init)
        out = jnp.dot(inputs, w, precision=precision)
        if self.with_bias:
            b = get_parameter("b", [self.output_size], dtype, init=self.b_init)
            out = out + jnp.broadcast_to(b, out.shape)
        return out
