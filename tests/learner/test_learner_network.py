"""Agent networks: shapes, acting on [1, B], and golden parameter trees (the learner/actor/checkpoint wire format)."""

import json
import os

import jax
import numpy as np
import pytest

from vtrax import learner

GOLDEN = os.path.join(os.path.dirname(__file__), "golden_params.json")

CASES = {
    "mlp_a2": dict(kind="mlp", num_actions=2, obs=((4,), np.float32)),
    "mlp_shared_a2": dict(kind="mlp", num_actions=2, shared_torso=True, obs=((4,), np.float32)),
    "impala_deep_a6": dict(kind="impala_deep", num_actions=6, obs=((84, 84, 4), np.uint8)),
    "impala_shallow_lstm_a6": dict(kind="impala_shallow", num_actions=6, use_lstm=True, obs=((84, 84, 4), np.uint8)),
    "impala_shallow_lstm_par_a6": dict(kind="impala_shallow", num_actions=6, use_lstm=True, prev_action_reward=True,
                                       obs=((84, 84, 4), np.uint8)),
    "mlp_lstm_a2": dict(kind="mlp", num_actions=2, use_lstm=True, lstm_size=32, obs=((4,), np.float32)),
}


def _build(case):
    case = dict(case)
    shape, dtype = case.pop("obs")
    kind, num_actions = case.pop("kind"), case.pop("num_actions")
    return learner.make_network(kind, num_actions, **case), shape, dtype


def _param_shapes(case):
    network, shape, dtype = _build(case)
    observation = jax.ShapeDtypeStruct((1, 1) + shape, dtype)
    params = jax.eval_shape(network.init, jax.random.PRNGKey(0), observation)
    flat = jax.tree_util.tree_flatten_with_path(params)[0]
    return {jax.tree_util.keystr(path): list(leaf.shape) for path, leaf in flat}


@pytest.mark.parametrize("name", sorted(CASES))
def test_parameter_trees_match_the_golden_files(name):
    with open(GOLDEN) as f:
        golden = json.load(f)
    assert _param_shapes(CASES[name]) == golden[name], (
        f"the parameter tree of {name} changed; actors, learners and checkpoints of older versions will not "
        f"load it. If intended, regenerate {GOLDEN}")


def test_apply_shapes_and_one_step_acting():
    network = learner.make_network("mlp", 3, hidden_sizes=(8,))
    params = network.init(jax.random.PRNGKey(0), np.zeros((1, 1, 5), np.float32))
    logits, value = network.apply(params, np.ones((7, 2, 5), np.float32))
    assert logits.shape == (7, 2, 3) and value.shape == (7, 2)
    act = jax.jit(lambda p, obs: network.apply(p, obs[None]))  # actors: [1, B, ...]
    logits, value = act(params, np.ones((4, 5), np.float32))
    assert logits.shape == (1, 4, 3) and value.shape == (1, 4)
    (same, _), final_state = network.unroll(params, np.ones((1, 4, 5), np.float32))
    np.testing.assert_allclose(same, logits, rtol=1e-6)
    assert final_state is None and network.initial_state(4) is None and not network.is_recurrent


def test_recurrent_network_unroll_returns_the_next_core_state():
    network = learner.make_network("impala_shallow", 4, use_lstm=True, lstm_size=8)
    observation = np.zeros((3, 2, 36, 36, 1), np.uint8)
    params = network.init(jax.random.PRNGKey(0), observation)
    state = network.initial_state(2)
    assert sorted(state) == ["cell", "hidden"] and state["hidden"].shape == (2, 8)
    (logits, value), final_state = network.unroll(params, observation, None, state)
    assert logits.shape == (3, 2, 4) and value.shape == (3, 2) and final_state["cell"].shape == (2, 8)
    assert network.is_recurrent and network.description["lstm_size"] == 8


def test_mlp_lstm_reads_the_previous_action_and_reward_and_resets():
    network = learner.make_network("mlp", 2, hidden_sizes=(8,), use_lstm=True, lstm_size=4)
    observation = np.ones((3, 2, 4), np.float32)
    params = network.init(jax.random.PRNGKey(0), observation)
    assert network.is_recurrent and network.description["prev_action_reward"]
    zeros_a, zeros_r = np.zeros((3, 2), np.int32), np.zeros((3, 2), np.float32)
    state = network.initial_state(2)
    (logits, value), final_state = network.unroll(params, observation, None, state, zeros_a, zeros_r)
    assert logits.shape == (3, 2, 2) and value.shape == (3, 2) and final_state["hidden"].shape == (2, 4)
    (other, _), _ = network.unroll(params, observation, None, state, zeros_a + 1, zeros_r + 1.0)
    assert not np.allclose(other, logits)  # the inputs reach the core
    # A reset at step 2 makes step 2 equal step 0 (same observation, same zero inputs).
    resets = np.array([[False, False], [False, False], [True, True]])
    (reset_logits, _), _ = network.unroll(params, observation, resets, final_state, zeros_a, zeros_r)
    np.testing.assert_allclose(reset_logits[2], logits[0], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="pass prev_action"):
        network.unroll(params, observation, None, state)


@pytest.mark.parametrize("kwargs, words", [
    (dict(kind="cnn", num_actions=2),
     "network kind must be one of ('mlp', 'dueling_mlp', 'impala_deep', 'impala_shallow', 'minatar', "
     "'dueling_minatar')"),
    (dict(kind="mlp", num_actions=0), "num_actions must be an int >= 1, got 0"),
    (dict(kind="mlp", num_actions=2, prev_action_reward=True), "pass use_lstm=True too"),
    (dict(kind="mlp", num_actions=2, use_lstm=True, shared_torso=True), "drop shared_torso or use_lstm"),
])
def test_bad_network_arguments_raise_clear_errors(kwargs, words):
    with pytest.raises(ValueError) as info:
        learner.make_network(**kwargs)
    assert words in str(info.value)
