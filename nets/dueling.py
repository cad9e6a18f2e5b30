"""`DuelingMLP` and `DuelingMinAtar`: dueling Q networks for vector observations and MinAtar grids.

See "Dueling Network Architectures for Deep Reinforcement Learning", Wang et
al. 2016 (https://arxiv.org/abs/1511.06581): q(s, a) = v(s) + adv(s, a) -
mean_a' adv(s, a'), the mean making v and adv identifiable.
"""

from __future__ import annotations

from typing import Optional, Sequence

import jax
import jax.numpy as jnp

from vtrax.nets.linear import Linear
from vtrax.nets.minatar_torso import MinAtarTorso
from vtrax.nets.mlp import MLP
from vtrax.nets.module import Module

__all__ = ["DuelingMLP", "DuelingMinAtar"]


def _check_num_actions(owner: str, num_actions: int) -> None:
    if isinstance(num_actions, bool) or not isinstance(num_actions, int) or num_actions < 1:
        raise ValueError(f"{owner} num_actions must be a positive int, got {num_actions!r}.")


def dueling_q_values(value: jax.Array, advantage: jax.Array) -> jax.Array:
    """v [..., 1] and adv [..., A] -> q [..., A] = v + adv - mean_a adv."""
    return value + advantage - jnp.mean(advantage, axis=-1, keepdims=True)


class DuelingMLP(Module):
    """MLP torso, then a value head [H, 1] and an advantage head [H, A] combined into Q-values.

    Parameters: `torso/~/linear_{i}` (ReLU after every layer), `advantage` [H, A]
    and `value` [H, 1] under this module.
    """

    def __init__(self, num_actions: int, hidden_sizes: Sequence[int] = (64, 64), name: Optional[str] = None):
        super().__init__(name=name)
        _check_num_actions("DuelingMLP", num_actions)
        self.torso = MLP(tuple(hidden_sizes), activate_final=True, name="torso")
        self.advantage_head = Linear(num_actions, name="advantage")
        self.value_head = Linear(1, name="value")

    def __call__(self, observation: jax.Array) -> jax.Array:
        """float [..., D] (any leading dims) -> q-values [..., A]."""
        features = self.torso(jnp.asarray(observation).astype(jnp.float32))  # [..., H]
        return dueling_q_values(self.value_head(features), self.advantage_head(features))  # [..., A]


class DuelingMinAtar(Module):
    """MinAtar's torso (one 3x3 conv, 128 units: `MinAtarTorso`), then the dueling value and advantage heads.

    The MinAtar paper's DQN (Young & Tian 2019) with a dueling head. Parameters:
    `minatar_torso/...`, `advantage` [128, A] and `value` [128, 1] under this module.
    """

    def __init__(self, num_actions: int, name: Optional[str] = None):
        super().__init__(name=name)
        _check_num_actions("DuelingMinAtar", num_actions)
        self.torso = MinAtarTorso()
        self.advantage_head = Linear(num_actions, name="advantage")
        self.value_head = Linear(1, name="value")

    def __call__(self, observation: jax.Array) -> jax.Array:
        """uint8 or float [..., 10, 10, C] -> q-values [..., A]."""
        features = self.torso(observation)  # [..., 128]
        return dueling_q_values(self.value_head(features), self.advantage_head(features))  # [..., A]
