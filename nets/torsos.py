"""The IMPALA Atari torsos (Espeholt et al. 2018, "IMPALA: Scalable Distributed Deep-RL with Importance
Weighted Actor-Learner Architectures", https://arxiv.org/abs/1802.01561, Fig. 3).

Both map raw frames [..., H, W, C] (uint8 pixels 0..255; 84x84x4 for Atari) to
features [..., 256]. Any number of leading dims is accepted ([B] for acting,
[T, B] for learning): they are merged into one batch axis for the convolutions
and split again at the end. Pixels are scaled to [0, 1] inside the network.
"""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp

from vtrax.nets.basic import Flatten
from vtrax.nets.conv import Conv2D
from vtrax.nets.linear import Linear
from vtrax.nets.module import Module
from vtrax.nets.pooling import max_pool

TORSO_OUTPUT_SIZE = 256
DEEP_SECTION_CHANNELS = (16, 32, 32)
BLOCKS_PER_SECTION = 2


def _merge_leading_dims(observation: jax.Array, who: str) -> tuple[tuple[int, ...], jax.Array]:
    """[..., H, W, C] pixels -> (leading shape, float32 [N, H, W, C] in [0, 1])."""
    if observation.ndim < 3:
        raise ValueError(f"{who} needs frames shaped [..., height, width, channels] (e.g. [B, 84, 84, 4]), got "
                         f"shape {tuple(observation.shape)}.")
    leading = tuple(observation.shape[:-3])
    frames = jnp.reshape(observation, (-1,) + tuple(observation.shape[-3:]))
    return leading, frames.astype(jnp.float32) / 255.0


class ResidualBlock(Module):
    """`x + conv(relu(conv(relu(x))))` with two 3x3 SAME convolutions of `num_channels`."""

    def __init__(self, num_channels: int, name: Optional[str] = None):
        super().__init__(name=name)
        self.num_channels = int(num_channels)

    def __call__(self, x: jax.Array) -> jax.Array:
        """[N, H, W, num_channels] -> same shape."""
        y = jax.nn.relu(x)
        y = Conv2D(self.num_channels, kernel_shape=3, stride=1, padding="SAME", name="conv_0")(y)
        y = jax.nn.relu(y)
        y = Conv2D(self.num_channels, kernel_shape=3, stride=1, padding="SAME", name="conv_1")(y)
        return x + y


class ImpalaDeepTorso(Module):
    """IMPALA's deep ResNet torso.

    Three sections with 16, 32, 32 channels, each: 3x3 conv (stride 1), 3x3 max-pool
    (stride 2, SAME), two residual blocks; then ReLU, flatten, Linear(256), ReLU.
    Parameters: `conv_{i}`, `residual_{i}_{j}/conv_{0,1}`, `linear` under this module.
    """

    def __init__(self, name: Optional[str] = None):
        super().__init__(name=name)

    def __call__(self, observation: jax.Array) -> jax.Array:
        """uint8 [..., H, W, C] -> float32 [..., 256]."""
        leading, x = _merge_leading_dims(observation, "ImpalaDeepTorso")
        for section, channels in enumerate(DEEP_SECTION_CHANNELS):
            x = Conv2D(channels, kernel_shape=3, stride=1, padding="SAME", name=f"conv_{section}")(x)
            x = max_pool(x, window_shape=(1, 3, 3, 1), strides=(1, 2, 2, 1), padding="SAME")
            for block in range(BLOCKS_PER_SECTION):
                x = ResidualBlock(channels, name=f"residual_{section}_{block}")(x)
        x = jax.nn.relu(x)
        x = Flatten()(x)
        x = jax.nn.relu(Linear(TORSO_OUTPUT_SIZE)(x))
        return jnp.reshape(x, leading + (TORSO_OUTPUT_SIZE,))


class ImpalaShallowTorso(Module):
    """IMPALA's shallow torso (the A3C network of Mnih et al. 2016).

    Conv 8x8 stride 4 with 16 channels, ReLU, conv 4x4 stride 2 with 32 channels,
    ReLU (both VALID), flatten, Linear(256), ReLU.
    """

    def __init__(self, name: Optional[str] = None):
        super().__init__(name=name)

    def __call__(self, observation: jax.Array) -> jax.Array:
        """uint8 [..., H, W, C] -> float32 [..., 256]."""
        leading, x = _merge_leading_dims(observation, "ImpalaShallowTorso")
        x = jax.nn.relu(Conv2D(16, kernel_shape=8, stride=4, padding="VALID", name="conv_0")(x))
        x = jax.nn.relu(Conv2D(32, kernel_shape=4, stride=2, padding="VALID", name="conv_1")(x))
        x = Flatten()(x)
        x = jax.nn.relu(Linear(TORSO_OUTPUT_SIZE)(x))
        return jnp.reshape(x, leading + (TORSO_OUTPUT_SIZE,))
