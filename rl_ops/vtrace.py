"""V-trace off-policy corrections (IMPALA) and their leaky variant.

See "IMPALA: Scalable Distributed Deep-RL with Importance Weighted
Actor-Learner Architectures", Espeholt et al. 2018
(https://arxiv.org/abs/1802.01561), and "Self-Tuning Deep Reinforcement
Learning", Zahavy et al. 2020 (https://arxiv.org/abs/2002.12928) for leaky
V-trace.

One trajectory per call; batch with `jax.vmap` (e.g. `in_axes=1` on [T, B]):

    state:       s0 ──a0──► s1 ──a1──► s2 ... s(T-1) ──► sT
    v_tm1:       v(s0)      v(s1)          v(s(T-1))
    v_t:                    v(s1)      v(s2)      ...    v(sT)
    r_t, discount_t:        r1, γ1     r2, γ2     ...    rT, γT
    rho_tm1:     π(a0|s0)/μ(a0|s0) ...     π(a(T-1))/μ(a(T-1))

    v_s - V(s_t) = Σ_{k>=t} (Π_{i<k} γ_i+1 c_i) ρ̄_k δ_k,
    δ_k = r_k+1 + γ_k+1 V(s_k+1) - V(s_k),
    ρ̄ = min(clip_rho_threshold, ρ), c = λ min(1, ρ).

A `discount_t = 0` step ends an episode: nothing flows across it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from vtrax.rl_ops import base
from vtrax.rl_ops.base import FLOAT

Array = jax.Array


class VTraceOutput(NamedTuple):
    """V-trace TD errors, policy-gradient advantages and Q estimates, each [T]."""

    errors: Array
    pg_advantage: Array
    q_estimate: Array


def _check(fn: str, v_tm1, v_t, r_t, discount_t, rho_tm1, lambda_) -> None:
    base.check_inputs(
        fn, v_tm1=(v_tm1, FLOAT, "[T]"), v_t=(v_t, FLOAT, "[T]"), r_t=(r_t, FLOAT, "[T]"),
        discount_t=(discount_t, FLOAT, "[T]"), rho_tm1=(rho_tm1, FLOAT, "[T]"),
        lambda_=(lambda_, FLOAT, "[] or [T]"))
    base.check_equal_shapes(fn, v_tm1=v_tm1, v_t=v_t, r_t=r_t, discount_t=discount_t, rho_tm1=rho_tm1)
    base.check_per_step(fn, "lambda_", lambda_, discount_t)


def _errors_from_weights(v_tm1, v_t, r_t, discount_t, rho_weight, c_tm1, stop_target_gradients):
    """TD errors `v_s - V(s)` from value weights ρ̄ and trace weights c, via `lax.scan`."""
    td_errors = rho_weight * (r_t + discount_t * v_t - v_tm1)  # [T]
    errors = base.backward_recursion(td_errors, discount_t * c_tm1, 0.)  # [T]
    if isinstance(stop_target_gradients, bool) and not stop_target_gradients:
        return errors
    targets_tm1 = base.maybe_stop_gradient(errors + v_tm1, stop_target_gradients)
    return targets_tm1 - v_tm1


def vtrace(
    v_tm1: Array,
    v_t: Array,
    r_t: Array,
    discount_t: Array,
    rho_tm1: Array,
    lambda_: Any = 1.0,
    clip_rho_threshold: float = 1.0,
    stop_target_gradients: bool = True,
) -> Array:
    """V-trace TD errors `v_s - V(s)` from importance ratios.

    Args:
      v_tm1: values at steps 0..T-1, shape [T].
      v_t: values at steps 1..T, shape [T].
      r_t: rewards at steps 1..T, shape [T].
      discount_t: discounts at steps 1..T, shape [T].
      rho_tm1: importance ratios π/μ of the actions at steps 0..T-1, shape [T].
      lambda_: mixing parameter, shape [] or [T].
      clip_rho_threshold: clip ρ̄ for the value TD errors.
      stop_target_gradients: no gradient flows into the targets `v_s`.

    Returns:
      V-trace errors, shape [T].

    Raises:
      ValueError: on wrong ranks, dtypes or mismatched lengths.
    """
    _check("vtrace", v_tm1, v_t, r_t, discount_t, rho_tm1, lambda_)
    c_tm1 = jnp.minimum(1.0, rho_tm1) * lambda_
    clipped_rhos_tm1 = jnp.minimum(clip_rho_threshold, rho_tm1)
    return _errors_from_weights(
        v_tm1, v_t, r_t, discount_t, clipped_rhos_tm1, c_tm1, stop_target_gradients)


def leaky_vtrace(
    v_tm1: Array,
    v_t: Array,
    r_t: Array,
    discount_t: Array,
    rho_tm1: Array,
    alpha_: float = 1.0,
    lambda_: Any = 1.0,
    clip_rho_threshold: float = 1.0,
    stop_target_gradients: bool = True,
) -> Array:
    """Leaky V-trace errors: clipped and unclipped ratios mixed by `alpha_`.

    `alpha_ = 1` is V-trace, `alpha_ = 0` is per-decision importance sampling.

    Args:
      v_tm1, v_t, r_t, discount_t, rho_tm1: as in `vtrace`, each shape [T].
      alpha_: weight of the clipped ratios, in [0, 1].
      lambda_: mixing parameter, shape [] or [T].
      clip_rho_threshold: clip ρ̄ for the value TD errors.
      stop_target_gradients: no gradient flows into the targets.

    Returns:
      Leaky V-trace errors, shape [T].
    """
    _check("leaky_vtrace", v_tm1, v_t, r_t, discount_t, rho_tm1, lambda_)
    c_tm1 = ((1 - alpha_) * rho_tm1 + alpha_ * jnp.minimum(1.0, rho_tm1)) * lambda_
    clipped_rhos_tm1 = (1 - alpha_) * rho_tm1 + alpha_ * jnp.minimum(clip_rho_threshold, rho_tm1)
    return _errors_from_weights(
        v_tm1, v_t, r_t, discount_t, clipped_rhos_tm1, c_tm1, stop_target_gradients)


def _q_estimate(errors, v_tm1, v_t, r_t, discount_t, lambda_):
    """`q_t = r_t+1 + γ_t+1 (λ v_s+1 + (1 - λ) V(s_t+1))`, bootstrapping on `v_t[-1]`."""
    lambda_ = jnp.ones_like(discount_t) * lambda_  # [T]
    targets_tm1 = errors + v_tm1  # [T]
    # NOTE: as in RLax, the final bootstrap value v_t[-1] is not stopped here (the errors
    # carry `stop_target_gradients`); policy-gradient losses stop the advantage themselves.
    q_bootstrap = jnp.concatenate(
        [lambda_[:-1] * targets_tm1[1:] + (1 - lambda_[:-1]) * v_tm1[1:], v_t[-1:]])
    return r_t + discount_t * q_bootstrap


def vtrace_td_error_and_advantage(
    v_tm1: Array,
    v_t: Array,
    r_t: Array,
    discount_t: Array,
    rho_tm1: Array,
    lambda_: Any = 1.0,
    clip_rho_threshold: float = 1.0,
    clip_pg_rho_threshold: float = 1.0,
    stop_target_gradients: bool = True,
) -> VTraceOutput:
    """V-trace TD errors, policy-gradient advantages and Q estimates (IMPALA).

    `pg_advantage_t = min(clip_pg_rho_threshold, ρ_t) (q_estimate_t - V(s_t))`
    with `q_estimate_t = r_t+1 + γ_t+1 v_s+1`.

    Args:
      v_tm1: values at steps 0..T-1, shape [T].
      v_t: values at steps 1..T, shape [T].
      r_t: rewards at steps 1..T, shape [T].
      discount_t: discounts at steps 1..T, shape [T].
      rho_tm1: importance ratios π/μ at steps 0..T-1, shape [T].
      lambda_: mixing parameter, shape [] or [T].
      clip_rho_threshold: clip ρ̄ for the value TD errors.
      clip_pg_rho_threshold: clip for the policy-gradient ratios.
      stop_target_gradients: no gradient flows into the targets `v_s` and
        `q_estimate`.

    Returns:
      `VTraceOutput(errors, pg_advantage, q_estimate)`, each shape [T].
    """
    fn = "vtrace_td_error_and_advantage"
    _check(fn, v_tm1, v_t, r_t, discount_t, rho_tm1, lambda_)
    errors = vtrace(v_tm1, v_t, r_t, discount_t, rho_tm1, lambda_, clip_rho_threshold,
                    stop_target_gradients)
    q_estimate = _q_estimate(errors, v_tm1, v_t, r_t, discount_t, lambda_)
    pg_advantage = jnp.minimum(clip_pg_rho_threshold, rho_tm1) * (q_estimate - v_tm1)
    return VTraceOutput(errors=errors, pg_advantage=pg_advantage, q_estimate=q_estimate)


def leaky_vtrace_td_error_and_advantage(
    v_tm1: Array,
    v_t: Array,
    r_t: Array,
    discount_t: Array,
    rho_tm1: Array,
    alpha: float = 1.0,
    lambda_: Any = 1.0,
    clip_rho_threshold: float = 1.0,
    clip_pg_rho_threshold: float = 1.0,
    stop_target_gradients: bool = True,
) -> VTraceOutput:
    """Leaky V-trace TD errors, policy-gradient advantages and Q estimates.

    Args:
      v_tm1, v_t, r_t, discount_t, rho_tm1: as in `vtrace_td_error_and_advantage`.
      alpha: weight of the clipped ratios, in [0, 1] (1 is V-trace).
      lambda_: mixing parameter, shape [] or [T].
      clip_rho_threshold: clip ρ̄ for the value TD errors.
      clip_pg_rho_threshold: clip for the policy-gradient ratios.
      stop_target_gradients: no gradient flows into the targets.

    Returns:
      `VTraceOutput(errors, pg_advantage, q_estimate)`, each shape [T].
    """
    fn = "leaky_vtrace_td_error_and_advantage"
    _check(fn, v_tm1, v_t, r_t, discount_t, rho_tm1, lambda_)
    errors = leaky_vtrace(v_tm1, v_t, r_t, discount_t, rho_tm1, alpha, lambda_,
                          clip_rho_threshold, stop_target_gradients)
    q_estimate = _q_estimate(errors, v_tm1, v_t, r_t, discount_t, lambda_)
    pg_rho = (1 - alpha) * rho_tm1 + alpha * jnp.minimum(clip_pg_rho_threshold, rho_tm1)
    pg_advantage = pg_rho * (q_estimate - v_tm1)
    return VTraceOutput(errors=errors, pg_advantage=pg_advantage, q_estimate=q_estimate)
