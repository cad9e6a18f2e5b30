"""R2D2: an LSTM Q network (previous action and reward as inputs) learning from stored, overlapping sequences.

See "Recurrent Experience Replay in Distributed Reinforcement Learning",
Kapturowski et al. 2019 (https://openreview.net/forum?id=r1lyTjAqYX). Actors
act epsilon-greedily on the Ape-X ladder and write sequences of burn_in +
trace_length + 1 steps every sequence_period_steps, with the LSTM state at each
sequence's first step, to a prioritised table; the learner burns the state in,
learns from value-rescaled n-step double Q-learning and writes back
eta * max|delta| + (1 - eta) * mean|delta| per sequence. An evaluator acts
greedily and its returns are the run's.
"""

from __future__ import annotations

import numpy as np

from vtrax.deploy.agents.base import require_discrete_actions
from vtrax.deploy.agents.dqn import q_learning_agent
from vtrax.deploy.agents.impala import step_spec
from vtrax.deploy.config import network_options
from vtrax.deploy.runtime.names import TABLE


def _check(config, spec) -> None:
    require_discrete_actions("r2d2", spec)
    if not config.use_lstm or config.network not in ("mlp", "minatar"):
        raise ValueError("--agent r2d2 trains an LSTM Q network: pass --use-lstm true with --network mlp on vector "
                         "observations (--preset cartpole) or --network minatar on MinAtar grids (--preset minatar), "
                         "or use --agent dqn for a feed-forward Q network")


def _network(config, spec):
    from vtrax.learner import make_network

    return make_network(config.network, spec.num_actions, **network_options(config))


def sequence_length(config) -> int:
    """Steps per stored sequence: burn-in, trace and the bootstrap step."""
    return config.dqn.burn_in_steps + config.dqn.trace_length + 1


def _table(config, spec):
    """A prioritised table of overlapping sequences (FIFO remover, samples-per-insert limiter)."""
    from vtrax import replay

    dqn = config.dqn
    return replay.TableConfig(
        kind="prioritized", name=TABLE, step_spec=step_spec(config, spec), num_envs=config.num_envs_per_actor,
        unroll_length=dqn.trace_length, item_length=sequence_length(config), max_size=dqn.max_replay_size,
        min_size_to_sample=dqn.min_replay_size, samples_per_insert=dqn.samples_per_insert,
        samples_per_insert_tolerance=dqn.samples_per_insert_tolerance, priority_exponent=dqn.priority_exponent)


def _adder(config, spec, replay_address: str):
    from vtrax import replay

    return replay.SequenceAdder(replay_address, TABLE, step_spec(config, spec), config.num_envs_per_actor,
                                config.dqn.trace_length, item_length=sequence_length(config),
                                period_steps=config.dqn.sequence_period_steps, priority=config.dqn.initial_priority)


def _recurrent_policy(network, epsilons):
    from vtrax import actors

    return (actors.make_recurrent_epsilon_greedy_select_action(network.unroll, network.initial_state, epsilons),
            network.initial_state(len(epsilons)))


def _policy(config, network, actor_index: int, num_actors: int):
    from vtrax import actors

    return _recurrent_policy(network, actors.apex_epsilons(actor_index, num_actors, config.num_envs_per_actor,
                                                           epsilon=config.dqn.epsilon, alpha=config.dqn.epsilon_alpha))


def _evaluator_policy(config, network, actor_index: int, num_actors: int):
    del actor_index, num_actors
    return _recurrent_policy(network, np.full(config.dqn.evaluator_num_envs, config.dqn.evaluator_epsilon, np.float32))


def _learner_core(config, network, num_devices: int):
    from vtrax.learner.dqn_core import r2d2_core

    return r2d2_core(config.learner, config.dqn, network, num_devices=num_devices)


R2D2 = q_learning_agent("r2d2", check=_check, make_network=_network, replay_table=_table, make_adder=_adder,
                        make_policy=_policy, make_learner_core=_learner_core,
                        make_evaluator_policy=_evaluator_policy)
