"""The policy's action distributions against closed forms, and an IMPALA update on Box actions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy import stats

from vtrax import learner, rl_ops
from vtrax.learner.action_distribution import (action_distribution, categorical, gaussian, multi_categorical,
                                               squashed_gaussian)

MEAN = np.array([[0.3, -1.2], [2.0, 0.0]], np.float32)  # [B=2, D=2]
LOG_STD = np.array([[-0.5, 0.2], [0.0, -1.0]], np.float32)
PARAMS = np.concatenate([MEAN, LOG_STD], axis=-1)  # [2, 4]
ACTIONS = np.array([[0.1, -0.7], [3.5, 0.2]], np.float32)  # the second row lies outside [-2, 2]: raw actions


def test_gaussian_logprob_and_entropy_are_the_closed_forms_under_jit():
    dist = gaussian(2)
    expected = np.sum(stats.norm.logpdf(ACTIONS, MEAN, np.exp(LOG_STD)), axis=-1)
    np.testing.assert_allclose(jax.jit(dist.logprob)(ACTIONS, PARAMS), expected, rtol=1e-5)
    entropy = np.sum(0.5 * np.log(2 * np.pi * np.e) + LOG_STD, axis=-1)
    np.testing.assert_allclose(jax.jit(dist.entropy)(PARAMS), entropy, rtol=1e-5)
    np.testing.assert_array_equal(dist.mode(PARAMS), MEAN)
    assert dist.num_params == 4 and dist.action_shape == (2,) and dist.action_dtype == np.float32


def test_gaussian_logprob_gradient_is_the_closed_form():
    # d/d mean log N(a; mean, s) = (a - mean) / s^2 ; d/d log_std = ((a - mean) / s)^2 - 1.
    grad = jax.grad(lambda p: jnp.sum(gaussian(2).logprob(ACTIONS, p)))(PARAMS)
    std = np.exp(LOG_STD)
    np.testing.assert_allclose(grad[:, :2], (ACTIONS - MEAN) / std**2, rtol=1e-4)
    np.testing.assert_allclose(grad[:, 2:], ((ACTIONS - MEAN) / std) ** 2 - 1, rtol=1e-4, atol=1e-5)


def test_gaussian_samples_have_the_mean_and_std_and_are_not_clipped():
    samples = gaussian(2).sample(jax.random.PRNGKey(0), jnp.broadcast_to(PARAMS[1], (20000, 4)))
    np.testing.assert_allclose(np.mean(samples, axis=0), MEAN[1], atol=0.03)
    np.testing.assert_allclose(np.std(samples, axis=0), np.exp(LOG_STD[1]), rtol=0.03)
    assert np.max(samples[:, 0]) > 2.5  # mean 2 and std 1: raw samples beyond the env's bound of 2


def test_squashed_samples_stay_in_bounds_and_the_density_integrates_to_one():
    dist = squashed_gaussian(1, [-2.0], [2.0])
    params = jnp.array([[0.4, 0.3]], jnp.float32)  # [1, 2]: mu, sigma before RLax's activations
    samples = dist.sample(jax.random.PRNGKey(1), jnp.broadcast_to(params, (5000, 2)))
    assert samples.shape == (5000, 1) and float(jnp.min(samples)) >= -2.0 and float(jnp.max(samples)) <= 2.0
    grid = np.linspace(-2.0, 2.0, 20001, dtype=np.float32)[1:-1, None]  # [N, 1]
    density = np.exp(dist.logprob(grid, jnp.broadcast_to(params, (grid.shape[0], 2))))
    assert np.trapz(density, grid[:, 0]) == pytest.approx(1.0, abs=2e-3)
    assert np.isfinite(dist.logprob(jnp.array([[2.0]]), params)).all()  # a sample that rounded onto the bound


def test_categorical_matches_rl_ops_softmax():
    logits = jnp.array([[0.1, 2.0, -1.0]])
    dist = categorical(3)
    np.testing.assert_allclose(dist.logprob(jnp.array([1]), logits), rl_ops.softmax().logprob(jnp.array([1]), logits))
    np.testing.assert_allclose(dist.entropy(logits), rl_ops.softmax().entropy(logits))
    assert int(dist.mode(logits)[0]) == 1 and action_distribution({"num_actions": 3}).kind == "categorical"


def test_a_squashed_description_without_bounds_is_refused():
    with pytest.raises(ValueError, match="needs action_low and action_high"):
        action_distribution({"num_actions": 1, "policy": "squashed_gaussian"})
    with pytest.raises(ValueError, match="pass --network mlp without --use-lstm"):
        learner.make_network("mlp", 1, policy="gaussian", use_lstm=True)


@pytest.mark.parametrize("policy", ["gaussian", "squashed_gaussian"])
def test_an_update_on_a_box_batch_learns_and_on_policy_ratios_are_one(policy):
    config = learner.cartpole_config(batch_size=4, unroll_length=5, optimizer="adam", learning_rate=1e-3)
    network = learner.make_network("mlp", 2, hidden_sizes=(16, 16), policy=policy, action_low=[-2, -1],
                                   action_high=[2, 1])
    dist = action_distribution(network.description)
    state = learner.init_state(config, network, np.zeros((1, 1, 3), np.float32), jax.random.PRNGKey(0))
    batch = learner.synthetic_batch(config, network, (3,))
    # On-policy data: the behaviour parameters and actions come from the very params the learner holds.
    policy_out, _ = network.apply(state.params, batch["observation"][0])  # [B, T+1, 4]
    batch["behaviour_logits"] = np.asarray(policy_out)[None]
    batch["action"] = np.asarray(dist.sample(jax.random.PRNGKey(1), policy_out))[None]
    learner.check_batch(batch, config, network, 1)
    update = learner.make_update(config, network, num_devices=1)
    new_state, metrics = update(learner.replicate(state, 1), batch)
    metrics = {name: float(value[0]) for name, value in metrics.items()}
    assert all(np.isfinite(value) for value in metrics.values()), metrics
    assert metrics["rho_mean"] == pytest.approx(1.0, abs=1e-4) and metrics["rho_clipped_fraction"] == 0.0
    before, after = jax.tree_util.tree_leaves(state.params), jax.tree_util.tree_leaves(new_state.params)
    assert all(not np.array_equal(a, b[0]) for a, b in zip(before, after))


def test_a_box_batch_with_integer_actions_is_refused():
    config = learner.cartpole_config(batch_size=4, unroll_length=5)
    network = learner.make_network("mlp", 2, hidden_sizes=(16, 16), policy="gaussian")
    batch = learner.synthetic_batch(config, network, (3,))
    batch["action"] = np.zeros((1, 4, 6), np.int32)
    with pytest.raises(ValueError, match="takes actions of shape \\(2,\\) and dtype float32"):
        learner.check_batch(batch, config, network, 1)


NVEC = (3, 4)
MULTI_LOGITS = np.array([[0.5, -1.0, 2.0, 0.1, 0.2, -0.3, 1.5],
                         [0.0, 0.0, 0.0, 3.0, -2.0, 0.0, 0.5]], np.float32)  # [B=2, 3 + 4]
MULTI_ACTIONS = np.array([[2, 3], [1, 0]], np.int32)  # [B=2, D=2]


def _log_softmax_blocks(logits):
    return np.log(jax.nn.softmax(logits[:, :3])), np.log(jax.nn.softmax(logits[:, 3:]))


def test_multi_categorical_logprob_entropy_and_mode_are_sums_over_dimensions_under_jit():
    dist = multi_categorical(NVEC)
    first, second = _log_softmax_blocks(MULTI_LOGITS)
    rows = np.arange(2)
    expected = first[rows, MULTI_ACTIONS[:, 0]] + second[rows, MULTI_ACTIONS[:, 1]]
    np.testing.assert_allclose(jax.jit(dist.logprob)(MULTI_ACTIONS, MULTI_LOGITS), expected, rtol=1e-5)
    entropy = -np.sum(np.exp(first) * first, axis=-1) - np.sum(np.exp(second) * second, axis=-1)
    np.testing.assert_allclose(jax.jit(dist.entropy)(MULTI_LOGITS), entropy, rtol=1e-5)
    np.testing.assert_array_equal(dist.mode(MULTI_LOGITS), [[2, 3], [0, 0]])
    assert dist.num_params == 7 and dist.action_shape == (2,) and dist.action_dtype == np.int32


def test_multi_categorical_samples_follow_each_dimensions_softmax():
    samples = np.asarray(jax.jit(multi_categorical(NVEC).sample)(
        jax.random.PRNGKey(1), jnp.broadcast_to(MULTI_LOGITS[0], (20000, 7))))
    assert samples.shape == (20000, 2) and samples.dtype == np.int32
    first, second = (np.exp(block[0]) for block in _log_softmax_blocks(MULTI_LOGITS))
    np.testing.assert_allclose(np.bincount(samples[:, 0], minlength=3) / 20000, first, atol=0.015)
    np.testing.assert_allclose(np.bincount(samples[:, 1], minlength=4) / 20000, second, atol=0.015)


def test_multi_categorical_logprob_gradient_is_one_hot_minus_softmax_per_dimension():
    grad = jax.grad(lambda logits: jnp.sum(multi_categorical(NVEC).logprob(MULTI_ACTIONS, logits)))(MULTI_LOGITS)
    first, second = (np.exp(block) for block in _log_softmax_blocks(MULTI_LOGITS))
    expected = np.concatenate([np.eye(3)[MULTI_ACTIONS[:, 0]] - first, np.eye(4)[MULTI_ACTIONS[:, 1]] - second], -1)
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-6)


def test_multi_categorical_description_needs_its_counts():
    assert action_distribution({"policy": "multi_categorical", "num_actions": 2,
                                "action_nvec": [3, 4]}).num_params == 7
    with pytest.raises(ValueError, match="needs action_nvec with num_actions = 2"):
        action_distribution({"policy": "multi_categorical", "num_actions": 2})
