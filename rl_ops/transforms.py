"""Elementwise value transforms (R2D2's h and friends) and the two-hot encoding.

Squashing transforms let one network predict returns whose scale varies by
orders of magnitude; see "Observe and Look Further: Achieving Consistent
Performance on Atari", Pohlen et al. 2018 (https://arxiv.org/abs/1805.11593)
and "Recurrent Experience Replay in Distributed Reinforcement Learning",
Kapturowski et al. 2019 (https://openreview.net/forum?id=r1lyTjAqYX).
Each takes and returns an array of any shape [...].
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from vtrax.rl_ops import base
from vtrax.rl_ops.base import FLOAT

Array = jax.Array


def _check(fn: str, x: Any, name: str = "x") -> None:
    base.check_inputs(fn, **{name: (x, FLOAT, "[...]")})


def identity(x: Array) -> Array:
    """The identity transform."""
    _check("identity", x)
    return x


def sigmoid(x: Array) -> Array:
    """`1 / (1 + exp(-x))`, inverse of `logit`."""
    _check("sigmoid", x)
    return jax.nn.sigmoid(x)


def logit(x: Array) -> Array:
    """`log(x / (1 - x))` for x in (0, 1), inverse of `sigmoid`."""
    _check("logit", x)
    return -jnp.log(1. / x - 1.)


def signed_logp1(x: Array) -> Array:
    """`sign(x) log(1 + |x|)`, inverse of `signed_expm1`."""
    _check("signed_logp1", x)
    return jnp.sign(x) * jnp.log1p(jnp.abs(x))


def signed_expm1(x: Array) -> Array:
    """`sign(x) (exp(|x|) - 1)`, inverse of `signed_logp1`."""
    _check("signed_expm1", x)
    return jnp.sign(x) * jnp.expm1(jnp.abs(x))


def signed_hyperbolic(x: Array, eps: float = 1e-3) -> Array:
    """R2D2's `h(x) = sign(x) (sqrt(|x| + 1) - 1) + eps x`, inverse of `signed_parabolic`."""
    _check("signed_hyperbolic", x)
    return jnp.sign(x) * (jnp.sqrt(jnp.abs(x) + 1) - 1) + eps * x


def signed_parabolic(x: Array, eps: float = 1e-3) -> Array:
    """`h⁻¹(x)`, the inverse of `signed_hyperbolic` with the same `eps`.

    Solves `sqrt(|y| + 1) - 1 + eps |y| = |x|` for |y|: with `z = sqrt(|y| + 1)`,
    `eps z² + z - c = 0`, `c = 1 + eps + |x|`, whose root `(sqrt(1 + 4 eps c) - 1) / (2 eps)`
    is computed as `2c / (1 + sqrt(1 + 4 eps c))` to avoid cancellation in float32.
    """
    _check("signed_parabolic", x)
    c = 1 + eps + jnp.abs(x)
    z = 2 * c / (1 + jnp.sqrt(1 + 4 * eps * c))
    return jnp.sign(x) * (z ** 2 - 1)


def hyperbolic_sin(x: Array) -> Array:
    """`sinh(x)`, inverse of `hyperbolic_arcsin`."""
    _check("hyperbolic_sin", x)
    return jnp.sinh(x)


def hyperbolic_arcsin(x: Array) -> Array:
    """`arcsinh(x)`, a log-like squashing that is linear near 0; inverse of `hyperbolic_sin`."""
    _check("hyperbolic_arcsin", x)
    return jnp.arcsinh(x)


def power(x: Array, p: float) -> Array:
    """`sign(x) ((|x| / q + 1)^p - 1) / q` with `q = sqrt(p)`; `power(·, 1/p)` inverts it.

    The slope at 0 is 1 for every p.
    """
    _check("power", x)
    q = jnp.sqrt(p)
    return jnp.sign(x) * (jnp.power(jnp.abs(x) / q + 1., p) - 1) / q


def transform_to_2hot(scalar: Array, min_value: float, max_value: float, num_bins: int) -> Array:
    """Encodes scalars [...] as two-hot probabilities [..., num_bins] on an even grid.

    The mass is split between the two grid points around the (clipped)
    scalar so that `transform_from_2hot` recovers it exactly.

    Args:
      scalar: values, any shape [...].
      min_value: the first grid point.
      max_value: the last grid point (> min_value).
      num_bins: number of grid points (Python int >= 2).

    Returns:
      probabilities, shape [..., num_bins].
    """
    _check("transform_to_2hot", scalar, "scalar")
    if not isinstance(num_bins, int) or num_bins < 2:
        raise ValueError(f"transform_to_2hot: num_bins must be a Python int >= 2, got {num_bins!r}")
    if not max_value > min_value:
        raise ValueError(f"transform_to_2hot: max_value must exceed min_value, got "
                         f"min_value={min_value}, max_value={max_value}")
    scalar = jnp.clip(scalar, min_value, max_value)
    scalar_bin = (scalar - min_value) / (max_value - min_value) * (num_bins - 1)
    lower = jnp.floor(scalar_bin)
    upper = jnp.minimum(lower + 1, num_bins - 1)
    p_upper = jnp.where(upper > lower, scalar_bin - lower, 0.)
    p_lower = 1. - p_upper
    dtype = jnp.result_type(scalar)
    return (base.one_hot(lower, num_bins, dtype) * p_lower[..., None]
            + base.one_hot(upper, num_bins, dtype) * p_upper[..., None])


def transform_from_2hot(probs: Array, min_value: float, max_value: float, num_bins: int) -> Array:
    """Decodes probabilities [..., num_bins] on an even grid to their mean [...]."""
    base.check_inputs("transform_from_2hot", probs=(probs, FLOAT, "[..., num_bins]"))
    if jnp.shape(probs)[-1] != num_bins:
        raise ValueError(f"transform_from_2hot: probs must have num_bins={num_bins} entries in "
                         f"its last axis, got shape {jnp.shape(probs)}")
    support = jnp.linspace(min_value, max_value, num_bins, dtype=jnp.result_type(probs))
    return jnp.dot(probs, support)
