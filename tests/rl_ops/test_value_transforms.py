"""Value transforms, two-hot encoding, and transformed (non-linear Bellman) targets."""

import functools
import math

import jax.numpy as jnp
import numpy as np
import pytest

from vtrax import rl_ops
import rl_ops_reference as ref

XS = jnp.array([-100.0, -3.0, -0.5, 0.0, 0.5, 3.0, 100.0])


def test_transforms_hand_computed_all_modes():
    x = jnp.array([3.0, -3.0])
    ref.assert_all_modes(functools.partial(rl_ops.signed_hyperbolic, eps=0.0), (x,), [1.0, -1.0])
    ref.assert_all_modes(rl_ops.signed_hyperbolic, (x,), [1.003, -1.003])
    ref.assert_all_modes(rl_ops.signed_logp1, (jnp.array([math.e - 1, 0.0]),), [1.0, 0.0])
    ref.assert_all_modes(rl_ops.signed_expm1, (jnp.array([-1.0]),), [-(math.e - 1)])
    ref.assert_all_modes(rl_ops.sigmoid, (jnp.array([0.0]),), [0.5])
    ref.assert_all_modes(rl_ops.logit, (jnp.array([0.75]),), [math.log(3.0)])
    ref.assert_all_modes(rl_ops.hyperbolic_sin, (jnp.array([1.0]),), [math.sinh(1.0)])
    ref.assert_all_modes(rl_ops.hyperbolic_arcsin, (jnp.array([1.0]),), [math.asinh(1.0)])
    # power(x, 2) with q = sqrt 2: ((3 / q + 1)^2 - 1) / q
    q = math.sqrt(2.0)
    ref.assert_all_modes(functools.partial(rl_ops.power, p=2.0), (x,), [((3 / q + 1) ** 2 - 1) / q,
                                                                         -((3 / q + 1) ** 2 - 1) / q])
    np.testing.assert_allclose(rl_ops.identity(x), x)


@pytest.mark.parametrize("pair", ["SIGNED_HYPERBOLIC_PAIR", "SIGNED_LOGP1_PAIR", "HYPERBOLIC_SIN_PAIR"])
def test_tx_pairs_are_inverse(pair):
    tx = getattr(rl_ops, pair)
    np.testing.assert_allclose(tx.apply_inv(tx.apply(XS)), XS, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(tx.apply(tx.apply_inv(tx.apply(XS))), tx.apply(XS), rtol=1e-5, atol=1e-5)


def test_other_inverses():
    np.testing.assert_allclose(ref.jit(rl_ops.power)(ref.jit(rl_ops.power)(XS, 3.0), 1 / 3.0), XS, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ref.jit(rl_ops.logit)(ref.jit(rl_ops.sigmoid)(XS[1:-1])), XS[1:-1], rtol=1e-4, atol=1e-5)
    squashed = ref.jit(rl_ops.signed_hyperbolic)(XS, eps=0.01)
    np.testing.assert_allclose(ref.jit(rl_ops.signed_parabolic)(squashed, eps=0.01), XS, rtol=1e-4, atol=1e-4)


def test_transform_to_2hot_hand_computed_all_modes():
    fn = functools.partial(rl_ops.transform_to_2hot, min_value=0.0, max_value=1.0, num_bins=5)
    ref.assert_all_modes(fn, (jnp.array([0.3, 0.25, 2.0, -1.0]),),
                         [[0.0, 0.8, 0.2, 0.0, 0.0],
                          [0.0, 1.0, 0.0, 0.0, 0.0],
                          [0.0, 0.0, 0.0, 0.0, 1.0],
                          [1.0, 0.0, 0.0, 0.0, 0.0]])


def test_2hot_round_trip():
    scalars = jnp.linspace(-10.0, 10.0, 37)
    probs = rl_ops.transform_to_2hot(scalars, -10.0, 10.0, 11)
    np.testing.assert_allclose(jnp.sum(probs, -1), np.ones(37), rtol=1e-6)
    np.testing.assert_allclose(ref.jit(rl_ops.transform_from_2hot, num_bins=11)(probs, -10.0, 10.0), scalars,
                               rtol=1e-5, atol=1e-5)
    fn = functools.partial(rl_ops.transform_from_2hot, min_value=0.0, max_value=1.0, num_bins=3)
    ref.assert_all_modes(fn, (jnp.array([0.0, 0.5, 0.5]),), 0.75)


def test_identity_pair_targets_equal_linear_targets():
    d = ref.random_trajectory(1, 10, episode_end_at=(3,))
    np.testing.assert_allclose(
        ref.jit(rl_ops.transformed_q_lambda)(d["q_tm1"], d["a_tm1"], d["r_t"], d["discount_t"], d["q_t"], 0.8),
        ref.jit(rl_ops.q_lambda)(d["q_tm1"], d["a_tm1"], d["r_t"], d["discount_t"], d["q_t"], 0.8),
        rtol=1e-6, atol=1e-6)
    retrace_args = (d["q_tm1"], d["q_t"], d["a_tm1"], d["a_t"], d["r_t"], d["discount_t"], d["pi_t"], d["mu_t"], 0.9)
    np.testing.assert_allclose(ref.jit(rl_ops.transformed_retrace)(*retrace_args),
                               ref.jit(rl_ops.retrace)(*retrace_args), rtol=1e-6, atol=1e-6)
    got = ref.jit(rl_ops.transformed_n_step_q_learning, n=3)(
        d["q_tm1"], d["a_tm1"], d["q_t"], d["a_t"], d["r_t"], d["discount_t"])
    expected = (ref.n_step_returns(d["r_t"], d["discount_t"], ref.jit(rl_ops.batched_index)(d["q_t"], d["a_t"]), 3)
                - np.asarray(ref.jit(rl_ops.batched_index)(d["q_tm1"], d["a_tm1"])))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_transformed_lambda_returns_hand_computed_all_modes():
    h = functools.partial(rl_ops.signed_hyperbolic, eps=1e-3)
    # One step: h(r + γ h⁻¹(h(3))) = h(1 + 3) = sqrt 5 - 1 + .004.
    fn = functools.partial(rl_ops.transformed_lambda_returns, rl_ops.SIGNED_HYPERBOLIC_PAIR)
    ref.assert_all_modes(fn, (jnp.ones(1), jnp.ones(1), h(jnp.array([3.0]))), [math.sqrt(5) - 1 + 0.004],
                         rtol=1e-4)


def test_transformed_returns_are_h_of_linear_returns_of_h_inverse():
    tx = rl_ops.SIGNED_HYPERBOLIC_PAIR
    d = ref.random_trajectory(2, 10, episode_end_at=(2, 5))
    v_t = 10.0 * d["v_t"]
    raw = np.asarray(tx.apply_inv(v_t))
    got = ref.jit(rl_ops.transformed_lambda_returns, tx_pair=tx)(
        r_t=d["r_t"], discount_t=d["discount_t"], v_t=v_t, lambda_=0.7)
    np.testing.assert_allclose(got, tx.apply(jnp.asarray(ref.lambda_returns(d["r_t"], d["discount_t"], raw, 0.7),
                                                         jnp.float32)), rtol=1e-4, atol=1e-4)
    got = ref.jit(rl_ops.transformed_n_step_returns, tx_pair=tx, n=3)(
        r_t=d["r_t"], discount_t=d["discount_t"], v_t=v_t)
    np.testing.assert_allclose(got, tx.apply(jnp.asarray(ref.n_step_returns(d["r_t"], d["discount_t"], raw, 3),
                                                         jnp.float32)), rtol=1e-4, atol=1e-4)


def test_transformed_ops_stop_target_gradients():
    d = ref.random_trajectory(3, 10)
    tx = rl_ops.SIGNED_HYPERBOLIC_PAIR

    def loss(q_tm1, q_t, stop):
        return jnp.sum(ref.jit(rl_ops.transformed_q_lambda, tx_pair=tx)(
            q_tm1, d["a_tm1"], d["r_t"], d["discount_t"], q_t, 0.9, stop_target_gradients=stop))

    g_tm1, g_t = ref.jit_grad(loss, argnums=(0, 1))(d["q_tm1"], d["q_t"], True)
    np.testing.assert_allclose(g_t, np.zeros_like(g_t))
    np.testing.assert_allclose(np.asarray(g_tm1).sum(), -10.0, rtol=1e-6)
    assert np.abs(np.asarray(ref.jit_grad(loss, argnums=1)(d["q_tm1"], d["q_t"], False))).sum() > 0


def test_rejects_bad_inputs():
    with pytest.raises(ValueError, match=r"signed_hyperbolic: x must have a floating dtype, got int32"):
        rl_ops.signed_hyperbolic(jnp.arange(3))
    with pytest.raises(ValueError, match=r"transform_to_2hot: num_bins must be a Python int >= 2, got 1"):
        rl_ops.transform_to_2hot(jnp.ones(2), 0.0, 1.0, 1)
    with pytest.raises(ValueError, match=r"transform_from_2hot: probs must have num_bins=5 entries"):
        rl_ops.transform_from_2hot(jnp.ones(3) / 3, 0.0, 1.0, 5)
    with pytest.raises(ValueError, match=r"transformed_q_lambda: q_t must have rank 2 \[T, A\], got shape \(4,\)"):
        rl_ops.transformed_q_lambda(jnp.ones((4, 2)), jnp.zeros(4, jnp.int32), jnp.ones(4), jnp.ones(4),
                                    jnp.ones(4), 0.5)
