"""DQN distributed as Ape-X: n-step transitions, a prioritised table, double Q-learning, an epsilon ladder.

See "Distributed Prioritized Experience Replay", Horgan et al. 2018
(https://arxiv.org/abs/1803.00933). Each acting actor's envs take their
epsilons from one ladder over all envs of all actors; an evaluator acts
greedily (`--evaluator-epsilon`) and writes nothing to replay, and its returns
are the run's return.
"""

from __future__ import annotations

import numpy as np

from vtrax.deploy.agents.base import Agent, require_discrete_actions
from vtrax.deploy.runtime.names import TABLE


def _check(config, spec) -> None:
    require_discrete_actions("dqn", spec)
    if config.use_lstm:
        raise ValueError("--agent dqn has a feed-forward Q network; drop --use-lstm, or use --agent r2d2 for the "
                         "recurrent Q agent")
    fits = {"dueling_mlp": 1, "dueling_minatar": 3}.get(config.network) == len(spec.observation_shape)
    if not fits:
        raise ValueError(f"--agent dqn trains a dueling Q network: --network dueling_mlp on vector observations "
                         f"([D], as --preset cartpole) or dueling_minatar on MinAtar grids ([10, 10, C], "
                         f"--preset minatar); {config.env_id} gives shape {tuple(spec.observation_shape)} and the "
                         f"network is {config.network!r}")


def _network(config, spec):
    from vtrax.learner import make_network

    return make_network(config.network, spec.num_actions, hidden_sizes=tuple(config.hidden_sizes))


def _table(config, spec):
    """A prioritised table of n-step transition slabs with a FIFO remover and a samples-per-insert limiter.

    One item holds one vector step's `num_envs_per_actor` transitions and a
    sampled item feeds all of them to the learner, so Reverb's ratio of items
    sampled per item inserted is the ratio of transitions too.
    """
    from vtrax import replay

    dqn = config.dqn
    return replay.TableConfig(
        kind="prioritized", name=TABLE, step_spec=replay.transition_step_spec(spec.observation_shape,
                                                                              spec.observation_dtype),
        num_envs=config.num_envs_per_actor, unroll_length=1, item_length=1, max_size=dqn.max_replay_size,
        min_size_to_sample=dqn.min_replay_size, samples_per_insert=dqn.samples_per_insert,
        samples_per_insert_tolerance=dqn.samples_per_insert_tolerance, priority_exponent=dqn.priority_exponent)


def _adder(config, spec, replay_address: str):
    from vtrax import replay

    return replay.NStepAdder(replay_address, TABLE, spec.observation_shape, spec.observation_dtype,
                             config.num_envs_per_actor, n_step=config.dqn.n_step, discount=config.learner.discount,
                             priority=config.dqn.initial_priority)


def _policy(config, network, actor_index: int, num_actors: int):
    from vtrax import actors

    epsilons = actors.apex_epsilons(actor_index, num_actors, config.num_envs_per_actor,
                                    epsilon=config.dqn.epsilon, alpha=config.dqn.epsilon_alpha)
    return actors.make_epsilon_greedy_select_action(network.apply, epsilons), None


def _evaluator_policy(config, network, actor_index: int, num_actors: int):
    from vtrax import actors

    del actor_index, num_actors
    epsilons = np.full(config.dqn.evaluator_num_envs, config.dqn.evaluator_epsilon, np.float32)
    return actors.make_epsilon_greedy_select_action(network.apply, epsilons), None


def _learner_core(config, network, num_devices: int):
    from vtrax.learner.dqn_core import dqn_core

    return dqn_core(config.learner, config.dqn, network, num_devices=num_devices)


def q_learning_agent(name: str, **parts) -> Agent:
    """An agent of the DQN family: an evaluator with `--evaluator-num-envs` envs, priorities written back
    unless `--write-priorities false`; `parts` are the other `Agent` fields."""
    return Agent(name=name, evaluator_num_envs=lambda config: config.dqn.evaluator_num_envs,
                 writes_priorities=lambda config: config.dqn.write_priorities, **parts)


DQN = q_learning_agent("dqn", check=_check, make_network=_network, replay_table=_table, make_adder=_adder,
                       make_policy=_policy, make_learner_core=_learner_core, make_evaluator_policy=_evaluator_policy)
