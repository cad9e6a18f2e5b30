"""Distributional value learning: categorical (C51) and quantile (QR-DQN) losses.

Categorical ops take atoms `[N]` and logits `[N]` (values) or `[A, N]`
(Q-values); quantile ops take quantile values `[N, A]` and quantile
midpoints `tau [N]`. One transition per call; batch with `jax.vmap`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from vtrax.rl_ops import base
from vtrax.rl_ops import clipping
from vtrax.rl_ops import distributions
from vtrax.rl_ops.base import FLOAT, INT

Array = jax.Array


def categorical_l2_project(z_p: Array, probs: Array, z_q: Array) -> Array:
    """Projects the distribution (z_p, probs) onto the support z_q (Cramér/L2 projection).

    Each source atom's mass is split between its two neighbouring target atoms
    in proportion to proximity; atoms outside [z_q[0], z_q[-1]] are clipped to
    the ends. See "A Distributional Perspective on Reinforcement Learning",
    Bellemare et al. 2017 (https://arxiv.org/abs/1707.06887).

    Args:
      z_p: source support, shape [Kp].
      probs: source probabilities, shape [Kp].
      z_q: target support, increasing, shape [Kq].

    Returns:
      projected probabilities on z_q, shape [Kq].
    """
    base.check_inputs("categorical_l2_project", z_p=(z_p, FLOAT, "[Kp]"),
                      probs=(probs, FLOAT, "[Kp]"), z_q=(z_q, FLOAT, "[Kq]"))
    base.check_equal_shapes("categorical_l2_project", z_p=z_p, probs=probs)
    z_p = jnp.clip(z_p, z_q[0], z_q[-1])[None, :]  # [1, Kp]
    gap_up = (jnp.roll(z_q, -1) - z_q)[:, None]  # z_q[i+1] - z_q[i], [Kq, 1]
    gap_down = (z_q - jnp.roll(z_q, 1))[:, None]  # z_q[i] - z_q[i-1], [Kq, 1]
    # Wrap-around gaps are negative; zero inverse gaps there (and for equal atoms).
    inv_up = jnp.where(gap_up > 0, 1. / jnp.where(gap_up > 0, gap_up, 1.), 0.)
    inv_down = jnp.where(gap_down > 0, 1. / jnp.where(gap_down > 0, gap_down, 1.), 0.)
    delta = z_p - z_q[:, None]  # [Kq, Kp]
    above = (delta >= 0.).astype(probs.dtype)
    scaled_distance = above * delta * inv_up - (1. - above) * delta * inv_down  # [Kq, Kp]
    return jnp.sum(jnp.clip(1. - scaled_distance, 0., 1.) * probs[None, :], axis=-1)


def categorical_td_learning(v_atoms_tm1: Array, v_logits_tm1: Array, r_t: Array,
                            discount_t: Array, v_atoms_t: Array, v_logits_t: Array,
                            stop_target_gradients: bool = True) -> Array:
    """Categorical TD loss: cross entropy to the projected `r + γ Z(s_t)`.

    Shapes: v_atoms_tm1, v_logits_tm1, v_atoms_t, v_logits_t [N]; r_t,
    discount_t []. Returns [].
    """
    fn = "categorical_td_learning"
    base.check_inputs(fn, v_atoms_tm1=(v_atoms_tm1, FLOAT, "[N]"),
                      v_logits_tm1=(v_logits_tm1, FLOAT, "[N]"), r_t=(r_t, FLOAT, "[]"),
                      discount_t=(discount_t, FLOAT, "[]"), v_atoms_t=(v_atoms_t, FLOAT, "[N]"),
                      v_logits_t=(v_logits_t, FLOAT, "[N]"))
    target_z = r_t + discount_t * v_atoms_t
    target = categorical_l2_project(target_z, jax.nn.softmax(v_logits_t), v_atoms_tm1)
    target = base.maybe_stop_gradient(target, stop_target_gradients)
    return distributions.categorical_cross_entropy(labels=target, logits=v_logits_tm1)


def _check_categorical_q(fn: str, q_atoms_tm1, q_logits_tm1, a_tm1, r_t, discount_t,
                         q_atoms_t, q_logits_t, **more) -> None:
    base.check_inputs(fn, q_atoms_tm1=(q_atoms_tm1, FLOAT, "[N]"),
                      q_logits_tm1=(q_logits_tm1, FLOAT, "[A, N]"), a_tm1=(a_tm1, INT, "[]"),
                      r_t=(r_t, FLOAT, "[]"), discount_t=(discount_t, FLOAT, "[]"),
                      q_atoms_t=(q_atoms_t, FLOAT, "[N]"),
                      q_logits_t=(q_logits_t, FLOAT, "[A, N]"), **more)


def _categorical_q_loss(q_atoms_tm1, q_logits_tm1, a_tm1, r_t, discount_t, q_atoms_t,
                        p_target_z, stop_target_gradients):
    target_z = r_t + discount_t * q_atoms_t  # [N]
    target = categorical_l2_project(target_z, p_target_z, q_atoms_tm1)  # [N]
    target = base.maybe_stop_gradient(target, stop_target_gradients)
    return distributions.categorical_cross_entropy(labels=target, logits=q_logits_tm1[a_tm1])


def categorical_q_learning(q_atoms_tm1: Array, q_logits_tm1: Array, a_tm1: Array, r_t: Array,
                           discount_t: Array, q_atoms_t: Array, q_logits_t: Array,
                           stop_target_gradients: bool = True) -> Array:
    """Categorical (C51) Q-learning loss, bootstrapping on the greedy action's distribution.

    Shapes: q_atoms_tm1, q_atoms_t [N]; q_logits_tm1, q_logits_t [A, N];
    a_tm1 integer []; r_t, discount_t []. Returns [].
    """
    _check_categorical_q("categorical_q_learning", q_atoms_tm1, q_logits_tm1, a_tm1, r_t,
                         discount_t, q_atoms_t, q_logits_t)
    q_t_probs = jax.nn.softmax(q_logits_t)  # [A, N]
    q_t_mean = jnp.sum(q_t_probs * q_atoms_t[None, :], axis=1)  # [A]
    p_target_z = q_t_probs[jnp.argmax(q_t_mean)]  # [N]
    return _categorical_q_loss(q_atoms_tm1, q_logits_tm1, a_tm1, r_t, discount_t, q_atoms_t,
                               p_target_z, stop_target_gradients)


def categorical_double_q_learning(q_atoms_tm1: Array, q_logits_tm1: Array, a_tm1: Array,
                                  r_t: Array, discount_t: Array, q_atoms_t: Array,
                                  q_logits_t: Array, q_t_selector: Array,
                                  stop_target_gradients: bool = True) -> Array:
    """Categorical double Q-learning: the bootstrap action is `argmax q_t_selector`.

    Shapes: as `categorical_q_learning`, plus q_t_selector [A]. Returns [].
    """
    _check_categorical_q("categorical_double_q_learning", q_atoms_tm1, q_logits_tm1, a_tm1, r_t,
                         discount_t, q_atoms_t, q_logits_t,
                         q_t_selector=(q_t_selector, FLOAT, "[A]"))
    p_target_z = jax.nn.softmax(q_logits_t[jnp.argmax(q_t_selector)])  # [N]
    return _categorical_q_loss(q_atoms_tm1, q_logits_tm1, a_tm1, r_t, discount_t, q_atoms_t,
                               p_target_z, stop_target_gradients)


def quantile_regression_loss(dist_src: Array, tau_src: Array, dist_target: Array,
                             huber_param: float = 0., stop_target_gradients: bool = True) -> Array:
    """(Huber) quantile regression loss between two quantile distributions.

    `Σ_i mean_j |τ_i - 1[δ_ij < 0]| ρ(δ_ij)`, `δ_ij = target_j - src_i`, with
    `ρ` the absolute value (huber_param = 0) or the Huber loss. See
    "Distributional Reinforcement Learning with Quantile Regression", Dabney
    et al. 2017 (https://arxiv.org/abs/1710.10044).

    Args:
      dist_src: source quantile values, shape [N].
      tau_src: their quantile midpoints, shape [N].
      dist_target: target samples or quantiles, shape [M].
      huber_param: Huber δ; 0 uses the absolute error.
      stop_target_gradients: no gradient flows into `dist_target`.

    Returns:
      the loss, shape [].
    """
    fn = "quantile_regression_loss"
    base.check_inputs(fn, dist_src=(dist_src, FLOAT, "[N]"), tau_src=(tau_src, FLOAT, "[N]"),
                      dist_target=(dist_target, FLOAT, "[M]"))
    base.check_equal_shapes(fn, dist_src=dist_src, tau_src=tau_src)
    dist_target = base.maybe_stop_gradient(dist_target, stop_target_gradients)
    delta = dist_target[None, :] - dist_src[:, None]  # [N, M]
    delta_neg = jax.lax.stop_gradient((delta < 0.).astype(delta.dtype))
    weight = jnp.abs(tau_src[:, None] - delta_neg)  # [N, M]
    loss = clipping.huber_loss(delta, huber_param) if huber_param > 0. else jnp.abs(delta)
    return jnp.sum(jnp.mean(loss * weight, axis=-1))


def _check_quantile_q(fn: str, dist_q_tm1, tau_q_tm1, a_tm1, r_t, discount_t, **more) -> None:
    base.check_inputs(fn, dist_q_tm1=(dist_q_tm1, FLOAT, "[N, A]"),
                      tau_q_tm1=(tau_q_tm1, FLOAT, "[N]"), a_tm1=(a_tm1, INT, "[]"),
                      r_t=(r_t, FLOAT, "[]"), discount_t=(discount_t, FLOAT, "[]"), **more)


def quantile_q_learning(dist_q_tm1: Array, tau_q_tm1: Array, a_tm1: Array, r_t: Array,
                        discount_t: Array, dist_q_t_selector: Array, dist_q_t: Array,
                        huber_param: float = 0., stop_target_gradients: bool = True) -> Array:
    """Quantile (QR-DQN) Q-learning loss; the bootstrap action maximises the selector's mean.

    Shapes: dist_q_tm1, dist_q_t_selector, dist_q_t [N, A]; tau_q_tm1 [N];
    a_tm1 integer []; r_t, discount_t []. Returns [].
    """
    _check_quantile_q("quantile_q_learning", dist_q_tm1, tau_q_tm1, a_tm1, r_t, discount_t,
                      dist_q_t_selector=(dist_q_t_selector, FLOAT, "[N, A]"),
                      dist_q_t=(dist_q_t, FLOAT, "[N, A]"))
    dist_qa_tm1 = dist_q_tm1[:, a_tm1]  # [N]
    a_t = jnp.argmax(jnp.mean(dist_q_t_selector, axis=0))
    dist_target = r_t + discount_t * dist_q_t[:, a_t]  # [N]
    dist_target = base.maybe_stop_gradient(dist_target, stop_target_gradients)
    return quantile_regression_loss(dist_qa_tm1, tau_q_tm1, dist_target, huber_param,
                                    stop_target_gradients)


def quantile_expected_sarsa(dist_q_tm1: Array, tau_q_tm1: Array, a_tm1: Array, r_t: Array,
                            discount_t: Array, dist_q_t: Array, probs_a_t: Array,
                            huber_param: float = 0., stop_target_gradients: bool = True) -> Array:
    """Quantile expected-SARSA loss: per-action QR losses weighted by `probs_a_t`.

    Shapes: dist_q_tm1, dist_q_t [N, A]; tau_q_tm1 [N]; a_tm1 integer [];
    r_t, discount_t []; probs_a_t [A]. Returns [].
    """
    _check_quantile_q("quantile_expected_sarsa", dist_q_tm1, tau_q_tm1, a_tm1, r_t, discount_t,
                      dist_q_t=(dist_q_t, FLOAT, "[N, A]"), probs_a_t=(probs_a_t, FLOAT, "[A]"))
    dist_qa_tm1 = dist_q_tm1[:, a_tm1]  # [N]
    dist_target = r_t + discount_t * dist_q_t  # [N, A]
    dist_target = base.maybe_stop_gradient(dist_target, stop_target_gradients)
    probs_a_t = base.maybe_stop_gradient(probs_a_t, stop_target_gradients)
    per_action_loss = jax.vmap(
        lambda target: quantile_regression_loss(dist_qa_tm1, tau_q_tm1, target, huber_param,
                                                stop_target_gradients),
        in_axes=1)(dist_target)  # [A]
    return jnp.sum(per_action_loss * probs_a_t)
