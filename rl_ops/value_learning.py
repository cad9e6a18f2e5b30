"""TD errors for state values and discrete-action Q-values.

Single-transition ops take `q_tm1 [A], a_tm1 [], r_t [], discount_t [],
q_t [A]`; trajectory ops (`td_lambda`, `sarsa_lambda`, `q_lambda`, `retrace`,
`retrace_continuous`) take [T] / [T, A] arrays. Actions are integer indices
in [0, A). Batch with `jax.vmap`. Targets carry no gradient unless
`stop_target_gradients=False`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from vtrax.rl_ops import base
from vtrax.rl_ops import multistep
from vtrax.rl_ops.base import FLOAT, INT

Array = jax.Array


def _td(target_tm1: Array, prediction_tm1: Array, stop_target_gradients: Any) -> Array:
    return base.maybe_stop_gradient(target_tm1, stop_target_gradients) - prediction_tm1


def td_learning(v_tm1: Array, r_t: Array, discount_t: Array, v_t: Array,
                stop_target_gradients: bool = True) -> Array:
    """TD(0) error `r_t + γ_t v_t - v_tm1` for one transition.

    See "Learning to Predict by the Methods of Temporal Differences", Sutton
    1988 (https://link.springer.com/article/10.1023/A:1022633531479).

    Args:
      v_tm1: value of the state at t-1, shape [].
      r_t: reward at t, shape [].
      discount_t: discount at t, shape [].
      v_t: value of the state at t, shape [].
      stop_target_gradients: no gradient flows into the target.

    Returns:
      the TD error, shape [].
    """
    base.check_inputs("td_learning", v_tm1=(v_tm1, FLOAT, "[]"), r_t=(r_t, FLOAT, "[]"),
                      discount_t=(discount_t, FLOAT, "[]"), v_t=(v_t, FLOAT, "[]"))
    return _td(r_t + discount_t * v_t, v_tm1, stop_target_gradients)


def td_lambda(v_tm1: Array, r_t: Array, discount_t: Array, v_t: Array, lambda_: Any,
              stop_target_gradients: bool = True) -> Array:
    """TD(λ) errors `G^λ_t - v_tm1` along a trajectory (see `lambda_returns`).

    See "Reinforcement Learning: An Introduction", Sutton & Barto, ch. 12.

    Args:
      v_tm1: values at steps 0..T-1, shape [T].
      r_t: rewards at steps 1..T, shape [T].
      discount_t: discounts at steps 1..T, shape [T].
      v_t: values at steps 1..T, shape [T].
      lambda_: mixing parameter, shape [] or [T].
      stop_target_gradients: no gradient flows into the λ-returns.

    Returns:
      TD(λ) errors, shape [T].
    """
    base.check_inputs("td_lambda", v_tm1=(v_tm1, FLOAT, "[T]"), r_t=(r_t, FLOAT, "[T]"),
                      discount_t=(discount_t, FLOAT, "[T]"), v_t=(v_t, FLOAT, "[T]"),
                      lambda_=(lambda_, FLOAT, "[] or [T]"))
    base.check_equal_shapes("td_lambda", v_tm1=v_tm1, r_t=r_t, discount_t=discount_t, v_t=v_t)
    base.check_per_step("td_lambda", "lambda_", lambda_, discount_t)
    target_tm1 = multistep.lambda_returns(r_t, discount_t, v_t, lambda_)
    return _td(target_tm1, v_tm1, stop_target_gradients)


def _check_transition(fn: str, q_tm1, a_tm1, r_t, discount_t, **more) -> None:
    base.check_inputs(fn, q_tm1=(q_tm1, FLOAT, "[A]"), a_tm1=(a_tm1, INT, "[]"),
                      r_t=(r_t, FLOAT, "[]"), discount_t=(discount_t, FLOAT, "[]"), **more)


def sarsa(q_tm1: Array, a_tm1: Array, r_t: Array, discount_t: Array, q_t: Array, a_t: Array,
          stop_target_gradients: bool = True) -> Array:
    """SARSA error `r_t + γ_t q_t[a_t] - q_tm1[a_tm1]` (Sutton & Barto, 6.4).

    Shapes: q_tm1, q_t [A]; a_tm1, a_t integer []; r_t, discount_t []. Returns [].
    """
    _check_transition("sarsa", q_tm1, a_tm1, r_t, discount_t,
                      q_t=(q_t, FLOAT, "[A]"), a_t=(a_t, INT, "[]"))
    return _td(r_t + discount_t * q_t[a_t], q_tm1[a_tm1], stop_target_gradients)


def expected_sarsa(q_tm1: Array, a_tm1: Array, r_t: Array, discount_t: Array, q_t: Array,
                   probs_a_t: Array, stop_target_gradients: bool = True) -> Array:
    """Expected SARSA error `r_t + γ_t Σ_a π(a) q_t[a] - q_tm1[a_tm1]`.

    See "A Theoretical and Empirical Analysis of Expected Sarsa", van Seijen
    et al. 2009. Shapes: q_tm1, q_t, probs_a_t [A]; a_tm1 integer []; r_t,
    discount_t []. Returns [].
    """
    _check_transition("expected_sarsa", q_tm1, a_tm1, r_t, discount_t,
                      q_t=(q_t, FLOAT, "[A]"), probs_a_t=(probs_a_t, FLOAT, "[A]"))
    return _td(r_t + discount_t * jnp.dot(q_t, probs_a_t), q_tm1[a_tm1], stop_target_gradients)


def sarsa_lambda(q_tm1: Array, a_tm1: Array, r_t: Array, discount_t: Array, q_t: Array,
                 a_t: Array, lambda_: Any, stop_target_gradients: bool = True) -> Array:
    """SARSA(λ) errors along a trajectory: λ-returns bootstrapping on `q_t[a_t]`.

    Shapes: q_tm1, q_t [T, A]; a_tm1, a_t integer [T]; r_t, discount_t [T];
    lambda_ [] or [T]. Returns [T].
    """
    fn = "sarsa_lambda"
    base.check_inputs(fn, q_tm1=(q_tm1, FLOAT, "[T, A]"), a_tm1=(a_tm1, INT, "[T]"),
                      r_t=(r_t, FLOAT, "[T]"), discount_t=(discount_t, FLOAT, "[T]"),
                      q_t=(q_t, FLOAT, "[T, A]"), a_t=(a_t, INT, "[T]"),
                      lambda_=(lambda_, FLOAT, "[] or [T]"))
    base.check_leading_dims(fn, q_tm1=q_tm1, a_tm1=a_tm1, r_t=r_t, discount_t=discount_t,
                            q_t=q_t, a_t=a_t)
    base.check_per_step(fn, "lambda_", lambda_, discount_t)
    qa_tm1 = base.batched_index(q_tm1, a_tm1)
    qa_t = base.batched_index(q_t, a_t)
    target_tm1 = multistep.lambda_returns(r_t, discount_t, qa_t, lambda_)
    return _td(target_tm1, qa_tm1, stop_target_gradients)


def q_learning(q_tm1: Array, a_tm1: Array, r_t: Array, discount_t: Array, q_t: Array,
               stop_target_gradients: bool = True) -> Array:
    """Q-learning error `r_t + γ_t max_a q_t[a] - q_tm1[a_tm1]` (Watkins 1989).

    Shapes: q_tm1, q_t [A]; a_tm1 integer []; r_t, discount_t []. Returns [].
    """
    _check_transition("q_learning", q_tm1, a_tm1, r_t, discount_t, q_t=(q_t, FLOAT, "[A]"))
    return _td(r_t + discount_t * jnp.max(q_t), q_tm1[a_tm1], stop_target_gradients)


def double_q_learning(q_tm1: Array, a_tm1: Array, r_t: Array, discount_t: Array,
                      q_t_value: Array, q_t_selector: Array,
                      stop_target_gradients: bool = True) -> Array:
    """Double Q-learning error: `q_t_value` evaluated at `argmax q_t_selector`.

    See "Double Q-learning", van Hasselt 2010
    (https://papers.nips.cc/paper/3964-double-q-learning). Shapes: q_tm1,
    q_t_value, q_t_selector [A]; a_tm1 integer []; r_t, discount_t []. Returns [].
    """
    _check_transition("double_q_learning", q_tm1, a_tm1, r_t, discount_t,
                      q_t_value=(q_t_value, FLOAT, "[A]"),
                      q_t_selector=(q_t_selector, FLOAT, "[A]"))
    target_tm1 = r_t + discount_t * q_t_value[jnp.argmax(q_t_selector)]
    return _td(target_tm1, q_tm1[a_tm1], stop_target_gradients)


def persistent_q_learning(q_tm1: Array, a_tm1: Array, r_t: Array, discount_t: Array,
                          q_t: Array, action_gap_scale: Any,
                          stop_target_gradients: bool = True) -> Array:
    """Persistent Q-learning: bootstrap on `(1 - s) max q_t + s q_t[a_tm1]`.

    See "Increasing the Action Gap: New Operators for Reinforcement Learning",
    Bellemare et al. 2015 (https://arxiv.org/abs/1512.04860). Shapes: q_tm1,
    q_t [A]; a_tm1 integer []; r_t, discount_t, action_gap_scale []. Returns [].
    """
    _check_transition("persistent_q_learning", q_tm1, a_tm1, r_t, discount_t,
                      q_t=(q_t, FLOAT, "[A]"), action_gap_scale=(action_gap_scale, FLOAT, "[]"))
    corrected_q_t = (1. - action_gap_scale) * jnp.max(q_t) + action_gap_scale * q_t[a_tm1]
    return _td(r_t + discount_t * corrected_q_t, q_tm1[a_tm1], stop_target_gradients)


def qv_learning(q_tm1: Array, a_tm1: Array, r_t: Array, discount_t: Array, v_t: Array,
                stop_target_gradients: bool = True) -> Array:
    """QV-learning error `r_t + γ_t v_t - q_tm1[a_tm1]`.

    See "QV(λ)-learning", Wiering 2005. Shapes: q_tm1 [A]; a_tm1 integer [];
    r_t, discount_t, v_t []. Returns [].
    """
    _check_transition("qv_learning", q_tm1, a_tm1, r_t, discount_t, v_t=(v_t, FLOAT, "[]"))
    return _td(r_t + discount_t * v_t, q_tm1[a_tm1], stop_target_gradients)


def qv_max(v_tm1: Array, r_t: Array, discount_t: Array, q_t: Array,
           stop_target_gradients: bool = True) -> Array:
    """QVMAX error `r_t + γ_t max_a q_t[a] - v_tm1`.

    See "The QV Family Compared to Other Reinforcement Learning Algorithms",
    Wiering & van Hasselt 2009. Shapes: v_tm1, r_t, discount_t []; q_t [A]. Returns [].
    """
    base.check_inputs("qv_max", v_tm1=(v_tm1, FLOAT, "[]"), r_t=(r_t, FLOAT, "[]"),
                      discount_t=(discount_t, FLOAT, "[]"), q_t=(q_t, FLOAT, "[A]"))
    return _td(r_t + discount_t * jnp.max(q_t), v_tm1, stop_target_gradients)


def q_lambda(q_tm1: Array, a_tm1: Array, r_t: Array, discount_t: Array, q_t: Array,
             lambda_: Any, stop_target_gradients: bool = True) -> Array:
    """Peng's (scalar λ) or Watkins' (per-step λ) Q(λ) errors along a trajectory.

    Shapes: q_tm1, q_t [T, A]; a_tm1 integer [T]; r_t, discount_t [T];
    lambda_ [] or [T]. Returns [T].
    """
    fn = "q_lambda"
    base.check_inputs(fn, q_tm1=(q_tm1, FLOAT, "[T, A]"), a_tm1=(a_tm1, INT, "[T]"),
                      r_t=(r_t, FLOAT, "[T]"), discount_t=(discount_t, FLOAT, "[T]"),
                      q_t=(q_t, FLOAT, "[T, A]"), lambda_=(lambda_, FLOAT, "[] or [T]"))
    base.check_leading_dims(fn, q_tm1=q_tm1, a_tm1=a_tm1, r_t=r_t, discount_t=discount_t, q_t=q_t)
    base.check_per_step(fn, "lambda_", lambda_, discount_t)
    qa_tm1 = base.batched_index(q_tm1, a_tm1)
    target_tm1 = multistep.lambda_returns(r_t, discount_t, jnp.max(q_t, axis=-1), lambda_)
    return _td(target_tm1, qa_tm1, stop_target_gradients)


def retrace(q_tm1: Array, q_t: Array, a_tm1: Array, a_t: Array, r_t: Array, discount_t: Array,
            pi_t: Array, mu_t: Array, lambda_: Any, eps: float = 1e-8,
            stop_target_gradients: bool = True) -> Array:
    """Retrace(λ) errors with traces `c_t = λ min(1, π(a_t) / μ(a_t))`.

    See "Safe and Efficient Off-Policy Reinforcement Learning", Munos et al.
    2016 (https://arxiv.org/abs/1606.02647).

    Args:
      q_tm1: Q-values at steps 0..T-1, shape [T, A].
      q_t: Q-values at steps 1..T, shape [T, A].
      a_tm1: actions at steps 0..T-1, integer [T].
      a_t: actions at steps 1..T, integer [T].
      r_t: rewards at steps 1..T, shape [T].
      discount_t: discounts at steps 1..T, shape [T].
      pi_t: target policy probabilities at steps 1..T, shape [T, A].
      mu_t: behaviour probability of `a_t` at steps 1..T, shape [T].
      lambda_: mixing parameter, shape [] or [T].
      eps: added to `mu_t` before dividing.
      stop_target_gradients: no gradient flows into the targets.

    Returns:
      Retrace errors, shape [T].
    """
    fn = "retrace"
    base.check_inputs(fn, q_tm1=(q_tm1, FLOAT, "[T, A]"), q_t=(q_t, FLOAT, "[T, A]"),
                      a_tm1=(a_tm1, INT, "[T]"), a_t=(a_t, INT, "[T]"), r_t=(r_t, FLOAT, "[T]"),
                      discount_t=(discount_t, FLOAT, "[T]"), pi_t=(pi_t, FLOAT, "[T, A]"),
                      mu_t=(mu_t, FLOAT, "[T]"), lambda_=(lambda_, FLOAT, "[] or [T]"))
    base.check_leading_dims(fn, q_tm1=q_tm1, a_tm1=a_tm1, q_t=q_t, a_t=a_t, r_t=r_t, discount_t=discount_t,
                            mu_t=mu_t)
    base.check_per_step(fn, "lambda_", lambda_, discount_t)
    pi_a_t = base.batched_index(pi_t, a_t)
    c_t = jnp.minimum(1.0, pi_a_t / (mu_t + eps)) * lambda_
    target_tm1 = multistep.general_off_policy_returns_from_action_values(
        q_t, a_t, r_t, discount_t, c_t, pi_t)
    return _td(target_tm1, base.batched_index(q_tm1, a_tm1), stop_target_gradients)


def retrace_continuous(q_tm1: Array, q_t: Array, v_t: Array, r_t: Array, discount_t: Array,
                       log_rhos: Array, lambda_: Any,
                       stop_target_gradients: bool = True) -> Array:
    """Retrace errors for continuous actions, from Q of taken actions and V.

    Args:
      q_tm1: Q-values of the taken actions at steps 0..K-1, shape [K].
      q_t: Q-values of the taken actions at steps 1..K-1, shape [K - 1].
      v_t: state values under π at steps 1..K, shape [K].
      r_t: rewards at steps 1..K, shape [K].
      discount_t: discounts at steps 1..K, shape [K].
      log_rhos: log π(a)/μ(a) of the taken actions at steps 1..K-1, shape [K - 1].
      lambda_: mixing parameter, shape [] or [K - 1].
      stop_target_gradients: no gradient flows into the targets.

    Returns:
      Retrace errors, shape [K].
    """
    fn = "retrace_continuous"
    base.check_inputs(fn, q_tm1=(q_tm1, FLOAT, "[K]"), q_t=(q_t, FLOAT, "[K - 1]"),
                      v_t=(v_t, FLOAT, "[K]"), r_t=(r_t, FLOAT, "[K]"),
                      discount_t=(discount_t, FLOAT, "[K]"), log_rhos=(log_rhos, FLOAT, "[K - 1]"),
                      lambda_=(lambda_, FLOAT, "[] or [K - 1]"))
    base.check_equal_shapes(fn, q_tm1=q_tm1, v_t=v_t, r_t=r_t, discount_t=discount_t)
    base.check_per_step(fn, "lambda_", lambda_, log_rhos, "log_rhos")
    c_t = jnp.minimum(1.0, jnp.exp(log_rhos)) * lambda_
    target_tm1 = multistep.general_off_policy_returns_from_q_and_v(q_t, v_t, r_t, discount_t, c_t)
    return _td(target_tm1, q_tm1, stop_target_gradients)
