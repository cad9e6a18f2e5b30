"""Shared pieces for the actor tests: a recurrent actor run against a real Reverb server."""

from __future__ import annotations

import threading

import jax
import numpy as np

from vtrax import replay
from vtrax.actors import Actor, ActorConfig, LocalParameterSource, VectorEnv, make_recurrent_select_action
from vtrax.learner import make_network


def run_recurrent_actor(env_id: str, *, num_envs: int, unroll: int, num_actions: int, num_items: int,
                        lstm_size: int = 8, seed: int = 3, kind: str = "impala_shallow",
                        observation: tuple = ((84, 84, 4), np.uint8), prev_action_reward: bool = False):
    """Run an LSTM actor (uint8 [84, 84, 4] frames by default) for 3 unrolls and read back its first `num_items` items.

    Returns:
      (network, params, actor, items): items are `{field: [num_envs, unroll + 1, ...]}` dicts.
    """
    network = make_network(kind, num_actions, use_lstm=True, lstm_size=lstm_size,
                           **({"prev_action_reward": True} if prev_action_reward else {}))
    observation_shape, observation_dtype = observation
    spec = replay.impala_step_spec(observation_shape, observation_dtype, num_actions,
                                   core_state_shapes={"hidden": (lstm_size,), "cell": (lstm_size,)})
    handle = replay.start_server(replay.make_tables("queue", "impala", spec, num_envs, unroll, max_size=100))
    try:
        params = network.init(jax.random.PRNGKey(2), np.zeros((1, 1) + tuple(observation_shape), observation_dtype))
        source = LocalParameterSource()
        source.publish(0, params)
        adder = replay.SequenceAdder(handle.address, "impala", spec, num_envs, unroll)
        actor = Actor(VectorEnv(env_id, num_envs, seed=seed),
                      make_recurrent_select_action(network.unroll, network.initial_state), adder, source,
                      ActorConfig(unroll_length=unroll, seed=seed), initial_core_state=network.initial_state(num_envs))
        actor.run(threading.Event(), max_unrolls=3)
        adder.flush()
        with replay.ReplayDataset(handle.address, "impala", batch_size=num_envs) as dataset:
            items = [{key: value[0] for key, value in next(dataset).items()} for _ in range(num_items)]
        adder.close()
        return network, params, actor, items
    finally:
        handle.stop()
