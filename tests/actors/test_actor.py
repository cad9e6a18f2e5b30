"""The actor core against a real Reverb server: what it writes, and parameter refresh."""

import threading

import jax
import numpy as np
import pytest

from vtrax import replay
from vtrax.actors import Actor, ActorConfig, LocalParameterSource, VectorEnv, make_select_action
from vtrax.learner import make_network
from actors_testlib import run_recurrent_actor

NUM_ENVS, UNROLL = 4, 5


@pytest.fixture
def server():
    spec = replay.impala_step_spec((4,), np.float32, 2)
    tables = replay.make_tables("queue", "impala", spec, NUM_ENVS, UNROLL, max_size=1000)
    handle = replay.start_server(tables)
    yield handle, spec
    handle.stop()


def _actor(address, spec, source, seed=0):
    network = make_network("mlp", 2, hidden_sizes=(8,))
    adder = replay.SequenceAdder(address, "impala", spec, NUM_ENVS, UNROLL)
    env = VectorEnv("CartPole-v1", NUM_ENVS, seed=seed)
    return Actor(env, make_select_action(network.apply), adder, source,
                 ActorConfig(unroll_length=UNROLL, seed=seed)), network, adder


def test_actor_writes_overlapping_unrolls_stamped_with_the_param_version(server):
    handle, spec = server
    network = make_network("mlp", 2, hidden_sizes=(8,))
    params = network.init(jax.random.PRNGKey(0), np.zeros((1, 1, 4), np.float32))
    source = LocalParameterSource()
    source.publish(7, params)
    actor, _, adder = _actor(handle.address, spec, source)
    actor.run(threading.Event(), max_unrolls=1)  # the first item needs UNROLL + 1 steps
    source.publish(8, jax.tree_util.tree_map(lambda x: x + 0.01, params))
    actor.run(threading.Event(), max_unrolls=4)
    adder.flush()
    assert actor.param_version == 8 and actor.param_updates == 1
    stats = actor.stats()
    assert stats["env_frames"] > 0 and stats["unrolls"] == 4  # run() counts all unrolls so far
    with replay.ReplayDataset(handle.address, "impala", batch_size=NUM_ENVS) as dataset:
        first, second = next(dataset), next(dataset)
    assert first["observation"].shape == (1, NUM_ENVS, UNROLL + 1, 4)
    assert first["behaviour_logits"].shape == (1, NUM_ENVS, UNROLL + 1, 2)
    # consecutive items overlap by one step: the last step of one is the first of the next
    np.testing.assert_array_equal(first["observation"][0, :, -1], second["observation"][0, :, 0])
    assert set(np.unique(first["param_version"])) <= {7, 8}
    adder.close()


def test_actor_behaviour_logits_are_the_policy_at_the_observation(server):
    handle, spec = server
    network = make_network("mlp", 2, hidden_sizes=(8,))
    params = network.init(jax.random.PRNGKey(1), np.zeros((1, 1, 4), np.float32))
    source = LocalParameterSource()
    source.publish(0, params)
    actor, _, adder = _actor(handle.address, spec, source, seed=1)
    actor.run(threading.Event(), max_unrolls=2)
    adder.flush()
    with replay.ReplayDataset(handle.address, "impala", batch_size=NUM_ENVS) as dataset:
        batch = next(dataset)
    observation = np.swapaxes(batch["observation"][0], 0, 1)  # [T+1, B, 4]
    logits, _ = network.apply(params, observation)
    np.testing.assert_allclose(np.swapaxes(batch["behaviour_logits"][0], 0, 1), logits, rtol=1e-5, atol=1e-5)
    adder.close()


def test_parameter_source_times_out_with_a_fix():
    with pytest.raises(TimeoutError, match="publish"):
        LocalParameterSource().wait_first(0.05)


def test_recurrent_select_action_resets_only_where_an_episode_starts():
    from vtrax.actors import make_recurrent_select_action

    network = make_network("impala_shallow", 6, use_lstm=True, lstm_size=8)
    observation = np.random.default_rng(0).integers(0, 255, (2, 84, 84, 4), dtype=np.uint8)
    params = network.init(jax.random.PRNGKey(0), observation[None])
    select = make_recurrent_select_action(network.unroll, network.initial_state)
    no_inputs = {"prev_action": np.zeros(2, np.int32), "prev_reward": np.zeros(2, np.float32)}
    first = select(params, observation, jax.random.PRNGKey(1), 0, core_state=network.initial_state(2),
                   should_reset=np.zeros(2, bool), **no_inputs)
    second = select(params, observation, jax.random.PRNGKey(1), 1, core_state=first.next_core_state,
                    should_reset=np.array([True, False]), **no_inputs)
    np.testing.assert_array_equal(second.core_state["hidden"][0], np.zeros(8))  # env 0 starts afresh
    np.testing.assert_allclose(second.core_state["hidden"][1], np.asarray(first.next_core_state["hidden"][1]))
    assert np.abs(second.core_state["hidden"][1]).sum() > 0


def test_recurrent_actor_stores_the_core_state_the_learner_reproduces_its_logits_from():
    from vtrax.learner.loss import network_outputs

    network, params, _, items = run_recurrent_actor("ALE/Pong-v5", num_envs=2, unroll=4, num_actions=6, num_items=2)
    batch = items[1]  # the 2nd item: a carried state
    assert np.abs(batch["core_state/hidden"][:, 0]).sum() > 0
    logits, _ = network_outputs(network, params, batch)  # [B, T+1, A], unrolled from the stored state
    np.testing.assert_allclose(logits, batch["behaviour_logits"], rtol=1e-4, atol=1e-4)
