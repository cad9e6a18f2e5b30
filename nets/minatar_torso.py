"""The MinAtar torso (Young & Tian 2019, "MinAtar: An Atari-Inspired Testbed for Thorough and Reproducible
Reinforcement Learning Experiments", https://arxiv.org/abs/1903.03176, Sec. 4: one 3x3 conv, then 128 units).

Maps 10x10xC binary grids [..., 10, 10, C] (uint8 0/1, or float) to features
[..., 128]. Unlike the IMPALA torsos the cells are not divided by 255: MinAtar's
cells are already 0 or 1. Leading dims ([B] for acting, [T, B] for learning) are
merged for the convolution and split again at the end.
"""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp

from vtrax.nets.basic import Flatten
from vtrax.nets.conv import Conv2D
from vtrax.nets.linear import Linear
from vtrax.nets.module import Module

MINATAR_CONV_CHANNELS = 16
MINATAR_TORSO_OUTPUT_SIZE = 128


class MinAtarTorso(Module):
    """Conv 3x3 stride 1 VALID with 16 channels, ReLU, flatten, Linear(128), ReLU.

    On a 10x10 grid the conv gives [8, 8, 16] = 1024 features. Parameters:
    `conv` (w [3, 3, C, 16]) and `linear` (w [1024, 128]) under this module.
    """

    def __init__(self, name: Optional[str] = None):
        super().__init__(name=name or "minatar_torso")

    def __call__(self, observation: jax.Array) -> jax.Array:
        """uint8 or float [..., H, W, C] -> float32 [..., 128]."""
        observation = jnp.asarray(observation)
        if observation.ndim < 3:
            raise ValueError(f"MinAtarTorso needs grids shaped [..., height, width, channels] (e.g. [B, 10, 10, 4]), "
                             f"got shape {tuple(observation.shape)}.")
        leading = tuple(observation.shape[:-3])
        grids = jnp.reshape(observation, (-1,) + tuple(observation.shape[-3:])).astype(jnp.float32)  # [N, H, W, C]
        x = jax.nn.relu(Conv2D(MINATAR_CONV_CHANNELS, kernel_shape=3, stride=1, padding="VALID", name="conv")(grids))
        x = jax.nn.relu(Linear(MINATAR_TORSO_OUTPUT_SIZE)(Flatten()(x)))  # [N, 128]
        return jnp.reshape(x, leading + (MINATAR_TORSO_OUTPUT_SIZE,))
