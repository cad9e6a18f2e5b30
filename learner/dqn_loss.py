"""The DQN/Ape-X loss on n-step transitions: double Q-learning, importance-weighted Huber.

Pure JAX (no replay, Ray or TensorFlow). One device's batch holds `B` n-step
transitions, as `replay.NStepAdder` writes them (time axis of length 1):

    observation       [B, 1, *obs]   o_t
    action            [B, 1]         a_t
    reward            [B, 1]         R_t = sum_k gamma^k r_{t+k} (cut at the episode's end)
    discount          [B, 1]         gamma^n * prod_k d_{t+k} (0 after a termination)
    next_observation  [B, 1, *obs]   o_{t+n}, or the episode's final observation
    valid             [B, 1]         False for gymnasium's autoreset step (no transition)
    info/probability  [B]            the table's sampling probability of each item

    delta_t = R_t + discount * q_target(o_{t+n}, argmax_a q_online(o_{t+n}, a)) - q_online(o_t, a_t)

See "Deep Reinforcement Learning with Double Q-learning", van Hasselt et al.
2016 (https://arxiv.org/abs/1509.06461) and "Prioritized Experience Replay",
Schaul et al. 2016 (https://arxiv.org/abs/1511.05952).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from vtrax import rl_ops
from vtrax.learner.network import AgentNetwork

Batch = dict[str, jax.Array]
TRANSITION_KEYS = ("observation", "action", "reward", "discount", "next_observation", "valid", "info/probability")


class QLossOutputs(NamedTuple):
    """priorities [B] (new priorities of the batch's items), td_error_abs_mean [], q_mean [],
    importance_weight_mean [] (means over valid transitions)."""

    priorities: jax.Array
    td_error_abs_mean: jax.Array
    q_mean: jax.Array
    importance_weight_mean: jax.Array


def importance_weights(probability: jax.Array, exponent: float, *,
                       reduce_max: Callable[[jax.Array], jax.Array] = jnp.max) -> jax.Array:
    """Prioritised replay's weights (N P(i))^-beta / max_j (N P(j))^-beta; N cancels in the ratio.

    Args:
      probability: [B] sampling probabilities of the batch's items (> 0).
      exponent: beta in [0, 1]; 0 gives weights 1.
      reduce_max: [B] -> [] normaliser; default the maximum over this batch
        (pass a `lax.pmax` over devices under pmap).

    Returns:
      [B] weights in (0, 1].
    """
    raw = jnp.power(jnp.maximum(probability.astype(jnp.float32), 1e-12), -exponent)  # [B]
    return raw / reduce_max(raw)


def make_dqn_loss(network: AgentNetwork, *, importance_sampling_exponent: float, huber_delta: float,
                  reduce_max: Callable[[jax.Array], jax.Array] = jnp.max
                  ) -> Callable[[Any, Any, Batch], tuple[jax.Array, QLossOutputs]]:
    """`loss(params, target_params, batch) -> (loss [], QLossOutputs)` for one device's transitions.

    The loss is the importance-weighted Huber loss of the TD errors, averaged
    over valid transitions; `reduce_max` is `importance_weights`' normaliser.
    """
    double_q = jax.vmap(rl_ops.double_q_learning)

    def q_values(params: Any, observation: jax.Array) -> jax.Array:
        return network.apply(params, observation[None])[0][0]  # [1, B, ...] -> [B, A]

    def loss(params: Any, target_params: Any, batch: Batch) -> tuple[jax.Array, QLossOutputs]:
        valid = batch["valid"][:, 0].astype(jnp.float32)  # [B]
        q_tm1 = q_values(params, batch["observation"][:, 0])  # [B, A]
        q_t_selector = q_values(params, batch["next_observation"][:, 0])  # [B, A]
        q_t_value = q_values(target_params, batch["next_observation"][:, 0])  # [B, A]
        td_error = double_q(q_tm1, batch["action"][:, 0], batch["reward"][:, 0],
                            batch["discount"][:, 0] * valid, q_t_value, q_t_selector) * valid  # [B]
        weights = importance_weights(batch["info/probability"], importance_sampling_exponent,
                                     reduce_max=reduce_max) * valid  # [B]
        per_transition = rl_ops.huber_loss(td_error, huber_delta)  # [B]
        total = jnp.sum(weights * per_transition) / jnp.maximum(jnp.sum(valid), 1.0)  # []
        count = jnp.maximum(jnp.sum(valid), 1.0)  # []
        outputs = QLossOutputs(priorities=jnp.abs(td_error), td_error_abs_mean=jnp.sum(jnp.abs(td_error)) / count,
                               q_mean=jnp.sum(jnp.max(q_tm1, axis=-1) * valid) / count,
                               importance_weight_mean=jnp.sum(weights) / count)
        return total, outputs

    return loss
