"""DQN's loss and update against hand-computed values: importance weights, double-Q TD errors, target copies."""

import jax
import jax.numpy as jnp
import numpy as np

from vtrax.learner import LearnerConfig, make_network, replicate
from vtrax.learner.dqn_config import DQNConfig
from vtrax.learner.dqn_core import dqn_core
from vtrax.learner.dqn_loss import importance_weights, make_dqn_loss
from vtrax.learner.dqn_update import init_dqn_state

NETWORK = make_network("dueling_mlp", 3, hidden_sizes=(8,))


def _batch(batch_size=6, seed=0):
    rng = np.random.default_rng(seed)
    return {"observation": rng.standard_normal((batch_size, 1, 4)).astype(np.float32),
            "action": rng.integers(0, 3, (batch_size, 1)).astype(np.int32),
            "reward": rng.standard_normal((batch_size, 1)).astype(np.float32),
            "discount": np.array([[0.9]] * (batch_size - 1) + [[0.0]], np.float32),
            "next_observation": rng.standard_normal((batch_size, 1, 4)).astype(np.float32),
            "valid": np.array([[True]] * (batch_size - 2) + [[False], [True]]),
            "info/probability": np.linspace(0.05, 0.3, batch_size),
            "info/key": np.arange(batch_size, dtype=np.uint64)}


def _q(params, observation):
    return np.asarray(NETWORK.apply(params, observation[None, :, 0])[0][0])  # [B, A]


def _expected_td(params, target_params, batch):
    q_tm1, q_next, q_next_target = (_q(params, batch["observation"]), _q(params, batch["next_observation"]),
                                    _q(target_params, batch["next_observation"]))
    rows = np.arange(len(q_tm1))
    target = batch["reward"][:, 0] + batch["discount"][:, 0] * q_next_target[rows, q_next.argmax(-1)]
    return (target - q_tm1[rows, batch["action"][:, 0]]) * batch["valid"][:, 0]


def test_importance_weights_are_normalised_powers_of_the_probabilities():
    weights = importance_weights(jnp.array([0.1, 0.2, 0.4]), 0.5)
    np.testing.assert_allclose(weights, [1.0, np.sqrt(0.5), 0.5], rtol=1e-6)
    np.testing.assert_allclose(importance_weights(jnp.array([0.1, 0.7]), 0.0), [1.0, 1.0])


def test_loss_is_the_weighted_huber_of_double_q_errors_and_masks_invalid_transitions():
    batch = _batch()
    params = NETWORK.init(jax.random.PRNGKey(0), batch["observation"][None, :, 0])
    target_params = NETWORK.init(jax.random.PRNGKey(1), batch["observation"][None, :, 0])
    loss_fn = jax.jit(make_dqn_loss(NETWORK, importance_sampling_exponent=0.5, huber_delta=1.0))
    loss, outputs = loss_fn(params, target_params, batch)
    td = _expected_td(params, target_params, batch)
    np.testing.assert_allclose(outputs.priorities, np.abs(td), rtol=1e-5, atol=1e-6)
    assert outputs.priorities[4] == 0.0  # the invalid transition
    raw = batch["info/probability"] ** -0.5
    weights = raw / raw.max() * batch["valid"][:, 0]
    huber = np.where(np.abs(td) <= 1.0, 0.5 * td**2, np.abs(td) - 0.5)
    np.testing.assert_allclose(loss, np.sum(weights * huber) / batch["valid"].sum(), rtol=1e-5)


def test_update_returns_abs_td_as_priorities_and_copies_the_target_every_period():
    config = LearnerConfig(batch_size=6, learning_rate=0.05, optimizer="adam", max_gradient_norm=None)
    core = dqn_core(config, DQNConfig(target_update_period_updates=2), NETWORK, num_devices=1)
    batch = _batch()
    single = init_dqn_state(config, NETWORK, batch["observation"][None, :, 0], jax.random.PRNGKey(3))
    initial = jax.tree_util.tree_map(np.array, single.params)
    state = replicate(single, 1)
    device_batch = {key: value[None] for key, value in core.select_batch_keys(batch).items()}
    state, metrics, priorities = core.update(state, device_batch)
    np.testing.assert_allclose(priorities[0], np.abs(_expected_td(initial, initial, batch)), rtol=1e-5, atol=1e-6)
    after_one = jax.tree_util.tree_map(lambda leaf: np.asarray(leaf[0]), state)
    jax.tree_util.tree_map(np.testing.assert_array_equal, after_one.opt_state.target_params, initial)
    assert not np.allclose(after_one.params["dueling_mlp/~/advantage"]["w"], initial["dueling_mlp/~/advantage"]["w"])
    state, metrics, _ = core.update(state, device_batch)
    after_two = jax.tree_util.tree_map(lambda leaf: np.asarray(leaf[0]), state)
    jax.tree_util.tree_map(np.testing.assert_array_equal, after_two.opt_state.target_params, after_two.params)
    named = dict(zip(core.metric_names, np.asarray(metrics)[0]))
    assert named["skipped"] == 0.0 and named["target_age_updates"] == 0.0 and int(after_two.step) == 2
