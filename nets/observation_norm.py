"""`ObservationNorm`: normalise vector observations with running statistics kept as parameters.

Parameters `mean` [F], `var` [F] (init 0 and 1) and `count` [] (init 0) hold the
running moments; they are read through `stop_gradient`, so their gradient is
exactly 0, and whoever trains the network updates them outside the optimiser
(vtrax's learner: `learner/observation_norm.py`). Normalised observations are
clipped to [-clip, clip], as openai/baselines' VecNormalize does (clip 10).
"""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp

from vtrax.nets import initializers
from vtrax.nets.base import get_parameter
from vtrax.nets.module import Module

VAR_EPS = 1e-8


class ObservationNorm(Module):
    """[..., F] -> clip((x - mean) / sqrt(var + 1e-8), -clip, clip), same shape."""

    def __init__(self, clip: float = 10.0, name: Optional[str] = None):
        super().__init__(name=name)
        self.clip = float(clip)

    def __call__(self, observation: jax.Array) -> jax.Array:
        size = observation.shape[-1]
        mean = get_parameter("mean", (size,), jnp.float32, init=initializers.Constant(0.0))
        var = get_parameter("var", (size,), jnp.float32, init=initializers.Constant(1.0))
        get_parameter("count", (), jnp.float32, init=initializers.Constant(0.0))
        mean, var = (jnp.broadcast_to(jax.lax.stop_gradient(stat), observation.shape) for stat in (mean, var))
        return jnp.clip((observation - mean) / jnp.sqrt(var + VAR_EPS), -self.clip, self.clip)
