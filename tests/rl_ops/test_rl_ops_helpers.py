"""Helpers: one_hot, batched_index, lhs_broadcast, replace_masked; the public API surface."""

import inspect

import jax.numpy as jnp
import numpy as np
import pytest

from vtrax import rl_ops
import rl_ops_reference as ref


def test_one_hot_all_modes():
    ref.assert_all_modes(lambda i: rl_ops.one_hot(i, 3), (jnp.array([2, 0]),), [[0, 0, 1], [1, 0, 0]])
    assert rl_ops.one_hot(jnp.array([1]), 2, dtype=jnp.int32).dtype == jnp.int32


def test_batched_index_all_modes_and_gradient():
    values = jnp.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    ref.assert_all_modes(rl_ops.batched_index, (values, jnp.array([2, 0])), [3.0, 4.0])
    np.testing.assert_allclose(ref.jit(rl_ops.batched_index, keepdims=True)(values, jnp.array([2, 0])), [[3.0], [4.0]])
    g = ref.jit_grad(lambda v: jnp.sum(ref.jit(rl_ops.batched_index)(v, jnp.array([2, 0]))))(values)
    np.testing.assert_allclose(g, [[0, 0, 1], [1, 0, 0]])
    # log(0) = -inf stays -inf (no 0 * inf = NaN from a one-hot product).
    assert ref.jit(rl_ops.batched_index)(jnp.log(jnp.array([0.0, 1.0])), jnp.asarray(0)) == -jnp.inf
    # An index outside [0, A) gives NaN (as a gather's fill does), not a silent 0.
    assert np.all(np.isnan(ref.jit(rl_ops.batched_index)(values, jnp.array([3, -1]))))
    ints = jnp.array([[1, 2], [3, 4]])
    np.testing.assert_array_equal(ref.jit(rl_ops.batched_index)(ints, jnp.array([1, 0])), [2, 3])


def test_lhs_broadcast_and_replace_masked_all_modes():
    target = jnp.zeros((2, 3, 4))
    assert rl_ops.lhs_broadcast(jnp.ones(2), target).shape == (2, 1, 1)
    assert rl_ops.lhs_broadcast(jnp.ones((1, 3)), target).shape == (1, 3, 1)
    with pytest.raises(ValueError, match=r"lhs_broadcast: source shape \(3,\) must match the leading dimensions "
                                         r"of target shape \(2, 3, 4\)"):
        rl_ops.lhs_broadcast(jnp.ones(3), target)
    data = jnp.array([[1.0, 2.0], [3.0, 4.0]])
    mask = jnp.array([True, False])
    ref.assert_all_modes(lambda d, m: rl_ops.replace_masked(d, None, m), (data, mask), [[1.0, 2.0], [0.0, 0.0]])
    ref.assert_all_modes(rl_ops.replace_masked, (data, -data, mask), [[1.0, 2.0], [-3.0, -4.0]])


def test_public_api_names_and_rlax_signatures():
    assert len(rl_ops.__all__) == len(set(rl_ops.__all__))
    for name in rl_ops.__all__:
        assert hasattr(rl_ops, name), name
    signatures = {
        "vtrace": "(v_tm1, v_t, r_t, discount_t, rho_tm1, lambda_=1.0, clip_rho_threshold=1.0, "
                  "stop_target_gradients=True)",
        "vtrace_td_error_and_advantage": "(v_tm1, v_t, r_t, discount_t, rho_tm1, lambda_=1.0, "
                                         "clip_rho_threshold=1.0, clip_pg_rho_threshold=1.0, "
                                         "stop_target_gradients=True)",
        "leaky_vtrace": "(v_tm1, v_t, r_t, discount_t, rho_tm1, alpha_=1.0, lambda_=1.0, "
                        "clip_rho_threshold=1.0, stop_target_gradients=True)",
        "td_lambda": "(v_tm1, r_t, discount_t, v_t, lambda_, stop_target_gradients=True)",
        "lambda_returns": "(r_t, discount_t, v_t, lambda_=1.0, stop_target_gradients=False)",
        "n_step_bootstrapped_returns": "(r_t, discount_t, v_t, n, lambda_t=1.0, stop_target_gradients=False)",
        "policy_gradient_loss": "(logits_t, a_t, adv_t, w_t, use_stop_gradient=True)",
        "entropy_loss": "(logits_t, w_t)",
        "retrace": "(q_tm1, q_t, a_tm1, a_t, r_t, discount_t, pi_t, mu_t, lambda_, eps=1e-08, "
                   "stop_target_gradients=True)",
        "transformed_retrace": "(q_tm1, q_t, a_tm1, a_t, r_t, discount_t, pi_t, mu_t, lambda_, eps=1e-08, "
                               "stop_target_gradients=True, tx_pair=TxPair(apply=<function identity",
        "quantile_q_learning": "(dist_q_tm1, tau_q_tm1, a_tm1, r_t, discount_t, dist_q_t_selector, dist_q_t, "
                               "huber_param=0.0, stop_target_gradients=True)",
    }
    for name, expected in signatures.items():
        params = inspect.signature(getattr(rl_ops, name)).parameters.values()
        text = "(" + ", ".join(p.name + (f"={p.default!r}" if p.default is not p.empty else "")
                               for p in params) + ")"
        assert text.startswith(expected), f"{name}{text}"
