"""The compiled update: one step, metrics, NaN skipping, pmap == one device, convergence."""

import jax
import numpy as np
import pytest

from vtrax import learner
from learner_testlib import ChainEnvs, TwoArmedBandits, on_policy_batches, policy_and_values

OBS_SHAPE = (4,)


def _setup(config, num_devices, seed=0):
    network = learner.make_network("mlp", 2, hidden_sizes=(16, 16))
    example = np.zeros((1, 1) + OBS_SHAPE, np.float32)
    state = learner.init_state(config, network, example, jax.random.PRNGKey(seed))
    return network, state, learner.make_update(config, network, num_devices=num_devices)


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def test_one_update_changes_params_and_reports_every_metric():
    config = learner.cartpole_config(batch_size=8, unroll_length=5)
    network, state, update = _setup(config, 1)
    before = _leaves(state.params)
    batch = learner.synthetic_batch(config, network, OBS_SHAPE)
    new_state, metrics = update(learner.replicate(state, 1), batch)
    assert int(new_state.step[0]) == 1
    assert all(not np.array_equal(a, b[0]) for a, b in zip(before, _leaves(new_state.params)))
    assert sorted(metrics) == sorted(learner.METRIC_NAMES)
    metrics = {name: float(value[0]) for name, value in metrics.items()}
    assert all(np.isfinite(value) for value in metrics.values()), metrics
    assert metrics["skipped"] == 0.0 and metrics["learning_rate"] == pytest.approx(config.learning_rate)
    assert metrics["total_loss"] == pytest.approx(
        metrics["pg_loss"] + metrics["baseline_loss"] + metrics["entropy_loss"], rel=1e-5)
    assert metrics["grad_norm"] > 0 and 0 <= metrics["rho_clipped_fraction"] <= 1


def test_stacked_metrics_are_the_dict_metrics_in_metric_names_order():
    config = learner.cartpole_config(batch_size=8, unroll_length=5)
    network, state, update = _setup(config, 1)
    stacked_update = learner.make_update(config, network, num_devices=1, stack_metrics=True)
    batch = learner.synthetic_batch(config, network, OBS_SHAPE)
    _, metrics = update(learner.replicate(state, 1), batch)
    _, stacked = stacked_update(learner.replicate(state, 1), batch)
    assert stacked.shape == (1, len(learner.METRIC_NAMES))
    np.testing.assert_allclose(stacked[0], [float(metrics[name][0]) for name in learner.METRIC_NAMES], rtol=1e-6)


def test_policy_lag_statistics_come_from_the_batch_versions():
    config = learner.cartpole_config(batch_size=4, unroll_length=3)
    network, state, update = _setup(config, 1)
    state = learner.replicate(state, 1)
    batch = learner.synthetic_batch(config, network, OBS_SHAPE)
    for _ in range(3):
        state, _ = update(state, batch)
    batch["param_version"][...] = np.array([0, 1, 2, 2])[None, None, :]  # lag 3, 2, 1 at steps 0..2
    batch["param_version"][0, 0, :3] = 3  # one trajectory is fresh: lag 0
    _, metrics = update(state, batch)
    assert float(metrics["policy_lag_min"][0]) == 0.0
    assert float(metrics["policy_lag_max"][0]) == 3.0
    assert float(metrics["policy_lag_mean"][0]) == pytest.approx((3 * 6 + 0) / 12)


def test_a_nan_batch_is_skipped_and_counted_leaving_the_state_unchanged():
    config = learner.cartpole_config(batch_size=8, unroll_length=5)
    network, state, update = _setup(config, 1)
    batch = learner.synthetic_batch(config, network, OBS_SHAPE)
    state, _ = update(learner.replicate(state, 1), batch)
    before = _leaves(state)
    poisoned = dict(batch, reward=batch["reward"].copy())
    poisoned["reward"][0, 3, 2] = np.nan
    skipped_state, metrics = update(state, poisoned)
    assert float(metrics["skipped"][0]) == 1.0
    assert not np.isfinite(float(metrics["total_loss"][0]))
    for old, new in zip(before, _leaves(skipped_state)):
        np.testing.assert_array_equal(old, new)
    resumed, metrics = update(skipped_state, batch)
    assert float(metrics["skipped"][0]) == 0.0 and int(resumed.step[0]) == 2


def test_pmap_over_four_devices_equals_one_device_on_the_concatenated_batch():
    assert jax.local_device_count() == 4, "tests/conftest.py should provide 4 fake CPU devices"
    config = learner.cartpole_config(batch_size=16, unroll_length=6)
    network, state, update_one = _setup(config, 1)
    update_four = learner.make_update(config, network, num_devices=4)
    one, four = learner.replicate(state, 1), learner.replicate(state, 4)
    for seed in range(3):
        batch = learner.synthetic_batch(config, network, OBS_SHAPE, seed=seed)  # [1, 16, 7, ...]
        split = {key: value.reshape((4, 4) + value.shape[2:]) for key, value in batch.items()}
        one, metrics_one = update_one(one, batch)
        four, metrics_four = update_four(four, split)
    for a, b in zip(_leaves(one), _leaves(four)):
        np.testing.assert_allclose(a[0], b[0], rtol=2e-5, atol=1e-6)
        for device in range(1, 4):  # params stay identical on every device
            np.testing.assert_array_equal(b[0], b[device])
    for name in ("total_loss", "grad_norm", "rho_mean", "value_mean"):
        np.testing.assert_allclose(metrics_one[name][0], metrics_four[name][0], rtol=2e-5, err_msg=name)


def test_batch_that_does_not_split_over_devices_is_refused():
    config = learner.cartpole_config(batch_size=6)
    network = learner.make_network("mlp", 2)
    with pytest.raises(ValueError, match="batch_size 6 does not divide evenly over 4 devices"):
        learner.make_update(config, network, num_devices=4)


def _synthetic_config(**overrides):
    # Adam, not the preset's RMSProp: these rewards are ~100x smaller than CartPole's, and TF-style RMSProp
    # (second moment starting at 1) takes steps proportional to such small gradients for its first few
    # hundred updates. Data here is exactly on-policy, where Adam's momentum does no harm.
    return learner.cartpole_config(optimizer="adam", **overrides)


def _train(envs, config, updates, num_devices=1):
    length = envs.length
    network = learner.make_network("mlp", 2, hidden_sizes=(32, 32))
    latest = {}
    agent = learner.Learner(config, network, on_policy_batches(envs, network, config, latest,
                                                               num_devices=num_devices),
                            lambda version, params: latest.update(version=version, params=params),
                            num_devices=num_devices, observation_example=np.zeros((1, 1, length - 1), np.float32))
    agent.run(max_updates=updates)
    return network, latest["params"], agent


def test_two_armed_bandit_converges_to_the_better_arm():
    config = _synthetic_config(batch_size=16, unroll_length=5)
    network, params, agent = _train(TwoArmedBandits(config.batch_size), config, updates=150)
    pi_right, values = policy_and_values(network, params, 1)
    assert pi_right[0] > 0.95, pi_right
    assert values[0] == pytest.approx(1.0, abs=0.15)  # every pull of the right arm pays 1
    assert agent.num_skipped_updates == 0


def test_chain_mdp_learns_the_optimal_policy_and_its_values():
    """Reward only at the far end: needs bootstrapping through V-trace targets over episode ends."""
    config = _synthetic_config(batch_size=16, unroll_length=8, discount=0.9)
    network, params, _ = _train(ChainEnvs(config.batch_size, 5), config, updates=300)
    pi_right, values = policy_and_values(network, params, 4)
    assert np.all(pi_right > 0.9), pi_right
    np.testing.assert_allclose(values, 0.9 ** np.arange(3, -1, -1), atol=0.12)
