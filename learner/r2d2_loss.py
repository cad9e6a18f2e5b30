"""The R2D2 loss on stored sequences: burn-in, value-rescaled n-step double Q-learning, sequence priorities.

See "Recurrent Experience Replay in Distributed Reinforcement Learning",
Kapturowski et al. 2019 (https://openreview.net/forum?id=r1lyTjAqYX). Pure JAX.
One device's batch holds B sequences of L = burn_in + T + 1 steps in the
actor's step layout (learner/loss.py's timeline), with the LSTM state the
actor acted from at step 0 (`core_state/*`) and its previous action/reward:

    step:    0 ........ burn_in-1 | burn_in ............ burn_in+T-1 | burn_in+T
             warm up the state    | q_tm1, a_tm1, r_t, discount_t     | bootstrap
             (no gradient)        |                                   |

    delta_t  = h(G_t) - q(o_t, a_t),  G_t = sum_{k<n} gamma^k r_{t+k} + gamma^n h^-1(q_target(o_{t+n}, a*)),
    a*       = argmax_a q(o_{t+n}, a)  (online network: double Q-learning), h = signed hyperbolic rescaling
    priority = eta max_t |delta_t| + (1 - eta) mean_t |delta_t|   (over valid steps)

Invalid (autoreset) steps are masked out of the loss and the priority; a zero
discount at a termination or an invalid step cuts the n-step return there.
The network's first output (the policy head of `make_network`'s recurrent
'mlp') is read as the q-values [..., A].
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp

from vtrax import rl_ops
from vtrax.learner.dqn_loss import Batch, QLossOutputs, importance_weights
from vtrax.learner.loss import RECURRENT_INPUT_KEYS, core_state_from_batch, should_reset_from_valid
from vtrax.learner.network import AgentNetwork

SEQUENCE_KEYS = ("observation", "action", "reward", "discount", "valid", "prev_action", "prev_reward",
                 "info/probability")


def unroll_q_values(network: AgentNetwork, params: Any, batch: Batch, burn_in: int) -> jax.Array:
    """q-values `[B, L - burn_in, A]` after warming the stored state up over the first `burn_in` steps."""
    time_major = {key: jnp.swapaxes(batch[key], 0, 1) for key in ("observation", *RECURRENT_INPUT_KEYS)}  # [L, B]
    should_reset = should_reset_from_valid(batch["valid"])  # [L, B]
    state = core_state_from_batch(batch)
    if burn_in:
        warm = {key: value[:burn_in] for key, value in time_major.items()}
        _, state = network.unroll(params, warm["observation"], should_reset[:burn_in], state, warm["prev_action"],
                                  warm["prev_reward"])
        state = jax.lax.stop_gradient(state)
    rest = {key: value[burn_in:] for key, value in time_major.items()}
    (q_values, _), _ = network.unroll(params, rest["observation"], should_reset[burn_in:], state,
                                      rest["prev_action"], rest["prev_reward"])
    return jnp.swapaxes(q_values, 0, 1)  # [B, L - burn_in, A]


def sequence_priorities(abs_errors: jax.Array, mask: jax.Array, max_priority_weight: float) -> jax.Array:
    """[B, T] |delta| and 0/1 mask -> [B] eta * max + (1 - eta) * mean over the masked steps."""
    count = jnp.maximum(jnp.sum(mask, axis=1), 1.0)  # [B]
    maximum = jnp.max(abs_errors * mask, axis=1)  # [B]
    mean = jnp.sum(abs_errors * mask, axis=1) / count  # [B]
    return max_priority_weight * maximum + (1.0 - max_priority_weight) * mean


def make_r2d2_loss(network: AgentNetwork, *, burn_in: int, n_step: int, discount: float,
                   importance_sampling_exponent: float, max_priority_weight: float,
                   reduce_max: Callable[[jax.Array], jax.Array] = jnp.max
                   ) -> Callable[[Any, Any, Batch], tuple[jax.Array, QLossOutputs]]:
    """`loss(params, target_params, batch [B, L, ...]) -> (loss [], QLossOutputs)` (module docstring)."""
    n_step_errors = jax.vmap(functools.partial(rl_ops.transformed_n_step_q_learning, n=n_step,
                                               tx_pair=rl_ops.SIGNED_HYPERBOLIC_PAIR))

    def loss(params: Any, target_params: Any, batch: Batch) -> tuple[jax.Array, QLossOutputs]:
        q_values = unroll_q_values(network, params, batch, burn_in)  # [B, T+1, A]
        target_q = unroll_q_values(network, target_params, batch, burn_in)  # [B, T+1, A]
        valid = batch["valid"][:, burn_in:].astype(jnp.float32)  # [B, T+1]
        mask = valid[:, :-1]  # [B, T]
        discount_t = batch["discount"][:, burn_in:-1] * discount * mask  # [B, T]
        errors = n_step_errors(q_values[:, :-1], batch["action"][:, burn_in:-1], target_q[:, 1:],
                               jnp.argmax(q_values[:, 1:], axis=-1).astype(jnp.int32),
                               batch["reward"][:, burn_in:-1], discount_t) * mask  # [B, T]
        weights = importance_weights(batch["info/probability"], importance_sampling_exponent,
                                     reduce_max=reduce_max)  # [B]
        count = jnp.maximum(jnp.sum(mask), 1.0)  # []
        total = jnp.sum(weights[:, None] * 0.5 * jnp.square(errors)) / count  # []
        abs_errors = jax.lax.stop_gradient(jnp.abs(errors))  # [B, T]
        outputs = QLossOutputs(priorities=sequence_priorities(abs_errors, mask, max_priority_weight),
                               td_error_abs_mean=jnp.sum(abs_errors) / count,
                               q_mean=jnp.sum(jnp.max(q_values[:, :-1], axis=-1) * mask) / count,
                               importance_weight_mean=jnp.mean(weights))
        return total, outputs

    return loss
