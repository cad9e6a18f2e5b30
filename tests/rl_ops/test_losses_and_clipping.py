"""Elementwise losses and gradient clipping."""

import functools
import math

import jax.numpy as jnp
import numpy as np
import pytest

from vtrax import rl_ops
import rl_ops_reference as ref

X = jnp.array([-3.0, -0.5, 0.0, 0.5, 3.0])


def test_huber_loss_hand_computed_all_modes():
    # δ = 1: quadratic inside, .5 + (|x| - 1) outside.
    ref.assert_all_modes(rl_ops.huber_loss, (X,), [2.5, 0.125, 0.0, 0.125, 2.5])
    ref.assert_all_modes(functools.partial(rl_ops.huber_loss, delta=2.0), (X,), [4.0, 0.125, 0.0, 0.125, 4.0])


def test_huber_gradient_equals_clipped_l2_gradient():
    g_huber = ref.jit_grad(lambda x: jnp.sum(ref.jit(rl_ops.huber_loss)(x, 1.0)))(X)
    g_clip = ref.jit_grad(lambda x: jnp.sum(0.5 * rl_ops.clip_gradient(x, -1.0, 1.0) ** 2))(X)
    np.testing.assert_allclose(g_huber, [-1.0, -0.5, 0.0, 0.5, 1.0])
    np.testing.assert_allclose(g_clip, g_huber)


def test_clip_gradient_is_identity_forward_and_clips_backward_all_modes():
    fn = functools.partial(rl_ops.clip_gradient, gradient_min=-0.1, gradient_max=0.2)
    ref.assert_all_modes(fn, (X,), X)
    g = ref.jit_grad(lambda x: jnp.sum(fn(x) * jnp.array([-1.0, 0.05, 1.0, 2.0, 0.0])))(X)
    np.testing.assert_allclose(g, [-0.1, 0.05, 0.2, 0.2, 0.0])
    # Bounds may be traced values.
    g = ref.jit_grad(lambda x, hi: jnp.sum(rl_ops.clip_gradient(x, -hi, hi) * 3.0))(X, jnp.asarray(1.5))
    np.testing.assert_allclose(g, np.full(5, 1.5))


def test_l2_likelihood_log_loss_hand_computed_all_modes():
    ref.assert_all_modes(rl_ops.l2_loss, (jnp.array([1.0, -2.0]), jnp.array([0.0, 1.0])), [0.5, 4.5])
    np.testing.assert_allclose(ref.jit(rl_ops.l2_loss)(jnp.array([2.0])), [2.0])
    predictions = jnp.array([0.8, 0.8, 1.0, 0.0])
    targets = jnp.array([1.0, 0.0, 1.0, 0.0])
    ref.assert_all_modes(rl_ops.likelihood, (predictions, targets), [0.8, 0.2, 1.0, 1.0])
    ref.assert_all_modes(rl_ops.log_loss, (predictions, targets),
                         [-math.log(0.8), -math.log(0.2), 0.0, 0.0])


def test_expectile_loss_hand_computed_all_modes():
    # τ = .8: under-prediction (target above) weighs .8, over-prediction .2.
    fn = functools.partial(rl_ops.expectile_loss, expectile=0.8)
    ref.assert_all_modes(fn, (jnp.array([0.0, 2.0]), jnp.array([1.0, 1.0])), [0.8, 0.2])


def test_expectile_loss_minimiser_is_the_expectile():
    targets = jnp.array([0.0, 1.0, 4.0])
    # The .8-expectile m solves .2 (0 - m) + .2 (1 - m) + .8 (4 - m) = 0, so m = 3.4 / 1.2.
    expectile = 3.4 / 1.2
    loss = lambda m: jnp.sum(rl_ops.expectile_loss(m * jnp.ones(3), targets, 0.8))  # noqa: E731
    np.testing.assert_allclose(ref.jit_grad(loss)(expectile), 0.0, atol=1e-5)
    assert loss(expectile) < loss(expectile - 0.1) and loss(expectile) < loss(expectile + 0.1)


def test_rejects_bad_inputs():
    with pytest.raises(ValueError, match=r"huber_loss: x must have a floating dtype, got int32"):
        rl_ops.huber_loss(jnp.arange(3))
    with pytest.raises(ValueError, match=r"clip_gradient: gradient_min must have rank 0 \[\], got shape \(2,\)"):
        rl_ops.clip_gradient(X, jnp.zeros(2), 1.0)
