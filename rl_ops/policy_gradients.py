"""Policy-gradient losses: REINFORCE-style, entropy, PPO clip, DPG, QPG/RM/RPG.

Each loss takes one trajectory ([T, A] logits, [T] actions and weights) and
returns a scalar whose gradient is the policy-gradient update; batch with
`jax.vmap` and average at the call site.
"""

from __future__ import annotations

from typing import Any, Optional

import jax
import jax.numpy as jnp

from vtrax.rl_ops import base
from vtrax.rl_ops import distributions
from vtrax.rl_ops.base import FLOAT, INT

Array = jax.Array


def policy_gradient_loss(
    logits_t: Array,
    a_t: Array,
    adv_t: Array,
    w_t: Array,
    use_stop_gradient: bool = True,
) -> Array:
    """Policy-gradient loss `mean_t(-log π(a_t) adv_t w_t)`.

    See "Simple Statistical Gradient-Following Algorithms for Connectionist
    Reinforcement Learning", Williams 1992
    (https://link.springer.com/article/10.1007/BF00992696).

    Args:
      logits_t: unnormalised action preferences, shape [T, A].
      a_t: actions taken, integer shape [T].
      adv_t: advantages of those actions, shape [T].
      w_t: per-step weights (e.g. a validity mask), shape [T].
      use_stop_gradient: no gradient flows into the advantages.

    Returns:
      the loss, shape [].
    """
    fn = "policy_gradient_loss"
    base.check_inputs(fn, logits_t=(logits_t, FLOAT, "[T, A]"), a_t=(a_t, INT, "[T]"),
                      adv_t=(adv_t, FLOAT, "[T]"), w_t=(w_t, FLOAT, "[T]"))
    base.check_leading_dims(fn, logits_t=logits_t, a_t=a_t, adv_t=adv_t, w_t=w_t)
    log_pi_a_t = distributions.softmax().logprob(a_t, logits_t)  # [T]
    adv_t = base.maybe_stop_gradient(adv_t, use_stop_gradient)
    return jnp.mean(-log_pi_a_t * adv_t * w_t)


def entropy_loss(logits_t: Array, w_t: Array) -> Array:
    """Entropy regularisation loss `-mean_t(H(π_t) w_t)` (minimising it raises entropy).

    See "Function Optimization using Connectionist Reinforcement Learning
    Algorithms", Williams & Peng 1991
    (https://www.tandfonline.com/doi/abs/10.1080/09540099108946587).

    Args:
      logits_t: unnormalised action preferences, shape [T, A].
      w_t: per-step weights, shape [T].

    Returns:
      the loss, shape [].
    """
    base.check_inputs("entropy_loss", logits_t=(logits_t, FLOAT, "[T, A]"), w_t=(w_t, FLOAT, "[T]"))
    base.check_leading_dims("entropy_loss", logits_t=logits_t, w_t=w_t)
    entropy_t = distributions.softmax().entropy(logits_t)  # [T]
    return -jnp.mean(entropy_t * w_t)


def clipped_surrogate_pg_loss(
    prob_ratios_t: Array,
    adv_t: Array,
    epsilon: Any,
    use_stop_gradient: bool = True,
) -> Array:
    """PPO's clipped surrogate loss `-mean_t min(r_t A_t, clip(r_t, 1-ε, 1+ε) A_t)`.

    See "Proximal Policy Optimization Algorithms", Schulman et al. 2017
    (https://arxiv.org/abs/1707.06347).

    Args:
      prob_ratios_t: `π_θ(a_t) / π_θ_old(a_t)`, shape [T].
      adv_t: advantages, shape [T].
      epsilon: clipping range ε, shape [].
      use_stop_gradient: no gradient flows into the advantages.

    Returns:
      the loss, shape [].
    """
    fn = "clipped_surrogate_pg_loss"
    base.check_inputs(fn, prob_ratios_t=(prob_ratios_t, FLOAT, "[T]"), adv_t=(adv_t, FLOAT, "[T]"),
                      epsilon=(epsilon, FLOAT, "[]"))
    base.check_equal_shapes(fn, prob_ratios_t=prob_ratios_t, adv_t=adv_t)
    adv_t = base.maybe_stop_gradient(adv_t, use_stop_gradient)
    clipped_ratios_t = jnp.clip(prob_ratios_t, 1. - epsilon, 1. + epsilon)
    return -jnp.mean(jnp.fmin(prob_ratios_t * adv_t, clipped_ratios_t * adv_t))


def _clip_by_l2_norm(x: Array, max_norm: Any) -> Array:
    """Scales `x` down to l2 norm `max_norm` if larger; safe gradient at x = 0."""
    sum_sq = jnp.sum(x * x)
    nonzero = sum_sq > 0
    # Double-where keeps sqrt's gradient finite at zero.
    norm = jnp.where(nonzero, jnp.sqrt(jnp.where(nonzero, sum_sq, 1.)), 0.)
    return x * max_norm / jnp.maximum(norm, max_norm)


def dpg_loss(
    a_t: Array,
    dqda_t: Array,
    dqda_clipping: Optional[Any] = None,
    use_stop_gradient: bool = True,
) -> Array:
    """Deterministic policy-gradient loss `0.5 (stop(a + dQ/da) - a)²` per action dim.

    See "Deterministic Policy Gradient Algorithms", Silver et al. 2014
    (http://proceedings.mlr.press/v32/silver14.pdf).

    Args:
      a_t: continuous action, shape [D].
      dqda_t: gradient of Q(s, a) with respect to a at a_t, shape [D].
      dqda_clipping: if given, scale dQ/da down to this l2 norm.
      use_stop_gradient: no gradient flows into the target `a + dQ/da`.

    Returns:
      the loss per action dimension, shape [D].
    """
    base.check_inputs("dpg_loss", a_t=(a_t, FLOAT, "[D]"), dqda_t=(dqda_t, FLOAT, "[D]"))
    base.check_equal_shapes("dpg_loss", a_t=a_t, dqda_t=dqda_t)
    if dqda_clipping is not None:
        dqda_t = _clip_by_l2_norm(dqda_t, dqda_clipping)
    target_tm1 = base.maybe_stop_gradient(dqda_t + a_t, use_stop_gradient)
    return 0.5 * (target_tm1 - a_t) ** 2


def _compute_advantages(logits_t: Array, q_t: Array, use_stop_gradient: Any = True):
    """Policy [T, A] and advantages `q - Σ_a π q` [T, A]."""
    policy_t = jax.nn.softmax(logits_t, axis=1)  # [T, A]
    q_t = base.maybe_stop_gradient(q_t, use_stop_gradient)
    baseline_t = jnp.sum(policy_t * q_t, axis=1, keepdims=True)  # [T, 1]
    return policy_t, q_t - baseline_t


def _check_logits_and_q(fn: str, logits_t: Array, q_t: Array) -> None:
    base.check_inputs(fn, logits_t=(logits_t, FLOAT, "[T, A]"), q_t=(q_t, FLOAT, "[T, A]"))
    base.check_equal_shapes(fn, logits_t=logits_t, q_t=q_t)


def qpg_loss(logits_t: Array, q_t: Array, use_stop_gradient: bool = True) -> Array:
    """Q-based policy gradient loss `-mean_t Σ_a π(a) (q(a) - baseline)`.

    See "Actor-Critic Policy Optimization in Partially Observable Multiagent
    Environments", Srinivasan et al. 2018 (https://arxiv.org/abs/1810.09026).

    Args:
      logits_t: action preferences, shape [T, A].
      q_t: action values, shape [T, A].
      use_stop_gradient: no gradient flows into the advantages.

    Returns:
      the loss, shape [].
    """
    _check_logits_and_q("qpg_loss", logits_t, q_t)
    policy_t, advantage_t = _compute_advantages(logits_t, q_t)
    advantage_t = base.maybe_stop_gradient(advantage_t, use_stop_gradient)
    return jnp.mean(jnp.sum(-policy_t * advantage_t, axis=1), axis=0)


def rm_loss(logits_t: Array, q_t: Array, use_stop_gradient: bool = True) -> Array:
    """Regret-matching policy gradient loss `-mean_t Σ_a π(a) relu(q(a) - baseline)`.

    See `qpg_loss` for the reference. Shapes: logits_t, q_t [T, A]; returns [].
    """
    _check_logits_and_q("rm_loss", logits_t, q_t)
    policy_t, advantage_t = _compute_advantages(logits_t, q_t)
    action_regret_t = base.maybe_stop_gradient(jax.nn.relu(advantage_t), use_stop_gradient)
    return jnp.mean(jnp.sum(-policy_t * action_regret_t, axis=1), axis=0)


def rpg_loss(logits_t: Array, q_t: Array, use_stop_gradient: bool = True) -> Array:
    """Regret policy gradient loss `mean_t Σ_a relu(q(a) - Σ_b π(b) q(b))`.

    The gradient flows through the baseline's policy. See `qpg_loss` for the
    reference. Shapes: logits_t, q_t [T, A]; returns [].
    """
    _check_logits_and_q("rpg_loss", logits_t, q_t)
    _, adv_t = _compute_advantages(logits_t, q_t, use_stop_gradient)
    return jnp.mean(jnp.sum(jax.nn.relu(adv_t), axis=1), axis=0)
