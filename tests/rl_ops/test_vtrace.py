"""V-trace: hand-computed values, scan vs loop reference, properties, gradients."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vtrax import rl_ops
import rl_ops_reference as ref

# T = 3, with an episode end after step 1 (discount 0) and ratios above and below 1.
HAND = dict(
    v_tm1=jnp.array([0.5, 1.0, 2.0]),
    v_t=jnp.array([1.0, 2.0, 3.0]),
    r_t=jnp.array([1.0, 0.0, 1.0]),
    discount_t=jnp.array([0.9, 0.0, 0.5]),
    rho_tm1=jnp.array([2.0, 0.5, 1.0]),
)
# ρ̄ = c = [1, 0.5, 1]; ρ̄δ = [1.4, -0.5, 0.5]; errors backwards: 0.5, -0.5 + 0, 1.4 + 0.9 * -0.5.
HAND_ERRORS = [0.95, -0.5, 0.5]
# v_s = [1.45, 0.5, 2.5]; q = r + γ v_s+1 (last: v_t[-1]) = [1.45, 0.0, 2.5].
HAND_Q = [1.45, 0.0, 2.5]
HAND_PG = [0.95, -0.5, 0.5]  # min(1, ρ) (q - v_tm1)


def _args(d):
    return d["v_tm1"], d["v_t"], d["r_t"], d["discount_t"], d["rho_tm1"]


def test_vtrace_hand_computed_all_modes():
    ref.assert_all_modes(rl_ops.vtrace, _args(HAND), HAND_ERRORS)


def test_vtrace_td_error_and_advantage_hand_computed_all_modes():
    expected = rl_ops.VTraceOutput(
        errors=jnp.array(HAND_ERRORS), pg_advantage=jnp.array(HAND_PG), q_estimate=jnp.array(HAND_Q))
    ref.assert_all_modes(rl_ops.vtrace_td_error_and_advantage, _args(HAND), expected)


def test_vtrace_output_is_a_named_tuple_and_eager_call_matches_hand_values():
    out = rl_ops.vtrace_td_error_and_advantage(*_args(HAND))  # eager, no jit
    np.testing.assert_allclose(out.errors, HAND_ERRORS, rtol=1e-6)
    np.testing.assert_allclose(out.pg_advantage, HAND_PG, rtol=1e-6)
    np.testing.assert_allclose(out.q_estimate, HAND_Q, rtol=1e-6)
    assert isinstance(out, rl_ops.VTraceOutput)
    assert out._fields == ("errors", "pg_advantage", "q_estimate")


def test_leaky_vtrace_alpha_zero_is_importance_sampling_hand_computed():
    # alpha = 0: unclipped ratios everywhere. ρδ = [2*1.4, 0.5*-1, 0.5]; c = ρ = [2, 0.5, 1].
    # errors: 0.5; -0.5 + 0 * ...; 2.8 + 0.9 * 2 * -0.5 = 1.9.
    fn = functools.partial(rl_ops.leaky_vtrace, alpha_=0.0)
    ref.assert_all_modes(fn, _args(HAND), [1.9, -0.5, 0.5])


@pytest.mark.parametrize("lambda_,clip_rho,clip_pg_rho", [(1.0, 1.0, 1.0), (0.9, 2.0, 1.5)])
def test_vtrace_scan_matches_loop_reference_with_episode_ends(lambda_, clip_rho, clip_pg_rho):
    for seed in range(3):
        d = ref.random_trajectory(seed, 10, episode_end_at=(4, 5, 9))
        out = ref.jit(rl_ops.vtrace_td_error_and_advantage)(
            *_args(d), lambda_=lambda_, clip_rho_threshold=clip_rho,
            clip_pg_rho_threshold=clip_pg_rho)
        errors, pg, q = ref.vtrace(*_args(d), lambda_, clip_rho, clip_pg_rho)
        np.testing.assert_allclose(out.errors, errors, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(out.pg_advantage, pg, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(out.q_estimate, q, rtol=1e-4, atol=1e-5)


def test_vtrace_per_step_lambda_matches_reference():
    d = ref.random_trajectory(7, 10, episode_end_at=(3,))
    out = ref.jit(rl_ops.vtrace_td_error_and_advantage)(*_args(d), lambda_=d["lambda_t"])
    errors, pg, q = ref.vtrace(*_args(d), np.asarray(d["lambda_t"]))
    np.testing.assert_allclose(out.errors, errors, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out.q_estimate, q, rtol=1e-4, atol=1e-5)


def test_leaky_vtrace_interpolates_between_is_and_vtrace():
    d = ref.random_trajectory(3, 10, episode_end_at=(5,))
    alpha = 0.3
    out = ref.jit(rl_ops.leaky_vtrace_td_error_and_advantage)(*_args(d), alpha=alpha, clip_rho_threshold=1.2)
    rho = np.asarray(d["rho_tm1"], np.float64)
    # Leaky V-trace is V-trace on mixed ratios: value weights and traces mixed separately.
    rho_bar = (1 - alpha) * rho + alpha * np.minimum(1.2, rho)
    c = (1 - alpha) * rho + alpha * np.minimum(1.0, rho)
    v_tm1, v_t, r_t, discount_t = (np.asarray(d[k], np.float64) for k in ("v_tm1", "v_t", "r_t", "discount_t"))
    delta = rho_bar * (r_t + discount_t * v_t - v_tm1)
    expected = np.zeros(10)
    for s in range(10):
        coefficient = 1.0
        for t in range(s, 10):
            expected[s] += coefficient * delta[t]
            coefficient *= discount_t[t] * c[t]
    np.testing.assert_allclose(out.errors, expected, rtol=1e-4, atol=1e-5)
    pg_rho = (1 - alpha) * rho + alpha * np.minimum(1.0, rho)
    np.testing.assert_allclose(out.pg_advantage, pg_rho * (np.asarray(out.q_estimate) - v_tm1),
                               rtol=1e-5, atol=1e-5)


def test_leaky_vtrace_alpha_one_equals_vtrace():
    d = ref.random_trajectory(4, 10, episode_end_at=(2,))
    np.testing.assert_allclose(ref.jit(rl_ops.leaky_vtrace)(*_args(d), alpha_=1.0, lambda_=0.8),
                               ref.jit(rl_ops.vtrace)(*_args(d), lambda_=0.8), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("lambda_", [1.0, 0.7])
def test_vtrace_on_policy_without_clipping_equals_lambda_returns(lambda_):
    d = ref.random_trajectory(11, 10, episode_end_at=(6,))
    ones = jnp.ones_like(d["rho_tm1"])
    # With v_tm1[t+1] == v_t[t] (a consistent value function) V-trace is TD(λ).
    v_t = jnp.concatenate([d["v_tm1"][1:], d["v_t"][-1:]])
    out = ref.jit(rl_ops.vtrace_td_error_and_advantage)(
        d["v_tm1"], v_t, d["r_t"], d["discount_t"], ones, lambda_=lambda_,
        clip_rho_threshold=1e9, clip_pg_rho_threshold=1e9)
    returns = ref.jit(rl_ops.lambda_returns)(d["r_t"], d["discount_t"], v_t, lambda_)
    np.testing.assert_allclose(out.errors + d["v_tm1"], returns, rtol=1e-5, atol=1e-5)
    td_errors = ref.jit(rl_ops.td_lambda)(d["v_tm1"], d["r_t"], d["discount_t"], v_t, lambda_)
    np.testing.assert_allclose(out.errors, td_errors, rtol=1e-5, atol=1e-5)


def test_two_episodes_joined_by_zero_discount_equal_separate_computation():
    first = ref.random_trajectory(21, 4, episode_end_at=(3,))
    second = ref.random_trajectory(22, 6)
    joined = {k: jnp.concatenate([first[k], second[k]]) for k in ("v_tm1", "v_t", "r_t", "discount_t", "rho_tm1")}
    whole = ref.jit(rl_ops.vtrace_td_error_and_advantage)(*_args(joined), lambda_=0.9)
    parts = [ref.jit(rl_ops.vtrace_td_error_and_advantage)(*_args(p), lambda_=0.9) for p in (first, second)]
    for field in ("errors", "pg_advantage", "q_estimate"):
        expected = jnp.concatenate([getattr(p, field) for p in parts])
        np.testing.assert_allclose(getattr(whole, field), expected, rtol=1e-5, atol=1e-6)


def test_no_gradient_reaches_targets_when_stopped():
    d = ref.random_trajectory(5, 10, episode_end_at=(2,))

    def loss(v_tm1, v_t, field, stop):
        out = ref.jit(rl_ops.vtrace_td_error_and_advantage)(
            v_tm1, v_t, d["r_t"], d["discount_t"], d["rho_tm1"], stop_target_gradients=stop)
        return jnp.sum(getattr(out, field))

    def grads(field, stop):
        return ref.jit_grad(lambda a, b: loss(a, b, field, stop), argnums=(0, 1))(d["v_tm1"], d["v_t"])

    g_tm1, g_t = grads("errors", True)
    np.testing.assert_allclose(g_t, np.zeros(10))
    np.testing.assert_allclose(g_tm1, -np.ones(10))  # errors = stop(target) - v_tm1
    g_tm1, g_t = grads("q_estimate", True)
    np.testing.assert_allclose(g_tm1, np.zeros(10))
    # As RLax: only the final bootstrap value v_t[-1] reaches q_estimate (through discount_t[-1]).
    expected_g_t = np.zeros(10)
    expected_g_t[-1] = d["discount_t"][-1]
    np.testing.assert_allclose(g_t, expected_g_t, rtol=1e-6)
    # Without the stop, the bootstrap values do receive gradient.
    _, g_t = grads("errors", False)
    assert np.abs(np.asarray(g_t)).sum() > 0


def test_vmap_over_batch_axis_one_matches_per_column_reference():
    trajectories = [ref.random_trajectory(30 + b, 10, episode_end_at=(b + 1,)) for b in range(3)]
    batch = {k: jnp.stack([t[k] for t in trajectories], axis=1) for k in trajectories[0]}  # [T, B]
    fn = jax.jit(jax.vmap(rl_ops.vtrace_td_error_and_advantage, in_axes=1, out_axes=1))
    out = fn(*_args(batch))
    for b, t in enumerate(trajectories):
        errors, pg, q = ref.vtrace(*_args(t))
        np.testing.assert_allclose(out.errors[:, b], errors, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(out.pg_advantage[:, b], pg, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(out.q_estimate[:, b], q, rtol=1e-4, atol=1e-5)


def test_pmap_across_devices_matches_vmap():
    devices = jax.local_device_count()
    trajectories = [ref.random_trajectory(40 + b, 10) for b in range(devices)]
    batch = {k: jnp.stack([t[k] for t in trajectories]) for k in trajectories[0]}  # [devices, T]
    pmapped = jax.pmap(rl_ops.vtrace_td_error_and_advantage)(*_args(batch))
    vmapped = jax.vmap(rl_ops.vtrace_td_error_and_advantage)(*_args(batch))
    np.testing.assert_allclose(pmapped.errors, vmapped.errors, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(pmapped.pg_advantage, vmapped.pg_advantage, rtol=1e-6, atol=1e-6)


def test_vtrace_is_a_scan_not_an_unrolled_loop():
    def size(unroll_length):
        x = jnp.ones(unroll_length)
        jaxpr = jax.make_jaxpr(rl_ops.vtrace_td_error_and_advantage)(x, x, x, x, x)
        return len(jaxpr.jaxpr.eqns), str(jaxpr)

    (small, text), (large, _) = size(4), size(400)
    assert "scan" in text
    assert small == large  # Program size does not grow with T.


def test_rejects_bad_inputs_with_actionable_message():
    with pytest.raises(ValueError, match=r"vtrace_td_error_and_advantage: v_tm1 must have rank 1 \[T\], "
                                         r"got shape \(3, 2\); .*jax.vmap"):
        rl_ops.vtrace_td_error_and_advantage(jnp.ones((3, 2)), *_args(HAND)[1:])
    with pytest.raises(ValueError, match=r"vtrace: rho_tm1 must have a floating dtype, got int32"):
        rl_ops.vtrace(*_args(HAND)[:4], jnp.ones(3, jnp.int32))
    with pytest.raises(ValueError, match=r"leaky_vtrace: v_tm1, v_t, r_t, discount_t, rho_tm1 must all "
                                         r"have the same shape, got v_tm1 \(2,\)"):
        rl_ops.leaky_vtrace(jnp.ones(2), *_args(HAND)[1:])
    with pytest.raises(ValueError, match=r"lambda_ must have rank 0 \[\] or rank 1 \[T\], got shape \(3, 1\)"):
        jax.jit(rl_ops.vtrace)(*_args(HAND), lambda_=jnp.ones((3, 1)))
