"""`GaussianPolicyMLP`: a diagonal-Gaussian policy over D continuous action dimensions.

Features [..., F] -> MLP -> mean [..., D], concatenated with the log standard
deviation: `[..., 2D] = concat(mean, log_std)`, the parameters the actors store
as the behaviour policy and the learner turns into log-probabilities.

- State-independent log-std (the default, as PPO's MuJoCo agents in Schulman et
  al. 2017, https://arxiv.org/abs/1707.06347): one learnt vector `log_std` [D],
  broadcast over the leading dims.
- State-dependent log-std: the MLP's last layer has 2D outputs, the second half
  being the log-std.

The last layer starts with small weights (`final_w_scale`), so the initial
policy has mean about 0 and standard deviation exp(init_log_std) everywhere.
"""

from __future__ import annotations

from typing import Optional, Sequence

import jax
import jax.numpy as jnp

from vtrax.nets import initializers
from vtrax.nets.base import get_parameter
from vtrax.nets.linear import Linear
from vtrax.nets.module import Module


class GaussianPolicyMLP(Module):
    """Vector features [..., F] -> `concat(mean, log_std)` [..., 2 * action_dim]."""

    def __init__(self, action_dim: int, hidden_sizes: Sequence[int] = (64, 64), *,
                 state_dependent_std: bool = False, init_log_std: float = 0.0, final_w_scale: float = 0.01,
                 activation=jnp.tanh, name: Optional[str] = None):
        """Args:
          action_dim: D, the number of action dimensions.
          hidden_sizes: widths of the hidden layers.
          state_dependent_std: the log-std is an output of the MLP, not one learnt vector.
          init_log_std: initial log standard deviation (state-independent) or its bias (state-dependent).
          final_w_scale: variance-scaling factor of the last layer's weights (small: a near-constant start).
          activation: between hidden layers (tanh, as PPO's MuJoCo networks).
          name: module name; default "gaussian_policy_mlp".
        """
        if isinstance(action_dim, bool) or not isinstance(action_dim, int) or action_dim < 1:
            raise ValueError(f"GaussianPolicyMLP action_dim must be a positive int, got {action_dim!r}.")
        super().__init__(name=name)
        self.action_dim = action_dim
        self.state_dependent_std = state_dependent_std
        self.init_log_std = float(init_log_std)
        self.activation = activation
        self.hidden = tuple(Linear(size, name=f"linear_{index}") for index, size in enumerate(hidden_sizes))
        outputs = 2 * action_dim if state_dependent_std else action_dim
        self.head = Linear(outputs, w_init=initializers.VarianceScaling(final_w_scale),
                           name=f"linear_{len(hidden_sizes)}")

    def __call__(self, features: jax.Array) -> jax.Array:
        """[..., F] -> [..., 2D] = concat(mean [..., D], log_std [..., D])."""
        out = features
        for layer in self.hidden:
            out = self.activation(layer(out))
        out = self.head(out)  # [..., D] or [..., 2D]
        if self.state_dependent_std:
            mean, log_std = jnp.split(out, 2, axis=-1)
            return jnp.concatenate([mean, log_std + self.init_log_std], axis=-1)
        log_std = get_parameter("log_std", (self.action_dim,), out.dtype,
                                init=initializers.Constant(self.init_log_std))  # [D]
        return jnp.concatenate([out, jnp.broadcast_to(log_std, out.shape)], axis=-1)
