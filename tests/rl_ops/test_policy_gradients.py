"""Policy-gradient losses: hand-computed values and gradient semantics."""

import functools
import math

import jax.numpy as jnp
import numpy as np
import pytest

from vtrax import rl_ops
import rl_ops_reference as ref

LOGITS = jnp.array([[0.0, 0.0], [0.0, math.log(3.0)]])  # π = [.5, .5], [.25, .75]


def test_policy_gradient_loss_hand_computed_all_modes():
    # -(log .5 * 1 + log .75 * 2) / 2
    expected = -(math.log(0.5) * 1.0 + math.log(0.75) * 2.0) / 2
    args = (LOGITS, jnp.array([0, 1]), jnp.array([1.0, 2.0]), jnp.ones(2))
    ref.assert_all_modes(rl_ops.policy_gradient_loss, args, expected)
    np.testing.assert_allclose(rl_ops.policy_gradient_loss(*args), expected, rtol=1e-6)  # eager


def test_policy_gradient_loss_weights_and_gradients():
    a_t = jnp.array([0, 1])
    adv_t = jnp.array([1.0, 2.0])
    # A zero weight removes the step.
    np.testing.assert_allclose(ref.jit(rl_ops.policy_gradient_loss)(LOGITS, a_t, adv_t, jnp.array([1.0, 0.0])),
                               -math.log(0.5) / 2, rtol=1e-6)
    # d/dlogits of -log π(a) adv / T = (π - onehot(a)) adv / T.
    g = ref.jit_grad(rl_ops.policy_gradient_loss)(LOGITS, a_t, adv_t, jnp.ones(2))
    expected = np.array([[0.5 - 1, 0.5], [0.25, 0.75 - 1]]) * np.array([[1.0], [2.0]]) / 2
    np.testing.assert_allclose(g, expected, rtol=1e-5, atol=1e-6)
    g_adv = ref.jit_grad(rl_ops.policy_gradient_loss, argnums=2)(LOGITS, a_t, adv_t, jnp.ones(2))
    np.testing.assert_allclose(g_adv, np.zeros(2))
    g_adv = ref.jit_grad(rl_ops.policy_gradient_loss, argnums=2)(LOGITS, a_t, adv_t, jnp.ones(2), False)
    np.testing.assert_allclose(g_adv, [-math.log(0.5) / 2, -math.log(0.75) / 2], rtol=1e-6)


def test_entropy_loss_hand_computed_all_modes():
    # Uniform over 4 actions: entropy ln 4; -(ln4 * 1 + ln4 * .5) / 2.
    args = (jnp.zeros((2, 4)), jnp.array([1.0, 0.5]))
    ref.assert_all_modes(rl_ops.entropy_loss, args, -0.75 * math.log(4.0))
    np.testing.assert_allclose(rl_ops.entropy_loss(*args), -0.75 * math.log(4.0), rtol=1e-6)  # eager


def test_entropy_loss_gradient_pushes_towards_uniform():
    logits = jnp.array([[2.0, 0.0, -1.0]])
    g = ref.jit_grad(rl_ops.entropy_loss)(logits, jnp.ones(1))
    # Gradient descent lowers the largest logit and raises the smallest.
    assert g[0, 0] > 0 and g[0, 2] < 0


def test_clipped_surrogate_pg_loss_hand_computed_all_modes():
    # min(.5, .8) = .5; min(1.5, 1.2) = 1.2; min(-1, -1) = -1 -> -(0.7 / 3).
    fn = functools.partial(rl_ops.clipped_surrogate_pg_loss, epsilon=0.2)
    ref.assert_all_modes(lambda ratios, adv: fn(ratios, adv),
                         (jnp.array([0.5, 1.5, 1.0]), jnp.array([1.0, 1.0, -1.0])), -0.7 / 3)


def test_clipped_surrogate_has_no_gradient_outside_the_trust_region():
    g = ref.jit_grad(rl_ops.clipped_surrogate_pg_loss)(jnp.array([1.5, 0.5, 1.0]), jnp.array([1.0, -1.0, 1.0]), 0.2)
    np.testing.assert_allclose(g, [0.0, 0.0, -1.0 / 3], atol=1e-7)


def test_dpg_loss_hand_computed_all_modes():
    args = (jnp.array([1.0, 2.0]), jnp.array([3.0, 4.0]))
    ref.assert_all_modes(rl_ops.dpg_loss, args, [4.5, 8.0])
    # Clipping dQ/da to l2 norm 1: [3, 4] / 5.
    ref.assert_all_modes(functools.partial(rl_ops.dpg_loss, dqda_clipping=1.0), args, [0.18, 0.32])
    # The gradient moves the action along dQ/da.
    g = ref.jit_grad(lambda a: jnp.sum(rl_ops.dpg_loss(a, jnp.array([3.0, 4.0]))))(jnp.array([1.0, 2.0]))
    np.testing.assert_allclose(g, [-3.0, -4.0])


def test_qpg_rm_rpg_hand_computed_all_modes():
    logits = jnp.array([[0.0, math.log(3.0)]])  # π = [.25, .75]
    q = jnp.array([[1.0, 3.0]])  # baseline 2.5, advantages [-1.5, .5]
    ref.assert_all_modes(rl_ops.qpg_loss, (logits, q), 0.0)  # Σ π (q - Σ π q) = 0
    ref.assert_all_modes(rl_ops.rm_loss, (logits, q), -0.75 * 0.5)
    ref.assert_all_modes(rl_ops.rpg_loss, (logits, q), 0.5)
    # QPG's gradient is -π ⊙ adv (advantages stopped): [.375, -.375].
    np.testing.assert_allclose(ref.jit_grad(rl_ops.qpg_loss)(logits, q), [[0.375, -0.375]], rtol=1e-5)
    np.testing.assert_allclose(ref.jit_grad(rl_ops.qpg_loss, argnums=1)(logits, q), [[0.0, 0.0]])


def test_rejects_bad_inputs():
    with pytest.raises(ValueError, match=r"policy_gradient_loss: logits_t must have rank 2 \[T, A\], got shape "
                                         r"\(2, 3, 4\); .*jax.vmap"):
        rl_ops.policy_gradient_loss(jnp.zeros((2, 3, 4)), jnp.zeros(2, jnp.int32), jnp.ones(2), jnp.ones(2))
    with pytest.raises(ValueError, match=r"policy_gradient_loss: a_t must have an integer dtype"):
        rl_ops.policy_gradient_loss(LOGITS, jnp.zeros(2), jnp.ones(2), jnp.ones(2))
    with pytest.raises(ValueError, match=r"entropy_loss: logits_t, w_t must share the time dimension T, got "
                                         r"logits_t \(2, 2\), w_t \(3,\)"):
        rl_ops.entropy_loss(LOGITS, jnp.ones(3))
    with pytest.raises(ValueError, match=r"dpg_loss: a_t must have rank 1 \[D\], got shape \(\)"):
        rl_ops.dpg_loss(jnp.asarray(1.0), jnp.ones(2))
