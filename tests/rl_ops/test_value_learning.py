"""Value learning TD errors: hand-computed values, references, gradient stops."""

import functools

import jax.numpy as jnp
import numpy as np
import pytest

from vtrax import rl_ops
import rl_ops_reference as ref

Q_TM1 = jnp.array([1.0, 2.0, 3.0])
Q_T = jnp.array([4.0, 6.0, 5.0])
A_TM1 = jnp.asarray(1)
R_T = jnp.asarray(1.0)
DISCOUNT_T = jnp.asarray(0.5)

# (function, extra trailing args, expected). Base args: q_tm1, a_tm1, r_t, discount_t.
SINGLE_STEP_CASES = {
    "q_learning": (rl_ops.q_learning, (Q_T,), 1 + 0.5 * 6 - 2),
    "sarsa": (rl_ops.sarsa, (Q_T, jnp.asarray(2)), 1 + 0.5 * 5 - 2),
    "expected_sarsa": (rl_ops.expected_sarsa, (Q_T, jnp.array([0.5, 0.25, 0.25])), 1 + 0.5 * 4.75 - 2),
    "double_q_learning": (rl_ops.double_q_learning, (Q_T, jnp.array([0.0, 0.0, 1.0])), 1 + 0.5 * 5 - 2),
    # (1 - .5) max q_t + .5 q_t[a_tm1] = 3 + 3 = 6.
    "persistent_q_learning": (rl_ops.persistent_q_learning, (Q_T, jnp.asarray(0.5)), 1 + 0.5 * 6 - 2),
    "qv_learning": (rl_ops.qv_learning, (jnp.asarray(4.0),), 1 + 0.5 * 4 - 2),
}


@pytest.mark.parametrize("name", sorted(SINGLE_STEP_CASES))
def test_single_step_hand_computed_all_modes(name):
    fn, extra, expected = SINGLE_STEP_CASES[name]
    ref.assert_all_modes(fn, (Q_TM1, A_TM1, R_T, DISCOUNT_T) + extra, expected)


def test_persistent_q_learning_keeps_the_action_gap():
    # a_tm1 = 0: bootstrap (1 - .5) * 6 + .5 * q_t[0] = 5, so 1 + 2.5 - q_tm1[0] = 2.5.
    got = ref.jit(rl_ops.persistent_q_learning)(Q_TM1, jnp.asarray(0), R_T, DISCOUNT_T, Q_T, 0.5)
    np.testing.assert_allclose(got, 2.5)


def test_td_learning_and_qv_max_hand_computed_all_modes():
    ref.assert_all_modes(rl_ops.td_learning, (jnp.asarray(2.0), R_T, DISCOUNT_T, jnp.asarray(4.0)), 1.0)
    ref.assert_all_modes(rl_ops.qv_max, (jnp.asarray(2.0), R_T, DISCOUNT_T, Q_T), 2.0)


def test_episode_end_drops_the_bootstrap():
    np.testing.assert_allclose(ref.jit(rl_ops.q_learning)(Q_TM1, A_TM1, R_T, jnp.asarray(0.0), Q_T), 1 - 2)


@pytest.mark.parametrize("name", sorted(SINGLE_STEP_CASES))
def test_single_step_gradient_reaches_only_the_prediction(name):
    fn, extra, _ = SINGLE_STEP_CASES[name]
    g_tm1, g_t = ref.jit_grad(lambda q_tm1, x: fn(q_tm1, A_TM1, R_T, DISCOUNT_T, x, *extra[1:]),
                          argnums=(0, 1))(Q_TM1, extra[0])
    np.testing.assert_allclose(g_tm1, [0.0, -1.0, 0.0])
    np.testing.assert_allclose(g_t, np.zeros_like(g_t))
    g_t = ref.jit_grad(lambda x: fn(Q_TM1, A_TM1, R_T, DISCOUNT_T, x, *extra[1:],
                                stop_target_gradients=False))(extra[0])
    assert np.abs(np.asarray(g_t)).sum() > 0


def test_td_lambda_hand_computed_all_modes():
    # λ-returns [6.375, 11.5, 18] (see test_multistep) minus v_tm1 [5, 6, 7].
    fn = functools.partial(rl_ops.td_lambda, lambda_=0.5)
    ref.assert_all_modes(
        lambda v_tm1, r, d, v_t: fn(v_tm1, r, d, v_t),
        (jnp.array([5.0, 6.0, 7.0]), jnp.array([1.0, 2.0, 3.0]), jnp.full(3, 0.5),
         jnp.array([10.0, 20.0, 30.0])),
        [1.375, 5.5, 11.0])
    eager = rl_ops.td_lambda(jnp.array([5.0, 6.0, 7.0]), jnp.array([1.0, 2.0, 3.0]), jnp.full(3, 0.5),
                             jnp.array([10.0, 20.0, 30.0]), 0.5)
    np.testing.assert_allclose(eager, [1.375, 5.5, 11.0], rtol=1e-6)


def test_sarsa_lambda_and_q_lambda_match_lambda_return_reference():
    d = ref.random_trajectory(3, 10, episode_end_at=(4,))
    qa_tm1 = np.asarray(ref.jit(rl_ops.batched_index)(d["q_tm1"], d["a_tm1"]))
    qa_t = np.asarray(ref.jit(rl_ops.batched_index)(d["q_t"], d["a_t"]))
    got = ref.jit(rl_ops.sarsa_lambda)(d["q_tm1"], d["a_tm1"], d["r_t"], d["discount_t"], d["q_t"], d["a_t"], 0.7)
    np.testing.assert_allclose(got, ref.lambda_returns(d["r_t"], d["discount_t"], qa_t, 0.7) - qa_tm1,
                               rtol=1e-4, atol=1e-5)
    got = ref.jit(rl_ops.q_lambda)(d["q_tm1"], d["a_tm1"], d["r_t"], d["discount_t"], d["q_t"], d["lambda_t"])
    v_t = np.asarray(d["q_t"]).max(-1)
    expected = ref.lambda_returns(d["r_t"], d["discount_t"], v_t, np.asarray(d["lambda_t"])) - qa_tm1
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_q_lambda_hand_computed_all_modes():
    q_tm1 = jnp.array([[1.0, 2.0], [3.0, 4.0]])
    q_t = jnp.array([[2.0, 0.0], [0.0, 10.0]])
    # v_t = [2, 10]; λ = .5: G1 = 1 + .5*10 = 6; G0 = 1 + .5(.5*2 + .5*6) = 3. Minus q_tm1[a]: [2, 3].
    fn = functools.partial(rl_ops.q_lambda, lambda_=0.5)
    ref.assert_all_modes(fn, (q_tm1, jnp.array([1, 0]), jnp.ones(2), jnp.full(2, 0.5), q_t), [1.0, 3.0])


def test_retrace_matches_loop_reference_with_episode_ends():
    for seed in range(2):
        d = ref.random_trajectory(seed, 10, episode_end_at=(3, 7))
        got = ref.jit(rl_ops.retrace)(d["q_tm1"], d["q_t"], d["a_tm1"], d["a_t"], d["r_t"], d["discount_t"],
                             d["pi_t"], d["mu_t"], 0.9)
        targets = ref.retrace_targets(d["q_t"], d["a_t"], d["r_t"], d["discount_t"], d["pi_t"], d["mu_t"], 0.9)
        qa_tm1 = np.asarray(ref.jit(rl_ops.batched_index)(d["q_tm1"], d["a_tm1"]))
        np.testing.assert_allclose(got, targets - qa_tm1, rtol=1e-4, atol=1e-5)


def test_retrace_hand_computed_all_modes():
    # K = 2, A = 2. c_1 unused. G1 = r2 + γ2 E_π q_2 = 1 + .5 * (.5*2 + .5*4) = 2.5.
    # c_0 = λ min(1, π(a_0=0)/μ) = 1 * min(1, .5/.25) = 1; E_π q_1 = .5*1 + .5*3 = 2, q_1(a=0) = 1.
    # G0 = 1 + .5 (2 - 1 + 2.5) = 2.75. Errors: [2.75 - q_tm1[0, 1], 2.5 - q_tm1[1, 0]] = [0.75, 0.5].
    args = (jnp.array([[0.0, 2.0], [2.0, 0.0]]), jnp.array([[1.0, 3.0], [2.0, 4.0]]), jnp.array([1, 0]),
            jnp.array([0, 1]), jnp.ones(2), jnp.full(2, 0.5), jnp.full((2, 2), 0.5), jnp.array([0.25, 0.5]))
    ref.assert_all_modes(functools.partial(rl_ops.retrace, lambda_=1.0), args, [0.75, 0.5])


def test_retrace_continuous_hand_computed_all_modes():
    # c = min(1, exp(log_rhos)) * λ = [min(1, e^0) * .5] = [.5]; reuse the q-and-v hand case:
    # G = [3.1875 - ..]: q_t [1], v_t [3, 4], r [1, 1], γ [.5, .5]; G1 = 1 + 2 = 3; G0 = 1 + .5(3 - .5 + 1.5) = 3.
    args = (jnp.array([1.0, 2.0]), jnp.array([1.0]), jnp.array([3.0, 4.0]), jnp.ones(2), jnp.full(2, 0.5),
            jnp.array([0.0]))
    fn = functools.partial(rl_ops.retrace_continuous, lambda_=0.5)
    ref.assert_all_modes(fn, args, [3.0 - 1.0, 3.0 - 2.0])


def test_trajectory_ops_stop_target_gradients():
    d = ref.random_trajectory(6, 10, episode_end_at=(2,))
    ops = {
        "td_lambda": lambda q_tm1, q_t, stop: ref.jit(rl_ops.td_lambda)(
            q_tm1[:, 0], d["r_t"], d["discount_t"], q_t[:, 0], 0.8, stop_target_gradients=stop),
        "sarsa_lambda": lambda q_tm1, q_t, stop: ref.jit(rl_ops.sarsa_lambda)(
            q_tm1, d["a_tm1"], d["r_t"], d["discount_t"], q_t, d["a_t"], 0.8, stop_target_gradients=stop),
        "q_lambda": lambda q_tm1, q_t, stop: ref.jit(rl_ops.q_lambda)(
            q_tm1, d["a_tm1"], d["r_t"], d["discount_t"], q_t, 0.8, stop_target_gradients=stop),
        "retrace": lambda q_tm1, q_t, stop: ref.jit(rl_ops.retrace)(
            q_tm1, q_t, d["a_tm1"], d["a_t"], d["r_t"], d["discount_t"], d["pi_t"], d["mu_t"], 0.8,
            stop_target_gradients=stop),
    }
    for name, op in ops.items():
        g_tm1, g_t = ref.jit_grad(lambda a, b: jnp.sum(op(a, b, True)), argnums=(0, 1))(d["q_tm1"], d["q_t"])
        np.testing.assert_allclose(g_t, np.zeros_like(g_t), err_msg=name)
        assert np.isclose(np.asarray(g_tm1).sum(), -10.0), name  # -1 per step at the taken action.
        g_t = ref.jit_grad(lambda b: jnp.sum(op(d["q_tm1"], b, False)))(d["q_t"])
        assert np.abs(np.asarray(g_t)).sum() > 0, name


def test_rejects_bad_inputs():
    with pytest.raises(ValueError, match=r"q_learning: q_tm1 must have rank 1 \[A\], got shape \(2, 3\); "
                                         r".*jax.vmap"):
        rl_ops.q_learning(jnp.ones((2, 3)), A_TM1, R_T, DISCOUNT_T, Q_T)
    with pytest.raises(ValueError, match=r"sarsa: a_t must have an integer dtype \(action indices\), got "
                                         r"float32; cast it with a_t.astype\(jnp.int32\)"):
        rl_ops.sarsa(Q_TM1, A_TM1, R_T, DISCOUNT_T, Q_T, jnp.asarray(1.0))
    with pytest.raises(ValueError, match=r"td_learning: r_t must have rank 0 \[\], got shape \(3,\)"):
        rl_ops.td_learning(jnp.asarray(1.0), jnp.ones(3), DISCOUNT_T, jnp.asarray(1.0))
    with pytest.raises(ValueError, match=r"q_lambda: q_tm1, a_tm1, r_t, discount_t, q_t must share the time "
                                         r"dimension T"):
        rl_ops.q_lambda(jnp.ones((3, 2)), jnp.zeros(2, jnp.int32), jnp.ones(3), jnp.ones(3), jnp.ones((3, 2)), 0.5)
