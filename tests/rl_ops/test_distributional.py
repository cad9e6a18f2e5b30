"""Distributional ops: categorical projection and losses, quantile regression."""

import functools
import math

import jax.numpy as jnp
import numpy as np
import pytest

from vtrax import rl_ops
import rl_ops_reference as ref

ATOMS = jnp.array([0.0, 0.5, 1.0])
LN2 = math.log(2.0)


def test_categorical_l2_project_hand_computed_all_modes():
    # 0.25 splits evenly between atoms 0 and 0.5; 2.0 clips to 1.0; -1.0 clips to 0.0.
    ref.assert_all_modes(rl_ops.categorical_l2_project,
                         (jnp.array([0.25, 2.0, -1.0]), jnp.array([0.5, 0.3, 0.2]), ATOMS),
                         [0.45, 0.25, 0.3])


def test_categorical_l2_project_conserves_mass_and_mean_inside_support():
    rng = np.random.default_rng(0)
    z_p = jnp.asarray(rng.uniform(-2, 2, 7), jnp.float32)
    probs = jnp.asarray(rng.dirichlet(np.ones(7)), jnp.float32)
    z_q = jnp.linspace(-2.0, 2.0, 11)
    projected = ref.jit(rl_ops.categorical_l2_project)(z_p, probs, z_q)
    np.testing.assert_allclose(jnp.sum(projected), 1.0, rtol=1e-5)
    np.testing.assert_allclose(jnp.dot(projected, z_q), jnp.dot(probs, z_p), rtol=1e-4, atol=1e-5)
    assert np.all(np.asarray(projected) >= 0)


def test_categorical_td_learning_hand_computed_all_modes():
    # Target atoms .5 + .5 * [0, .5, 1] = [.5, .75, 1]; uniform probs project to [0, .5, .5].
    # Cross entropy against softmax([0, ln 2, 0]) = [.25, .5, .25]: -(.5 ln .5 + .5 ln .25) = 1.5 ln 2.
    args = (ATOMS, jnp.array([0.0, LN2, 0.0]), jnp.asarray(0.5), jnp.asarray(0.5), ATOMS, jnp.zeros(3))
    ref.assert_all_modes(rl_ops.categorical_td_learning, args, 1.5 * LN2)


def test_categorical_q_learning_bootstraps_on_greedy_action_all_modes():
    # Action 0 puts most mass on atom 0 (low mean); action 1 is uniform (mean .5) and is greedy.
    q_logits_t = jnp.array([[5.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    q_logits_tm1 = jnp.array([[0.0, LN2, 0.0], [9.0, 9.0, 9.0]])
    args = (ATOMS, q_logits_tm1, jnp.asarray(0), jnp.asarray(0.5), jnp.asarray(0.5), ATOMS, q_logits_t)
    ref.assert_all_modes(rl_ops.categorical_q_learning, args, 1.5 * LN2)


def test_categorical_double_q_learning_uses_the_selector_all_modes():
    q_logits_t = jnp.array([[5.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    q_logits_tm1 = jnp.array([[0.0, LN2, 0.0], [9.0, 9.0, 9.0]])
    p = np.exp([5.0, 0.0, 0.0]) / np.exp([5.0, 0.0, 0.0]).sum()
    # Target atoms [.5, .75, 1] with probs p: atom .5 gets p0 + p1/2, atom 1 gets p1/2 + p2.
    target = np.array([0.0, p[0] + p[1] / 2, p[1] / 2 + p[2]])
    expected = -np.sum(target * np.log([0.25, 0.5, 0.25]))
    args = (ATOMS, q_logits_tm1, jnp.asarray(0), jnp.asarray(0.5), jnp.asarray(0.5), ATOMS, q_logits_t,
            jnp.array([1.0, 0.0]))
    ref.assert_all_modes(rl_ops.categorical_double_q_learning, args, expected)


def test_categorical_losses_do_not_differentiate_targets():
    # Non-uniform source logits, so the loss depends on the target distribution.
    args = dict(r_t=jnp.asarray(0.5), discount_t=jnp.asarray(0.5))
    g = ref.jit_grad(lambda logits_t: rl_ops.categorical_td_learning(
        ATOMS, jnp.array([0.0, LN2, 0.0]), args["r_t"], args["discount_t"], ATOMS, logits_t)
    )(jnp.array([0.1, 0.2, 0.3]))
    np.testing.assert_allclose(g, np.zeros(3))
    g = ref.jit_grad(lambda logits_t: rl_ops.categorical_td_learning(
        ATOMS, jnp.array([0.0, LN2, 0.0]), args["r_t"], args["discount_t"], ATOMS, logits_t,
        stop_target_gradients=False))(jnp.array([0.1, 0.2, 0.3]))
    assert np.abs(np.asarray(g)).sum() > 0


def test_quantile_regression_loss_hand_computed_all_modes():
    # δ = [.5, -.5]; weights |.25 - 0| = .25 and |.75 - 1| = .25.
    args = (jnp.array([0.0, 1.0]), jnp.array([0.25, 0.75]), jnp.array([0.5]))
    ref.assert_all_modes(rl_ops.quantile_regression_loss, args, 0.5 * 0.25 + 0.5 * 0.25)
    huber = functools.partial(rl_ops.quantile_regression_loss, huber_param=1.0)
    ref.assert_all_modes(huber, args, 2 * 0.125 * 0.25)  # huber(.5) = .125


def test_quantile_regression_gradient_moves_quantiles_towards_their_level():
    # The gradient of the τ-quantile loss is (1[target < src] - τ) averaged over targets.
    tau = jnp.array([0.1, 0.9])
    targets = jnp.linspace(-1.0, 1.0, 4)  # no target equals the source
    g = ref.jit_grad(rl_ops.quantile_regression_loss)(jnp.zeros(2), tau, targets)
    frac_below = np.mean(np.asarray(targets) < 0.0)
    np.testing.assert_allclose(g, frac_below - np.asarray(tau), rtol=1e-6)
    g = ref.jit_grad(lambda t: ref.jit(rl_ops.quantile_regression_loss)(jnp.zeros(2), tau, t))(targets)
    np.testing.assert_allclose(g, np.zeros(4))


def test_quantile_q_learning_matches_manual_target_all_modes():
    dist_q_tm1 = jnp.array([[0.0, 1.0], [2.0, 3.0]])  # [N=2, A=2]
    tau = jnp.array([0.25, 0.75])
    selector = jnp.array([[0.0, 5.0], [0.0, 5.0]])  # greedy action 1
    dist_q_t = jnp.array([[1.0, -1.0], [2.0, 1.0]])
    # a_tm1 = 0: source [0, 2]; target 1 + .5 * [-1, 1] = [.5, 1.5].
    expected = ref.jit(rl_ops.quantile_regression_loss)(jnp.array([0.0, 2.0]), tau, jnp.array([0.5, 1.5]))
    # Hand: δ row0 = [.5, 1.5] (weight .25), row1 = [-1.5, -.5] (weight .25): sum of means = .25 + .25.
    np.testing.assert_allclose(expected, 0.5)
    args = (dist_q_tm1, tau, jnp.asarray(0), jnp.asarray(1.0), jnp.asarray(0.5), selector, dist_q_t)
    ref.assert_all_modes(rl_ops.quantile_q_learning, args, 0.5)


def test_quantile_expected_sarsa_weights_per_action_losses_all_modes():
    dist_q_tm1 = jnp.array([[0.0, 1.0], [2.0, 3.0]])
    tau = jnp.array([0.25, 0.75])
    dist_q_t = jnp.array([[1.0, -1.0], [2.0, 1.0]])
    probs = jnp.array([0.3, 0.7])
    source = jnp.array([0.0, 2.0])
    per_action = [ref.jit(rl_ops.quantile_regression_loss)(source, tau, 1.0 + 0.5 * dist_q_t[:, a]) for a in range(2)]
    expected = 0.3 * per_action[0] + 0.7 * per_action[1]
    args = (dist_q_tm1, tau, jnp.asarray(0), jnp.asarray(1.0), jnp.asarray(0.5), dist_q_t, probs)
    ref.assert_all_modes(rl_ops.quantile_expected_sarsa, args, expected)


def test_rejects_bad_inputs():
    with pytest.raises(ValueError, match=r"categorical_q_learning: q_logits_tm1 must have rank 2 \[A, N\], "
                                         r"got shape \(3,\)"):
        rl_ops.categorical_q_learning(ATOMS, jnp.zeros(3), jnp.asarray(0), jnp.asarray(0.5), jnp.asarray(0.5),
                                      ATOMS, jnp.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"quantile_q_learning: a_tm1 must have an integer dtype"):
        rl_ops.quantile_q_learning(jnp.zeros((2, 2)), jnp.ones(2), jnp.asarray(0.0), jnp.asarray(1.0),
                                   jnp.asarray(0.5), jnp.zeros((2, 2)), jnp.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"categorical_l2_project: z_p, probs must all have the same shape"):
        rl_ops.categorical_l2_project(jnp.zeros(2), jnp.ones(3) / 3, ATOMS)
