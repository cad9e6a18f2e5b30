"""Multistep returns: hand-computed values, loop references, episode-split property."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vtrax import rl_ops
import rl_ops_reference as ref

R = jnp.array([1.0, 2.0, 3.0])
D = jnp.array([0.5, 0.5, 0.5])
V = jnp.array([10.0, 20.0, 30.0])


def test_lambda_returns_hand_computed_all_modes():
    # G2 = 3 + .5*30 = 18; G1 = 2 + .5(.5*20 + .5*18) = 11.5; G0 = 1 + .5(.5*10 + .5*11.5) = 6.375.
    fn = functools.partial(rl_ops.lambda_returns, lambda_=0.5)
    ref.assert_all_modes(fn, (R, D, V), [6.375, 11.5, 18.0])
    np.testing.assert_allclose(fn(R, D, V), [6.375, 11.5, 18.0], rtol=1e-6)  # eager


def test_lambda_returns_lambda_zero_is_one_step_and_one_is_monte_carlo():
    np.testing.assert_allclose(ref.jit(rl_ops.lambda_returns)(R, D, V, 0.0), R + D * V)
    # λ = 1: 1 + .5(2 + .5(3 + .5*30)) = 6.5
    np.testing.assert_allclose(ref.jit(rl_ops.lambda_returns)(R, D, V, 1.0), [6.5, 11.0, 18.0])


def test_discounted_returns_hand_computed_all_modes():
    # Scalar bootstrap 4: G2 = 3 + 2 = 5; G1 = 2 + 2.5 = 4.5; G0 = 1 + 2.25 = 3.25.
    ref.assert_all_modes(rl_ops.discounted_returns, (R, D, jnp.asarray(4.0)), [3.25, 4.5, 5.0])
    np.testing.assert_allclose(ref.jit(rl_ops.discounted_returns)(R, D, jnp.array([0.0, 0.0, 4.0])),
                               [3.25, 4.5, 5.0])


def test_n_step_bootstrapped_returns_hand_computed_all_modes():
    r = jnp.ones(4)
    d = jnp.full(4, 0.5)
    v = jnp.array([2.0, 4.0, 6.0, 8.0])
    # G_t = 1 + .5 + .25 v_t+2 near the start; the last step bootstraps on v[-1]: 1 + .5*8.
    fn = functools.partial(rl_ops.n_step_bootstrapped_returns, n=2)
    ref.assert_all_modes(fn, (r, d, v), [2.5, 3.0, 3.5, 5.0])


@pytest.mark.parametrize("n", [1, 3, 20])
def test_n_step_scan_matches_loop_reference(n):
    d = ref.random_trajectory(n, 10, episode_end_at=(3, 4))
    for lambda_t in (1.0, d["lambda_t"]):
        got = ref.jit(rl_ops.n_step_bootstrapped_returns, n=n)(d["r_t"], d["discount_t"], d["v_t"], lambda_t=lambda_t)
        expected = ref.n_step_returns(d["r_t"], d["discount_t"], d["v_t"], n, np.asarray(lambda_t))
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_n_step_with_full_horizon_equals_lambda_returns():
    d = ref.random_trajectory(2, 10, episode_end_at=(2,))
    args = (d["r_t"], d["discount_t"], d["v_t"])
    np.testing.assert_allclose(ref.jit(rl_ops.n_step_bootstrapped_returns, n=10)(*args, lambda_t=0.6),
                               ref.jit(rl_ops.lambda_returns)(*args, 0.6), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("lambda_", [0.0, 0.8, 1.0])
def test_lambda_returns_scan_matches_loop_reference(lambda_):
    for seed in range(3):
        d = ref.random_trajectory(seed, 10, episode_end_at=(5, 8))
        got = ref.jit(rl_ops.lambda_returns)(d["r_t"], d["discount_t"], d["v_t"], lambda_)
        np.testing.assert_allclose(got, ref.lambda_returns(d["r_t"], d["discount_t"], d["v_t"], lambda_),
                                   rtol=1e-4, atol=1e-5)
    got = ref.jit(rl_ops.lambda_returns)(d["r_t"], d["discount_t"], d["v_t"], d["lambda_t"])
    np.testing.assert_allclose(
        got, ref.lambda_returns(d["r_t"], d["discount_t"], d["v_t"], np.asarray(d["lambda_t"])),
        rtol=1e-4, atol=1e-5)


def test_gae_hand_computed_all_modes():
    # δ = [1 + 1.8 - 1, 1 + 2.7 - 2] = [1.8, 1.7]; A0 = 1.8 + .9*.5*1.7 = 2.565.
    fn = functools.partial(rl_ops.truncated_generalized_advantage_estimation, lambda_=0.5)
    ref.assert_all_modes(
        lambda r, d, values: fn(r, d, values=values),
        (jnp.ones(2), jnp.full(2, 0.9), jnp.array([1.0, 2.0, 3.0])), [2.565, 1.7])


def test_gae_scan_matches_loop_reference():
    d = ref.random_trajectory(8, 10, episode_end_at=(0, 6))
    for lambda_ in (0.95, d["lambda_t"]):
        got = ref.jit(rl_ops.truncated_generalized_advantage_estimation)(
            d["r_t"], d["discount_t"], lambda_, d["values"])
        expected = ref.gae(d["r_t"], d["discount_t"], np.asarray(lambda_), d["values"])
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_importance_corrected_td_errors_hand_computed_all_modes():
    # δ = [1.8, 1.7]; δ0(ρ,λ) = 1.8 + .9 * ρ1(=2) * 1.7 = 4.86; errors = ρ_tm1 * [4.86, 1.7].
    fn = functools.partial(rl_ops.importance_corrected_td_errors, lambda_=1.0)
    ref.assert_all_modes(
        lambda r, d, rho, values: fn(r, d, rho, values=values),
        (jnp.ones(2), jnp.full(2, 0.9), jnp.array([0.5, 2.0]), jnp.array([1.0, 2.0, 3.0])),
        [2.43, 3.4])


def test_importance_corrected_td_errors_match_loop_reference():
    d = ref.random_trajectory(9, 10, episode_end_at=(4,))
    got = ref.jit(rl_ops.importance_corrected_td_errors)(d["r_t"], d["discount_t"], d["rho_tm1"], 0.9, d["values"])
    expected = ref.importance_corrected_td_errors(d["r_t"], d["discount_t"], d["rho_tm1"], 0.9, d["values"])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_general_off_policy_returns_from_q_and_v_hand_computed_all_modes():
    # G2 = 1 + .5*5 = 3.5; G1 = 1 + .5(4 - 2 + 3.5) = 3.75; G0 = 1 + .5(3 - .5 + .5*3.75) = 3.1875.
    args = (jnp.array([1.0, 2.0]), jnp.array([3.0, 4.0, 5.0]), jnp.ones(3), jnp.full(3, 0.5),
            jnp.array([0.5, 1.0]))
    ref.assert_all_modes(rl_ops.general_off_policy_returns_from_q_and_v, args, [3.1875, 3.75, 3.5])


def test_general_off_policy_returns_from_action_values_match_loop_reference():
    d = ref.random_trajectory(12, 10, episode_end_at=(3,))
    c_t = d["lambda_t"]
    got = ref.jit(rl_ops.general_off_policy_returns_from_action_values)(
        d["q_t"], d["a_t"], d["r_t"], d["discount_t"], c_t, d["pi_t"])
    idx = np.arange(10)
    q_t, pi_t = np.asarray(d["q_t"], np.float64), np.asarray(d["pi_t"], np.float64)
    expected = ref.off_policy_returns_from_q_and_v(
        q_t[idx, np.asarray(d["a_t"])][:-1], (q_t * pi_t).sum(-1), d["r_t"], d["discount_t"],
        np.asarray(c_t)[:-1])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_off_policy_returns_with_full_traces_and_greedy_pi_equal_q_lambda_targets():
    # c = 1 and π = the behaviour action's one-hot: E_π q = q(a), so G is the Monte-Carlo return.
    d = ref.random_trajectory(13, 10)
    pi_t = jax.nn.one_hot(d["a_t"], 3)
    got = ref.jit(rl_ops.general_off_policy_returns_from_action_values)(
        d["q_t"], d["a_t"], d["r_t"], d["discount_t"], jnp.ones(10), pi_t)
    qa_t = ref.jit(rl_ops.batched_index)(d["q_t"], d["a_t"])
    np.testing.assert_allclose(got, ref.jit(rl_ops.lambda_returns)(d["r_t"], d["discount_t"], qa_t, 1.0),
                               rtol=1e-5, atol=1e-5)


def test_episode_split_property_for_all_trajectory_returns():
    first = ref.random_trajectory(51, 4, episode_end_at=(3,))
    second = ref.random_trajectory(52, 6)
    joined = {k: jnp.concatenate([first[k], second[k]]) for k in ("r_t", "discount_t", "v_t", "lambda_t")}
    ops = {
        "lambda": lambda x: ref.jit(rl_ops.lambda_returns)(x["r_t"], x["discount_t"], x["v_t"], x["lambda_t"]),
        "n_step": lambda x: ref.jit(rl_ops.n_step_bootstrapped_returns, n=3)(x["r_t"], x["discount_t"], x["v_t"]),
        "discounted": lambda x: ref.jit(rl_ops.discounted_returns)(x["r_t"], x["discount_t"], x["v_t"]),
    }
    for name, op in ops.items():
        whole = op(joined)
        parts = jnp.concatenate([op(first), op(second)])
        np.testing.assert_allclose(whole, parts, rtol=1e-5, atol=1e-6, err_msg=name)
    # GAE takes values [T + 1]; the first episode's bootstrap value is irrelevant (γ = 0).
    values = jnp.concatenate([first["values"][:-1], second["values"]])
    whole = ref.jit(rl_ops.truncated_generalized_advantage_estimation)(joined["r_t"], joined["discount_t"], 0.9, values)
    parts = jnp.concatenate([
        ref.jit(rl_ops.truncated_generalized_advantage_estimation)(
            first["r_t"], first["discount_t"], 0.9, values[:5]),
        ref.jit(rl_ops.truncated_generalized_advantage_estimation)(
            second["r_t"], second["discount_t"], 0.9, values[4:]),
    ])
    np.testing.assert_allclose(whole, parts, rtol=1e-5, atol=1e-6)


def test_stop_target_gradients_flag():
    def grad_wrt_values(fn, stop):
        return ref.jit_grad(lambda v: jnp.sum(fn(R, D, v, 0.5, stop_target_gradients=stop)))(V)

    np.testing.assert_allclose(grad_wrt_values(rl_ops.lambda_returns, True), np.zeros(3))
    assert np.abs(grad_wrt_values(rl_ops.lambda_returns, False)).sum() > 0
    values = jnp.array([1.0, 2.0, 3.0])
    g = ref.jit_grad(lambda v: jnp.sum(ref.jit(rl_ops.truncated_generalized_advantage_estimation)(
        R[:2], D[:2], 0.5, v, stop_target_gradients=True)))(values)
    np.testing.assert_allclose(g, np.zeros(3))
    g = ref.jit_grad(lambda v: jnp.sum(ref.jit(rl_ops.importance_corrected_td_errors)(
        R[:2], D[:2], jnp.ones(2), 0.5, v, stop_target_gradients=True)))(values)
    np.testing.assert_allclose(g, [-1.0, -1.0, 0.0])  # only the -v_tm1 term remains.


def test_rejects_bad_inputs():
    with pytest.raises(ValueError, match=r"lambda_returns: r_t must have rank 1 \[T\], got shape \(\)"):
        rl_ops.lambda_returns(jnp.asarray(1.0), D, V)
    with pytest.raises(ValueError, match=r"n_step_bootstrapped_returns: n must be a Python int >= 1, got 0"):
        rl_ops.n_step_bootstrapped_returns(R, D, V, 0)
    with pytest.raises(ValueError, match=r"values must have one more step than r_t .*expected shape \(3,\)"):
        rl_ops.truncated_generalized_advantage_estimation(R[:2], D[:2], 0.9, jnp.ones(2))
    with pytest.raises(ValueError, match=r"general_off_policy_returns_from_action_values: a_t must have an "
                                         r"integer dtype"):
        rl_ops.general_off_policy_returns_from_action_values(
            jnp.ones((3, 2)), jnp.ones(3), R, D, D, jnp.ones((3, 2)))


def test_per_step_lambda_of_the_wrong_length_is_named():
    with pytest.raises(ValueError, match=r"^td_lambda: lambda_ must be a scalar or have the shape of discount_t "
                                         r"\(3,\), got \(4,\)"):
        rl_ops.td_lambda(V, R, D, V, jnp.ones(4))
    with pytest.raises(ValueError, match=r"^truncated_generalized_advantage_estimation: lambda_ must be a scalar"):
        rl_ops.truncated_generalized_advantage_estimation(R, D, jnp.ones(2), jnp.ones(4))
