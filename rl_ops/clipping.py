"""Elementwise losses and gradient clipping.

All functions here are elementwise over arrays of any shape and return an
array of the shape of their first argument; reduce at the call site.
"""

from __future__ import annotations

from typing import Any, Optional

import jax
import jax.numpy as jnp

from vtrax.rl_ops import base
from vtrax.rl_ops.base import FLOAT

Array = jax.Array


def huber_loss(x: Array, delta: float = 1.) -> Array:
    """Huber loss: `0.5 x²` for `|x| <= δ`, `0.5 δ² + δ (|x| - δ)` beyond.

    See "Robust Estimation of a Location Parameter", Huber 1964
    (https://projecteuclid.org/euclid.aoms/1177703732). Its gradient equals
    that of `0.5 clip_gradient(x, -δ, δ)²`.

    Args:
      x: errors, any shape [...].
      delta: the quadratic-to-linear switch point δ > 0.

    Returns:
      losses, shape [...].
    """
    base.check_inputs("huber_loss", x=(x, FLOAT, "[...]"))
    abs_x = jnp.abs(x)
    quadratic = jnp.minimum(abs_x, delta)
    linear = abs_x - quadratic  # max(|x| - δ, 0) without a doubled gradient at the kink.
    return 0.5 * quadratic ** 2 + delta * linear


def l2_loss(predictions: Array, targets: Optional[Array] = None) -> Array:
    """`0.5 (predictions - targets)²`; with no targets, an L2 regulariser `0.5 p²`.

    Args:
      predictions: any shape [...].
      targets: same shape as `predictions`, or None for zeros.
    """
    if targets is None:
        targets = jnp.zeros_like(predictions)
    base.check_inputs("l2_loss", predictions=(predictions, FLOAT, "[...]"),
                      targets=(targets, FLOAT, "[...]"))
    return 0.5 * (predictions - targets) ** 2


def likelihood(predictions: Array, targets: Array) -> Array:
    """Bernoulli likelihood `p^y (1 - p)^(1 - y)`, elementwise, with 0^0 = 1.

    Args:
      predictions: probabilities p, any shape [...].
      targets: outcomes or target probabilities y, same shape.
    """
    base.check_inputs("likelihood", predictions=(predictions, FLOAT, "[...]"),
                      targets=(targets, FLOAT, "[...]"))
    values = predictions ** targets * (1. - predictions) ** (1. - targets)
    # 0**0 is NaN on some backends; both exact-match cases have likelihood 1.
    exact = jnp.logical_or(jnp.logical_and(targets == 1, predictions == 1),
                           jnp.logical_and(targets == 0, predictions == 0))
    return jnp.where(exact, jnp.ones_like(values), values)


def log_loss(predictions: Array, targets: Array) -> Array:
    """Negative log likelihood `-log likelihood(predictions, targets)`, elementwise."""
    base.check_inputs("log_loss", predictions=(predictions, FLOAT, "[...]"),
                      targets=(targets, FLOAT, "[...]"))
    return -jnp.log(likelihood(predictions, targets))


def expectile_loss(predictions: Array, targets: Array, expectile: Any) -> Array:
    """Asymmetric squared loss `|τ - 1[targets < predictions]| (targets - predictions)²`.

    Its minimiser is the τ-expectile of the targets (τ = 0.5 gives half the
    squared error). See "Asymmetric Least Squares Estimation and Testing",
    Newey & Powell 1987, and its RL use in "Offline Reinforcement Learning with
    Implicit Q-Learning", Kostrikov et al. 2021 (https://arxiv.org/abs/2110.06169).
    RLax has no such function; the argument names follow `l2_loss`.

    Args:
      predictions: any shape [...].
      targets: same shape as `predictions`.
      expectile: τ in (0, 1), shape [] (or broadcastable).

    Returns:
      losses, shape [...].
    """
    base.check_inputs("expectile_loss", predictions=(predictions, FLOAT, "[...]"),
                      targets=(targets, FLOAT, "[...]"), expectile=(expectile, FLOAT, "[...]"))
    diff = targets - predictions
    weight = jnp.abs(expectile - (diff < 0).astype(diff.dtype))
    return weight * diff ** 2


@jax.custom_vjp
def _clip_gradient(x: Array, gradient_min: Any, gradient_max: Any) -> Array:
    return x


def _clip_gradient_fwd(x, gradient_min, gradient_max):
    return x, (gradient_min, gradient_max)


def _clip_gradient_bwd(bounds, g):
    gradient_min, gradient_max = bounds
    return (jnp.clip(g, gradient_min, gradient_max),
            jnp.zeros_like(gradient_min), jnp.zeros_like(gradient_max))


_clip_gradient.defvjp(_clip_gradient_fwd, _clip_gradient_bwd)


def clip_gradient(x: Array, gradient_min: Any, gradient_max: Any) -> Array:
    """Identity on the forward pass; clips the incoming gradient elementwise.

    See "Human-level control through deep reinforcement learning", Mnih et
    al. 2015 (https://www.nature.com/articles/nature14236). The gradient of
    `0.5 clip_gradient(x, -δ, δ)²` equals that of `huber_loss(x, δ)`.

    Args:
      x: any shape [...].
      gradient_min: lower clip of the gradient (scalar).
      gradient_max: upper clip of the gradient (scalar).

    Returns:
      `x`, unchanged.
    """
    base.check_inputs("clip_gradient", x=(x, FLOAT, "[...]"),
                      gradient_min=(gradient_min, FLOAT, "[]"),
                      gradient_max=(gradient_max, FLOAT, "[]"))
    dtype = jnp.result_type(x)
    return _clip_gradient(x, jnp.asarray(gradient_min, dtype), jnp.asarray(gradient_max, dtype))
