"""IMPALA: V-trace actor-critic on a FIFO queue of overlapping unrolls (the service's first agent)."""

from __future__ import annotations

from vtrax.deploy.agents.base import Agent
from vtrax.deploy.config import core_state_shapes, network_options
from vtrax.deploy.runtime.names import TABLE


def _check(config, spec) -> None:
    del spec
    if config.network in ("dueling_mlp", "dueling_minatar"):
        kind = "mlp" if config.network == "dueling_mlp" else "minatar"
        raise ValueError(f"network {config.network!r} is a Q network and IMPALA needs policy logits; pass --network "
                         f"{kind}, or --agent dqn to train the Q network")


def _network(config, spec):
    from vtrax.learner import make_network

    return make_network(config.network, spec.num_actions, **network_options(config, spec))


def step_spec(config, spec):
    """The replay fields one actor step writes, from the environment's spec, the policy's action distribution
    (Discrete: an int and A logits; Box: a [D] float action and 2D Gaussian parameters) and the core state."""
    from vtrax import replay
    from vtrax.learner.action_distribution import action_distribution

    distribution = action_distribution(_network(config, spec).description)
    return replay.impala_step_spec(spec.observation_shape, spec.observation_dtype, spec.num_actions,
                                   core_state_shapes=core_state_shapes(config), action_shape=distribution.action_shape,
                                   action_dtype=distribution.action_dtype, num_policy_params=distribution.num_params)


def _table(config, spec):
    """A FIFO queue of unrolls, sized by the config."""
    from vtrax import replay

    return replay.TableConfig(kind="queue", name=TABLE, step_spec=step_spec(config, spec),
                              num_envs=config.num_envs_per_actor, unroll_length=config.unroll_length,
                              max_size=config.max_queue_size)


def _adder(config, spec, replay_address: str):
    from vtrax import replay

    return replay.SequenceAdder(replay_address, TABLE, step_spec(config, spec), config.num_envs_per_actor,
                                config.unroll_length)


def _policy(config, network, actor_index: int, num_actors: int):
    from vtrax import actors
    from vtrax.learner.action_distribution import action_distribution

    del actor_index, num_actors
    if network.is_recurrent:
        return (actors.make_recurrent_select_action(network.unroll, network.initial_state),
                network.initial_state(config.num_envs_per_actor))
    return actors.make_select_action(network.apply, distribution=action_distribution(network.description)), None


def _learner_core(config, network, num_devices: int):
    from vtrax.learner.core import impala_core

    return impala_core(config.learner, network, num_devices=num_devices)


IMPALA = Agent(name="impala", check=_check, make_network=_network, replay_table=_table, make_adder=_adder,
               make_policy=_policy, make_learner_core=_learner_core)
