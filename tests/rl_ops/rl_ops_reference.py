"""Plain-Python references for rl_ops tests, and a jit/vmap checking helper.

The references are written from the papers' sum-of-terms definitions with
explicit Python loops over time, in float64 NumPy, independently of the
`lax.scan` recursions they check. (Not a test module: no `test_` prefix.)
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

RTOL = 1e-5
ATOL = 1e-5


def random_trajectory(seed: int, unroll_length: int, *, episode_end_at=(), num_actions: int = 3):
    """Random float32 inputs for one trajectory with `discount_t = 0` at given steps."""
    rng = np.random.default_rng(seed)
    discount_t = rng.uniform(0.5, 1.0, unroll_length)
    discount_t[list(episode_end_at)] = 0.0
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    return dict(
        v_tm1=f32(rng.normal(size=unroll_length)),
        v_t=f32(rng.normal(size=unroll_length)),
        r_t=f32(rng.normal(size=unroll_length)),
        discount_t=f32(discount_t),
        rho_tm1=f32(np.exp(rng.normal(scale=0.7, size=unroll_length))),
        lambda_t=f32(rng.uniform(0.0, 1.0, unroll_length)),
        q_tm1=f32(rng.normal(size=(unroll_length, num_actions))),
        q_t=f32(rng.normal(size=(unroll_length, num_actions))),
        a_tm1=jnp.asarray(rng.integers(0, num_actions, unroll_length), jnp.int32),
        a_t=jnp.asarray(rng.integers(0, num_actions, unroll_length), jnp.int32),
        pi_t=f32(rng.dirichlet(np.ones(num_actions), unroll_length)),
        mu_t=f32(rng.uniform(0.1, 1.0, unroll_length)),
        values=f32(rng.normal(size=unroll_length + 1)),
    )


def _np(*arrays):
    return [np.asarray(a, np.float64) for a in arrays]


def _per_step(x, length):
    return np.broadcast_to(np.asarray(x, np.float64), (length,))


def vtrace(v_tm1, v_t, r_t, discount_t, rho_tm1, lambda_=1.0, clip_rho=1.0, clip_pg_rho=1.0):
    """(errors, pg_advantage, q_estimate) from the IMPALA paper's sum definition (Eq. 1)."""
    v_tm1, v_t, r_t, discount_t, rho_tm1 = _np(v_tm1, v_t, r_t, discount_t, rho_tm1)
    steps = len(r_t)
    lambda_ = _per_step(lambda_, steps)
    rho_bar = np.minimum(clip_rho, rho_tm1)
    c = lambda_ * np.minimum(1.0, rho_tm1)
    delta = rho_bar * (r_t + discount_t * v_t - v_tm1)
    vs = np.zeros(steps)
    for s in range(steps):
        total, coefficient = v_tm1[s], 1.0
        for t in range(s, steps):
            total += coefficient * delta[t]
            coefficient *= discount_t[t] * c[t]
        vs[s] = total
    q_estimate = np.zeros(steps)
    for t in range(steps):
        bootstrap = v_t[t] if t == steps - 1 else lambda_[t] * vs[t + 1] + (1 - lambda_[t]) * v_tm1[t + 1]
        q_estimate[t] = r_t[t] + discount_t[t] * bootstrap
    pg_advantage = np.minimum(clip_pg_rho, rho_tm1) * (q_estimate - v_tm1)
    return vs - v_tm1, pg_advantage, q_estimate


def lambda_returns(r_t, discount_t, v_t, lambda_=1.0):
    """λ-return as the (1-λ)-weighted mixture of n-step returns, truncated at T."""
    r_t, discount_t, v_t = _np(r_t, discount_t, v_t)
    steps = len(r_t)
    lambda_ = _per_step(lambda_, steps)
    returns = np.zeros(steps)
    for s in range(steps):
        # G_s = Σ_k (Π_{i<k} γ_i λ_i) [r_k + γ_k (1 - λ_k) v_k], with λ = 0 at the last step.
        total, coefficient = 0.0, 1.0
        for t in range(s, steps):
            lam = lambda_[t] if t < steps - 1 else 0.0
            total += coefficient * (r_t[t] + discount_t[t] * (1 - lam) * v_t[t])
            coefficient *= discount_t[t] * lam
        returns[s] = total
    return returns


def n_step_returns(r_t, discount_t, v_t, n, lambda_=1.0):
    """n-step returns by explicit expansion, horizon shrinking at the end."""
    r_t, discount_t, v_t = _np(r_t, discount_t, v_t)
    steps = len(r_t)
    lambda_ = _per_step(lambda_, steps)
    returns = np.zeros(steps)
    for s in range(steps):
        end = min(s + n, steps) - 1  # last step included
        g = v_t[end]
        for t in range(end, s - 1, -1):
            lam = lambda_[t] if t < end else 1.0
            g = r_t[t] + discount_t[t] * ((1 - lam) * v_t[t] + lam * g)
        returns[s] = g
    return returns


def gae(r_t, discount_t, lambda_, values):
    """Σ_k (Π γλ) δ_k with δ_t = r_t+1 + γ v_t+1 - v_t."""
    r_t, discount_t, values = _np(r_t, discount_t, values)
    steps = len(r_t)
    lambda_ = _per_step(lambda_, steps)
    delta = r_t + discount_t * values[1:] - values[:-1]
    advantages = np.zeros(steps)
    for s in range(steps):
        total, coefficient = 0.0, 1.0
        for t in range(s, steps):
            total += coefficient * delta[t]
            coefficient *= discount_t[t] * lambda_[t]
        advantages[s] = total
    return advantages


def importance_corrected_td_errors(r_t, discount_t, rho_tm1, lambda_, values):
    """ρ_s Σ_k (Π_{s<i<=k} γ_i-1 ρ_i λ_i) δ_k."""
    r_t, discount_t, rho_tm1, values = _np(r_t, discount_t, rho_tm1, values)
    steps = len(r_t)
    lambda_ = _per_step(lambda_, steps)
    delta = r_t + discount_t * values[1:] - values[:-1]
    errors = np.zeros(steps)
    for s in range(steps):
        total, coefficient = 0.0, 1.0
        for t in range(s, steps):
            total += coefficient * delta[t]
            if t + 1 < steps:
                coefficient *= discount_t[t] * rho_tm1[t + 1] * lambda_[t]
        errors[s] = rho_tm1[s] * total
    return errors


def off_policy_returns_from_q_and_v(q_t, v_t, r_t, discount_t, c_t):
    """G_t = r + γ (v - c q + c G_t+1) with G_K-1 = r_K + γ_K v_K, by a plain loop."""
    q_t, v_t, r_t, discount_t, c_t = _np(q_t, v_t, r_t, discount_t, c_t)
    steps = len(r_t)
    returns = np.zeros(steps)
    returns[-1] = r_t[-1] + discount_t[-1] * v_t[-1]
    for t in range(steps - 2, -1, -1):
        returns[t] = r_t[t] + discount_t[t] * (v_t[t] - c_t[t] * q_t[t] + c_t[t] * returns[t + 1])
    return returns


def retrace_targets(q_t, a_t, r_t, discount_t, pi_t, mu_t, lambda_, eps=1e-8):
    """Retrace targets from action values, traces c = λ min(1, π(a)/μ(a))."""
    q_t, pi_t, mu_t = _np(q_t, pi_t, mu_t)
    a_t = np.asarray(a_t)
    idx = np.arange(len(a_t))
    c_t = lambda_ * np.minimum(1.0, pi_t[idx, a_t] / (mu_t + eps))
    exp_q_t = (pi_t * q_t).sum(-1)
    return off_policy_returns_from_q_and_v(q_t[idx, a_t][:-1], exp_q_t, r_t, discount_t, c_t[:-1])


def assert_all_modes(fn, args, expected, rtol=RTOL, atol=ATOL):
    """`fn(*args)` equals `expected` under `jit`, and per row under `vmap`.

    Both run in one jitted program (one compile): the plain call, and the
    vmapped call on a batch of two copies of `args`. Un-jitted (eager) calls
    are exercised by the other tests of each module, which call the ops
    directly; repeating every hand-computed case eagerly would add a third
    of the suite's run time, because eager dispatch compiles each primitive.
    """
    def check(actual):
        jax.tree_util.tree_map(
            lambda a, e: np.testing.assert_allclose(np.asarray(a), np.asarray(e), rtol=rtol, atol=atol),
            actual, expected)

    stacked = [np.stack([np.asarray(a), np.asarray(a)]) for a in args]
    jitted, batched = jax.jit(lambda plain, batch: (fn(*plain), jax.vmap(fn)(*batch)))(args, stacked)
    check(jitted)
    for row in range(2):
        check(jax.tree_util.tree_map(lambda x: x[row], batched))


def jit_grad(fn, argnums=0):
    """`jax.jit(jax.grad(fn))`: one compile instead of slow op-by-op eager differentiation."""
    return jax.jit(jax.grad(fn, argnums=argnums))


@functools.lru_cache(maxsize=None)
def _jitted(fn, static_items):
    return jax.jit(functools.partial(fn, **dict(static_items)))


def jit(fn, **static_kwargs):
    """`jax.jit(partial(fn, **static_kwargs))`, cached so that repeated calls compile once.

    Tests call ops through this rather than eagerly: op-by-op eager dispatch
    compiles every primitive separately and dominates the suite's run time.
    """
    return _jitted(fn, tuple(sorted(static_kwargs.items())))
