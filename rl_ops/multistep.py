"""Multistep return estimates from one trajectory (batch with `jax.vmap`).

Time indexing follows RLax: a trajectory of T transitions gives rewards and
discounts `r_t, discount_t` for steps 1..T and bootstrap values `v_t` for the
states reached at steps 1..T; returns are estimates for states 0..T-1.

    state:     s0 ──a0──► s1 ──a1──► s2 ... s(T-1) ──► sT
    r_t:            r1         r2              rT
    discount_t:     γ1         γ2              γT     (γ = 0 ends an episode)
    v_t:            v(s1)      v(s2)           v(sT)
    returns:   G0         G1   ...      G(T-1)

`discount_t = 0` cuts the recursion, so a trajectory that contains an episode
end gives each episode the returns it would get on its own.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from vtrax.rl_ops import base
from vtrax.rl_ops.base import FLOAT, INT

Array = jax.Array


def lambda_returns(
    r_t: Array,
    discount_t: Array,
    v_t: Array,
    lambda_: Any = 1.,
    stop_target_gradients: bool = False,
) -> Array:
    """Truncated λ-returns `G_t = r_t+1 + γ_t+1 [(1 - λ) v_t+1 + λ G_t+1]`.

    See "Reinforcement Learning: An Introduction", Sutton & Barto, ch. 12
    (http://incompleteideas.net/book/the-book-2nd.html). `G_{T-1}` bootstraps
    from `v_t[-1]`.

    Args:
      r_t: rewards at steps 1..T, shape [T].
      discount_t: discounts at steps 1..T, shape [T].
      v_t: state values at steps 1..T, shape [T].
      lambda_: mixing parameter, shape [] or [T].
      stop_target_gradients: stop gradients flowing into the returns.

    Returns:
      λ-returns for states 0..T-1, shape [T].

    Raises:
      ValueError: on wrong ranks, dtypes or mismatched lengths.
    """
    base.check_inputs(
        "lambda_returns", r_t=(r_t, FLOAT, "[T]"), discount_t=(discount_t, FLOAT, "[T]"),
        v_t=(v_t, FLOAT, "[T]"), lambda_=(lambda_, FLOAT, "[] or [T]"))
    base.check_equal_shapes("lambda_returns", r_t=r_t, discount_t=discount_t, v_t=v_t)
    base.check_per_step("lambda_returns", "lambda_", lambda_, discount_t)
    lambda_ = jnp.ones_like(discount_t) * lambda_
    # G = [r + γ(1-λ)v] + γλ G': an affine backward recursion.
    returns = base.backward_recursion(
        r_t + discount_t * (1 - lambda_) * v_t, discount_t * lambda_, v_t[-1])
    return base.maybe_stop_gradient(returns, stop_target_gradients)


def n_step_bootstrapped_returns(
    r_t: Array,
    discount_t: Array,
    v_t: Array,
    n: int,
    lambda_t: Any = 1.,
    stop_target_gradients: bool = False,
) -> Array:
    """Strided n-step returns, bootstrapping from `v` n steps ahead.

    `G_t = r_t+1 + γ_t+1 [(1 - λ_t+1) v_t+1 + λ_t+1 G_t+1]` iterated n times;
    with `lambda_t = 1` this is `r_t+1 + γ_t+1 r_t+2 + ... + γ...γ v_t+n`.
    Near the end of the trajectory the horizon shrinks and bootstraps from
    `v_t[-1]`. The n iterations run as a `lax.scan`.

    Args:
      r_t: rewards at steps 1..T, shape [T].
      discount_t: discounts at steps 1..T, shape [T].
      v_t: values to bootstrap from at steps 1..T, shape [T].
      n: number of rewards to accumulate before bootstrapping (Python int >= 1).
      lambda_t: mixing parameter, shape [] or [T].
      stop_target_gradients: stop gradients flowing into the returns.

    Returns:
      n-step returns for states 0..T-1, shape [T].
    """
    fn = "n_step_bootstrapped_returns"
    base.check_inputs(
        fn, r_t=(r_t, FLOAT, "[T]"), discount_t=(discount_t, FLOAT, "[T]"),
        v_t=(v_t, FLOAT, "[T]"), lambda_t=(lambda_t, FLOAT, "[] or [T]"))
    base.check_equal_shapes(fn, r_t=r_t, discount_t=discount_t, v_t=v_t)
    base.check_positive_int(fn, "n", n)
    base.check_per_step(fn, "lambda_t", lambda_t, discount_t)
    seq_len = r_t.shape[0]
    lambda_t = jnp.ones_like(discount_t) * lambda_t

    def pad(x, value):  # [T] -> [T + n - 1]
        return jnp.concatenate([x, jnp.full((n - 1,), value, dtype=x.dtype)])

    r_pad, d_pad, l_pad, v_pad = pad(r_t, 0), pad(discount_t, 1), pad(lambda_t, 1), pad(v_t, v_t[-1])
    targets = jax.lax.dynamic_slice_in_dim(v_pad, n - 1, seq_len)  # v_{t+n}, clamped at the end.

    def step(targets, i):
        r, d, lam, v = (jax.lax.dynamic_slice_in_dim(x, i, seq_len) for x in (r_pad, d_pad, l_pad, v_pad))
        return r + d * ((1. - lam) * v + lam * targets), None

    targets, _ = jax.lax.scan(step, targets, jnp.arange(n), reverse=True)
    return base.maybe_stop_gradient(targets, stop_target_gradients)


def discounted_returns(
    r_t: Array,
    discount_t: Array,
    v_t: Array,
    stop_target_gradients: bool = False,
) -> Array:
    """Discounted returns `G_t = r_t+1 + γ_t+1 G_t+1`, bootstrapping from `v_t`.

    Args:
      r_t: rewards at steps 1..T, shape [T].
      discount_t: discounts at steps 1..T, shape [T].
      v_t: bootstrap value, shape [] (used after step T) or [T] (only the last
        entry matters).
      stop_target_gradients: stop gradients flowing into the returns.

    Returns:
      discounted returns for states 0..T-1, shape [T].
    """
    base.check_inputs(
        "discounted_returns", r_t=(r_t, FLOAT, "[T]"), discount_t=(discount_t, FLOAT, "[T]"),
        v_t=(v_t, FLOAT, "[] or [T]"))
    bootstrapped_v = jnp.ones_like(discount_t) * v_t
    return lambda_returns(r_t, discount_t, bootstrapped_v, 1., stop_target_gradients)


def importance_corrected_td_errors(
    r_t: Array,
    discount_t: Array,
    rho_tm1: Array,
    lambda_: Any,
    values: Array,
    stop_target_gradients: bool = False,
) -> Array:
    """Multistep TD errors with per-decision importance sampling.

    `error_t = ρ_t δ_t(ρ, λ)`, `δ_t(ρ, λ) = δ_t + ρ_t+1 λ_t+1 γ_t+1 δ_t+1(ρ, λ)`,
    with one-step `δ_t = r_t+1 + γ_t+1 v_t+1 - v_t`. See "A new Q(λ) with
    interim forward view and Monte Carlo equivalence", Sutton et al. 2014
    (http://proceedings.mlr.press/v32/sutton14.html).

    Args:
      r_t: rewards at steps 1..T, shape [T].
      discount_t: discounts at steps 1..T, shape [T].
      rho_tm1: importance ratios π/μ at steps 0..T-1, shape [T].
      lambda_: mixing parameter, shape [] or [T].
      values: state values at steps 0..T, shape [T + 1].
      stop_target_gradients: stop gradients flowing into the implied targets.

    Returns:
      importance-corrected TD errors for states 0..T-1, shape [T].
    """
    fn = "importance_corrected_td_errors"
    base.check_inputs(
        fn, r_t=(r_t, FLOAT, "[T]"), discount_t=(discount_t, FLOAT, "[T]"),
        rho_tm1=(rho_tm1, FLOAT, "[T]"), lambda_=(lambda_, FLOAT, "[] or [T]"),
        values=(values, FLOAT, "[T + 1]"))
    base.check_equal_shapes(fn, r_t=r_t, discount_t=discount_t, rho_tm1=rho_tm1)
    _check_one_longer(fn, "values", values, "r_t", r_t)
    base.check_per_step(fn, "lambda_", lambda_, discount_t)
    v_tm1, v_t = values[:-1], values[1:]
    rho_t = jnp.concatenate([rho_tm1[1:], jnp.ones((1,), rho_tm1.dtype)])  # Last entry unused.
    lambda_ = jnp.ones_like(discount_t) * lambda_
    one_step_delta = r_t + discount_t * v_t - v_tm1
    errors = rho_tm1 * base.backward_recursion(one_step_delta, discount_t * rho_t * lambda_, 0.)
    if isinstance(stop_target_gradients, bool) and not stop_target_gradients:
        return errors
    return base.maybe_stop_gradient(errors + v_tm1, stop_target_gradients) - v_tm1


def truncated_generalized_advantage_estimation(
    r_t: Array,
    discount_t: Array,
    lambda_: Any,
    values: Array,
    stop_target_gradients: bool = False,
) -> Array:
    """Truncated GAE: `A_t = δ_t + γ_t+1 λ_t+1 A_t+1`, `δ_t = r_t+1 + γ_t+1 v_t+1 - v_t`.

    See "High-Dimensional Continuous Control Using Generalized Advantage
    Estimation", Schulman et al. 2015 (https://arxiv.org/abs/1506.02438).

    Args:
      r_t: rewards at steps 1..T, shape [T].
      discount_t: discounts at steps 1..T, shape [T].
      lambda_: mixing parameter, shape [] or [T].
      values: state values at steps 0..T, shape [T + 1].
      stop_target_gradients: stop gradients flowing into the advantages.

    Returns:
      advantages for states 0..T-1, shape [T].
    """
    fn = "truncated_generalized_advantage_estimation"
    base.check_inputs(
        fn, r_t=(r_t, FLOAT, "[T]"), discount_t=(discount_t, FLOAT, "[T]"),
        lambda_=(lambda_, FLOAT, "[] or [T]"), values=(values, FLOAT, "[T + 1]"))
    base.check_equal_shapes(fn, r_t=r_t, discount_t=discount_t)
    _check_one_longer(fn, "values", values, "r_t", r_t)
    base.check_per_step(fn, "lambda_", lambda_, discount_t)
    lambda_ = jnp.ones_like(discount_t) * lambda_
    delta_t = r_t + discount_t * values[1:] - values[:-1]
    advantages = base.backward_recursion(delta_t, discount_t * lambda_, 0.)
    return base.maybe_stop_gradient(advantages, stop_target_gradients)


def general_off_policy_returns_from_action_values(
    q_t: Array,
    a_t: Array,
    r_t: Array,
    discount_t: Array,
    c_t: Array,
    pi_t: Array,
    stop_target_gradients: bool = False,
) -> Array:
    """Off-policy returns from action values, `G_t = r + γ (E_π q - c q(a) + c G_t+1)`.

    The choice of `c_t` gives importance sampling (π/μ), Harutyunyan's Q(λ)
    (λ), Tree-Backup (π(a)) or Retrace (λ min(1, π/μ)). See "Safe and
    Efficient Off-Policy Reinforcement Learning", Munos et al. 2016
    (https://arxiv.org/abs/1606.02647).

    Args:
      q_t: Q-values at steps 1..K, shape [K, A].
      a_t: actions at steps 1..K, integer shape [K].
      r_t: rewards at steps 1..K, shape [K].
      discount_t: discounts at steps 1..K, shape [K].
      c_t: trace coefficients at steps 1..K, shape [K] (the last is unused).
      pi_t: target policy probabilities at steps 1..K, shape [K, A].
      stop_target_gradients: stop gradients flowing into the returns.

    Returns:
      returns for states 0..K-1, shape [K].
    """
    fn = "general_off_policy_returns_from_action_values"
    base.check_inputs(
        fn, q_t=(q_t, FLOAT, "[K, A]"), a_t=(a_t, INT, "[K]"), r_t=(r_t, FLOAT, "[K]"),
        discount_t=(discount_t, FLOAT, "[K]"), c_t=(c_t, FLOAT, "[K]"), pi_t=(pi_t, FLOAT, "[K, A]"))
    base.check_equal_shapes(fn, q_t=q_t, pi_t=pi_t)
    base.check_leading_dims(fn, q_t=q_t, a_t=a_t, r_t=r_t, discount_t=discount_t, c_t=c_t)
    exp_q_t = jnp.sum(pi_t * q_t, axis=-1)  # [K]
    q_a_t = base.batched_index(q_t, a_t)[:-1]  # [K - 1]
    return general_off_policy_returns_from_q_and_v(
        q_a_t, exp_q_t, r_t, discount_t, c_t[:-1], stop_target_gradients)


def general_off_policy_returns_from_q_and_v(
    q_t: Array,
    v_t: Array,
    r_t: Array,
    discount_t: Array,
    c_t: Array,
    stop_target_gradients: bool = False,
) -> Array:
    """Off-policy returns `G_t = r_t+1 + γ_t+1 (v_t+1 - c_t+1 q_t+1 + c_t+1 G_t+1)`.

    `G_{K-1} = r_K + γ_K v_K`. See `general_off_policy_returns_from_action_values`
    for the choices of `c_t`.

    Args:
      q_t: Q-values under π of the actions μ took at steps 1..K-1, shape [K - 1].
      v_t: state values under π at steps 1..K, shape [K].
      r_t: rewards at steps 1..K, shape [K].
      discount_t: discounts at steps 1..K, shape [K].
      c_t: trace coefficients at steps 1..K-1, shape [K - 1].
      stop_target_gradients: stop gradients flowing into the returns.

    Returns:
      returns for states 0..K-1, shape [K].
    """
    fn = "general_off_policy_returns_from_q_and_v"
    base.check_inputs(
        fn, q_t=(q_t, FLOAT, "[K - 1]"), v_t=(v_t, FLOAT, "[K]"), r_t=(r_t, FLOAT, "[K]"),
        discount_t=(discount_t, FLOAT, "[K]"), c_t=(c_t, FLOAT, "[K - 1]"))
    base.check_equal_shapes(fn, v_t=v_t, r_t=r_t, discount_t=discount_t)
    base.check_equal_shapes(fn, q_t=q_t, c_t=c_t)
    _check_one_longer(fn, "v_t", v_t, "q_t", q_t)
    g_last = r_t[-1] + discount_t[-1] * v_t[-1]  # G_{K-1}
    x = r_t[:-1] + discount_t[:-1] * (v_t[:-1] - c_t * q_t)
    returns = base.backward_recursion(x, discount_t[:-1] * c_t, g_last)
    returns = jnp.concatenate([returns, g_last[None]])
    return base.maybe_stop_gradient(returns, stop_target_gradients)


def _check_one_longer(fn: str, long_name: str, long: Array, short_name: str, short: Array) -> None:
    """`long` must have one more step than `short` (it includes the bootstrap step)."""
    want = jnp.shape(short)[0] + 1
    if jnp.shape(long)[0] != want:
        raise ValueError(
            f"{fn}: {long_name} must have one more step than {short_name} (it includes the "
            f"bootstrap step), expected shape ({want},) for {short_name} shape "
            f"{tuple(jnp.shape(short))}, got {tuple(jnp.shape(long))}")
