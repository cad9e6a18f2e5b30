"""Targets for transformed value functions (non-linear Bellman equations, R2D2).

A network predicting `h(Q)` instead of `Q` learns from targets
`h(T h⁻¹(·))`: bootstrap values are mapped back with `apply_inv`, the usual
linear return is computed, and the result is squashed again with `apply`.
See "General non-linear Bellman equations", van Hasselt et al. 2019
(https://arxiv.org/abs/1907.03687) and "Recurrent Experience Replay in
Distributed Reinforcement Learning", Kapturowski et al. 2019
(https://openreview.net/forum?id=r1lyTjAqYX).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from vtrax.rl_ops import base
from vtrax.rl_ops import multistep
from vtrax.rl_ops import transforms
from vtrax.rl_ops.base import FLOAT, INT

Array = jax.Array


class TxPair(NamedTuple):
    """A squashing transform `apply` and its inverse `apply_inv`."""

    apply: Callable[[Array], Array]
    apply_inv: Callable[[Array], Array]


IDENTITY_PAIR = TxPair(transforms.identity, transforms.identity)
SIGNED_LOGP1_PAIR = TxPair(transforms.signed_logp1, transforms.signed_expm1)
SIGNED_HYPERBOLIC_PAIR = TxPair(transforms.signed_hyperbolic, transforms.signed_parabolic)
HYPERBOLIC_SIN_PAIR = TxPair(transforms.hyperbolic_arcsin, transforms.hyperbolic_sin)


def transformed_lambda_returns(tx_pair: TxPair, r_t: Array, discount_t: Array, v_t: Array,
                               lambda_: Any = 1., stop_target_gradients: bool = False) -> Array:
    """`apply(lambda_returns(r_t, discount_t, apply_inv(v_t), lambda_))`.

    Shapes: r_t, discount_t, v_t (transformed values) [T]; lambda_ [] or [T].
    Returns transformed λ-returns [T].
    """
    base.check_inputs("transformed_lambda_returns", r_t=(r_t, FLOAT, "[T]"),
                      discount_t=(discount_t, FLOAT, "[T]"), v_t=(v_t, FLOAT, "[T]"),
                      lambda_=(lambda_, FLOAT, "[] or [T]"))
    returns = multistep.lambda_returns(
        r_t, discount_t, tx_pair.apply_inv(v_t), lambda_, stop_target_gradients)
    return tx_pair.apply(returns)


def transformed_n_step_returns(tx_pair: TxPair, r_t: Array, discount_t: Array, v_t: Array, n: int,
                               lambda_t: Any = 1., stop_target_gradients: bool = False) -> Array:
    """`apply(n_step_bootstrapped_returns(r_t, discount_t, apply_inv(v_t), n, lambda_t))`.

    Shapes: r_t, discount_t, v_t (transformed values) [T]. Returns [T].
    """
    base.check_inputs("transformed_n_step_returns", r_t=(r_t, FLOAT, "[T]"),
                      discount_t=(discount_t, FLOAT, "[T]"), v_t=(v_t, FLOAT, "[T]"),
                      lambda_t=(lambda_t, FLOAT, "[] or [T]"))
    returns = multistep.n_step_bootstrapped_returns(
        r_t, discount_t, tx_pair.apply_inv(v_t), n, lambda_t, stop_target_gradients)
    return tx_pair.apply(returns)


def transformed_general_off_policy_returns_from_action_values(
    tx_pair: TxPair, q_t: Array, a_t: Array, r_t: Array, discount_t: Array, c_t: Array,
    pi_t: Array, stop_target_gradients: bool = False,
) -> Array:
    """`apply(general_off_policy_returns_from_action_values(apply_inv(q_t), ...))`.

    Shapes: q_t (transformed), pi_t [K, A]; a_t integer [K]; r_t,
    discount_t, c_t [K]. Returns [K].
    """
    base.check_inputs("transformed_general_off_policy_returns_from_action_values",
                      q_t=(q_t, FLOAT, "[K, A]"), a_t=(a_t, INT, "[K]"), r_t=(r_t, FLOAT, "[K]"),
                      discount_t=(discount_t, FLOAT, "[K]"), c_t=(c_t, FLOAT, "[K]"),
                      pi_t=(pi_t, FLOAT, "[K, A]"))
    returns = multistep.general_off_policy_returns_from_action_values(
        tx_pair.apply_inv(q_t), a_t, r_t, discount_t, c_t, pi_t, stop_target_gradients)
    return tx_pair.apply(returns)


def transformed_q_lambda(q_tm1: Array, a_tm1: Array, r_t: Array, discount_t: Array, q_t: Array,
                         lambda_: Any, stop_target_gradients: bool = True,
                         tx_pair: TxPair = IDENTITY_PAIR) -> Array:
    """Q(λ) errors for transformed Q-values.

    Shapes: q_tm1, q_t [T, A]; a_tm1 integer [T]; r_t, discount_t [T];
    lambda_ [] or [T]. Returns [T].
    """
    fn = "transformed_q_lambda"
    base.check_inputs(fn, q_tm1=(q_tm1, FLOAT, "[T, A]"), a_tm1=(a_tm1, INT, "[T]"),
                      r_t=(r_t, FLOAT, "[T]"), discount_t=(discount_t, FLOAT, "[T]"),
                      q_t=(q_t, FLOAT, "[T, A]"), lambda_=(lambda_, FLOAT, "[] or [T]"))
    base.check_leading_dims(fn, q_tm1=q_tm1, a_tm1=a_tm1, r_t=r_t, discount_t=discount_t, q_t=q_t)
    base.check_per_step(fn, "lambda_", lambda_, discount_t)
    qa_tm1 = base.batched_index(q_tm1, a_tm1)
    v_t = jnp.max(q_t, axis=-1)
    target_tm1 = transformed_lambda_returns(
        tx_pair, r_t, discount_t, v_t, lambda_, stop_target_gradients)
    return target_tm1 - qa_tm1


def transformed_retrace(q_tm1: Array, q_t: Array, a_tm1: Array, a_t: Array, r_t: Array,
                        discount_t: Array, pi_t: Array, mu_t: Array, lambda_: Any,
                        eps: float = 1e-8, stop_target_gradients: bool = True,
                        tx_pair: TxPair = IDENTITY_PAIR) -> Array:
    """Retrace errors for transformed Q-values (R2D2 with `SIGNED_HYPERBOLIC_PAIR`).

    Shapes: q_tm1, q_t, pi_t [T, A]; a_tm1, a_t integer [T]; r_t,
    discount_t, mu_t [T]; lambda_ []. Returns [T].
    """
    fn = "transformed_retrace"
    base.check_inputs(fn, q_tm1=(q_tm1, FLOAT, "[T, A]"), q_t=(q_t, FLOAT, "[T, A]"),
                      a_tm1=(a_tm1, INT, "[T]"), a_t=(a_t, INT, "[T]"), r_t=(r_t, FLOAT, "[T]"),
                      discount_t=(discount_t, FLOAT, "[T]"), pi_t=(pi_t, FLOAT, "[T, A]"),
                      mu_t=(mu_t, FLOAT, "[T]"), lambda_=(lambda_, FLOAT, "[] or [T]"))
    base.check_leading_dims(fn, q_tm1=q_tm1, a_tm1=a_tm1, q_t=q_t, a_t=a_t, r_t=r_t, discount_t=discount_t,
                            mu_t=mu_t)
    base.check_per_step(fn, "lambda_", lambda_, discount_t)
    pi_a_t = base.batched_index(pi_t, a_t)
    c_t = jnp.minimum(1.0, pi_a_t / (mu_t + eps)) * lambda_
    target_tm1 = transformed_general_off_policy_returns_from_action_values(
        tx_pair, q_t, a_t, r_t, discount_t, c_t, pi_t, stop_target_gradients)
    return target_tm1 - base.batched_index(q_tm1, a_tm1)


def transformed_n_step_q_learning(q_tm1: Array, a_tm1: Array, target_q_t: Array, a_t: Array,
                                  r_t: Array, discount_t: Array, n: int,
                                  stop_target_gradients: bool = True,
                                  tx_pair: TxPair = IDENTITY_PAIR) -> Array:
    """n-step Q-learning errors for transformed Q-values.

    Args:
      q_tm1: Q-values at steps 0..T-1, shape [T, A].
      a_tm1: actions at steps 0..T-1, integer [T].
      target_q_t: target-network Q-values at steps 1..T, shape [T, A].
      a_t: bootstrap actions at steps 1..T, integer [T] (argmax of
        `target_q_t` for Q-learning, of the online `q_t` for double Q-learning).
      r_t: rewards at steps 1..T, shape [T].
      discount_t: discounts at steps 1..T, shape [T].
      n: steps to accumulate before bootstrapping (Python int >= 1).
      stop_target_gradients: no gradient flows into the targets.
      tx_pair: the value transform and its inverse.

    Returns:
      errors, shape [T].
    """
    fn = "transformed_n_step_q_learning"
    base.check_inputs(fn, q_tm1=(q_tm1, FLOAT, "[T, A]"), a_tm1=(a_tm1, INT, "[T]"),
                      target_q_t=(target_q_t, FLOAT, "[T, A]"), a_t=(a_t, INT, "[T]"),
                      r_t=(r_t, FLOAT, "[T]"), discount_t=(discount_t, FLOAT, "[T]"))
    base.check_leading_dims(fn, q_tm1=q_tm1, a_tm1=a_tm1, target_q_t=target_q_t, a_t=a_t, r_t=r_t)
    v_t = base.batched_index(target_q_t, a_t)
    target_tm1 = transformed_n_step_returns(
        tx_pair, r_t, discount_t, v_t, n, stop_target_gradients=stop_target_gradients)
    return target_tm1 - base.batched_index(q_tm1, a_tm1)
