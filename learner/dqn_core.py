"""The Q-learning family's `LearnerCore`s: DQN/Ape-X on transitions, R2D2 on sequences; both write priorities."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from vtrax.learner.config import LearnerConfig
from vtrax.learner.core import LearnerCore
from vtrax.learner.dqn_config import DQNConfig
from vtrax.learner.dqn_loss import TRANSITION_KEYS, make_dqn_loss
from vtrax.learner.dqn_update import DQN_METRIC_NAMES, init_dqn_state, make_q_update
from vtrax.learner.network import AgentNetwork
from vtrax.learner.r2d2_loss import SEQUENCE_KEYS, make_r2d2_loss


def check_q_batch(batch: Mapping[str, Any], keys: tuple[str, ...], lead: tuple[int, ...]) -> None:
    """Raise ValueError naming the first missing field, or one whose leading dims are not `lead`."""
    missing = [key for key in (*keys, "info/key") if key not in batch]
    if missing:
        raise ValueError(f"batch is missing {missing} (it has {sorted(batch)}); sample it from the agent's "
                         "prioritised table (its adder writes these fields)")
    for key in keys:
        shape = tuple(np.shape(batch[key]))
        if shape[:len(lead)] != lead and key != "info/probability":
            raise ValueError(f"batch[{key!r}] has shape {shape}, expected leading dims {lead} (num_devices, "
                             "batch_size // num_devices, steps per item); match the dataset to the learner config")


def dqn_core(config: LearnerConfig, dqn: DQNConfig, network: AgentNetwork, *, num_devices: int) -> LearnerCore:
    """Double Q-learning on n-step transitions `[D, B/D, 1, ...]`; new priorities are |TD error|."""

    def make_loss(reduce_max):
        return make_dqn_loss(network, importance_sampling_exponent=dqn.importance_sampling_exponent,
                             huber_delta=dqn.huber_delta, reduce_max=reduce_max)

    return LearnerCore(
        init=lambda rng, observation: init_dqn_state(config, network, observation, rng),
        update=make_q_update(config, dqn, make_loss, TRANSITION_KEYS, num_devices=num_devices),
        metric_names=DQN_METRIC_NAMES,
        check_batch=lambda batch, devices: check_q_batch(batch, TRANSITION_KEYS,
                                                         (devices, config.batch_size // devices, 1)),
        select_batch_keys=lambda batch: {key: batch[key] for key in TRANSITION_KEYS},
        frames_per_update=config.batch_size)


def r2d2_core(config: LearnerConfig, dqn: DQNConfig, network: AgentNetwork, *, num_devices: int) -> LearnerCore:
    """R2D2 on sequences `[D, B/D, burn_in + trace_length + 1, ...]`; priorities mix max and mean |delta|."""
    length = dqn.burn_in_steps + dqn.trace_length + 1

    def make_loss(reduce_max):
        return make_r2d2_loss(network, burn_in=dqn.burn_in_steps, n_step=dqn.n_step, discount=config.discount,
                              importance_sampling_exponent=dqn.importance_sampling_exponent,
                              max_priority_weight=dqn.max_priority_weight, reduce_max=reduce_max)

    keys = SEQUENCE_KEYS + ("core_state/cell", "core_state/hidden")
    return LearnerCore(
        init=lambda rng, observation: init_dqn_state(config, network, observation, rng),
        update=make_q_update(config, dqn, make_loss, keys, num_devices=num_devices),
        metric_names=DQN_METRIC_NAMES,
        check_batch=lambda batch, devices: check_q_batch(batch, keys,
                                                         (devices, config.batch_size // devices, length)),
        select_batch_keys=lambda batch: {key: batch[key] for key in keys},
        frames_per_update=config.batch_size * dqn.trace_length)
